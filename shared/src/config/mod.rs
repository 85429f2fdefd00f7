//! Every setting, read from the environment once at start. Nothing else reads the environment.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

mod cost;
#[cfg(feature = "aws")]
mod lambda_log;
mod llm;
mod oidc;

use cost::cost_settings;
pub use cost::CostSettings;
#[cfg(feature = "aws")]
pub use lambda_log::{init_lambda_logs, lambda_log_filter};
use llm::llm_settings;
pub use llm::LlmSettings;
use oidc::oidc_settings;
pub use oidc::{is_trusted_url, OidcSettings};

/// Where Kiln keeps its state and runs its work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, files and local processes (the default).
    Local,
    /// DynamoDB, S3, Step Functions, CodeBuild and ECS.
    Aws,
}

/// Which language model the agents use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Llm {
    /// Offline, deterministic rules (the default).
    Rules,
    /// Amazon Bedrock.
    Bedrock,
    /// An OpenAI-compatible endpoint.
    Openai,
}

/// Every setting of a Kiln process.
#[derive(Clone, PartialEq)]
pub struct Config {
    /// `KILN_BACKEND`: `local` (default) or `aws`.
    pub backend: Backend,
    /// `KILN_DATA_DIR`: where the local backend keeps its database and files.
    pub data_dir: PathBuf,
    /// `KILN_BIND`: the address `kiln serve` listens on (default `127.0.0.1:8080`).
    pub bind: SocketAddr,
    /// `KILN_TOKEN`: the bearer token clients must send; required off loopback.
    pub token: Option<String>,
    /// `KILN_TOKENS`: more owners of one local server, as `owner:token` pairs separated by
    /// commas; each token acts for its owner.
    pub tokens: Vec<(String, String)>,
    /// `KILN_TABLE`: the DynamoDB table.
    pub table: Option<String>,
    /// `KILN_BUCKET`: the S3 artifacts bucket.
    pub bucket: Option<String>,
    /// `KILN_STATE_MACHINE_ARN`: the pipeline's state machine.
    pub state_machine_arn: Option<String>,
    /// `KILN_LLM`: `rules` (default), `bedrock` or `openai`.
    pub llm: Llm,
    /// How the model behind `KILN_LLM` is reached, each from its own `KILN_LLM_*` variable.
    pub llm_settings: LlmSettings,
    /// `KILN_MAX_BODY_BYTES`: largest request body accepted (default 256 KiB).
    pub max_body_bytes: usize,
    /// `KILN_MAX_MESSAGE_CHARS`: longest chat message accepted (default 8,000).
    pub max_message_chars: usize,
    /// `KILN_MAX_PROJECTS`: most projects one owner may have (default 500).
    pub max_projects_per_owner: u64,
    /// `KILN_MAX_INLINE_EXPORT_BYTES`: the largest export sent in the answer itself (default
    /// 4 MiB: Lambda answers at most 6 MB, a binary body base64-encoded); a larger one is a
    /// redirect to a download link where the artifact store offers links (S3).
    pub max_inline_export_bytes: usize,
    /// `KILN_MAX_LIVE_DEPLOYMENTS`: most apps one owner may have running at once, over all
    /// projects and environments (default 10): on AWS each one is a Fargate service billed by
    /// the hour.
    pub max_live_deployments_per_owner: usize,
    /// `KILN_LOG_FORMAT`: `text` (default) or `json`.
    pub log_json: bool,
    /// `KILN_PYTHON`: the Python (3.11+) that makes the virtualenv for generated projects.
    pub python: String,
    /// `KILN_VENV_DIR`: where that virtualenv is cached (default: `{data dir}/venv`).
    pub venv_dir: PathBuf,
    /// `KILN_TEST_TIMEOUT_SECS`: longest a generated test suite may run (default 600).
    pub test_timeout_secs: u64,
    /// `KILN_DEPLOY_TIMEOUT_SECS`: longest a deployment may take to answer `/health` (default
    /// 120), on every backend: the DevOps steps carry the deadline in the run's state.
    pub deploy_timeout_secs: u64,
    /// `KILN_LOAD_TEST_REQUESTS`: requests of the load test after a deploy's smoke test
    /// (default 2,000, at most 10,000; 0 skips it), at 16 connections within 15 s.
    pub load_test_requests: u32,
    /// `KILN_PIPELINE_TIME_SCALE`: multiplies the pipeline's Wait and Retry intervals when the
    /// local interpreter runs it (default 0.1: the state machine is timed for AWS, where a
    /// poll every 10 to 15 s keeps state transitions few, and one machine answers in a tenth).
    pub pipeline_time_scale: f64,
    /// Where the AWS backend runs tests and deployments.
    pub aws: AwsSettings,
    /// `KILN_OSV_URL`: the OSV API (`…/v1/query`) pip-audit asks in a review, locally and in
    /// the review's CodeBuild build (default: pip-audit's own, osv.dev). For tests and for
    /// an installation with its own mirror.
    pub osv_url: Option<String>,
    /// `KILN_POSTGRES_URL`: a PostgreSQL server on which `kiln serve` makes a database per
    /// project environment for apps that keep their data in PostgreSQL.
    pub postgres_url: Option<String>,
    /// Sign-in with an OpenID Connect provider, when `KILN_OIDC_ISSUER` is set.
    pub oidc: Option<OidcSettings>,
    /// `KILN_PRICE_REGION`, `KILN_PRICE_TABLE`, `KILN_MONTHLY_BUDGET_USD`: what a deploy is
    /// estimated to cost, and what an owner's running apps may cost a month.
    pub costs: CostSettings,
}

