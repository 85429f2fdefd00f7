//! The understanding benchmark in the test suite: the reader may not score below the floor
//! recorded here, which only ever goes up (the README states the current score).

use kiln_integration_tests::understanding::references::{
    check, check_type_reply, references, type_replies,
};
use kiln_integration_tests::understanding::{cases, intent_report, run_all};

/// The overall score (mean share right of resources, fields, types, relations and features)
/// the reader must reach on the held-out conversations.
const CONVERSATION_FLOOR: f64 = 0.83;
/// The share of labelled messages whose intent must be read right, per intent.
const INTENT_FLOOR: f64 = 0.97;

#[test]
fn conversations_score_at_least_the_floor() {
    let cases = cases();
    assert!(cases.len() >= 60, "only {} conversations", cases.len());
    for c in &cases {
        assert!(
            (2..=8).contains(&c.messages.len()),
            "{}: {} messages",
            c.id,
            c.messages.len()
        );
    }
    let (report, total) = run_all(&cases, true);
    println!("{report}");
    assert!(
        total.overall() >= CONVERSATION_FLOOR,
        "overall {:.3} is below the floor {CONVERSATION_FLOOR}",
        total.overall()
    );
}

#[test]
fn intents_are_read_right_on_the_labelled_messages() {
    let (report, per_intent) = intent_report(true);
    println!("{report}");
    for (intent, n, share) in per_intent {
        assert!(n >= 200, "{intent}: only {n} labelled messages");
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
