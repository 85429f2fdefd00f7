//! What moto leaves out of CodeBuild, for the AWS tests: moto records that a build started and
//! reports it SUCCEEDED at once, but keeps neither the buildspec nor the environment variables
//! it was started with, and runs nothing. [`SentRequests`] records what the SDK really sent;
//! [`Buildspec`] reads a buildspec of `infra/`; [`run_test_build`] plays a test build's
//! commands on the source it was given, as CodeBuild's container would.
//!
//! A module of the tests that need it: `tests/runners_aws/`, and the agents function's
//! `pipeline_on_aws.rs` (by `#[path]`).

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use aws_sdk_codebuild::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_codebuild::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_codebuild::error::BoxError;
use serde_json::Value;
use serde_yaml::Value as Yaml;

/// Records the body of every request a client sends, by operation, as it goes on the wire:
/// JSON-protocol requests (CodeBuild, ECS, …) as sent; query-protocol requests (CloudFormation)
/// as one JSON object of their decoded form fields (`Parameters.member.1.ParameterKey`, …).
#[derive(Debug, Clone, Default)]
pub struct SentRequests(Arc<Mutex<Vec<(String, Value)>>>);

impl SentRequests {
    /// The bodies of the `operation` requests (e.g. `StartBuild`) sent so far, oldest first.
    pub fn bodies(&self, operation: &str) -> Vec<Value> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(op, _)| op == operation)
            .map(|(_, body)| body.clone())
            .collect()
    }

    /// The `StartBuild` requests sent so far, oldest first.
    pub fn start_builds(&self) -> Vec<StartBuild> {
        self.bodies("StartBuild")
            .iter()
            .map(StartBuild::from_body)
            .collect()
    }

    /// A CodeBuild client of `sdk` whose requests this records.
    pub fn codebuild(&self, sdk: &aws_config::SdkConfig) -> aws_sdk_codebuild::Client {
        aws_sdk_codebuild::Client::from_conf(
            aws_sdk_codebuild::config::Builder::from(sdk)
                .interceptor(self.clone())
                .build(),
        )
    }
}

impl Intercept for SentRequests {
    fn name(&self) -> &'static str {
        "SentRequests"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let Some(target) = request.headers().get("x-amz-target") else {
            if let Some(form) = request.body().bytes() {
                let fields = form_fields(form);
                if let Some(Value::String(action)) = fields.get("Action") {
                    let action = action.clone();
                    self.0.lock().unwrap().push((action, Value::Object(fields)));
                }
            }
            return Ok(());
        };
        let operation = target.rsplit('.').next().unwrap_or(target).to_owned();
        let body = request
            .body()
            .bytes()
            .ok_or("a JSON request body is in memory")?;
        self.0
            .lock()
            .unwrap()
            .push((operation, serde_json::from_slice(body)?));
        Ok(())
    }
}

/// The fields of a form-encoded body (`a=1&b=x%2Fy`), decoded.
fn form_fields(body: &[u8]) -> serde_json::Map<String, Value> {
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                    match u8::from_str_radix(hex, 16) {
                        Ok(b) => {
                            out.push(b);
                            i += 2;
                        }
                        Err(_) => out.push(b'%'),
                    }
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), Value::String(decode(v)))
        })
        .collect()
}

/// A `StartBuild` request as CodeBuild received it.
#[derive(Debug, Clone)]
pub struct StartBuild {
    /// `projectName`.
    pub project: String,
    /// `sourceTypeOverride`.
    pub source_type: String,
    /// `sourceLocationOverride`: `bucket/key` of the source zip.
    pub source_location: String,
    /// `buildspecOverride`: the buildspec itself.
    pub buildspec: String,
    /// `environmentVariablesOverride`, by name.
    pub env: BTreeMap<String, String>,
    /// The type of each variable (`PLAINTEXT`, `PARAMETER_STORE`, …), by name.
    pub env_types: BTreeMap<String, String>,
}