/// Settings of the AWS backend's runners, each from its own variable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsSettings {
    /// `KILN_TEST_PROJECT`: the CodeBuild project that runs generated test suites.
    pub test_project: Option<String>,
    /// `KILN_IMAGE_PROJECT`: the CodeBuild project that builds images.
    pub image_project: Option<String>,
    /// `KILN_CLUSTER`: the ECS cluster of deployments.
    pub cluster: Option<String>,
    /// `KILN_LISTENER_ARN`: the shared load balancer's listener.
    pub listener_arn: Option<String>,
    /// `KILN_VPC_ID`: the VPC of deployments.
    pub vpc_id: Option<String>,
    /// `KILN_SUBNETS`: comma-separated subnets of deployments.
    pub subnets: Vec<String>,
    /// `KILN_SECURITY_GROUPS`: comma-separated security groups of deployments.
    pub security_groups: Vec<String>,
    /// `KILN_EXECUTION_ROLE_ARN`: the role deployment tasks start with.
    pub execution_role_arn: Option<String>,
    /// `KILN_APPS_URL`: the load balancer's public base URL.
    pub apps_url: Option<String>,
    /// `KILN_STACK_PREFIX`: the start of every app stack's name, `kiln-<installation>`.
    pub stack_prefix: Option<String>,
    /// `KILN_STACK_ROLE_ARN`: the role CloudFormation makes the apps' resources with.
    pub stack_role_arn: Option<String>,
    /// `KILN_APPS_DATABASE_ARN`: the Aurora PostgreSQL cluster the apps' databases are on.
    pub apps_database_arn: Option<String>,
    /// `KILN_APPS_DATABASE_SECRET_ARN`: that cluster's master user secret (for the Data API).
    pub apps_database_secret_arn: Option<String>,
    /// `KILN_APPS_DATABASE_HOST`: that cluster's writer endpoint, which the apps connect to.
    pub apps_database_host: Option<String>,
    /// `KILN_APPS_LOG_RETENTION_DAYS`: how long deployed apps' logs are kept (one of the
    /// periods CloudWatch Logs offers; 30 by default).
    pub apps_log_retention_days: u32,
    /// `KILN_S3_PATH_STYLE`: `true` to address S3 by path (S3-compatible stand-ins need it).
    pub s3_path_style: bool,
}

