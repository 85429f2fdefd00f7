//! Amazon Bedrock through the Converse API: the answer (a spec patch, a code fix) is the input
//! of a forced tool call (`ToolChoice::Tool` for the model families Bedrock documents it for,
//! Anthropic Claude 3 and later and Amazon Nova; `Any` otherwise, with one tool offered).
//! Retries are the SDK's standard mode (throttling and 5xx, with jittered backoff); the
//! operation timeout bounds the whole call, retries included.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_sdk_bedrockruntime::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_bedrockruntime::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_bedrockruntime::error::{BoxError, SdkError};
use aws_sdk_bedrockruntime::operation::converse::ConverseError;
use aws_sdk_bedrockruntime::types::{
    AnyToolChoice, ContentBlock, ConversationRole, ConverseOutput, InferenceConfiguration, Message,
    SpecificToolChoice, SystemContentBlock, Tool, ToolChoice, ToolConfiguration, ToolInputSchema,
    ToolResultBlock, ToolResultContentBlock, ToolResultStatus, ToolSpecification, ToolUseBlock,
};
use aws_smithy_types::{Document, Number};
use serde_json::Value;

use super::record::{Exchange, Recorder};
use super::{prompt, Answer, Prompt, Provider, ProviderError, Said};
use crate::config::LlmSettings;

/// Attempts the SDK's standard retry mode makes (its default).
pub const ATTEMPTS: u32 = 3;

/// The Bedrock provider.
pub struct Bedrock {
    client: aws_sdk_bedrockruntime::Client,
    model: String,
    max_tokens: u32,
    timeout: std::time::Duration,
}

impl Bedrock {
    /// A client with the environment's region and credentials, the SDK's standard retries and
    /// `settings.timeout` over each whole call; `settings.base_url` replaces the endpoint.
    pub async fn new(
        settings: &LlmSettings,
        recorder: Option<Recorder>,
        aws: &crate::aws_http::SdkLoader,
    ) -> Self {
        let sdk = aws().await;
        let mut config = aws_sdk_bedrockruntime::config::Builder::from(&sdk)
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(ATTEMPTS))
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .operation_timeout(settings.timeout)
                    .build(),
            );
        if let Some(url) = &settings.base_url {
            config = config.endpoint_url(url);
        }
        if let Some(recorder) = recorder {
            config = config.interceptor(Recording {
                recorder,
                model: settings.model.clone(),
                request: Arc::default(),
            });
        }
        Bedrock {
            client: aws_sdk_bedrockruntime::Client::from_conf(config.build()),
            model: settings.model.clone(),
            max_tokens: settings.max_tokens,
            timeout: settings.timeout,
        }
    }
}

/// Whether Bedrock documents `ToolChoice::Tool` (a named tool) for the model.
pub fn names_its_tool(model: &str) -> bool {
    // Inference profiles prefix a geography: `us.anthropic.claude-…`.
    let id = model.rsplit('/').next().unwrap_or(model);
    [
        "anthropic.claude-3",
        "anthropic.claude-opus-4",
        "anthropic.claude-sonnet-4",
        "anthropic.claude-haiku-4",
        "amazon.nova",
    ]
    .iter()
    .any(|family| id.contains(family))
}

/// JSON as a smithy document.
fn document(v: &Value) -> Document {
    match v {
        Value::Null => Document::Null,
        Value::Bool(b) => Document::Bool(*b),
        Value::Number(n) => Document::Number(match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Number::PosInt(u),
            (None, Some(i)) => Number::NegInt(i),
            _ => Number::Float(n.as_f64().unwrap_or(0.0)),
        }),
        Value::String(s) => Document::String(s.clone()),
        Value::Array(a) => Document::Array(a.iter().map(document).collect()),
        Value::Object(o) => Document::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), document(v)))
                .collect::<HashMap<_, _>>(),
        ),
    }
}

