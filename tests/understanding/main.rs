//! `cargo run -p kiln-integration-tests --bin understanding [-- --verbose]`: replays every
//! conversation of the understanding benchmark through the product manager's reader and
//! prints what it got right and wrong, per conversation and overall, and the intent
//! classifier's accuracy on the labelled short messages.
//!
//! With `KILN_LLM=bedrock|openai` (and its `KILN_LLM_*` settings) every message is read by that
//! model instead, through the same port the product manager uses, with the rules standing in
//! where it fails; the table then compares with the rules' on the same cases, and the model's
//! calls, tokens, cost and fallbacks are printed after it.

use kiln_integration_tests::understanding::{cases, intent_report, run_all, run_all_with};

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
        let mut focus = None;
        for (i, text) in std::env::args()
            .skip_while(|a| a != "--say")
            .skip(1)
            .enumerate()
        {
            let (next, change) =
                kiln::spec::understand_after(Some(&spec), "App", &text, i == 0, focus.as_ref())
                    .unwrap_or_else(|e| panic!("{text}: {e}"));
            println!("> {text}\n  {}\n  {:?}", next.describe(), change);
            focus = change.focus.clone();
            spec = next;
        }
        return;
    }
    if std::env::args().any(|a| a == "--e2e") {
        return end_to_end(&cases);
    }
    if std::env::args().any(|a| a == "--trace") {
        for c in &cases {
            println!("{}", kiln_integration_tests::understanding::trace(c));
        }
        return;
    }
    let config = kiln::config::Config::from_env().unwrap_or_else(|e| panic!("{e}"));
    if config.llm != kiln::config::Llm::Rules {
        return with_model(&config, &cases, verbose);
    }
    let (report, _) = run_all(&cases, verbose);
    println!("{report}");
    let (report, _) = intent_report(verbose);
    println!("{report}");
}

/// Every case through a real `kiln serve` (the binary at `KILN_BIN`, or cargo's debug build):
/// built, tested and deployed, with the deployed app's OpenAPI document checked.
fn end_to_end(cases: &[kiln_integration_tests::understanding::Case]) {
    use kiln_integration_tests::understanding::{e2e, score};
    let bin = std::env::var("KILN_BIN").unwrap_or_else(|_| {
        let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
        format!("{target}/debug/kiln")
    });
    let data = std::env::temp_dir().join(format!("kiln-understanding-{}", std::process::id()));
    // Conversations that ask for PostgreSQL deploy onto one: the caller's KILN_POSTGRES_URL,
    // or a throwaway cluster kept for the run.
    let cluster = std::env::var_os("KILN_POSTGRES_URL")
        .is_none()
        .then(kiln_integration_tests::postgres::Cluster::start);
    let mut child = std::process::Command::new(&bin)
        .arg("serve")
        .envs(
            cluster
                .as_ref()
                .map(|c| ("KILN_POSTGRES_URL", c.server_url())),
        )
        .env("KILN_BIND", "127.0.0.1:0")
        .env("KILN_DATA_DIR", &data)
        .env("KILN_PIPELINE_TIME_SCALE", "0.25")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("{bin}: {e} (build it with cargo build -p kiln-cli, or set KILN_BIN)")
        });
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().expect("piped")),
        &mut line,
    )
    .expect("kiln serve prints its URL");
    let base = line
        .trim()
        .trim_start_matches("Kiln is running at ")
        .trim_end_matches('/')
        .to_owned();
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let client = reqwest::Client::new();
    let mut total = kiln_integration_tests::understanding::Score::default();
    let mut problems = 0;
    for case in cases {
        let result = runtime.block_on(e2e::play(&client, &base, case));
        let local = score(
            case,
            &kiln_integration_tests::understanding::replay(case),
            &mut Vec::new(),
        );
        println!(
            "{:<5} api {:.2}  replay {:.2}  {}",
            case.id,
            result.score.overall(),
            local.overall(),
            if result.problems.is_empty() {
                "deployed, OpenAPI as read".to_owned()
            } else {
                result.problems.join("; ")
            }
        );
        if (result.score.overall() - local.overall()).abs() > 1e-9 {
            println!("      the server read: {}", result.spec.describe());
        }
        problems += usize::from(!result.problems.is_empty());
        total.merge(&result.score);
    }
    println!(
        "\n{} conversations end to end: overall {:.1}%, {} with problems",
        cases.len(),
        total.overall() * 100.0,
        problems
    );
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&data);
}

/// The benchmark read by the configured model, beside the rules' score on the same cases.
fn with_model(
    config: &kiln::config::Config,
    cases: &[kiln_integration_tests::understanding::Case],
    verbose: bool,
) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let understander = runtime
        .block_on(kiln::understand::from_settings(
            config.llm,
            &config.llm_settings,
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut total = kiln::model::UsageTotal::default();
    let mut latency_ms = 0;
    let mut read = |spec: Option<&kiln::spec::AppSpec>,
                    name: &str,
                    text: &str,
                    describes_app: bool,
                    focus: Option<&kiln::spec::FieldRef>| {
        let read = runtime.block_on(understander.understand(&kiln::understand::Request {
            spec,
            project_name: name,
            text,
            describes_app,
            focus,
        }))?;
        if let Some(u) = &read.usage {
            total.add(u);
            latency_ms += u.latency_ms;
            if let (true, Some(why)) = (verbose, &u.fallback) {
                println!("  rules stood in for \"{text}\": {why}");
            }
        }
        Ok((read.spec, read.change))
    };
    let (report, model) = run_all_with(cases, verbose, &mut read);
    println!("{report}");
    let (_, rules) = run_all(cases, false);
    println!(
        "{} ({:?}): overall {:.1}% against the rules' {:.1}% on the same {} conversations",
        config.llm_settings.model,
        config.llm,
        model.overall() * 100.0,
        rules.overall() * 100.0,
        cases.len()
    );
    println!(
        "{} calls, {} input and {} output tokens, ${:.4}, {:.1} s waiting, {} readings by the rules instead",
        total.calls,
        total.input_tokens,
        total.output_tokens,
        total.cost_usd,
        latency_ms as f64 / 1000.0,
        total.fallbacks
    );
}
