//! The grammar of requirement sentences.
//!
//! A sentence is a subject and one or more predicates that share it:
//!
//! ```text
//! sentence   = subject predicate { ("," | "and" | ", and" | ";") [pronoun] predicate }
//!            | subject ":" (predicate | items)            "members: name, email"
//!            | subject "(" items ")" { "and" subject "(" items ")" }
//!            | "add" items ["to" subject]                   "add a due date to tasks"
//! predicate  = [modal] have-verb items                      "have a title and a due date"
//!            | [modal] belong-verb targets [items]          "belong to a book and a member"
//!            | [modal] has-many-verb targets                "has many tasks"
//!            | link-verb targets [items]                    "link a playlist and a song with a position"
//! items      = item { ("," | "and" | "plus" | …) item }     see `fields`
//! ```
//!
//! A pronoun subject ("they", "it", "each one") is the last subject named in the message. An
//! item that names another resource ("has a speaker", "which desk", "one supplier") is a
//! relation, not a field. A subject "we" or "the app" with a have-verb names resources ("we have
//! cars (make, model) and customers (name)").

use super::fields::{parse_fields, uncertain_type, FieldDraft, FIELD_WORDS};
use super::{
    describe_field, ensure_resource, find_resource, ident, noun_phrase, SpecChange, ARTICLES,
};
use crate::spec::{AppSpec, Field, Patch, Question, QuestionOption, Relation, RelationKind};

/// What the sentences of one message share: the last subject named.
#[derive(Debug, Default)]
pub(super) struct Context {
    /// The name of the last resource that was a subject (a name, not an index: a removal in
    /// the same message moves indices).
    pub last_name: Option<String>,
    /// Resources the whole message names, found by reading it once ahead: "each line item is
    /// a product" links to products even when "products have a name" comes after it.
    pub known: Vec<String>,
    /// The resource the conversation was about before this message (of the field it was
    /// last about): "add a due date" and "also an isbn" with no subject in view go there.
    pub about: Option<String>,
}

impl Context {
    /// A context whose subject, until the message names one, is `resource` (the one the
    /// conversation was about).
    pub(super) fn about(resource: Option<&str>) -> Self {
        Context {
            about: resource.map(str::to_owned),
            ..Context::default()
        }
    }

    /// The subject in view: the last one of this message, else the one the conversation was
    /// about, else the only resource.
    fn in_view(&self, spec: &AppSpec) -> Option<usize> {
        self.last(spec)
            .or_else(|| {
                let name = self.about.as_deref()?;
                spec.resources.iter().position(|r| r.name == name)
            })
            .or_else(|| (spec.resources.len() == 1).then_some(0))
    }

    /// Remembers resource `r` as the subject pronouns refer to.
    fn set_last(&mut self, spec: &AppSpec, r: usize) {
        self.last_name = spec.resources.get(r).map(|res| res.name.clone());
    }

