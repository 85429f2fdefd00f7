//! The layer order written in `docs/architecture.md`, held against the code: every path into
//! the kiln crate (`crate::module`, `use crate::{…}`) must point at a module on a lower layer,
//! and every module of `shared/src/lib.rs` must have its place in the order. Source files stay
//! short enough to read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// The layers, top first, as the ```layers block of the document lists them: one line per
/// layer, the modules of a layer separated by spaces.
fn layers(doc: &str) -> Vec<Vec<String>> {
    let block = doc
        .split("```layers\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("docs/architecture.md has a ```layers block");
    block
        .lines()
        .map(|line| {
            line.split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|layer| !layer.is_empty())
        .collect()
}

/// The code of a file without its unit tests: test modules may reach anywhere.
fn without_tests(source: &str) -> &str {
    match source.find("#[cfg(test)]\nmod tests") {
        Some(at) => &source[..at],
        None => source,
    }
}

/// Every kiln module a file's code names through `crate::`, with the line it is named on.
fn crate_paths(source: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (n, line) in without_tests(source).lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                // `use crate::{a::X, b};`: each item's first segment.
                let inner = group.split('}').next().unwrap_or("");
                for item in inner.split(',') {
                    let name: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        found.push((n + 1, name));
                    }
                }
            } else {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    found.push((n + 1, name));
                }
            }
        }
    }
    found
}

/// The imports that break the order: `file:line: module -> module`.
fn violations(order: &[Vec<String>], files: &[(String, String, String)]) -> Vec<String> {
    let rank: BTreeMap<&str, usize> = order
        .iter()
        .enumerate()
        .flat_map(|(i, layer)| layer.iter().map(move |m| (m.as_str(), i)))
        .collect();
    let mut wrong = Vec::new();
    for (path, module, source) in files {
        let Some(&from) = rank.get(module.as_str()) else {
            wrong.push(format!("{path}: module `{module}` has no layer"));
            continue;
        };
        for (line, target) in crate_paths(source) {
            if &target == module {
                continue;
            }
            match rank.get(target.as_str()) {
                None => wrong.push(format!("{path}:{line}: `{target}` has no layer")),
                Some(&to) if to <= from => wrong.push(format!(
                    "{path}:{line}: {module} -> {target}, which is {}",
                    if to == from {
                        "on the same layer"
                    } else {
                        "above it"
                    }
                )),
                Some(_) => {}
            }
        }
    }
    wrong
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `(path, top module, source)` of every file of the kiln crate but `lib.rs`.
fn kiln_sources() -> Vec<(String, String, String)> {
    let src = Path::new(ROOT).join("shared/src");
    let mut paths = Vec::new();
    rust_files(&src, &mut paths);
    paths.sort();
    paths
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n != "lib.rs"))
        .map(|p| {
            let relative = p.strip_prefix(&src).unwrap();
            let first = relative.components().next().unwrap().as_os_str();
            let module = first.to_string_lossy().trim_end_matches(".rs").to_owned();
            let shown = format!("shared/src/{}", relative.display());
            (shown, module, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

fn document() -> String {
    std::fs::read_to_string(Path::new(ROOT).join("docs/architecture.md"))
        .expect("docs/architecture.md")
}

#[test]
fn every_import_points_down_the_layers_of_the_document() {
    let order = layers(&document());
    let wrong = violations(&order, &kiln_sources());
    assert!(
        wrong.is_empty(),
        "imports against the layer order of docs/architecture.md:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn every_module_of_the_crate_has_one_place_in_the_order() {
    let order = layers(&document());
    let placed: Vec<&String> = order.iter().flatten().collect();
    let lib = std::fs::read_to_string(Path::new(ROOT).join("shared/src/lib.rs")).unwrap();
    let declared: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';'))
        .collect();
    assert!(!declared.is_empty());
    for module in &declared {
        assert_eq!(
            placed.iter().filter(|m| m.as_str() == *module).count(),
            1,
            "module `{module}` must be on exactly one layer of docs/architecture.md"
        );
    }
    for module in placed {
        assert!(
            declared.contains(&module.as_str()),
            "docs/architecture.md places `{module}`, which shared/src/lib.rs does not declare"
        );
    }
}

#[test]
fn the_check_sees_upward_sideways_and_grouped_imports() {
    let order = layers("```layers\napi\nstore runner\nmodel\n```\n");
    let file = |module: &str, source: &str| {
        (
            format!("shared/src/{module}.rs"),
            module.to_owned(),
            source.to_owned(),
        )
    };
    let files = [
        file("model", "use crate::store::Page;\n"),
        file("store", "fn f() -> crate::runner::File { todo!() }\n"),
        file("runner", "use crate::{model::X, api::Y};\n"),
        file(
            "api",
            "use crate::{model, store::Page};\nuse crate::runner::File;\n",
        ),
        file(
            "model",
            "// crate::api in a comment\n#[cfg(test)]\nmod tests {\n    use crate::api;\n}\n",
        ),
        file("search", "use crate::model::X;\n"),
    ];
    let wrong = violations(&order, &files);
    assert_eq!(
        wrong,
        [
            "shared/src/model.rs:1: model -> store, which is above it",
            "shared/src/store.rs:1: store -> runner, which is on the same layer",
            "shared/src/runner.rs:1: runner -> api, which is above it",
            "shared/src/search.rs: module `search` has no layer",
        ]
    );
}

#[test]
fn no_source_file_is_longer_than_a_reader_can_hold() {
    const MOST: usize = 600;
    let mut paths = Vec::new();
    for dir in ["shared/src", "cli/src", "functions", "tests", "cli/tests"] {
        rust_files(&Path::new(ROOT).join(dir), &mut paths);
    }
    let mut long: Vec<String> = paths
        .iter()
        .filter(|p| !p.components().any(|c| c.as_os_str() == "target"))
        .filter_map(|p| {
            let lines = std::fs::read_to_string(p).ok()?.lines().count();
            let shown = p.strip_prefix(ROOT).unwrap_or(p).display().to_string();
            (lines > MOST).then(|| format!("{shown} ({lines} lines)"))
        })
        .collect();
    long.sort();
    assert!(
        long.is_empty(),
        "split these along the concepts inside them:\n{}",
        long.join("\n")
    );
}

/// One crypto library: the AWS SDK's HTTPS client is built on ring (`kiln::aws_http`), which
/// Kiln links anyway, so the SDK's default on aws-lc-rs (a second copy of the same primitives
/// in every Lambda package, and a C build) must not come back through a feature of some crate.
#[test]
fn the_workspace_links_one_crypto_library() {
    let lock = std::fs::read_to_string(Path::new(ROOT).join("Cargo.lock")).unwrap();
    let packages: Vec<&str> = lock
        .lines()
        .filter_map(|l| l.strip_prefix("name = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .collect();
    assert!(packages.contains(&"ring"), "Cargo.lock lists packages");
    let second: Vec<&&str> = packages
        .iter()
        .filter(|p| p.starts_with("aws-lc") || **p == "openssl-sys")
        .collect();
    assert!(second.is_empty(), "a second crypto library: {second:?}");
}