impl StartBuild {
    fn from_body(body: &Value) -> StartBuild {
        let text = |k: &str| body[k].as_str().unwrap_or_default().to_owned();
        let vars = body["environmentVariablesOverride"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let field = |v: &Value, k: &str| v[k].as_str().unwrap_or_default().to_owned();
        StartBuild {
            project: text("projectName"),
            source_type: text("sourceTypeOverride"),
            source_location: text("sourceLocationOverride"),
            buildspec: text("buildspecOverride"),
            env: vars
                .iter()
                .map(|v| (field(v, "name"), field(v, "value")))
                .collect(),
            env_types: vars
                .iter()
                .map(|v| (field(v, "name"), field(v, "type")))
                .collect(),
        }
    }
}

/// A buildspec of `infra/`, read as CodeBuild reads it.
pub struct Buildspec {
    /// Its text.
    pub text: String,
    yaml: Yaml,
}

/// The phases of a build, in the order CodeBuild runs them.
pub const PHASES: [&str; 4] = ["install", "pre_build", "build", "post_build"];

impl Buildspec {
    /// `infra/{name}`.
    pub fn read(name: &str) -> Buildspec {
        let path = repo().join("infra").join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let yaml = serde_yaml::from_str(&text).unwrap();
        Buildspec { text, yaml }
    }

