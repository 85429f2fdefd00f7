//! The labelled messages of `tests/understanding/intents/` (written by people who had not read
//! these rules), read here as unit tests so that every change to the rules meets them at once:
//! each intent keeps at least as many messages read right as it does today (the integration
//! test holds the share; this holds each message the rules have learnt).

use crate::model::Intent;

use super::classify;

const LABELLED: [&str; 6] = [
    include_str!("../../../tests/understanding/intents/build_test_deploy.tsv"),
    include_str!("../../../tests/understanding/intents/describe_question_rollback.tsv"),
    // Requests to clone the project and look-alikes, with the name each clone request gives
    // in a third column (empty when it gives none).
    include_str!("../../../tests/understanding/intents/clone.tsv"),
    // A second set, written after the first was read: what the rules were not shaped by.
    include_str!("../../../tests/understanding/intents/clone_2.tsv"),
    // Requests to repair failing tests and look-alikes, written blind after the fix loop was
    // described (the reader was widened on the first set; the second was not read first).
    include_str!("../../../tests/understanding/intents/fix.tsv"),
    include_str!("../../../tests/understanding/intents/fix_2.tsv"),
];

/// How many messages of each label are read right today, of how many. Raise a number when the
/// rules learn more; never lower one to let a change through.
const RIGHT: [(&str, usize); 8] = [
    ("build", 286),
    ("test", 267),
    ("deploy", 269),
    ("describe", 367),
    ("question", 341),
    ("rollback", 259),
    ("clone", 125),
    ("fix", 135),
];
/// How many clone requests have their copy's name read exactly as written (or none read where
/// none is given).
const NAMES_RIGHT: usize = 126;

fn label(intent: Intent) -> &'static str {
    match intent {
        Intent::Create | Intent::Refine => "describe",
        Intent::Build => "build",
        Intent::Test => "test",
        Intent::Deploy => "deploy",
        Intent::Question => "question",
        Intent::Rollback => "rollback",
        Intent::Clone => "clone",
        Intent::Fix => "fix",
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
        .map(|(label, rest)| (label, rest.split('\t').next().unwrap_or(rest)))
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

#[test]
fn clone_requests_name_the_copy_as_written() {
    let cases: Vec<(&str, &str)> = LABELLED[2..]
        .iter()
        .flat_map(|file| file.lines())
        .filter_map(|l| l.strip_prefix("clone\t"))
        .filter_map(|l| l.split_once('\t'))
        .collect();
    assert!(cases.len() > 50, "{} clone requests", cases.len());
    let wrong: Vec<String> = cases
        .iter()
        .filter_map(|(text, want)| {
            let got = super::clone_name_in(text);
            let want = Some(*want).filter(|w| !w.is_empty());
            (got.as_deref() != want).then(|| format!("{text:?}: {got:?}, not {want:?}"))
        })
        .collect();
    let right = cases.len() - wrong.len();
    println!("names: {right} of {}", cases.len());
    assert!(
        right >= NAMES_RIGHT,
        "{right} of {} names read right, fewer than {NAMES_RIGHT}: {wrong:#?}",
        cases.len()
    );
}