    /// The resource pronouns refer to, if it still exists.
    fn last(&self, spec: &AppSpec) -> Option<usize> {
        let name = self.last_name.as_deref()?;
        spec.resources.iter().position(|r| r.name == name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Have,
    Belong,
    HasMany,
    Link,
    /// "a loan is one piece of equipment …", "each line item is a product and a quantity".
    Be,
}

/// Verb phrases, longest first within each kind.
const VERBS: &[(&str, Verb)] = &[
    ("has many", Verb::HasMany),
    ("have many", Verb::HasMany),
    ("has multiple", Verb::HasMany),
    ("have multiple", Verb::HasMany),
    ("has several", Verb::HasMany),
    ("have several", Verb::HasMany),
    ("has lots of", Verb::HasMany),
    ("have lots of", Verb::HasMany),
    ("has one or more", Verb::HasMany),
    ("have one or more", Verb::HasMany),
    ("has zero or more", Verb::HasMany),
    ("contains many", Verb::HasMany),
    ("contain many", Verb::HasMany),
    ("belongs to", Verb::Belong),
    ("belong to", Verb::Belong),
    ("belonging to", Verb::Belong),
    ("assigned to", Verb::Belong),
    ("linked to", Verb::Belong),
    ("part of", Verb::Belong),
    ("owned by", Verb::Belong),
    ("written by", Verb::Belong),
    ("given by", Verb::Belong),
    ("taught by", Verb::Belong),
    ("led by", Verb::Belong),
    ("run by", Verb::Belong),
    ("hosted by", Verb::Belong),
    ("made by", Verb::Belong),
    ("placed by", Verb::Belong),
    ("created by", Verb::Belong),
    ("submitted by", Verb::Belong),
    ("booked by", Verb::Belong),
    ("scheduled in", Verb::Belong),
    ("held in", Verb::Belong),
    ("happens in", Verb::Belong),
    ("happen in", Verb::Belong),
    ("takes place in", Verb::Belong),
    ("take place in", Verb::Belong),
    ("located in", Verb::Belong),
    ("located at", Verb::Belong),
    ("tied to", Verb::Belong),
    ("attached to", Verb::Belong),
    ("associated with", Verb::Belong),
    ("related to", Verb::Belong),
    ("connected to", Verb::Belong),
    ("refers to", Verb::Belong),
    ("refer to", Verb::Belong),
    ("points to", Verb::Belong),
    ("comes from", Verb::Belong),
    ("come from", Verb::Belong),
    ("lent to", Verb::Belong),
    ("references", Verb::Belong),
    ("links", Verb::Link),
    ("link", Verb::Link),
    ("connects", Verb::Link),
    ("connect", Verb::Link),
    ("joins", Verb::Link),
    ("consists of", Verb::Have),
    ("comes with", Verb::Have),
    ("come with", Verb::Have),
    ("has", Verb::Have),
    ("have", Verb::Have),
    ("having", Verb::Have),
    ("with", Verb::Have),
    ("needs", Verb::Have),
    ("know", Verb::Have),
    ("want", Verb::Have),
    ("need", Verb::Have),
    ("contains", Verb::Have),
    ("contain", Verb::Have),
    ("includes", Verb::Have),
    ("include", Verb::Have),
    ("carries", Verb::Have),
    ("carry", Verb::Have),
    ("gets", Verb::Have),
    ("requires", Verb::Have),
    ("require", Verb::Have),
];

/// Prepositions that link a subject to what it belongs to, when a copula or the subject itself
/// stands right before them and a determiner right after: "a visit is for one pet", "bookings
/// for one guest", "each line item is on one invoice".
const LINKING_PREPOSITIONS: &[&str] = &[
    "for", "in", "on", "at", "from", "of", "under", "between", "to",
];
/// Words between a subject and its verb that do not change it.
const MODALS: &[&str] = &[
    "is",
    "are",
    "should",
    "must",
    "will",
    "can",
    "could",
    "may",
    "might",
    "also",
    "always",
    "each",
    "only",
    "just",
    "then",
    "be",
    "gets",
    "get",
    "would",
    "need",
    "needs",
    "to",
    "all",
    "both",
    "usually",
    "typically",
    "then",
    "too",
];
/// Determiners that open a noun phrase naming one thing.
const DETERMINERS: &[&str] = &[
    "a", "an", "one", "the", "single", "exactly", "some", "which", "what", "its", "their", "each",
];
/// Subjects that stand for the app itself: with a have-verb they name resources.
const APP_SUBJECTS: &[&str] = &[
    "we",
    "i",
    "it",
    "app",
    "api",
    "system",
    "service",
    "backend",
    "application",
    "platform",
    "there",
    "you",
    "site",
    "website",
    "tool",
    "database",
];
/// Words of a subject that is a person talking, not a thing of the app ("what she needs").
const PEOPLE: &[&str] = &[
    "she",
    "he",
    "what",
    "who",
    "someone",
    "somebody",
    "everyone",
    "everybody",
    "anyone",
    "whoever",
    "whatever",
    "sister",
    "brother",
    "boss",
    "wife",
    "husband",
    "mom",
    "dad",
    "friend",
    "manager",
];
/// Pronouns that stand for the last subject.
const PRONOUNS: &[&str] = &[
    "they", "it", "these", "those", "them", "each", "every", "one", "which",
];

/// The verb phrase at `i`, if any: its kind and its length in tokens.
fn verb_at(words: &[&str], i: usize) -> Option<(Verb, usize)> {
    for (phrase, verb) in VERBS {
        let parts: Vec<&str> = phrase.split(' ').collect();
        if words.len() >= i + parts.len() && words[i..i + parts.len()] == parts[..] {
            // "with" only joins a subject to its items at the start of a clause, not inside
            // an item ("a room with a view" is fine; "start time with timezone" too rare).
            return Some((*verb, parts.len()));
        }
    }
    // "is for one pet", "bookings for one guest": a linking preposition before a determiner.
    if LINKING_PREPOSITIONS.contains(&words[i])
        && i > 0
        && words
            .get(i + 1)
            .is_some_and(|n| matches!(*n, "one" | "a" | "an" | "exactly" | "single" | "the"))
        && (matches!(words[i - 1], "is" | "are" | "be")
            || words[i] == "between"
            || words[i] == "for")
    {
        // "is of a type" and "is in the morning" are rare enough; "for" needs "one".
        if words[i] == "for"
            && !matches!(words[i + 1], "one" | "exactly" | "single")
            && !matches!(words[i - 1], "is" | "are")
        {
            return None;
        }
        return Some((Verb::Belong, 1));
    }
    // "is set on a wall", "is played at a venue", "picks from one block", "goes into a tank":
    // a verb, then a preposition and a determiner, says what the subject belongs to.
    const PREPOSITIONS: &[&str] = &[
        "on", "in", "at", "by", "to", "from", "into", "under", "inside", "within", "for",
    ];
    let w = words[i];
    let participle = w.ends_with("ed")
        || matches!(
            w,
            "set"
                | "made"
                | "held"
                | "given"
                | "taught"
                | "run"
                | "led"
                | "kept"
                | "sent"
                | "built"
                | "written"
                | "taken"
                | "done"
                | "paid"
                | "sold"
                | "bought"
                | "found"
                | "shown"
                | "hung"
                | "put"
                | "stored"
                | "grown"
        );
    let after_copula = i > 0
        && matches!(
            words[i - 1],
            "is" | "are" | "be" | "gets" | "get" | "was" | "were"
        );
    let third_person = i > 0
        && w.len() > 3
        && w.ends_with('s')
        && !w.ends_with("ss")
        && !matches!(
            words[i - 1],
            "a" | "an" | "the" | "of" | "and" | "," | "each" | "every" | "one"
        )
        && !super::ARTICLES.contains(&words[i - 1]);
    if (participle && after_copula || third_person)
        && words.get(i + 1).is_some_and(|p| PREPOSITIONS.contains(p))
        && words.get(i + 2).is_some_and(|d| {
            matches!(
                *d,
                "one" | "a" | "an" | "exactly" | "single" | "the" | "which"
            )
        })
    {
        return Some((Verb::Belong, 2));
    }
    None
}

/// The first verb phrase outside parentheses, from `from` on.
fn first_verb(words: &[&str], from: usize) -> Option<(usize, Verb, usize)> {
    let mut depth = 0usize;
    for i in from..words.len() {
        match words[i] {
            "(" => depth += 1,
            ")" => depth = depth.saturating_sub(1),
            _ if depth == 0 => {
                if let Some((v, n)) = verb_at(words, i) {
                    // "people have edited", "we've been using": an auxiliary, not "have".
                    let auxiliary = v == Verb::Have
                        && words.get(i + n).is_some_and(|p| {
                            (p.ends_with("ed") && p.len() > 4 && !p.ends_with("eed"))
                                || matches!(*p, "been" | "got" | "done" | "made" | "seen" | "to")
                        });
                    if !auxiliary {
                        return Some((i, v, n));
                    }
                }
            }
            _ => {}
        }
    }
    None
}

/// Reads a declaration, relation or "add" sentence. Returns whether it understood one.
pub(super) fn read_statement(
    spec: &mut AppSpec,
    words: &[&str],
    ctx: &mut Context,
    change: &mut SpecChange,
) -> bool {
    if words.is_empty() {
        return false;
    }
    if matches!(words[0], "add" | "adding" | "include" | "create") {
        if let Some(done) = read_add(spec, words, ctx, change) {
            return done;
        }
    }
    // "members: name, email", "track exercises: name, sets and reps".
    if let Some(colon) = top_level(words, ":") {
        let head = strip_triggers(&words[..colon]);
        let rest = &words[colon + 1..];
        // "api for a library: books, members and loans", "Task API: tasks have a title".
        if first_verb(&head, 0).is_none() && names_app(&head) {
            if first_verb(rest, 0).is_some() || rest.first() == Some(&"add") {
                return read_statement(spec, rest, ctx, change);
            }
            // "api for books: title, author, published year": the one thing the app is for,
            // then its fields.
            let drafts = parse_fields(rest);
            let singular = !drafts.is_empty()
                && drafts.iter().all(|d| {
                    d.words.last().is_some_and(|w| {
                        !super::looks_plural(w) || ATTRIBUTE_PLURALS.contains(&w.as_str())
                    })
                });
            if singular && declare_resources(spec, &head, ctx, change) {
                if let Some(r) = ctx.last(spec) {
                    declare_items(spec, r, rest, ctx, change);
                    return true;
                }
            }
            return declare_resources(spec, rest, ctx, change);
        }
        // "hikers can leave reviews: a review belongs to a trail, …": the part after the colon
        // says it all.
        let rest_has_subject = first_verb(rest, 0).is_some_and(|(v, _, _)| {
            v > 0
                && rest[..v]
                    .iter()
                    .any(|w| matches!(*w, "a" | "an" | "each" | "every" | "the"))
        });
        let head_is_clause = head.iter().any(|w| {
            matches!(
                *w,
                "can" | "could" | "should" | "will" | "want" | "need" | "is" | "are" | "do"
            )
        });
        if rest_has_subject && first_verb(&head, 0).is_none() {
            // "stock levels: a stock level belongs to …" names it, then says it.
            let np = noun_phrase(&head);
            if !head_is_clause && np.last().is_some_and(|w| super::looks_plural(w)) {
                ensure_resource(spec, &np, change);
            }
            return read_statement(spec, rest, ctx, change);
        }
        // "also status: confirmed, cancelled, finished": a field of the last subject.
        if head.len() == 1 && FIELD_WORDS.contains(&head[0]) {
            if let Some(r) = ctx
                .last(spec)
                .or_else(|| spec.resources.len().checked_sub(1))
            {
                declare_items(spec, r, &words[colon - 1..], ctx, change);
                return true;
            }
        }
        if first_verb(&head, 0).is_none() && !head.is_empty() && head.len() <= 5 {
            if let Some(r) = subject_resource(spec, &head, ctx, change) {
                ctx.set_last(spec, r);
                let rest = &words[colon + 1..];
                let rest_start = skip_modals(rest, 0);
                if let Some((0, verb, n)) = first_verb(&rest[rest_start..], 0) {
                    apply_predicates(spec, r, verb, &rest[rest_start + n..], ctx, change);
                } else {
                    declare_items(spec, r, rest, ctx, change);
                }
                return true;
            }
        }
    }
    // "a loan is one piece of equipment lent to one employee": a copula before any verb.
    let verb = first_verb(words, 0);
    if let Some(c) = words
        .iter()
        .position(|w| matches!(*w, "is" | "are"))
        .filter(|c| verb.is_none_or(|(v, _, _)| *c + 1 < v))
    {
        let subject = trim_modals(&words[..c]);
        let after = &words[c + 1..];
        let points = after
            .first()
            .is_some_and(|w| matches!(*w, "one" | "a" | "an" | "exactly" | "a single"));
        let plain = !subject.is_empty()
            && subject.len() <= 4
            && subject
                .iter()
                .all(|w| w.chars().all(|ch| ch.is_alphanumeric() || ch == '_'));
        if points
            && plain
            && !is_app_subject(subject)
            && !subject.iter().any(|w| PEOPLE.contains(w))
        {
            if let Some(r) = subject_resource(spec, subject, ctx, change) {
                ctx.set_last(spec, r);
                apply_predicates(spec, r, Verb::Be, after, ctx, change);
                return true;
            }
        }
    }
    match verb {
        Some((v, verb, n)) => {
            let subject_words = &words[..v];
            let subject_words = trim_modals(subject_words);
            // "… spreadsheets that three people have edited": a relative clause, not a
            // requirement.
            if subject_words
                .iter()
                .any(|w| matches!(*w, "that" | "which" | "who" | "whom" | "whose"))
            {
                return false;
            }
            // "for each artifact we'd want the title, …": the thing after "for each".
            if let Some(k) = subject_words.windows(2).position(|w| {
                w[0] == "for" && matches!(w[1], "each" | "every" | "all" | "a" | "an" | "the")
            }) {
                let np: Vec<&str> = subject_words[k + 2..]
                    .iter()
                    .copied()
                    .take_while(|w| !matches!(*w, "we" | "i" | "you" | "wed" | "id" | "," | "they"))
                    .collect();
                if let Some(r) = subject_resource(spec, &np, ctx, change) {
                    ctx.set_last(spec, r);
                    apply_predicates(spec, r, verb, &words[v + n..], ctx, change);
                    return true;
                }
            }
            // "guests and vendors both belong to a wedding": each subject gets the predicate.
            if subject_words.contains(&"and")
                && !is_app_subject(subject_words)
                && subject_words.len() <= 6
            {
                let subjects: Vec<Vec<&str>> = split_top(subject_words)
                    .into_iter()
                    .map(|s| {
                        s.into_iter()
                            .filter(|w| !matches!(*w, "both" | "all"))
                            .collect()
                    })
                    .collect();
                if subjects.len() >= 2
                    && subjects
                        .iter()
                        .all(|s: &Vec<&str>| !s.is_empty() && s.len() <= 3)
                {
                    let mut any = false;
                    for subject in subjects {
                        if let Some(r) = subject_resource(spec, &subject, ctx, change) {
                            ctx.set_last(spec, r);
                            apply_predicates(spec, r, verb, &words[v + n..], ctx, change);
                            any = true;
                        }
                    }
                    return any;
                }
            }
            if (is_app_subject(subject_words) || subject_words.iter().any(|w| PEOPLE.contains(w)))
                && verb == Verb::Have
            {
                return declare_resources(spec, &words[v + n..], ctx, change);
            }
            if subject_words.is_empty() && matches!(words[v], "want" | "need" | "needs") {
                return declare_resources(spec, &words[v + n..], ctx, change);
            }
            let Some(r) = subject_resource(spec, subject_words, ctx, change) else {
                return false;
            };
            ctx.set_last(spec, r);
            apply_predicates(spec, r, verb, &words[v + n..], ctx, change);
            true
        }
        // "Products (name, sku) and suppliers (name, phone)".
        None if words.contains(&"(") => declare_resources(spec, words, ctx, change),
        // "a fertilized yes/no on each watering", "a due date for every task".
        None if on_each(words).is_some() => {
            let k = on_each(words).expect("checked");
            match find_resource(spec, &noun_phrase(&words[k + 2..])) {
                Some(r) => {
                    declare_items(spec, r, &words[..k], ctx, change);
                    true
                }
                None => false,
            }
        }
        // "oh and a notes field for …", "and a checked_in flag": a field of the last subject.
        None if words
            .iter()
            .take(5)
            .any(|w| super::FIELD_NOUNS.contains(w) || *w == "flag") =>
        {
            match ctx.last(spec) {
                Some(r) => {
                    declare_items(spec, r, words, ctx, change);
                    true
                }
                None => false,
            }
        }
        None => false,
    }
}

/// Where "on each", "for every", "per" … begins, if anywhere.
fn on_each(words: &[&str]) -> Option<usize> {
    words.windows(2).position(|w| {
        matches!(w[0], "on" | "for" | "to" | "per") && matches!(w[1], "each" | "every" | "all")
    })
}

/// Index of the first `token` outside parentheses.
fn top_level(words: &[&str], token: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, w) in words.iter().enumerate() {
        match *w {
            "(" => depth += 1,
            ")" => depth = depth.saturating_sub(1),
            t if t == token && depth == 0 => return Some(i),
            _ => {}
        }
    }
    None
}

/// Words that introduce what an app manages ("track exercises", "also manage projects").
const TRIGGERS: &[&str] = &[
    "track", "manage", "store", "keep", "handle", "list", "record", "log", "also", "and", "oh",
    "plus", "then", "now", "need", "want", "add", "a", "an", "the", "some", "lets", "let", "us",
    "we", "i", "ok", "so", "finally",
];

fn strip_triggers<'a>(words: &[&'a str]) -> Vec<&'a str> {
    let start = words
        .iter()
        .position(|w| !TRIGGERS.contains(w))
        .unwrap_or(words.len());
    words[start..].to_vec()
}

