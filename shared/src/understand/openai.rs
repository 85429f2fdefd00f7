//! Any OpenAI-compatible chat-completions server (OpenAI, vLLM, Ollama, llama.cpp):
//! `POST {base}/chat/completions` with the key as a bearer token, the answer constrained by
//! `response_format` to the strict JSON schema of the answer asked for (a spec patch, a code fix).

use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::{json, Value};

use super::record::{Exchange, Recorder};
use super::{retry, Answer, Prompt, Provider, ProviderError, Said};
use crate::config::LlmSettings;

/// Where the key comes from.
pub enum Key {
    /// No key (a local server that takes none).
    None,
    /// `KILN_LLM_API_KEY`.
    Plain(String),
    /// A Secrets Manager secret, read once when first needed.
    Secret {
        /// Its id or ARN.
        id: String,
        /// The key, once read.
        value: tokio::sync::OnceCell<String>,
        /// Where the Secrets Manager client gets its settings.
        aws: super::Aws,
    },
}

impl Key {
    async fn get(&self) -> Result<Option<&str>, ProviderError> {
        match self {
            Key::None => Ok(None),
            Key::Plain(k) => Ok(Some(k)),
            Key::Secret { id, value, aws } => value
                .get_or_try_init(|| super::secret_key(id, aws))
                .await
                .map(|k| Some(k.as_str()))
                .map_err(|e| ProviderError::Auth(format!("the key's secret {id}: {e}"))),
        }
    }
}

/// The OpenAI-compatible provider.
pub struct OpenAi {
    client: reqwest::Client,
    url: String,
    model: String,
    key: Key,
    max_tokens: u32,
    timeout: Duration,
    recorder: Option<Recorder>,
    /// Whether the server refused `max_tokens` or `temperature` (see [`OpenAi::limited`]).
    reasoning: std::sync::atomic::AtomicBool,
}

impl OpenAi {
    /// A client for the server at `settings.base_url`.
    pub fn new(
        settings: &LlmSettings,
        key: Key,
        recorder: Option<Recorder>,
    ) -> Result<Self, String> {
        let base = settings
            .base_url
            .clone()
            .ok_or("KILN_LLM_BASE_URL is needed")?;
        let client = crate::https::client()
            .connect_timeout(Duration::from_secs(10).min(settings.timeout))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(OpenAi {
            client,
            url: format!("{base}/chat/completions"),
            model: settings.model.clone(),
            key,
            max_tokens: settings.max_tokens,
            timeout: settings.timeout,
            recorder,
            reasoning: Default::default(),
        })
    }

    /// The request body for `prompt`.
    pub fn body(&self, prompt: &Prompt) -> Value {
        let mut messages = vec![
            json!({"role": "system", "content": prompt.system}),
            json!({"role": "user", "content": prompt.user}),
        ];
        for r in &prompt.repairs {
            let said = match &r.answer {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            messages.push(json!({"role": "assistant", "content": said}));
            messages.push(json!({"role": "user", "content": (prompt.tool.refused)(&r.errors)}));
        }
        json!({
            "model": self.model,
            "messages": messages,
            "response_format": {
                "type": "json_schema",
                "json_schema": {
                    "name": prompt.tool.name,
                    "description": prompt.tool.description,
                    "strict": true,
                    "schema": (prompt.tool.schema)(),
                },
            },
        })
    }

    /// The body with the answer's length bounded and its sampling made deterministic, in the
    /// words the server takes: `max_tokens` and `temperature` 0 by default (what vLLM, Ollama
    /// and llama.cpp take), or, once the server has refused either (OpenAI's reasoning models
    /// do), `max_completion_tokens` and no temperature.
    fn limited(&self, mut body: Value) -> Value {
        if self.reasoning.load(std::sync::atomic::Ordering::Relaxed) {
            body["max_completion_tokens"] = json!(self.max_tokens);
        } else {
            body["max_tokens"] = json!(self.max_tokens);
            body["temperature"] = json!(0);
        }
        body
    }

    fn record(
        &self,
        key: Option<&str>,
        request: &[u8],
        status: u16,
        headers: &reqwest::header::HeaderMap,
        body: &[u8],
    ) {
        if let Some(r) = &self.recorder {
            let headers = headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
                .collect();
            let secrets: Vec<&str> = key.into_iter().collect();
            r.record(
                &Exchange {
                    provider: "openai",
                    model: &self.model,
                    request,
                    status,
                    headers,
                    body,
                },
                &secrets,
            );
        }
    }
}

/// The message of an error body in OpenAI's format, or the start of the body.
fn error_message(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(300).collect())
}

/// Whether a 400 refuses `max_tokens` or `temperature` (OpenAI names the parameter).
fn refuses_limits(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["error"]["param"].as_str().map(str::to_owned))
        .is_some_and(|p| p == "max_tokens" || p == "temperature")
}

