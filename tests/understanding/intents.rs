//! The intent classifier on the labelled short messages of `tests/understanding/intents/`:
//! the benchmark's label for an intent, and the share of each intent read right.

use std::fmt::Write as _;

use kiln::intent::classify;
use kiln::model::Intent;

/// Every labelled short message, from the TSV files in `tests/understanding/intents/`:
/// `(intent label, message)`.
pub fn intent_messages() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("understanding/intents");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "tsv"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for p in files {
        for line in std::fs::read_to_string(&p).unwrap().lines() {
            // A third column (the name a clone request gives) is not part of the message.
            if let Some((label, rest)) = line.split_once('\t') {
                let text = rest.split('\t').next().unwrap_or(rest);
                out.push((label.to_owned(), text.to_owned()));
            }
        }
    }
    out
}

/// The label a benchmark writer uses for an intent: a description or a change is "describe".
pub fn label(intent: Intent) -> &'static str {
    match intent {
        Intent::Create | Intent::Refine => "describe",
        other => other.as_str(),
    }
}

/// Classifies every labelled message, as a first message (no spec yet) when its label is
/// "describe" and the project has a spec otherwise (as when it is said mid-conversation), and
/// returns the report and, per intent, `(label, messages, share right)`.
pub fn intent_report(verbose: bool) -> (String, Vec<(String, usize, f64)>) {
    let messages = intent_messages();
    let labels = [
        "describe", "build", "test", "deploy", "question", "rollback", "clone", "fix",
    ];
    let mut out = String::new();
    let mut rows = Vec::new();
    let _ = writeln!(out, "{:<10} {:>6} {:>6}  read as", "intent", "right", "of");
    for want in labels {
        let mine: Vec<&(String, String)> = messages.iter().filter(|(l, _)| l == want).collect();
        let mut right = 0;
        let mut confused: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
        for (_, text) in &mine {
            // Every message is tried mid-conversation (a spec exists); describe messages also
            // as a project's first message.
            let mut ok = label(classify(text, true)) == want;
            let got_first = label(classify(text, false));
            if want == "describe" {
                ok &= got_first == want;
            }
            if ok {
                right += 1;
            } else {
                confused
                    .entry(label(classify(text, true)))
                    .or_default()
                    .push(text.as_str());
            }
        }
        let share = if mine.is_empty() {
            0.0
        } else {
            f64::from(right) / mine.len() as f64
        };
        let summary: Vec<String> = confused
            .iter()
            .map(|(k, v)| format!("{k} {}", v.len()))
            .collect();
        let _ = writeln!(
            out,
            "{want:<10} {right:>6} {:>6}  {:.1}%  {}",
            mine.len(),
            share * 100.0,
            summary.join(", ")
        );
        if verbose {
            for (k, v) in &confused {
                for t in v {
                    let _ = writeln!(out, "      as {k}: {t}");
                }
            }
        }
        rows.push((want.to_owned(), mine.len(), share));
    }
    (out, rows)
}
