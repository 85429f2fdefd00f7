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
    // `-- --classify "message" …`: the intent of each.
    if std::env::args().any(|a| a == "--classify") {
        for text in std::env::args().skip_while(|a| a != "--classify").skip(1) {
            println!("{:?} {text}", kiln::intent::classify(&text, true));
        }
        return;
    }
    // `-- --say "first message" "second message"`: the spec after each.
    if std::env::args().any(|a| a == "--say") {
        let mut spec = kiln::spec::AppSpec::default();
        for (i, text) in std::env::args()
            .skip_while(|a| a != "--say")
            .skip(1)
            .enumerate()
        {
            let (next, change) = kiln::spec::understand(Some(&spec), "App", &text, i == 0)
                .unwrap_or_else(|e| panic!("{text}: {e}"));
            println!("> {text}\n  {}\n  {:?}", next.describe(), change);
            spec = next;
        }
        return;
    }
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
