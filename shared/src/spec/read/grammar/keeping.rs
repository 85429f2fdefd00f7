//! Sentences that say what to keep rather than what a thing has: an imperative keeping verb
//! ("store the owner's phone on each animal", "keep track of which guest sat at which
//! table"), and people doing something to a thing ("visitors can leave reviews on a recipe
//! with a rating", "listeners should be able to post a comment under an episode").

use super::items::declare_items;
use super::relations::relate;
use super::Context;
use crate::spec::read::phrases::noun_phrase;
use crate::spec::read::resources::{ensure_resource, find_resource};
use crate::spec::read::words::looks_plural;
use crate::spec::read::SpecChange;
use crate::spec::AppSpec;

/// Verbs that ask to keep data.
const KEEPING: &[&str] = &[
    "store", "keep", "record", "save", "track", "log", "capture", "note", "hold", "remember",
    "know", "put",
];
/// Words before a keeping verb that change nothing: "we should also", "i need to".
const LEADS: &[&str] = &[
    "we", "i", "you", "also", "should", "must", "will", "want", "wanna", "need", "needs", "to",
    "wed", "id", "please", "just", "can", "could", "would", "like", "love", "and", "so", "then",
    "always", "only", "really", "have", "lets", "let", "us", "be", "able", "it",
];
/// Prepositions that say which thing a kept value is on: "on each animal", "for every task".
const ON: &[&str] = &["on", "for", "with", "against", "per", "in"];
/// Determiners after such a preposition.
const EVERY: &[&str] = &["each", "every", "all", "any", "a", "an", "the"];

/// Where the keeping verb's object starts, after the leading words, the verb and "track of"
/// / "a record of".
fn kept_object(words: &[&str]) -> Option<usize> {
    let mut i = words.iter().position(|w| !LEADS.contains(w))?;
    if !KEEPING.contains(&words[i]) {
        return None;
    }
    i += 1;
    // "keep track of", "keep a record of", "keep a note of", "keep records of".
    if let Some(of) = words[i..]
        .iter()
        .take(3)
        .position(|w| *w == "of")
        .filter(|k| {
            words[i..i + k]
                .iter()
                .all(|w| matches!(*w, "track" | "a" | "record" | "records" | "note" | "notes"))
        })
    {
        i += of + 1;
    }
    Some(i)
}

/// "store the owner's phone on each animal", "keep track of which member borrowed which book",
/// "we need to keep track of our members": reads a keeping verb's object.
pub(super) fn read_keeping(
    spec: &mut AppSpec,
    words: &[&str],
    ctx: &mut Context,
    change: &mut SpecChange,
) -> bool {
    let Some(start) = kept_object(words) else {
        return false;
    };
    let object = &words[start..];
    if object.is_empty() {
        return false;
    }
    // "which member borrowed which book": a record of its own, named by the verb.
    if let Some(done) = which_pair(spec, object, ctx, change) {
        return done;
    }
    // "… on each animal", "… for every task", "… per order": fields of that thing.
    let at = (1..object.len()).rev().find(|&k| {
        ON.contains(&object[k - 1]) && (EVERY.contains(&object[k]) || object[k - 1] == "per")
    });
    if let Some(k) = at {
        let from = if object[k - 1] == "per" { k } else { k + 1 };
        let target = noun_phrase(&object[from..]);
        let items = &object[..k - 1];
        if let (Some(r), false) = (find_resource(spec, &target), items.is_empty()) {
            ctx.set_last(spec, r);
            declare_items(spec, r, items, ctx, change);
            return true;
        }
    }
    // "keep track of our members", "track orders and refunds": the things themselves.
    if object.iter().all(|w| *w != "," && *w != "(") {
        let mut np = noun_phrase(object);
        // "my grandma's recipes": after a possessive, the first of two words may be whose.
        if matches!(object[0], "my" | "our" | "your" | "their") && np.len() == 2 {
            np.remove(0);
        }
        if np.len() <= 2 && np.last().is_some_and(|w| looks_plural(w)) {
            if let Some(r) = ensure_resource(spec, &np, change) {
                ctx.set_last(spec, r);
                return true;
            }
        }
    }
    false
}

