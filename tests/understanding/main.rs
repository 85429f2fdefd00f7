//! `cargo run -p kiln-integration-tests --bin understanding [-- --verbose]`: replays every
//! conversation of the understanding benchmark through the product manager's reader and
//! prints what it got right and wrong, per conversation and overall, and the intent
//! classifier's accuracy on the labelled short messages.

use kiln_integration_tests::understanding::{cases, intent_report, run_all};

fn main() {
    let verbose = std::env::args().any(|a| a == "--verbose" || a == "-v");
    let cases = cases();
    let (report, _) = run_all(&cases, verbose);
    println!("{report}");
    let (report, _) = intent_report(verbose);
    println!("{report}");
}