/// Reads a 200 answer: the patch in the first choice's content, and the token counts.
fn read_answer(body: &[u8]) -> Result<Answer, ProviderError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ProviderError::Malformed(format!("not JSON: {e}")))?;
    let message = &v["choices"][0]["message"];
    if let Some(refusal) = message["refusal"].as_str() {
        return Err(ProviderError::Refused(format!(
            "the model refused: {refusal}"
        )));
    }
    let content = message["content"]
        .as_str()
        .ok_or_else(|| ProviderError::Malformed("no content in the first choice".into()))?;
    let tokens = |k: &str| v["usage"][k].as_u64().unwrap_or(0);
    Ok(Answer {
        patch: serde_json::from_str(content).unwrap_or_else(|_| Value::String(content.to_owned())),
        tool_use_id: None,
        input_tokens: tokens("prompt_tokens"),
        output_tokens: tokens("completion_tokens"),
    })
}

#[async_trait]
impl Provider for OpenAi {
    fn name(&self) -> &'static str {
        "openai"
    }

    fn model(&self) -> &str {
        &self.model
    }

    async fn propose(&self, prompt: &Prompt) -> Result<Answer, ProviderError> {
        read_answer(&self.send(&|| self.body(prompt)).await?)
    }

    async fn answer(&self, system: &str, question: &str) -> Result<Said, ProviderError> {
        let make = || {
            json!({
                "model": self.model,
                "messages": [
                    {"role": "system", "content": system},
                    {"role": "user", "content": question},
                ],
            })
        };
        let bytes = self.send(&make).await?;
        let v: Value = serde_json::from_slice(&bytes)
            .map_err(|e| ProviderError::Malformed(format!("not JSON: {e}")))?;
        let text = v["choices"][0]["message"]["content"]
            .as_str()
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| ProviderError::Malformed("no text in the first choice".into()))?;
        let tokens = |k: &str| v["usage"][k].as_u64().unwrap_or(0);
        Ok(Said {
            text: text.trim().to_owned(),
            input_tokens: tokens("prompt_tokens"),
            output_tokens: tokens("completion_tokens"),
        })
    }
}

impl OpenAi {
    /// Posts the body `make` gives (with the answer's limits added) until an answer comes, a
    /// failure no retry fixes, the retries run out or the deadline passes.
    async fn send(
        &self,
        make: &(dyn Fn() -> Value + Send + Sync),
    ) -> Result<Vec<u8>, ProviderError> {
        let mut body = serde_json::to_vec(&self.limited(make())).expect("a JSON value serializes");
        let deadline = Instant::now() + self.timeout;
        let key = self.key.get().await?;
        let mut last = String::new();
        for attempt in 1..=retry::MAX_ATTEMPTS {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ProviderError::Timeout(self.timeout));
            }
            let mut request = self
                .client
                .post(&self.url)
                .timeout(left)
                .header("content-type", "application/json")
                .body(body.clone());
            if let Some(key) = key {
                request = request.bearer_auth(key);
            }
            let retry_after = match request.send().await {
                Err(e) if e.is_timeout() => return Err(ProviderError::Timeout(self.timeout)),
                Err(e) => {
                    last = format!("could not reach {}: {e}", self.url);
                    None
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    let headers = response.headers().clone();
                    let answer = match response.bytes().await {
                        Err(e) if e.is_timeout() => {
                            return Err(ProviderError::Timeout(self.timeout))
                        }
                        Err(e) => Err(e.to_string()),
                        Ok(b) => Ok(b),
                    };
                    let bytes = match answer {
                        Ok(b) => b,
                        Err(e) => {
                            last = format!("the answer broke off: {e}");
                            continue;
                        }
                    };
                    self.record(key, &body, status, &headers, &bytes);
                    match status {
                        200..=299 => return Ok(bytes.to_vec()),
                        401 | 403 => return Err(ProviderError::Auth(error_message(&bytes))),
                        // The server takes the newer words for the same limits: once, again.
                        400 if refuses_limits(&bytes)
                            && !self
                                .reasoning
                                .swap(true, std::sync::atomic::Ordering::Relaxed) =>
                        {
                            last = format!("400: {}", error_message(&bytes));
                            body = serde_json::to_vec(&self.limited(make()))
                                .expect("a JSON value serializes");
                            continue;
                        }
                        s if !retry::retryable(s) => {
                            return Err(ProviderError::Refused(format!(
                                "{s}: {}",
                                error_message(&bytes)
                            )))
                        }
                        s => {
                            last = format!("{s}: {}", error_message(&bytes));
                            headers
                                .get("retry-after")
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_owned)
                        }
                    }
                }
            };
            if attempt == retry::MAX_ATTEMPTS {
                break;
            }
            let wait = retry::wait(attempt, retry_after.as_deref());
            if Instant::now() + wait >= deadline {
                // Waiting would pass the deadline: give up now, saying why.
                return Err(ProviderError::Exhausted {
                    attempts: attempt,
                    last,
                });
            }
            tokio::time::sleep(wait).await;
        }
        Err(ProviderError::Exhausted {
            attempts: retry::MAX_ATTEMPTS,
            last,
        })
    }
}
