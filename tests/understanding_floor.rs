//! The understanding benchmark in the test suite: the reader may not score below the floor
//! recorded here, which only ever goes up (the README states the current score).

use kiln_integration_tests::understanding::references::{
    check, check_type_reply, references, type_replies,
};
use kiln_integration_tests::understanding::{cases, intent_report, run_all};

/// The overall score (mean share right of resources, fields, types, relations and features)
/// the reader must reach on each set of held-out conversations, by the file they came in:
/// each set's floor only ever goes up. A new set starts at what the reader made of it once it
/// had been widened on it (its first-run score is in the README).
const CONVERSATION_FLOORS: &[(&str, f64)] = &[("abc", 0.83), ("d", 0.66)];
/// The share of labelled messages whose intent must be read right, per intent.
const INTENT_FLOOR: f64 = 0.97;

#[test]
fn conversations_score_at_least_the_floor() {
    let cases = cases();
    assert!(cases.len() >= 100, "only {} conversations", cases.len());
    for c in &cases {
        assert!(
            (2..=8).contains(&c.messages.len()),
            "{}: {} messages",
            c.id,
            c.messages.len()
        );
    }
    let (report, _) = run_all(&cases, true);
    println!("{report}");
    for (sets, floor) in CONVERSATION_FLOORS {
        let set: Vec<_> = cases
            .iter()
            .filter(|c| c.id.starts_with(|ch: char| sets.contains(ch)))
            .cloned()
            .collect();
        assert!(!set.is_empty(), "no conversations in {sets}");
        let (_, total) = run_all(&set, false);
        assert!(
            total.overall() >= *floor,
            "conversations {sets}: overall {:.3} is below the floor {floor}",
            total.overall()
        );
    }
    let sets: String = CONVERSATION_FLOORS.iter().map(|(s, _)| *s).collect();
    assert!(
        cases
            .iter()
            .all(|c| c.id.starts_with(|ch: char| sets.contains(ch))),
        "every set of conversations has a floor"
    );
}

/// Every reading of the rules over the whole benchmark, as the patch the port carries: sent
/// over the wire (serialized, parsed strictly) and applied to the spec it was read against, it
/// gives the very spec the rules made, with the same renames (so the data moves the same).
#[test]
fn every_reading_of_the_rules_is_a_patch_that_applies_back() {
    use kiln::understand::SpecPatch;
    let mut readings = 0;
    let mut read = |spec: Option<&kiln::spec::AppSpec>,
                    name: &str,
                    text: &str,
                    describes_app: bool,
                    focus: Option<&kiln::spec::FieldRef>| {
        let (after, change) = kiln::spec::understand_after(spec, name, text, describes_app, focus)?;
        let before = spec.cloned().unwrap_or_else(|| kiln::spec::AppSpec {
            name: name.to_owned(),
            ..Default::default()
        });
        let patch = SpecPatch::between(&before, &after, &change.renamed);
        let wire = serde_json::to_value(&patch).unwrap();
        let patch = SpecPatch::parse(&wire).unwrap_or_else(|e| panic!("{text}: {e}"));
        let (applied, replayed) = patch
            .apply(&before)
            .unwrap_or_else(|e| panic!("{text}: {e:?}\n{wire}"));
        assert_eq!(applied, after, "{text}\n{wire}");
        assert_eq!(replayed.renamed, change.renamed, "{text}");
        readings += 1;
        Ok((after, change))
    };
    for case in cases() {
        kiln_integration_tests::understanding::replay_with(&case, &mut read);
    }
    assert!(readings > 300, "only {readings} readings");
}

#[test]
fn intents_are_read_right_on_the_labelled_messages() {
    let (report, per_intent) = intent_report(true);
    println!("{report}");
    for (intent, n, share) in per_intent {
        // Cloning and fixing are newer and rarer than the other requests: fewer messages,
        // same floor.
        let least = if intent == "clone" || intent == "fix" {
            100
        } else {
            200
        };
        assert!(n >= least, "{intent}: only {n} labelled messages");
        assert!(
            share >= INTENT_FLOOR,
            "{intent}: {:.3} right is below the floor {INTENT_FLOOR}",
            share
        );
    }
}

#[test]
fn a_field_named_earlier_is_what_that_and_it_refer_to() {
    let cases = references();
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    let failed: Vec<String> = cases
        .iter()
        .filter_map(|c| check(c).err().map(|e| format!("{}: {e}", c.id)))
        .collect();
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn a_guessed_type_is_asked_about_and_each_way_of_answering_is_read() {
    let cases = type_replies();
    assert!(cases.len() >= 30, "only {} replies", cases.len());
    let failed: Vec<String> = cases
        .iter()
        .filter_map(|c| {
            check_type_reply(c)
                .err()
                .map(|e| format!("{:?}: {e}", c.reply))
        })
        .collect();
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
