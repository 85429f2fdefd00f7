//! The labelled messages of `tests/understanding/intents/` (written by people who had not read
//! these rules), read here as unit tests so that every change to the rules meets them at once:
//! each intent keeps at least as many messages read right as it does today (the integration
//! test holds the share; this holds each message the rules have learnt).

use crate::model::Intent;

use super::classify;

const LABELLED: [&str; 2] = [
    include_str!("../../../tests/understanding/intents/build_test_deploy.tsv"),
    include_str!("../../../tests/understanding/intents/describe_question_rollback.tsv"),
];

/// How many messages of each label are read right today, of how many. Raise a number when the
/// rules learn more; never lower one to let a change through.
const RIGHT: [(&str, usize); 6] = [
    ("build", 265),
    ("test", 244),
    ("deploy", 248),
    ("describe", 286),
    ("question", 291),
    ("rollback", 238),
];

fn label(intent: Intent) -> &'static str {
    match intent {
        Intent::Create | Intent::Refine => "describe",
        Intent::Build => "build",
        Intent::Test => "test",
        Intent::Deploy => "deploy",
        Intent::Question => "question",
        Intent::Rollback => "rollback",
    }
}

/// Whether `text`, labelled `want`, is read as `want` mid-conversation (and, for a
/// description, also as a project's first message).
fn read_right(want: &str, text: &str) -> bool {
    label(classify(text, true)) == want
        && (want != "describe" || label(classify(text, false)) == want)
}

#[test]
fn the_labelled_messages_are_read_at_least_as_well_as_before() {
    let messages: Vec<(&str, &str)> = LABELLED
        .iter()
        .flat_map(|file| file.lines())
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('\t'))
        .collect();
    assert!(
        messages.len() > 1500,
        "{} labelled messages",
        messages.len()
    );
    let mut report = Vec::new();
    for (want, floor) in RIGHT {
        let mine: Vec<&str> = messages
            .iter()
            .filter(|(l, _)| *l == want)
            .map(|(_, t)| *t)
            .collect();
        let right = mine.iter().filter(|t| read_right(want, t)).count();
        report.push(format!("{want}: {right} of {}", mine.len()));
        assert!(
            right >= floor,
            "{want}: {right} of {} read right, fewer than {floor}; misread: {:?}",
            mine.len(),
            mine.iter()
                .filter(|t| !read_right(want, t))
                .take(20)
                .collect::<Vec<_>>()
        );
    }
    println!("{}", report.join("\n"));
}
