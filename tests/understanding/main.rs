//! `cargo run -p kiln-integration-tests --bin understanding [-- --verbose]`: replays every
//! conversation of the understanding benchmark through the product manager's reader and
//! prints what it got right and wrong, per conversation and overall, and the intent
//! classifier's accuracy on the labelled short messages.

use kiln_integration_tests::understanding::{cases, intent_report, run_all};

fn main() {
    let verbose = std::env::args().any(|a| a == "--verbose" || a == "-v");
    // `-- a07 b12`: only these cases.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let cases: Vec<_> = cases()
        .into_iter()
        .filter(|c| only.is_empty() || only.contains(&c.id))
        .collect();
    if std::env::args().any(|a| a == "--trace") {
        for c in &cases {
            println!("{}", kiln_integration_tests::understanding::trace(c));
        }
        return;
    }
    let (report, _) = run_all(&cases, verbose);
    println!("{report}");
    let (report, _) = intent_report(verbose);
    println!("{report}");
}