/// Skips "to know", "to track", "to keep" before a list ("we need to know whether …").
fn skip_infinitive(words: &[&str], i: usize) -> usize {
    if words.get(i) == Some(&"to")
        && words.get(i + 1).is_some_and(|v| {
            matches!(
                *v,
                "know"
                    | "track"
                    | "store"
                    | "keep"
                    | "record"
                    | "see"
                    | "have"
                    | "save"
                    | "capture"
                    | "log"
            )
        })
    {
        i + 2
    } else {
        i
    }
}

fn skip_modals(words: &[&str], mut i: usize) -> usize {
    while i < words.len() && MODALS.contains(&words[i]) && verb_at(words, i).is_none() {
        i += 1;
    }
    i
}

/// A subject without trailing modals ("cars also" → "cars", "each order should" → "each order").
fn trim_modals<'a, 'b>(words: &'b [&'a str]) -> &'b [&'a str] {
    let mut end = words.len();
    while end > 0 && MODALS.contains(&words[end - 1]) {
        end -= 1;
    }
    &words[..end]
}

/// Whether a phrase names the app itself ("a REST API for a library", "conference app").
fn names_app(words: &[&str]) -> bool {
    words.iter().any(|w| {
        matches!(
            *w,
            "api" | "apis" | "app" | "application" | "backend" | "service" | "system" | "platform"
        )
    })
}