/// "which member booked which class[, and whether they showed up]": a record named after the
/// verb (`booking`) that belongs to both; what follows are its fields.
fn which_pair(
    spec: &mut AppSpec,
    words: &[&str],
    ctx: &mut Context,
    change: &mut SpecChange,
) -> Option<bool> {
    if words.first() != Some(&"which") {
        return None;
    }
    let second = words.iter().skip(1).position(|w| *w == "which")? + 1;
    let verb_at = (2..second).find(|&k| words[k].ends_with("ed") && words[k].len() > 4)?;
    let end = words[second..]
        .iter()
        .position(|w| matches!(*w, "," | "and" | "with" | "plus"))
        .map_or(words.len(), |e| e + second);
    let first = noun_phrase(&words[1..verb_at]);
    let other = noun_phrase(&words[second + 1..end]);
    let verb = words[verb_at];
    let name = format!("{}ing", &verb[..verb.len() - 2]);
    let (Some(a), Some(b)) = (find_resource(spec, &first), find_resource(spec, &other)) else {
        return None;
    };
    let r = ensure_resource(spec, &[name.as_str()], change)?;
    relate(spec, r, a, change);
    relate(spec, r, b, change);
    ctx.set_last(spec, r);
    if end < words.len() {
        declare_items(spec, r, &words[end + 1..], ctx, change);
    }
    Some(true)
}

/// Verbs of people adding a thing to another: "leave a review on", "post a comment under".
const CONTRIBUTING: &[&str] = &[
    "leave", "write", "post", "add", "submit", "give", "attach", "upload", "send", "file", "raise",
    "place", "create",
];
/// Prepositions between the thing added and what it is added to.
const ONTO: &[&str] = &["on", "to", "for", "under", "about", "of", "against", "onto"];

/// "visitors can leave reviews on a recipe with a rating from 1 to 5": the thing left
/// (`review`) belongs to the thing it is left on, and to the subject when that is a resource;
/// what comes after "with" are its fields.
pub(super) fn read_contribution(
    spec: &mut AppSpec,
    words: &[&str],
    ctx: &mut Context,
    change: &mut SpecChange,
) -> bool {
    // A modal or "able to" right before the verb: "can leave", "be able to post".
    let Some(v) = (1..words.len()).find(|&k| {
        CONTRIBUTING.contains(&words[k])
            && matches!(words[k - 1], "can" | "could" | "may" | "to" | "should")
    }) else {
        return false;
    };
    let Some(p) = (v + 2..words.len())
        .find(|&k| ONTO.contains(&words[k]) && words.get(k + 1).is_some_and(|d| EVERY.contains(d)))
    else {
        return false;
    };
    let thing = noun_phrase(&words[v + 1..p]);
    let end = words[p + 2..]
        .iter()
        .position(|w| matches!(*w, "with" | "," | "(" | ":" | "-" | "that" | "which"))
        .map_or(words.len(), |e| e + p + 2);
    let on = noun_phrase(&words[p + 2..end]);
    if thing.is_empty() || thing.len() > 2 || words[v + 1..p].contains(&",") {
        return false;
    }
    let Some(parent) = find_resource(spec, &on) else {
        return false;
    };
    let mut s = v;
    while s > 0 && (LEADS.contains(&words[s - 1]) || words[s - 1] == "may") {
        s -= 1;
    }
    let subject = noun_phrase(&words[..s]);
    let by = (!subject.is_empty())
        .then(|| find_resource(spec, &subject))
        .flatten();
    let Some(r) = ensure_resource(spec, &thing, change) else {
        return false;
    };
    if r == parent {
        return false;
    }
    relate(spec, r, parent, change);
    if let Some(by) = by.filter(|b| *b != r && *b != parent) {
        relate(spec, r, by, change);
    }
    ctx.set_last(spec, r);
    if end < words.len() {
        let from = end + usize::from(words[end] != "(");
        let items: Vec<&str> = words[from..]
            .iter()
            .copied()
            .filter(|w| *w != ")")
            .collect();
        declare_items(spec, r, &items, ctx, change);
    }
    true
}

