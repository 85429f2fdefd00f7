//! What `sam build` compiles: for each function with `BuildMethod: rust-cargolambda`, AWS's
//! builder runs `cargo lambda build --release --arm64 --bin <Binary>` at the workspace's root,
//! with no `-p`. cargo then selects the workspace's default members and unifies the features
//! of those alone, so they must be the two functions: with every member selected, the CLI's
//! and the tests' features would be compiled into the packages (the regex crate's speed-ups,
//! `tracing-subscriber`'s `env-filter`), which `./scripts/test`'s `-p` build would not show.

use serde_json::Value;

use super::{parsed, repo, text_of};

/// The `Binary` of every function the template builds with cargo lambda.
fn binaries() -> Vec<String> {
    let template = parsed();
    let mut found = Vec::new();
    for (_, resource) in template["Resources"].as_mapping().unwrap() {
        if text_of(&resource["Metadata"]["BuildMethod"]) == "rust-cargolambda" {
            found.push(text_of(&resource["Metadata"]["BuildProperties"]["Binary"]));
        }
    }
    found.sort();
    found
}

fn cargo(args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO"))
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn sam_builds_each_function_with_the_functions_features_alone() {
    assert_eq!(binaries(), ["agents", "api"]);

    // Each Binary is a bin of a default member.
    let metadata: Value = serde_json::from_str(&cargo(&[
        "metadata",
        "--locked",
        "--no-deps",
        "--format-version",
        "1",
    ]))
    .unwrap();
    let defaults: Vec<&Value> = metadata["workspace_default_members"]
        .as_array()
        .expect("cargo names the default members")
        .iter()
        .collect();
    let default_bins: Vec<&str> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| defaults.contains(&&p["id"]))
        .flat_map(|p| p["targets"].as_array().unwrap())
        .filter(|t| t["kind"].as_array().unwrap().iter().any(|k| k == "bin"))
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for binary in binaries() {
        assert!(
            default_bins.contains(&binary.as_str()),
            "{binary} is not a bin of the default members {default_bins:?}"
        );
    }

    // The features cargo resolves for that selection (no `-p`, as the builder runs it).
    let tree = cargo(&["tree", "--locked", "--prefix", "none", "-f", "{p} {f}"]);
    let features = |package: &str| -> Vec<String> {
        tree.lines()
            .filter(|l| l.starts_with(&format!("{package} v")))
            .map(|l| l.trim_end_matches(" (*)").to_owned())
            .collect()
    };
    let kiln = features("kiln");
    assert!(!kiln.is_empty(), "{tree}");
    for line in kiln {
        assert!(!line.contains("fast-regex"), "the regex speed-ups: {line}");
    }
    let subscriber = features("tracing-subscriber");
    assert!(!subscriber.is_empty(), "{tree}");
    for line in subscriber {
        assert!(!line.contains("env-filter"), "{line}");
    }
    assert!(features("matchers").is_empty(), "env-filter's matchers");
    let uuid = features("uuid");
    assert!(!uuid.is_empty(), "{tree}");
    for line in uuid {
        assert!(
            !line.contains("fast-rng"),
            "`kiln serve`'s id generator: {line}"
        );
    }
}