fn is_app_subject(words: &[&str]) -> bool {
    let np: Vec<&str> = words
        .iter()
        .copied()
        .filter(|w| {
            !ARTICLES.contains(w)
                && !matches!(
                    *w,
                    "also" | "so" | "and" | "ok" | "our" | "my" | "this" | "new"
                )
        })
        .collect();
    words
        .first()
        .is_some_and(|w| matches!(*w, "were" | "im" | "we" | "i" | "our" | "my"))
        || np.is_empty() && words.iter().any(|w| *w == "we" || *w == "i")
        || np.last().is_some_and(|w| APP_SUBJECTS.contains(w))
}

/// The resource a subject names: a pronoun is the last subject; otherwise the noun phrase,
/// found or added.
fn subject_resource(
    spec: &mut AppSpec,
    words: &[&str],
    ctx: &Context,
    change: &mut SpecChange,
) -> Option<usize> {
    let np = noun_phrase(words);
    if np.is_empty() || np.len() == 1 && PRONOUNS.contains(&np[0]) {
        return ctx.last(spec);
    }
    if np.iter().any(|w| APP_SUBJECTS.contains(w) && np.len() == 1)
        || words.iter().any(|w| PEOPLE.contains(w))
    {
        return None;
    }
    ensure_resource(spec, &np, change)
}