#[cfg(test)]
mod tests {
    use crate::spec::read::apply_message;
    use crate::spec::AppSpec;

    fn converse(messages: &[&str]) -> String {
        let mut spec = AppSpec::default();
        for (i, m) in messages.iter().enumerate() {
            apply_message(&mut spec, m, i == 0);
        }
        spec.validate().unwrap();
        spec.describe()
    }

    #[test]
    fn a_keeping_verb_puts_its_object_on_each_thing() {
        for m in [
            "store the breeder's email on each horse",
            "keep the breeder's email for every horse",
            "we should also record the breeder's email on each horse",
        ] {
            assert_eq!(
                converse(&["horses: name, colour", m]),
                "horse(name:string!, colour:string, breeder_email:email)",
                "{m}"
            );
        }
    }

    #[test]
    fn keeping_track_of_which_one_did_what_to_which_is_a_record_of_its_own() {
        assert_eq!(
            converse(&[
                "players: name. courts: label",
                "keep track of which player reserved which court, and whether they paid",
            ]),
            "player(name:string!) court(label:string) reserving(paid:boolean, >player, >court)"
        );
        assert_eq!(
            converse(&["we need to keep track of our volunteers"]),
            "volunteer()"
        );
    }

    #[test]
    fn people_leaving_things_on_a_thing_make_a_record_that_belongs_to_it() {
        assert_eq!(
            converse(&[
                "trails: name, length",
                "hikers can post photos on a trail with a caption",
            ]),
            "trail(name:string!, length:number) photo(caption:string, >trail)"
        );
        assert_eq!(
            converse(&[
                "players: name. games: title",
                "players can write reviews about a game with a score from 1 to 10",
            ]),
            "player(name:string!) game(title:string!) review(score:integer, >game, >player)"
        );
    }

    #[test]
    fn a_plural_with_fields_of_its_own_among_the_items_is_a_thing_of_its_own() {
        assert_eq!(
            converse(&[
                "trails: name",
                "each trail can have photos with a caption and a date",
            ]),
            "trail(name:string!) photo(caption:string, date:date, >trail)"
        );
        assert_eq!(
            converse(&["gyms: name", "gyms have coaches with a name and a phone"]),
            "gym(name:string!) coach(name:string!, phone:string, >gym)"
        );
    }

    #[test]
    fn when_something_happened_names_the_field_after_the_verb() {
        assert_eq!(
            converse(&[
                "parcels: weight, when it was shipped, the date it arrived, the time they signed"
            ]),
            "parcel(weight:number, shipped_at:datetime, arrived_on:date, signed_at:datetime)"
        );
    }

    #[test]
    fn a_heading_that_says_whose_things_they_are_links_them() {
        assert_eq!(
            converse(&["bands: name", "albums by a band: title, release year"]),
            "band(name:string!) album(title:string!, release_year:integer, >band)"
        );
        assert_eq!(
            converse(&["drivers: name", "trips: for a driver, distance"]),
            "driver(name:string!) trip(distance:number, >driver)"
        );
    }

    #[test]
    fn a_copula_with_only_before_its_items_still_lists_them() {
        assert_eq!(
            converse(&["suppliers are just a name and a phone"]),
            "supplier(name:string!, phone:string)"
        );
    }

    #[test]
    fn what_is_not_wanted_is_no_field_and_whole_units_are_integers() {
        assert_eq!(
            converse(&["boats: name, hull length in whole metres, no separate owners list"]),
            "boat(name:string!, hull_length:integer)"
        );
    }
}