    /// The commands of one phase.
    pub fn commands(&self, phase: &str) -> Vec<String> {
        self.yaml["phases"][phase]["commands"]
            .as_sequence()
            .map(|c| {
                c.iter()
                    .map(|c| c.as_str().expect("a command is a string").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn all_commands(&self) -> Vec<String> {
        PHASES.iter().flat_map(|p| self.commands(p)).collect()
    }

    /// The variables the commands read that neither the buildspec (its `env` section or an
    /// assignment in a command) nor CodeBuild itself (`CODEBUILD_*`, `AWS_*`, `HOME`, `PATH`)
    /// sets: whoever starts the build must.
    pub fn variables_from_outside(&self) -> BTreeSet<String> {
        let commands = self.all_commands();
        let mut defined: BTreeSet<String> = self.yaml["env"]["variables"]
            .as_mapping()
            .into_iter()
            .flatten()
            .filter_map(|(k, _)| k.as_str().map(str::to_owned))
            .collect();
        for c in &commands {
            if let Some((name, _)) = c.split_once('=') {
                if is_name(name) {
                    defined.insert(name.to_owned());
                }
            }
        }
        commands
            .iter()
            .flat_map(|c| referenced_variables(c))
            .filter(|v| !defined.contains(v))
            .filter(|v| !v.starts_with("CODEBUILD_") && !v.starts_with("AWS_"))
            .filter(|v| v != "HOME" && v != "PATH")
            .collect()
    }

    /// Where the test command writes its JUnit report: pytest's `--junitxml`.
    pub fn junit_path(&self) -> String {
        let pytest: Vec<String> = self
            .all_commands()
            .into_iter()
            .filter(|c| words(c).first().map(String::as_str) == Some("pytest"))
            .collect();
        assert_eq!(pytest.len(), 1, "one pytest command: {pytest:?}");
        words(&pytest[0])
            .iter()
            .find_map(|w| w.strip_prefix("--junitxml=").map(str::to_owned))
            .unwrap_or_else(|| panic!("pytest writes a JUnit report: {}", pytest[0]))
    }

    /// Every `aws s3 cp SOURCE s3://…` of the commands: the local file and the destination
    /// as written (with its variables unexpanded).
    pub fn s3_uploads(&self) -> Vec<(String, String)> {
        self.all_commands()
            .iter()
            .map(|c| words(c))
            .filter(|w| w.len() >= 5 && w[..3] == ["aws", "s3", "cp"])
            .map(|w| (w[3].clone(), w[4].clone()))
            .collect()
    }

    /// The files of the `reports` section, as `(path, file-format)`.
    pub fn report_files(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (_, group) in self.yaml["reports"].as_mapping().into_iter().flatten() {
            let base = group["base-directory"].as_str().unwrap_or(".");
            let format = group["file-format"].as_str().unwrap_or("JUNITXML");
            for file in group["files"].as_sequence().into_iter().flatten() {
                let file = file.as_str().unwrap();
                out.push((
                    Path::new(base).join(file).display().to_string(),
                    format.to_owned(),
                ));
            }
        }
        out
    }
}

/// The repository's root.
pub fn repo() -> PathBuf {
    let mut dir = Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf();
    // The repository's infra/ (tests/infra/ holds the template's tests, not the template).
    while !dir.join("infra/template.yaml").is_file() {
        assert!(dir.pop(), "the repository has infra/");
    }
    dir
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `$NAME` and `${NAME…}` references of a shell command.
pub fn referenced_variables(command: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = command;
    while let Some(at) = rest.find('$') {
        rest = &rest[at + 1..];
        let braced = rest.strip_prefix('{');
        let name: String = braced
            .unwrap_or(rest)
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if is_name(&name) {
            out.push(name);
        }
    }
    out
}

/// A command's words, as a shell splits them (quotes removed, variables left as written).
pub fn words(command: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quote = None;
    let mut in_word = false;
    for c in command.chars() {
        match (quote, c) {
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (_, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(word);
    }
    out
}

/// `text` with `$NAME` and `${NAME}` replaced from `env` (unset names by nothing, as a shell
/// does).
pub fn expand(text: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        let (name, after) = match rest.strip_prefix('{') {
            Some(inner) => {
                let end = inner.find('}').expect("a closed ${…}");
                (&inner[..end], &inner[end + 1..])
            }
            None => {
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                (&rest[..end], &rest[end..])
            }
        };
        assert!(is_name(name), "only plain variables are expanded: ${name}");
        out.push_str(env.get(name).map(String::as_str).unwrap_or(""));
        rest = after;
    }
    out.push_str(rest);
    out
}

/// What a played build did.
#[derive(Debug)]
pub struct PlayedBuild {
    /// Each command run and whether it exited 0.
    pub commands: Vec<(String, bool)>,
    /// Where each upload went, as `(bucket, key)`.
    pub uploads: Vec<(String, String)>,
}

/// Plays a test build as CodeBuild's container would: fetches the source zip the request
/// names from S3, checks that the files the install phase installs from are in it (the test
/// environment already has every pinned package), runs the build phase's commands with the
/// request's variables and the test Python's tools first on `PATH`, and performs the
/// post-build phase's `aws s3 cp` uploads.
pub async fn run_test_build(
    build: &StartBuild,
    s3: &aws_sdk_s3::Client,
    python_bin: &Path,
) -> PlayedBuild {
    let spec = Buildspec {
        yaml: serde_yaml::from_str(&build.buildspec).unwrap(),
        text: build.buildspec.clone(),
    };
    assert_eq!(build.source_type, "S3");
    let (bucket, key) = build
        .source_location
        .split_once('/')
        .expect("the source is bucket/key");
    let zip = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("the source {bucket}/{key}: {e:?}"))
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    let dir = tempfile::tempdir().unwrap();
    zip::ZipArchive::new(std::io::Cursor::new(zip.to_vec()))
        .unwrap()
        .extract(dir.path())
        .unwrap();

    for command in spec.commands("install") {
        let w = words(&command);
        for pair in w.windows(2).filter(|p| p[0] == "-r") {
            assert!(
                dir.path().join(&pair[1]).is_file(),
                "the install phase installs from {}, which the source lacks",
                pair[1]
            );
        }
    }
    let path = format!(
        "{}:{}",
        python_bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut played = PlayedBuild {
        commands: Vec::new(),
        uploads: Vec::new(),
    };
    for phase in ["pre_build", "build", "post_build"] {
        for command in spec.commands(phase) {
            let w = words(&command);
            if w.len() >= 5 && w[..3] == ["aws", "s3", "cp"] {
                let source = dir.path().join(expand(&w[3], &build.env));
                let target = expand(&w[4], &build.env);
                let (bucket, key) = target
                    .strip_prefix("s3://")
                    .and_then(|t| t.split_once('/'))
                    .unwrap_or_else(|| panic!("an S3 destination: {target}"));
                let uploaded = match std::fs::read(&source) {
                    Ok(bytes) => s3
                        .put_object()
                        .bucket(bucket)
                        .key(key)
                        .body(bytes.into())
                        .send()
                        .await
                        .is_ok(),
                    Err(_) => false,
                };
                if uploaded {
                    played.uploads.push((bucket.to_owned(), key.to_owned()));
                }
                played.commands.push((command, uploaded));
                continue;
            }
            let status = Command::new("sh")
                .args(["-c", &command])
                .current_dir(dir.path())
                .env_remove("VIRTUAL_ENV")
                .env_remove("PYTHONPATH")
                .env("PYTHONDONTWRITEBYTECODE", "1")
                .env("PATH", &path)
                .envs(&build.env)
                .output()
                .unwrap();
            played.commands.push((command, status.status.success()));
        }
    }
    played
}