/// Applies a predicate and the predicates coordinated after it to resource `r`.
fn apply_predicates(
    spec: &mut AppSpec,
    r: usize,
    verb: Verb,
    rest: &[&str],
    ctx: &mut Context,
    change: &mut SpecChange,
) {
    // Cut the rest where a connector is followed by another predicate, with the same subject
    // ("and have a due date", ", they have …", "and we need …") or a new one ("and each
    // vehicle is assigned to a driver").
    let mut segments: Vec<(usize, Verb, Vec<&str>)> = vec![(r, verb, Vec::new())];
    let mut i = 0;
    let mut depth = 0usize;
    while i < rest.len() {
        let w = rest[i];
        match w {
            "(" => depth += 1,
            ")" => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth == 0 && matches!(w, "," | "and" | "but" | "while" | "plus" | "so") {
            let mut j = i + 1;
            while j < rest.len() && matches!(rest[j], "and" | "," | "also" | "so" | "then") {
                j += 1;
            }
            let same = j < rest.len()
                && (PRONOUNS.contains(&rest[j]) && rest[j] != "one" && rest[j] != "each"
                    || matches!(rest[j], "we" | "i" | "you" | "were" | "id" | "wed"));
            let subject_end = if same { j + 1 } else { j };
            let k = skip_modals(rest, subject_end);
            let k = skip_infinitive(rest, k);
            if let Some((v, n)) = (k < rest.len()).then(|| verb_at(rest, k)).flatten() {
                if !(rest[k] == "with" && v == Verb::Have) || k > j {
                    segments.push((r, v, Vec::new()));
                    i = k + n;
                    continue;
                }
            }
            // A new subject: "and each vehicle is assigned to a driver".
            if !same {
                if let Some((v_at, v, n)) = first_verb(&rest[..rest.len().min(j + 6)], j) {
                    let np_words = trim_modals(&rest[j..v_at]);
                    let opens = np_words.first().is_some_and(|f| {
                        matches!(*f, "each" | "every" | "a" | "an" | "the" | "all")
                    });
                    let plain = !np_words.is_empty()
                        && np_words.len() <= 4
                        && np_words.iter().all(|x| {
                            x.chars().all(|c| c.is_alphanumeric() || c == '_')
                                && !matches!(*x, "and" | "or" | "plus" | "with")
                        });
                    let known = find_resource(spec, np_words).is_some()
                        || noun_phrase(np_words)
                            .last()
                            .is_some_and(|w| ctx.known.iter().any(|k| *k == super::singularize(w)));
                    // "…, students have a name": a plural right before its verb.
                    let plural_subject = np_words.len() <= 2
                        && np_words.last().is_some_and(|w| super::looks_plural(w))
                        && v_at == j + np_words.len();
                    if plain && (opens || known || plural_subject) {
                        if let Some(r2) = subject_resource(spec, np_words, ctx, change) {
                            ctx.set_last(spec, r2);
                            segments.push((r2, v, Vec::new()));
                            i = v_at + n;
                            continue;
                        }
                    }
                }
            }
        }
        segments.last_mut().expect("never empty").2.push(w);
        i += 1;
    }
    for (r, verb, words) in segments {
        let words = &words[skip_infinitive(&words, 0)..];
        match verb {
            Verb::Have => declare_items(spec, r, words, ctx, change),
            Verb::Belong | Verb::Link => {
                let fields_from = relate_targets(spec, r, words, change);
                if fields_from < words.len() {
                    declare_items(spec, r, &words[fields_from..], ctx, change);
                }
            }
            Verb::Be => be_items(spec, r, words, ctx, change),
            Verb::HasMany => {
                for item in split_top(words) {
                    let np = noun_phrase(&item);
                    if let Some(child) = ensure_resource(spec, &np, change) {
                        relate(spec, child, r, change);
                    }
                }
            }
        }
    }
}

/// "one piece of equipment lent to one employee", "a product and a quantity": items that
/// name a resource (existing, or named in this message) are what the subject belongs to; a
/// verb phrase among them goes on as a predicate; the rest are fields.
fn be_items(
    spec: &mut AppSpec,
    r: usize,
    words: &[&str],
    ctx: &mut Context,
    change: &mut SpecChange,
) {
    let (items, tail) = match first_verb(words, 0) {
        Some((v, verb, n)) => (&words[..v], Some((verb, &words[v + n..]))),
        None => (words, None),
    };
    let mut fields = Vec::new();
    for item in split_top(items) {
        let np = noun_phrase(&item);
        let known = find_resource(spec, &np).is_some()
            || ident(&np).is_some_and(|n| {
                ctx.known
                    .iter()
                    .any(|k| *k == n || *k == super::singularize(&n))
            });
        if known {
            if let Some(parent) = ensure_resource(spec, &np, change) {
                if parent != r {
                    relate(spec, r, parent, change);
                }
            }
        } else {
            if !fields.is_empty() {
                fields.push(",");
            }
            fields.extend(item);
        }
    }
    if !fields.is_empty() {
        declare_items(spec, r, &fields, ctx, change);
    }
    if let Some((verb, rest)) = tail {
        apply_predicates(spec, r, verb, rest, ctx, change);
    }
}

/// Splits at top-level separators: `,` `and` `or` `&` `plus` `to` is not one.
fn split_top<'a>(words: &[&'a str]) -> Vec<Vec<&'a str>> {
    let mut items = vec![Vec::new()];
    let mut depth = 0usize;
    for w in words {
        match *w {
            "(" => depth += 1,
            ")" => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth == 0 && matches!(*w, "," | "and" | "&" | "plus" | "or") {
            items.push(Vec::new());
        } else {
            items.last_mut().expect("never empty").push(*w);
        }
    }
    items.retain(|i| !i.is_empty());
    items
}