/// A smithy document as JSON.
fn json(d: &Document) -> Value {
    match d {
        Document::Null => Value::Null,
        Document::Bool(b) => Value::Bool(*b),
        Document::Number(Number::PosInt(u)) => Value::from(*u),
        Document::Number(Number::NegInt(i)) => Value::from(*i),
        Document::Number(Number::Float(f)) => {
            serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
        }
        Document::String(s) => Value::String(s.clone()),
        Document::Array(a) => Value::Array(a.iter().map(json).collect()),
        Document::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), json(v))).collect()),
    }
}

fn text_message(role: ConversationRole, text: String) -> Message {
    Message::builder()
        .role(role)
        .content(ContentBlock::Text(text))
        .build()
        .expect("role and content are set")
}

fn messages(prompt: &Prompt) -> Result<Vec<Message>, BoxError> {
    let mut out = vec![text_message(ConversationRole::User, prompt.user.clone())];
    for r in &prompt.repairs {
        let errors = (prompt.tool.refused)(&r.errors);
        match &r.tool_use_id {
            // The tool was called: its result is the errors, marked as an error.
            Some(id) => {
                let call = ToolUseBlock::builder()
                    .tool_use_id(id)
                    .name(prompt.tool.name)
                    .input(document(&r.answer))
                    .build()?;
                out.push(
                    Message::builder()
                        .role(ConversationRole::Assistant)
                        .content(ContentBlock::ToolUse(call))
                        .build()?,
                );
                let result = ToolResultBlock::builder()
                    .tool_use_id(id)
                    .content(ToolResultContentBlock::Text(errors))
                    .status(ToolResultStatus::Error)
                    .build()?;
                out.push(
                    Message::builder()
                        .role(ConversationRole::User)
                        .content(ContentBlock::ToolResult(result))
                        .build()?,
                );
            }
            None => {
                let said = match &r.answer {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                out.push(text_message(ConversationRole::Assistant, said));
                out.push(text_message(ConversationRole::User, errors));
            }
        }
    }
    Ok(out)
}

fn tools(model: &str, tool: &prompt::Tool) -> Result<ToolConfiguration, BoxError> {
    let spec = ToolSpecification::builder()
        .name(tool.name)
        .description(tool.description)
        .input_schema(ToolInputSchema::Json(document(&(tool.schema)())))
        .build()?;
    let choice = if names_its_tool(model) {
        ToolChoice::Tool(SpecificToolChoice::builder().name(tool.name).build()?)
    } else {
        ToolChoice::Any(AnyToolChoice::builder().build())
    };
    Ok(ToolConfiguration::builder()
        .tools(Tool::ToolSpec(spec))
        .tool_choice(choice)
        .build()?)
}

fn failure(
    e: SdkError<ConverseError, aws_sdk_bedrockruntime::config::http::HttpResponse>,
    timeout: std::time::Duration,
) -> ProviderError {
    use aws_sdk_bedrockruntime::error::ProvideErrorMetadata;
    match e {
        SdkError::TimeoutError(_) => ProviderError::Timeout(timeout),
        SdkError::DispatchFailure(d) => ProviderError::Exhausted {
            attempts: ATTEMPTS,
            last: format!("could not reach Bedrock: {d:?}"),
        },
        SdkError::ServiceError(s) => {
            let err = s.into_err();
            let message = format!(
                "{}: {}",
                err.code().unwrap_or("error"),
                err.message().unwrap_or("no message")
            );
            match err {
                ConverseError::AccessDeniedException(_) => ProviderError::Auth(message),
                ConverseError::ModelTimeoutException(_) => ProviderError::Timeout(timeout),
                ConverseError::ThrottlingException(_)
                | ConverseError::ServiceUnavailableException(_)
                | ConverseError::InternalServerException(_)
                | ConverseError::ModelNotReadyException(_) => ProviderError::Exhausted {
                    attempts: ATTEMPTS,
                    last: message,
                },
                e if e.code() == Some("UnrecognizedClientException") => {
                    ProviderError::Auth(message)
                }
                _ => ProviderError::Refused(message),
            }
        }
        other => ProviderError::Malformed(format!("{other:?}")),
    }
}

#[async_trait]
impl Provider for Bedrock {
    async fn answer(&self, system: &str, question: &str) -> Result<Said, ProviderError> {
        let output = self
            .client
            .converse()
            .model_id(&self.model)
            .system(SystemContentBlock::Text(system.to_owned()))
            .messages(text_message(ConversationRole::User, question.to_owned()))
            .inference_config(
                InferenceConfiguration::builder()
                    .max_tokens(i32::try_from(self.max_tokens).unwrap_or(i32::MAX))
                    .temperature(0.0)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| failure(e, self.timeout))?;
        let (input_tokens, output_tokens) = tokens(&output);
        let text = match output.output() {
            Some(ConverseOutput::Message(m)) => m
                .content()
                .iter()
                .filter_map(|b| b.as_text().ok().cloned())
                .collect::<Vec<_>>()
                .join("\n"),
            _ => String::new(),
        };
        if text.trim().is_empty() {
            return Err(ProviderError::Malformed("no text in the answer".into()));
        }
        Ok(Said {
            text: text.trim().to_owned(),
            input_tokens,
            output_tokens,
        })
    }

    fn name(&self) -> &'static str {
        "bedrock"
    }

    fn model(&self) -> &str {
        &self.model
    }

    async fn propose(&self, prompt: &Prompt) -> Result<Answer, ProviderError> {
        let built = messages(prompt).and_then(|m| Ok((m, tools(&self.model, prompt.tool)?)));
        let (messages, tools) = built.map_err(|e| ProviderError::Refused(e.to_string()))?;
        let output = self
            .client
            .converse()
            .model_id(&self.model)
            .system(SystemContentBlock::Text(prompt.system.clone()))
            .set_messages(Some(messages))
            .inference_config(
                InferenceConfiguration::builder()
                    .max_tokens(i32::try_from(self.max_tokens).unwrap_or(i32::MAX))
                    .temperature(0.0)
                    .build(),
            )
            .tool_config(tools)
            .send()
            .await
            .map_err(|e| failure(e, self.timeout))?;
        let (input_tokens, output_tokens) = tokens(&output);
        let content = match output.output() {
            Some(ConverseOutput::Message(m)) => m.content(),
            _ => return Err(ProviderError::Malformed("no message in the answer".into())),
        };
        let call = content.iter().find_map(|b| match b {
            ContentBlock::ToolUse(t) if t.name() == prompt.tool.name => Some(t),
            _ => None,
        });
        let (patch, tool_use_id) = match call {
            Some(t) => (json(t.input()), Some(t.tool_use_id().to_owned())),
            // No tool call: the text is what the model said, refused as a patch and repaired.
            None => (
                Value::String(
                    content
                        .iter()
                        .filter_map(|b| b.as_text().ok().cloned())
                        .collect::<Vec<_>>()
                        .join("\n"),
                ),
                None,
            ),
        };
        Ok(Answer {
            patch,
            tool_use_id,
            input_tokens,
            output_tokens,
        })
    }
}

/// The input and output tokens an answer counts.
fn tokens(output: &aws_sdk_bedrockruntime::operation::converse::ConverseOutput) -> (u64, u64) {
    output
        .usage()
        .map(|u| {
            (
                u.input_tokens().max(0) as u64,
                u.output_tokens().max(0) as u64,
            )
        })
        .unwrap_or((0, 0))
}

/// Records each attempt's request and answer (`KILN_LLM_RECORD_DIR`). The SDK signs requests
/// in headers, which are never written; bodies carry no credentials.
#[derive(Debug)]
struct Recording {
    recorder: Recorder,
    model: String,
    request: Arc<Mutex<Vec<u8>>>,
}

impl Intercept for Recording {
    fn name(&self) -> &'static str {
        "KilnRecording"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(bytes) = context.request().body().bytes() {
            *self.request.lock().expect("not poisoned") = bytes.to_vec();
        }
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = context.response();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let request = self.request.lock().expect("not poisoned").clone();
        self.recorder.record(
            &Exchange {
                provider: "bedrock",
                model: &self.model,
                request: &request,
                status: response.status().as_u16(),
                headers,
                body: response.body().bytes().unwrap_or_default(),
            },
            &[],
        );
        Ok(())
    }
}
