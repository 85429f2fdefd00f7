//! The benchmark's report: every case replayed and scored, one line each, and the total.

use std::fmt::Write as _;

use super::{replay_with, score, Case, Reader, Score, Tally};

/// Runs every case; returns the report text and the total score.
pub fn run_all(cases: &[Case], verbose: bool) -> (String, Score) {
    run_all_with(cases, verbose, &mut kiln::spec::understand_after)
}

/// [`run_all`], each message read by `read` (a model, when the benchmark is run with one).
pub fn run_all_with(cases: &[Case], verbose: bool, read: &mut Reader<'_>) -> (String, Score) {
    let mut out = String::new();
    let mut total = Score::default();
    let _ = writeln!(
        out,
        "{:<5} {:<12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}  overall",
        "case", "style", "resources", "fields", "types", "relations", "features", "intents"
    );
    for case in cases {
        let outcome = replay_with(case, read);
        let mut notes = Vec::new();
        let s = score(case, &outcome, &mut notes);
        let cell = |t: Tally| format!("{}/{}", t.right, t.right + t.wrong);
        let _ = writeln!(
            out,
            "{:<5} {:<12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}  {:.2}",
            case.id,
            case.style.chars().take(12).collect::<String>(),
            cell(s.resources),
            cell(s.fields),
            cell(s.types),
            cell(s.relations),
            cell(s.features),
            cell(s.intents),
            s.overall()
        );
        if verbose {
            for n in &notes {
                let _ = writeln!(out, "      - {n}");
            }
            if !notes.is_empty() {
                let _ = writeln!(out, "      = {}", outcome.spec.describe());
            }
        }
        total.merge(&s);
    }
    let pct = |t: Tally| format!("{:.1}%", t.share() * 100.0);
    let _ = writeln!(
        out,
        "\nall {} conversations: resources {} · fields {} · types {} · relations {} · features {} · intents {} · specs exactly right {}/{} · overall {:.1}%",
        cases.len(),
        pct(total.resources),
        pct(total.fields),
        pct(total.types),
        pct(total.relations),
        pct(total.features),
        pct(total.intents),
        total.exact.right,
        total.exact.right + total.exact.wrong,
        total.overall() * 100.0
    );
    (out, total)
}