/// Reads the targets of a belong- or link-verb ("a book and a member", "one guest and one
/// room, check-in date") as relations of `r`; returns where the rest (fields) begins.
fn relate_targets(spec: &mut AppSpec, r: usize, words: &[&str], change: &mut SpecChange) -> usize {
    // "a tank that has a code and a capacity": the fields are the target's.
    if let Some(k) = words.windows(2).position(|w| {
        matches!(w[0], "that" | "which" | "who")
            && matches!(w[1], "has" | "have" | "holds" | "with")
    }) {
        let consumed = relate_targets(spec, r, &words[..k], change);
        if consumed >= k {
            let np = noun_phrase(&words[..k]);
            if let Some(target) = find_resource(spec, &np) {
                let items: Vec<&str> = words[k + 2..].to_vec();
                let mut ctx = Context::default();
                declare_items(spec, target, &items, &mut ctx, change);
            }
            return words.len();
        }
        return consumed;
    }
    // Targets end at "with", "having", "that has" or ", plus".
    let end = words
        .iter()
        .position(|w| matches!(*w, "with" | "having" | "where" | "plus"))
        .unwrap_or(words.len());
    let mut consumed = 0;
    let mut depth = 0usize;
    let mut start = 0;
    let mut n = 0;
    let mut i = 0;
    while i <= end {
        // "by one climber on one route": a preposition before a determiner starts a target.
        let at_sep = i == end
            || depth == 0
                && (matches!(words[i], "," | "and" | "&" | "or" | "to")
                    || i > start
                        && matches!(words[i], "on" | "at" | "in" | "by" | "from" | "into")
                        && words.get(i + 1).is_some_and(|d| DETERMINERS.contains(d)));
        if i < end {
            match words[i] {
                "(" => depth += 1,
                ")" => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        if at_sep {
            let mut item = &words[start..i];
            while item.first().is_some_and(|p| {
                matches!(
                    *p,
                    "by" | "on" | "at" | "in" | "from" | "into" | "to" | "both"
                )
            }) {
                item = &item[1..];
            }
            if !item.is_empty() {
                let names_thing =
                    DETERMINERS.contains(&item[0]) || find_resource(spec, item).is_some();
                if !(names_thing || n == 0) {
                    return consumed;
                }
                let np = noun_phrase(item);
                if let Some(q) = adjective_target(spec, r, &np) {
                    // "loans belong to returned": a quality, or a thing? Ask.
                    change.questions.push(q);
                } else if let Some(parent) = ensure_resource(spec, &np, change) {
                    if parent != r {
                        relate(spec, r, parent, change);
                    }
                }
                n += 1;
            }
            consumed = (i + 1).min(words.len());
            start = i + 1;
        }
        i += 1;
    }
    if end < words.len() {
        end + 1
    } else {
        words.len()
    }
}

/// "we have cars (make, model) and customers (name, email)", "Products (name, sku)": each item
/// a resource, with the fields in its parentheses or after "with".
fn declare_resources(
    spec: &mut AppSpec,
    words: &[&str],
    ctx: &mut Context,
    change: &mut SpecChange,
) -> bool {
    // "my plants with a name, the species, …": after "with", the items are its fields.
    if let Some(w) = top_level(words, "with") {
        let before = &words[..w];
        if !before.contains(&"(") && !before.contains(&",") {
            let mut any = declare_resources(spec, before, ctx, change);
            if let Some(r) = ctx.last(spec).filter(|_| any) {
                declare_items(spec, r, &words[w + 1..], ctx, change);
                any = true;
            }
            return any;
        }
    }
    let mut any = false;
    let mut depth = 0usize;
    let mut start = 0;
    for i in 0..=words.len() {
        let at_sep =
            i == words.len() || depth == 0 && matches!(words[i], "," | "and" | "&" | "plus");
        if i < words.len() {
            match words[i] {
                "(" => depth += 1,
                ")" => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        if !at_sep {
            continue;
        }
        let item = &words[start..i];
        start = i + 1;
        if item.is_empty() {
            continue;
        }
        let (name, fields): (&[&str], &[&str]) = match item.iter().position(|w| *w == "(") {
            Some(o) => {
                let close = item.iter().rposition(|w| *w == ")").unwrap_or(item.len());
                (&item[..o], &item[o + 1..close.max(o + 1)])
            }
            None => match item.iter().position(|w| matches!(*w, "with" | ":")) {
                Some(k) => (&item[..k], &item[k + 1..]),
                None => (item, &[]),
            },
        };
        // "something to keep track of orders" → orders
        let name = match name.iter().rposition(|w| {
            matches!(
                *w,
                "track"
                    | "manage"
                    | "of"
                    | "for"
                    | "store"
                    | "handle"
                    | "keep"
                    | "list"
                    | "about"
                    | "add"
                    | "create"
                    | "see"
                    | "get"
                    | "have"
                    | "need"
                    | "want"
                    | "save"
                    | "log"
                    | "record"
                    | "book"
                    | "view"
            )
        }) {
            Some(k) => &name[k + 1..],
            None => name,
        };
        let np = noun_phrase(&strip_triggers(name));
        if np.is_empty() {
            continue;
        }
        let plural_or_fields =
            !fields.is_empty() || np.last().is_some_and(|w| super::looks_plural(w));
        if !plural_or_fields {
            continue;
        }
        if let Some(r) = ensure_resource(spec, &np, change) {
            ctx.set_last(spec, r);
            any = true;
            if !fields.is_empty() {
                declare_items(spec, r, fields, ctx, change);
            }
        }
    }
    any
}

/// "add a due date to tasks", "add stock levels", "add a priority field".
fn read_add(
    spec: &mut AppSpec,
    words: &[&str],
    ctx: &mut Context,
    change: &mut SpecChange,
) -> Option<bool> {
    let body = &words[1..];
    // "create an api for subscribers" says what the app is for, read as such elsewhere.
    if names_app(body) {
        return None;
    }
    // "add X to/on/for R"
    if let Some(i) = body
        .iter()
        .rposition(|w| matches!(*w, "to" | "on" | "for" | "in"))
    {
        let target = noun_phrase(&body[i + 1..]);
        if let Some(r) = find_resource(spec, &target) {
            ctx.set_last(spec, r);
            declare_items(spec, r, &body[..i], ctx, change);
            return Some(true);
        }
    }
    // "add invoices: number, date", "add stock levels - each …", "add projects with a name".
    if let Some(k) = top_level(body, ":")
        .or_else(|| top_level(body, "with"))
        .or_else(|| top_level(body, "("))
    {
        let head = noun_phrase(&body[..k]);
        if head.last().is_some_and(|w| super::looks_plural(w))
            || find_resource(spec, &head).is_some()
        {
            if let Some(r) = ensure_resource(spec, &head, change) {
                ctx.set_last(spec, r);
                let fields: Vec<&str> = body[k + 1..]
                    .iter()
                    .copied()
                    .filter(|w| *w != ")")
                    .collect();
                declare_items(spec, r, &fields, ctx, change);
                return Some(true);
            }
        }
    }
    let np = noun_phrase(body);
    // "add stock levels", "add invoices too": a plural that is no field of anything.
    if np.last().is_some_and(|w| super::looks_plural(w))
        && !np.iter().any(|w| super::FIELD_NOUNS.contains(w))
        && body.iter().all(|w| !matches!(*w, "," | "("))
        && ident(&np).is_some_and(|n| {
            !spec
                .resources
                .iter()
                .any(|r| r.fields.iter().any(|f| f.name == n))
        })
    {
        return Some(ensure_resource(spec, &np, change).is_some());
    }
    // "add a due date" with a subject in view; the resource the conversation was about only
    // for a plain list of items ("add a harvest log: each harvest belongs to …" says more).
    let plain = first_verb(body, 0).is_none()
        && !body
            .iter()
            .any(|w| matches!(*w, ":" | "(" | "each" | "every" | "-"));
    let r = if plain {
        ctx.in_view(spec)?
    } else {
        ctx.last(spec)
            .or_else(|| (spec.resources.len() == 1).then_some(0))?
    };
    declare_items(spec, r, body, ctx, change);
    Some(true)
}

/// Adds the items of a field list to resource `r`: fields, and relations for the items that
/// name another resource.
fn declare_items(
    spec: &mut AppSpec,
    r: usize,
    words: &[&str],
    ctx: &mut Context,
    change: &mut SpecChange,
) {
    let resource_name = spec.resources[r].name.clone();
    for draft in parse_fields(words) {
        // "a member books a class": an item naming two things links to both.
        let named: Vec<usize> = draft
            .words
            .iter()
            .filter_map(|w| {
                let one = super::singularize(w);
                spec.resources
                    .iter()
                    .position(|o| o.name == *w || o.name == one || o.plural == *w)
                    .or_else(|| {
                        ctx_known(&ctx.known, &one)
                            .then(|| {
                                ensure_resource(spec, &[one.as_str()], &mut SpecChange::default())
                            })
                            .flatten()
                    })
            })
            .filter(|t| *t != r)
            .collect();
        if named.len() >= 2 && draft.words.len() <= 5 && !draft.has_type() {
            for t in named {
                relate(spec, r, t, change);
            }
            continue;
        }
        if let Some(target) = relation_target(spec, r, &draft, &ctx.known) {
            if target != r {
                relate(spec, r, target, change);
            }
            continue;
        }
        // A plural that may be a thing of its own: linked, or asked about (then `r` itself).
        if let Some(child) = child_resource(spec, r, &draft, &ctx.known, change) {
            if child != r {
                relate(spec, child, r, change);
            }
            continue;
        }
        let said_type = draft.has_type();
        let Some(field) = draft.into_field(&resource_name, change) else {
            continue;
        };
        change.touched(&resource_name, &field.name);
        let is_new = !spec.resources[r]
            .fields
            .iter()
            .any(|f| f.name == field.name);
        if is_new && !said_type && change.questions.is_empty() && uncertain_type(&field.name) {
            change
                .questions
                .push(type_question(&spec.resources[r], &field));
        }
        let res = &mut spec.resources[r];
        if let Some(existing) = res.fields.iter_mut().find(|f| f.name == field.name) {
            if *existing != field {
                *existing = field.clone();
                change.changed.push(format!(
                    "field `{resource_name}.{}` is now {}",
                    field.name,
                    describe_field(&field)
                ));
            }
        } else {
            change.added.push(format!(
                "field `{resource_name}.{}` ({})",
                field.name,
                describe_field(&field)
            ));
            res.fields.push(field);
        }
    }
}

/// Plurals that are values of a record, not things of their own.
const ATTRIBUTE_PLURALS: &[&str] = &[
    "tags",
    "notes",
    "ingredients",
    "instructions",
    "steps",
    "images",
    "photos",
    "pictures",
    "skills",
    "keywords",
    "features",
    "amenities",
    "allergies",
    "symptoms",
    "details",
    "links",
    "attachments",
    "hours",
    "credits",
    "bedrooms",
    "bathrooms",
    "sets",
    "reps",
    "guests",
    "players",
    "minutes",
    "seconds",
    "days",
    "years",
    "miles",
    "points",
    "pages",
    "seats",
    "servings",
    "votes",
    "likes",
    "views",
    "calories",
    "copies",
    "attempts",
    "stars",
    "comments",
    "requirements",
    "terms",
    "dimensions",
    "specs",
    "ratings",
    "genres",
    "languages",
    "topics",
    "colors",
    "colours",
    "sizes",
    "labels",
    "aliases",
    "permissions",
    "roles",
    "members",
    "participants",
    "attendees",
    "persons",
    "people",
    "kids",
    "children",
    "adults",
    "items",
    "units",
    "pieces",
    "rooms",
    "floors",
    "beds",
    "spots",
    "slots",
    "sessions",
    "lessons",
    "episodes",
    "chapters",
    "tracks",
    "songs",
    "goals",
    "assists",
    "wins",
    "losses",
    "laps",
];

/// A plural item of a have-list that names a thing of its own: "orders have line items" makes
/// `line_item` a resource that belongs to `order`.
fn child_resource(
    spec: &mut AppSpec,
    r: usize,
    draft: &FieldDraft,
    known: &[String],
    change: &mut SpecChange,
) -> Option<usize> {
    if draft.has_type() || draft.pointer || draft.words.is_empty() || draft.words.len() > 2 {
        return None;
    }
    let words: Vec<&str> = draft.words.iter().map(String::as_str).collect();
    let last = *words.last()?;
    if !super::looks_plural(last)
        || words.len() == 1 && ATTRIBUTE_PLURALS.contains(&last)
        || super::fields::COMMON_FIELDS.contains(&super::singularize(last).as_str())
    {
        return None;
    }
    let name = ident(&words)?;
    if spec.resources[r].fields.iter().any(|f| f.name == name)
        || super::fields::infer_type(&name) != crate::spec::FieldType::String
    {
        return None;
    }
    // An existing resource, or one this message names elsewhere.
    if let Some(c) = find_resource(spec, &words) {
        return Some(c).filter(|c| *c != r);
    }
    let singular = super::singularize(&name);
    if ctx_known(known, &singular) {
        return ensure_resource(spec, &words, change).filter(|c| *c != r);
    }
    // Otherwise it could be either: ask, and add nothing for it until answered.
    let parent = &spec.resources[r];
    let (label, many) = (name.replace('_', " "), parent.plural.replace('_', " "));
    if super::super::check_resource_name(&singular).is_err() {
        return None;
    }
    {
        change.questions.push(Question {
            text: format!(
                "Are `{label}` a list kept as text on each {one}, or records of their own that belong to {a_one}?",
                one = parent.name.replace('_', " "),
                a_one = with_article(&parent.name.replace('_', " "))
            ),
            options: vec![
                QuestionOption {
                    label: format!("a text field of {many}"),
                    patch: Patch::Field {
                        resource: parent.name.clone(),
                        field: Field {
                            name: name.clone(),
                            ty: crate::spec::FieldType::Text,
                            required: false,
                            unique: false,
                            default: None,
                        },
                    },
                },
                QuestionOption {
                    label: format!(
                        "separate {label}, each belonging to {}",
                        with_article(&parent.name.replace('_', " "))
                    ),
                    patch: Patch::Child {
                        parent: parent.name.clone(),
                        name: singular,
                        plural: name,
                    },
                },
            ],
            about: None,
        });
    }
    Some(r)
}

/// The resource an item names, when it is a link rather than a field: "a speaker" when
/// speakers exist, "which desk", "one supplier".
fn ctx_known(known: &[String], name: &str) -> bool {
    known.iter().any(|k| k == name)
}

fn relation_target(
    spec: &mut AppSpec,
    r: usize,
    draft: &FieldDraft,
    known: &[String],
) -> Option<usize> {
    if draft.has_type() {
        return None;
    }
    let words: Vec<&str> = draft.words.iter().map(String::as_str).collect();
    let (pointer, rest): (bool, Vec<&str>) = match words.first() {
        Some(&"one") | Some(&"which") | Some(&"single") => (true, words[1..].to_vec()),
        _ => (draft.pointer, words.clone()),
    };
    if rest.is_empty() || rest.len() > 2 {
        return None;
    }
    let name = ident(&rest)?;
    // A field of this resource by that name stays a field.
    if spec.resources[r].fields.iter().any(|f| f.name == name) {
        return None;
    }
    if let Some(i) = spec
        .resources
        .iter()
        .position(|o| o.name == name || o.plural == name)
    {
        return Some(i);
    }
    if pointer || ctx_known(known, &name) {
        let mut scratch = SpecChange::default();
        return ensure_resource(spec, &rest, &mut scratch);
    }
    None
}

/// "a order" → "an order".
fn with_article(noun: &str) -> String {
    let vowel = noun.starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} {noun}", if vowel { "an" } else { "a" })
}

/// Words that describe a state rather than name a thing.
const STATES: &[&str] = &[
    "active",
    "open",
    "closed",
    "done",
    "paid",
    "public",
    "private",
    "available",
    "complete",
    "completed",
    "returned",
    "archived",
    "deleted",
    "draft",
    "pending",
    "approved",
    "verified",
    "enabled",
    "disabled",
    "visible",
    "hidden",
    "featured",
    "pinned",
    "urgent",
    "late",
    "overdue",
];

/// A question when a link's target is a word for a state ("belongs to returned"), which no
/// resource has as its name: a yes/no field, or a thing of its own?
fn adjective_target(spec: &AppSpec, r: usize, np: &[&str]) -> Option<Question> {
    let [word] = np else { return None };
    if find_resource(spec, np).is_some()
        || !(STATES.contains(word) || word.ends_with("ed") && word.len() > 4)
    {
        return None;
    }
    let subject = &spec.resources[r];
    let (one, many) = (
        subject.name.replace('_', " "),
        subject.plural.replace('_', " "),
    );
    let plural = super::pluralize(word);
    Some(Question {
        text: format!(
            "Is `{word}` a yes/no field of {many}, or a separate thing {many} belong to?"
        ),
        options: vec![
            QuestionOption {
                label: format!("a yes/no field of {many}"),
                patch: Patch::Field {
                    resource: subject.name.clone(),
                    field: Field {
                        name: (*word).to_owned(),
                        ty: crate::spec::FieldType::Boolean,
                        required: false,
                        unique: false,
                        default: Some(serde_json::Value::Bool(false)),
                    },
                },
            },
            QuestionOption {
                label: format!("separate {plural}, each {one} belonging to one"),
                patch: Patch::Parent {
                    child: subject.name.clone(),
                    name: (*word).to_owned(),
                    plural,
                },
            },
        ],
        about: None,
    })
}

/// Records that the resource named `child` belongs to the one named `parent`.
pub(crate) fn relate_names(spec: &mut AppSpec, child: &str, parent: &str, change: &mut SpecChange) {
    let find = |n: &str| spec.resources.iter().position(|r| r.name == n);
    if let (Some(c), Some(p)) = (find(child), find(parent)) {
        relate(spec, c, p, change);
    }
}

/// Records that resource `child` belongs to `parent`.
pub(super) fn relate(spec: &mut AppSpec, child: usize, parent: usize, change: &mut SpecChange) {
    if child == parent {
        change
            .notes
            .push("a resource can't belong to itself".into());
        return;
    }
    let (child_name, parent_name) = (
        spec.resources[child].name.clone(),
        spec.resources[parent].name.clone(),
    );
    if spec.resources[parent]
        .relations
        .iter()
        .any(|r| r.kind == RelationKind::BelongsTo && r.target == child_name)
    {
        change.notes.push(format!(
            "`{parent_name}` already belongs to `{child_name}`; relations can't go both ways"
        ));
        return;
    }
    if spec.resources[child]
        .relations
        .iter()
        .any(|r| r.kind == RelationKind::BelongsTo && r.target == parent_name)
    {
        return;
    }
    // A field named after the parent ("a customer" read earlier as text) becomes the link.
    let link_field = format!("{parent_name}_id");
    spec.resources[child]
        .fields
        .retain(|f| f.name != parent_name && f.name != link_field);
    spec.resources[child].relations.push(Relation {
        kind: RelationKind::BelongsTo,
        target: parent_name.clone(),
    });
    spec.resources[parent].relations.push(Relation {
        kind: RelationKind::HasMany,
        target: child_name.clone(),
    });
    if spec.validate().is_err() {
        spec.resources[child].relations.pop();
        spec.resources[parent].relations.pop();
        change.notes.push(format!(
            "`{child_name}` → `{parent_name}` would make a cycle"
        ));
        return;
    }
    let article = if with_article(&parent_name).starts_with("an ") {
        "an"
    } else {
        "a"
    };
    change.added.push(format!(
        "relation: each `{child_name}` belongs to {article} `{parent_name}`"
    ));
}

/// "also an isbn", "and a body", "plus a due date": a bare item, with a subject in view, is a
/// field of it.
pub(super) fn read_fragment(
    spec: &mut AppSpec,
    words: &[&str],
    ctx: &mut Context,
    change: &mut SpecChange,
) -> bool {
    let Some(r) = ctx.in_view(spec) else {
        return false;
    };
    let starts_item = words
        .first()
        .is_some_and(|w| matches!(*w, "a" | "an" | "the" | "their" | "its"));
    if !starts_item || words.len() > 8 || first_verb(words, 0).is_some() {
        return false;
    }
    let np = noun_phrase(words);
    // A plural or a known resource is a thing of its own, read elsewhere.
    if np.is_empty()
        || find_resource(spec, &np).is_some()
        || np
            .last()
            .is_some_and(|w| super::looks_plural(w) && !ATTRIBUTE_PLURALS.contains(w))
    {
        return false;
    }
    declare_items(spec, r, words, ctx, change);
    true
}

/// A question when a new field's type was guessed from a word that as often names a label:
/// "priority" could be 1–5 or low/high. The field stays with the guess until answered.
fn type_question(resource: &crate::spec::Resource, field: &Field) -> Question {
    let guess = match field.ty {
        crate::spec::FieldType::Number => "a decimal number",
        _ => "a whole number",
    };
    let with = |ty: crate::spec::FieldType| Patch::Field {
        resource: resource.name.clone(),
        field: Field {
            ty,
            ..field.clone()
        },
    };
    Question {
        text: format!(
            "Is `{}` of {} a number or text? I took it as {guess} for now; you can also name \
             its choices, like \"low, medium or high\".",
            field.name,
            resource.plural.replace('_', " ")
        ),
        options: vec![
            QuestionOption {
                label: guess.to_owned(),
                patch: with(field.ty.clone()),
            },
            QuestionOption {
                label: "text".to_owned(),
                patch: with(crate::spec::FieldType::String),
            },
        ],
        about: Some(crate::spec::FieldRef {
            resource: resource.name.clone(),
            field: field.name.clone(),
        }),
    }
}
