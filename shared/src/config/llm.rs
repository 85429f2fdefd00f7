//! The language model's settings: `KILN_LLM_*`.

use std::path::PathBuf;
use std::time::Duration;

use super::{invalid, number, ConfigError, Llm};

/// How the language model is reached and priced.
#[derive(Clone, PartialEq)]
pub struct LlmSettings {
    /// `KILN_LLM_MODEL`: the model id (Bedrock: a model or inference profile id such as
    /// `anthropic.claude-3-5-haiku-20241022-v1:0`; OpenAI-compatible: the server's model name).
    pub model: String,
    /// `KILN_LLM_BASE_URL`: for `openai`, the API root including `/v1` (requests go to
    /// `{base}/chat/completions`); for `bedrock`, an endpoint to use instead of the region's.
    pub base_url: Option<String>,
    /// `KILN_LLM_API_KEY`: the OpenAI-compatible server's key, sent as a bearer token.
    pub api_key: Option<String>,
    /// `KILN_LLM_API_KEY_SECRET`: the Secrets Manager secret holding that key (on AWS).
    pub api_key_secret: Option<String>,
    /// `KILN_LLM_TIMEOUT_SECS`: longest one reading may wait for the provider, retries
    /// included (default 60).
    pub timeout: std::time::Duration,
    /// `KILN_LLM_MAX_TOKENS`: most tokens one answer may take (default 4096).
    pub max_tokens: u32,
    /// `KILN_LLM_INPUT_PRICE`: US dollars per million input tokens (default 0).
    pub input_price_per_million: f64,
    /// `KILN_LLM_OUTPUT_PRICE`: US dollars per million output tokens (default 0).
    pub output_price_per_million: f64,
    /// `KILN_LLM_RECORD_DIR`: where to record every exchange with the provider (secrets
    /// removed), in the fake provider's fixture format.
    pub record_dir: Option<PathBuf>,
}

impl std::fmt::Debug for LlmSettings {
    // Written by hand so that the key never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmSettings")
            .field("model", &self.model)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .field("api_key_secret", &self.api_key_secret)
            .field("timeout", &self.timeout)
            .field("max_tokens", &self.max_tokens)
            .field("input_price_per_million", &self.input_price_per_million)
            .field("output_price_per_million", &self.output_price_per_million)
            .field("record_dir", &self.record_dir)
            .finish()
    }
}

/// Reads the `KILN_LLM_*` variables; a model is required when `KILN_LLM` names a provider,
/// and a base URL for `openai`.
pub(super) fn llm_settings(
    get: &dyn Fn(&str) -> Option<String>,
    llm: Llm,
) -> Result<LlmSettings, ConfigError> {
    let model = get("KILN_LLM_MODEL").unwrap_or_default();
    if llm != Llm::Rules && model.is_empty() {
        return Err(invalid(
            "KILN_LLM_MODEL",
            "",
            "KILN_LLM names a provider, so the model to ask is needed",
        ));
    }
    if model.len() > 2048 || model.chars().any(char::is_control) {
        return Err(invalid("KILN_LLM_MODEL", &model, "expected a model id"));
    }
    let base_url = get("KILN_LLM_BASE_URL").map(|v| v.trim_end_matches('/').to_owned());
    match &base_url {
        Some(url) if !(url.starts_with("https://") || url.starts_with("http://")) => {
            return Err(invalid(
                "KILN_LLM_BASE_URL",
                url,
                "expected an http(s) URL, such as https://api.openai.com/v1",
            ))
        }
        None if llm == Llm::Openai => {
            return Err(invalid(
                "KILN_LLM_BASE_URL",
                "",
                "KILN_LLM=openai needs the API root including /v1, such as \
                 https://api.openai.com/v1 or http://127.0.0.1:11434/v1",
            ))
        }
        _ => {}
    }
    let price = |var: &'static str| -> Result<f64, ConfigError> {
        match get(var) {
            None => Ok(0.0),
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|p| p.is_finite() && *p >= 0.0)
                .ok_or_else(|| invalid(var, &v, "expected US dollars per million tokens")),
        }
    };
    Ok(LlmSettings {
        model,
        base_url,
        api_key: get("KILN_LLM_API_KEY"),
        api_key_secret: get("KILN_LLM_API_KEY_SECRET"),
        timeout: Duration::from_secs(number(get, "KILN_LLM_TIMEOUT_SECS", 60, 1)?),
        max_tokens: number(get, "KILN_LLM_MAX_TOKENS", 4096, 1)?,
        input_price_per_million: price("KILN_LLM_INPUT_PRICE")?,
        output_price_per_million: price("KILN_LLM_OUTPUT_PRICE")?,
        record_dir: get("KILN_LLM_RECORD_DIR").map(PathBuf::from),
    })
}