impl std::fmt::Debug for Config {
    // Written by hand so that the token never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("backend", &self.backend)
            .field("data_dir", &self.data_dir)
            .field("bind", &self.bind)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field(
                "tokens",
                &self
                    .tokens
                    .iter()
                    .map(|(o, _)| o.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("table", &self.table)
            .field("bucket", &self.bucket)
            .field("state_machine_arn", &self.state_machine_arn)
            .field("llm", &self.llm)
            .field("llm_settings", &self.llm_settings)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_message_chars", &self.max_message_chars)
            .field("max_projects_per_owner", &self.max_projects_per_owner)
            .field(
                "max_live_deployments_per_owner",
                &self.max_live_deployments_per_owner,
            )
            .field("python", &self.python)
            .field("venv_dir", &self.venv_dir)
            .field("test_timeout_secs", &self.test_timeout_secs)
            .field("deploy_timeout_secs", &self.deploy_timeout_secs)
            .field("load_test_requests", &self.load_test_requests)
            .field("oidc", &self.oidc)
            .field("postgres_url", &self.postgres_url.as_ref().map(|_| "<set>"))
            .field("osv_url", &self.osv_url)
            .finish()
    }
}

/// A setting that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{var}={value:?}: {reason}")]
pub struct ConfigError {
    /// The variable.
    pub var: &'static str,
    /// What it held.
    pub value: String,
    /// What was expected.
    pub reason: String,
}

/// Every variable [`Config`] reads, for documentation and for checking deployment templates.
pub const VARIABLES: &[&str] = &[
    "KILN_BACKEND",
    "KILN_DATA_DIR",
    "KILN_BIND",
    "KILN_TOKEN",
    "KILN_TOKENS",
    "KILN_TABLE",
    "KILN_BUCKET",
    "KILN_STATE_MACHINE_ARN",
    "KILN_LLM",
    "KILN_LLM_MODEL",
    "KILN_LLM_BASE_URL",
    "KILN_LLM_API_KEY",
    "KILN_LLM_API_KEY_SECRET",
    "KILN_LLM_TIMEOUT_SECS",
    "KILN_LLM_MAX_TOKENS",
    "KILN_LLM_INPUT_PRICE",
    "KILN_LLM_OUTPUT_PRICE",
    "KILN_LLM_RECORD_DIR",
    "KILN_MAX_BODY_BYTES",
    "KILN_MAX_MESSAGE_CHARS",
    "KILN_MAX_PROJECTS",
    "KILN_MAX_LIVE_DEPLOYMENTS",
    "KILN_MAX_INLINE_EXPORT_BYTES",
    "KILN_LOG_FORMAT",
    "KILN_PYTHON",
    "KILN_VENV_DIR",
    "KILN_TEST_TIMEOUT_SECS",
    "KILN_DEPLOY_TIMEOUT_SECS",
    "KILN_LOAD_TEST_REQUESTS",
    "KILN_PIPELINE_TIME_SCALE",
    "KILN_TEST_PROJECT",
    "KILN_IMAGE_PROJECT",
    "KILN_CLUSTER",
    "KILN_LISTENER_ARN",
    "KILN_VPC_ID",
    "KILN_SUBNETS",
    "KILN_SECURITY_GROUPS",
    "KILN_EXECUTION_ROLE_ARN",
    "KILN_APPS_URL",
    "KILN_STACK_PREFIX",
    "KILN_STACK_ROLE_ARN",
    "KILN_APPS_LOG_RETENTION_DAYS",
    "KILN_APPS_DATABASE_ARN",
    "KILN_APPS_DATABASE_SECRET_ARN",
    "KILN_APPS_DATABASE_HOST",
    "KILN_S3_PATH_STYLE",
    "KILN_POSTGRES_URL",
    "KILN_OSV_URL",
    "KILN_OIDC_ISSUER",
    "KILN_OIDC_AUDIENCE",
    "KILN_OIDC_SCOPES",
    "KILN_OIDC_AUTHORIZATION_ENDPOINT",
    "KILN_OIDC_TOKEN_ENDPOINT",
    "KILN_OIDC_END_SESSION_ENDPOINT",
    "KILN_PRICE_REGION",
    "KILN_PRICE_TABLE",
    "KILN_MONTHLY_BUDGET_USD",
];

/// The retention periods CloudWatch Logs accepts, in days.
pub const LOG_RETENTION_DAYS: &[u32] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// Variables only the local backend reads; every other one of [`VARIABLES`] must be set
/// for the Lambda functions by the deployment template.
pub const LOCAL_ONLY: &[&str] = &[
    "KILN_DATA_DIR",
    "KILN_BIND",
    "KILN_TOKEN",
    "KILN_TOKENS",
    "KILN_PYTHON",
    "KILN_VENV_DIR",
    "KILN_TEST_TIMEOUT_SECS",
    "KILN_PIPELINE_TIME_SCALE",
    "KILN_POSTGRES_URL",
    // Unset on AWS: the review build asks osv.dev.
    "KILN_OSV_URL",
    "KILN_LLM_API_KEY",
    "KILN_LLM_RECORD_DIR",
    "KILN_PRICE_TABLE",
];

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let vars: HashMap<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with("KILN_"))
            .collect();
        Self::from_vars(&vars)
    }

    /// Reads settings from a map of variables, as [`Config::from_env`] does from the environment.
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |k: &str| {
            vars.get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let backend = match get("KILN_BACKEND").as_deref() {
            None | Some("local") => Backend::Local,
            Some("aws") => Backend::Aws,
            Some(other) => return Err(invalid("KILN_BACKEND", other, "expected `local` or `aws`")),
        };
        let llm = match get("KILN_LLM").as_deref() {
            None | Some("rules") => Llm::Rules,
            Some("bedrock") => Llm::Bedrock,
            Some("openai") => Llm::Openai,
            Some(other) => {
                return Err(invalid(
                    "KILN_LLM",
                    other,
                    "expected `rules`, `bedrock` or `openai`",
                ))
            }
        };
        let bind = match get("KILN_BIND") {
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
            Some(v) => v.parse().map_err(|_| {
                invalid(
                    "KILN_BIND",
                    &v,
                    "expected an address such as 127.0.0.1:8080",
                )
            })?,
        };
        let data_dir = match get("KILN_DATA_DIR") {
            Some(v) => PathBuf::from(v),
            None => dirs::data_local_dir()
                .or_else(dirs::home_dir)
                .map(|d| d.join("kiln"))
                .unwrap_or_else(|| PathBuf::from(".kiln")),
        };
        let log_json = match get("KILN_LOG_FORMAT").as_deref() {
            None | Some("text") => false,
            Some("json") => true,
            Some(other) => {
                return Err(invalid(
                    "KILN_LOG_FORMAT",
                    other,
                    "expected `text` or `json`",
                ))
            }
        };
        let pipeline_time_scale = match get("KILN_PIPELINE_TIME_SCALE") {
            None => 0.1,
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && (0.0..=10.0).contains(s))
                .ok_or_else(|| {
                    invalid(
                        "KILN_PIPELINE_TIME_SCALE",
                        &v,
                        "expected a number from 0 to 10",
                    )
                })?,
        };
        let list = |k: &str| -> Vec<String> {
            get(k)
                .map(|v| {
                    v.split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default()
        };
        let aws = AwsSettings {
            test_project: get("KILN_TEST_PROJECT"),
            image_project: get("KILN_IMAGE_PROJECT"),
            cluster: get("KILN_CLUSTER"),
            listener_arn: get("KILN_LISTENER_ARN"),
            vpc_id: get("KILN_VPC_ID"),
            subnets: list("KILN_SUBNETS"),
            security_groups: list("KILN_SECURITY_GROUPS"),
            execution_role_arn: get("KILN_EXECUTION_ROLE_ARN"),
            apps_url: get("KILN_APPS_URL"),
            stack_prefix: get("KILN_STACK_PREFIX"),
            stack_role_arn: get("KILN_STACK_ROLE_ARN"),
            apps_database_arn: get("KILN_APPS_DATABASE_ARN"),
            apps_database_secret_arn: get("KILN_APPS_DATABASE_SECRET_ARN"),
            apps_database_host: get("KILN_APPS_DATABASE_HOST"),
            apps_log_retention_days: {
                let days: u32 = number(&get, "KILN_APPS_LOG_RETENTION_DAYS", 30, 1)?;
                if !LOG_RETENTION_DAYS.contains(&days) {
                    return Err(invalid(
                        "KILN_APPS_LOG_RETENTION_DAYS",
                        &days.to_string(),
                        &format!("one of {LOG_RETENTION_DAYS:?}"),
                    ));
                }
                days
            },
            s3_path_style: match get("KILN_S3_PATH_STYLE").as_deref() {
                None | Some("false") => false,
                Some("true") => true,
                Some(other) => {
                    return Err(invalid(
                        "KILN_S3_PATH_STYLE",
                        other,
                        "expected `true` or `false`",
                    ))
                }
            },
        };
        let llm_settings = llm_settings(&get, llm)?;
        let oidc = oidc_settings(&get)?;
        if oidc.is_some() && (get("KILN_TOKEN").is_some() || get("KILN_TOKENS").is_some()) {
            return Err(invalid(
                "KILN_OIDC_ISSUER",
                "<set>",
                "people sign in with the provider or with server tokens, not both: unset \
                 KILN_TOKEN and KILN_TOKENS",
            ));
        }
        let postgres_url = match get("KILN_POSTGRES_URL") {
            Some(v) if !(v.starts_with("postgresql://") || v.starts_with("postgres://")) => {
                return Err(invalid(
                    "KILN_POSTGRES_URL",
                    "<hidden>",
                    "expected postgresql://user[:password]@host[:port]/database",
                ))
            }
            v => v,
        };
        Ok(Config {
            llm_settings,
            costs: cost_settings(&get)?,
            aws,
            oidc,
            postgres_url,
            osv_url: match get("KILN_OSV_URL") {
                Some(v) if !(v.starts_with("http://") || v.starts_with("https://")) => {
                    return Err(invalid(
                        "KILN_OSV_URL",
                        &v,
                        "expected an http(s) URL of the OSV API, e.g. https://api.osv.dev/v1/query",
                    ))
                }
                v => v,
            },
            venv_dir: get("KILN_VENV_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| data_dir.join("venv")),
            python: get("KILN_PYTHON").unwrap_or_else(|| "python3".to_owned()),
            test_timeout_secs: number(&get, "KILN_TEST_TIMEOUT_SECS", 600, 1)?,
            deploy_timeout_secs: number(&get, "KILN_DEPLOY_TIMEOUT_SECS", 120, 1)?,
            load_test_requests: match number(&get, "KILN_LOAD_TEST_REQUESTS", 2_000, 0)? {
                n if n <= 10_000 => n,
                n => {
                    return Err(invalid(
                        "KILN_LOAD_TEST_REQUESTS",
                        &n.to_string(),
                        "at most 10000",
                    ))
                }
            },
            pipeline_time_scale,
            backend,
            data_dir,
            bind,
            token: get("KILN_TOKEN"),
            tokens: match get("KILN_TOKENS") {
                None => Vec::new(),
                Some(v) => v
                    .split(',')
                    .map(|pair| {
                        let (owner, token) = pair.trim().split_once(':').unwrap_or(("", ""));
                        let (owner, token) = (owner.trim(), token.trim());
                        if owner.is_empty() || token.len() < 8 || owner.len() > 64 {
                            Err(invalid(
                                "KILN_TOKENS",
                                "<hidden>",
                                "expected owner:token pairs, tokens of 8 or more characters",
                            ))
                        } else {
                            Ok((owner.to_owned(), token.to_owned()))
                        }
                    })
                    .collect::<Result<_, _>>()?,
            },
            table: get("KILN_TABLE"),
            bucket: get("KILN_BUCKET"),
            state_machine_arn: get("KILN_STATE_MACHINE_ARN"),
            llm,
            max_body_bytes: number(&get, "KILN_MAX_BODY_BYTES", 256 * 1024, 1024)?,
            max_message_chars: number(&get, "KILN_MAX_MESSAGE_CHARS", 8_000, 1)?,
            max_projects_per_owner: number(&get, "KILN_MAX_PROJECTS", 500, 1)?,
            max_live_deployments_per_owner: number(&get, "KILN_MAX_LIVE_DEPLOYMENTS", 10, 1)?,
            max_inline_export_bytes: number(
                &get,
                "KILN_MAX_INLINE_EXPORT_BYTES",
                4 * 1024 * 1024,
                1,
            )?,
            log_json,
        })
    }

    /// Whether the server listens only on the loopback interface.
    pub fn is_loopback(&self) -> bool {
        self.bind.ip().is_loopback()
    }

    /// Every (owner, token) pair a local server accepts: `KILN_TOKEN` acts for `local`.
    pub fn bearer_tokens(&self) -> Vec<(String, String)> {
        let mut all = self.tokens.clone();
        if let Some(t) = &self.token {
            all.push(("local".to_owned(), t.clone()));
        }
        all
    }
}

fn invalid(var: &'static str, value: &str, reason: &str) -> ConfigError {
    ConfigError {
        var,
        value: value.to_owned(),
        reason: reason.to_owned(),
    }
}

fn number<T>(
    get: &dyn Fn(&str) -> Option<String>,
    var: &'static str,
    default: T,
    min: T,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    match get(var) {
        None => Ok(default),
        Some(v) => match v.parse::<T>() {
            Ok(n) if n >= min => Ok(n),
            _ => Err(invalid(
                var,
                &v,
                &format!("expected a whole number of at least {min}"),
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_local_and_loopback() {
        let c = Config::from_vars(&HashMap::new()).unwrap();
        assert_eq!(c.backend, Backend::Local);
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
        assert!(c.is_loopback());
        assert!(c.data_dir.ends_with("kiln"));
        assert_eq!(c.max_body_bytes, 256 * 1024);
        // The state machine's 10-15 s polls, at a tenth on one machine.
        assert_eq!(c.pipeline_time_scale, 0.1);
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (k, v) in [
            ("KILN_BACKEND", "gcp"),
            ("KILN_BIND", "localhost"),
            ("KILN_MAX_BODY_BYTES", "-1"),
            ("KILN_LLM", "gpt"),
        ] {
            let e = Config::from_vars(&vars(&[(k, v)])).unwrap_err();
            assert_eq!(e.var, k);
        }
    }

    #[test]
    fn local_only_variables_are_variables() {
        for v in LOCAL_ONLY {
            assert!(VARIABLES.contains(v), "{v}");
        }
    }

    #[test]
    fn token_is_never_printed() {
        let c = Config::from_vars(&vars(&[("KILN_TOKEN", "s3cret")])).unwrap();
        assert!(!format!("{c:?}").contains("s3cret"));
    }
}
