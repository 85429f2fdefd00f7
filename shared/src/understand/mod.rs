//! Understanding: how one user message becomes a change to the spec, behind one port with
//! three backends. The rules (the default, offline and deterministic) read the message
//! themselves; `bedrock` and `openai` ask a language model for a [`SpecPatch`], which is parsed
//! strictly, applied to a copy of the spec and validated like the rules' reading. A refused
//! patch gets one repair call carrying the concrete errors; if that fails too, or the provider
//! fails (auth, timeout, retries exhausted), the rules answer and the reply says so and why.

mod apply;
mod between;
pub mod code_fix;
mod openai;
mod patch;
mod prompt;
mod record;
mod retry;

#[cfg(feature = "bedrock")]
mod bedrock;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde_json::Value;

use crate::config::{Llm, LlmSettings};
use crate::model::ModelUsage;
use crate::spec::{understand_after, AppSpec, FieldRef, SpecChange, SpecError};

pub use code_fix::{FixAsked, Fixed};
pub use patch::{FieldSpec, Operation, SpecPatch, TYPES};
pub use prompt::{schema, Tool, SPEC_TOOL, TOOL_NAME};

/// One message to read.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The spec as it is, if any.
    pub spec: Option<&'a AppSpec>,
    /// The project's name (a new spec takes it).
    pub project_name: &'a str,
    /// The message.
    pub text: &'a str,
    /// Whether it describes the whole app (a description or a first message).
    pub describes_app: bool,
    /// The field the conversation was last about.
    pub focus: Option<&'a FieldRef>,
}

impl Request<'_> {
    /// The spec the patch applies to: the one there is, or a new one named after the project.
    pub fn base(&self) -> AppSpec {
        self.spec.cloned().unwrap_or_else(|| AppSpec {
            name: self.project_name.to_owned(),
            ..AppSpec::default()
        })
    }
}

/// What a message was read as.
#[derive(Debug, Clone)]
pub struct Understood {
    /// The spec after the message, validated.
    pub spec: AppSpec,
    /// What changed, for the reply; notes say when the rules stood in for the model.
    pub change: SpecChange,
    /// The same change as operations.
    pub patch: SpecPatch,
    /// The model calls it took, when a model was asked.
    pub usage: Option<ModelUsage>,
}

/// The IAM actions a model reading may need on AWS: Bedrock's Converse (authorised as
/// `InvokeModel`, on the configured model) and the OpenAI-compatible key's secret.
pub const IAM_ACTIONS: &[&str] = &["bedrock:InvokeModel", "secretsmanager:GetSecretValue"];

/// Reads messages into spec changes.
#[async_trait]
pub trait Understander: Send + Sync {
    /// Reads one message. An error is a message the rules refuse whole (it would break the
    /// spec); a model's failures never surface as errors, the rules answer instead.
    async fn understand(&self, request: &Request<'_>) -> Result<Understood, SpecError>;

    /// Whether questions go to a model ([`Understander::answer`]); without one the rules
    /// answer them, and nothing need be gathered for it.
    fn answers_questions(&self) -> bool {
        false
    }

    /// Answers a question from the facts given, when a model is configured (`None`: the
    /// rules answer, as always without one).
    async fn answer(&self, _asked: &Asked<'_>) -> Option<Answered> {
        None
    }

    /// Whether a model proposes repairs of failing code ([`Understander::propose_fix`]).
    fn repairs_code(&self) -> bool {
        false
    }

    /// A model's repair of code whose tests fail, when a model is configured (`None`: the
    /// rules have no such repair).
    async fn propose_fix(&self, _asked: &FixAsked<'_>) -> Option<ProposedFix> {
        None
    }
}

/// What a model proposed for failing code, and what asking it cost.
#[derive(Debug, Clone)]
pub struct ProposedFix {
    /// The fix, checked and applied to the files; or why there is none (the provider failed,
    /// or the answer could not be applied after one repair).
    pub outcome: Result<Fixed, String>,
    /// The calls.
    pub usage: ModelUsage,
}

/// The product manager's own rules.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rules;

#[async_trait]
impl Understander for Rules {
    async fn understand(&self, request: &Request<'_>) -> Result<Understood, SpecError> {
        let base = request.base();
        let (spec, change) = understand_after(
            request.spec,
            request.project_name,
            request.text,
            request.describes_app,
            request.focus,
        )?;
        let patch = SpecPatch::between(&base, &spec, &change.renamed);
        Ok(Understood {
            spec,
            change,
            patch,
            usage: None,
        })
    }
}

/// What a model is asked: the tool it answers with, the instructions, the message, and each
/// refused answer with why.
#[derive(Debug, Clone)]
pub struct Prompt {
    /// What the answer is: a spec patch ([`SPEC_TOOL`]) or a code fix.
    pub tool: &'static Tool,
    /// Instructions and the spec as it is.
    pub system: String,
    /// The user's message.
    pub user: String,
    /// Earlier answers that could not be applied, in order.
    pub repairs: Vec<Repair>,
}

/// An answer the model gave that could not be applied, and the errors it is told.
#[derive(Debug, Clone)]
pub struct Repair {
    /// The patch as the model sent it.
    pub answer: Value,
    /// The id of the tool call that carried it (Bedrock).
    pub tool_use_id: Option<String>,
    /// The concrete errors.
    pub errors: Vec<String>,
}

/// One answer of a model.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The proposed patch as sent (a string when the model did not send JSON).
    pub patch: Value,
    /// The id of the tool call that carried it (Bedrock).
    pub tool_use_id: Option<String>,
    /// Input tokens the provider counted.
    pub input_tokens: u64,
    /// Output tokens the provider counted.
    pub output_tokens: u64,
}

/// A model's answer in words.
#[derive(Debug, Clone)]
pub struct Said {
    /// The text.
    pub text: String,
    /// Input tokens the provider counted.
    pub input_tokens: u64,
    /// Output tokens the provider counted.
    pub output_tokens: u64,
}

/// A question about the project, and the facts it is answered from.
#[derive(Debug, Clone, Copy)]
pub struct Asked<'a> {
    /// The user's question.
    pub question: &'a str,
    /// What the project holds, as text: its spec, endpoints, versions, last test report,
    /// deployments. The answer may say nothing else.
    pub facts: &'a str,
}

/// How a question was answered by a model.
#[derive(Debug, Clone)]
pub struct Answered {
    /// The model's answer; `None` when the model failed and the rules answer instead.
    pub text: Option<String>,
    /// The call, and why the rules answer if they do.
    pub usage: ModelUsage,
}

/// Why a provider gave no answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    /// The credentials or the key were refused, or the model is not enabled for them.
    #[error("the provider refused the credentials: {0}")]
    Auth(String),
    /// The provider kept saying to slow down, or kept failing, until the retries ran out.
    #[error("the provider was still throttling or failing after {attempts} attempts: {last}")]
    Exhausted {
        /// Attempts made.
        attempts: u32,
        /// The last error.
        last: String,
    },
    /// No answer within the timeout.
    #[error("the provider did not answer within {0:?}")]
    Timeout(Duration),
    /// The request was refused as invalid (a wrong model id, a schema it does not take).
    #[error("the provider refused the request: {0}")]
    Refused(String),
    /// The answer could not be read.
    #[error("the provider's answer could not be read: {0}")]
    Malformed(String),
}

/// A language model that proposes spec patches.
#[async_trait]
pub trait Provider: Send + Sync {
    /// `bedrock` or `openai`.
    fn name(&self) -> &'static str;
    /// The model id.
    fn model(&self) -> &str;
    /// Asks once (with the provider's retries).
    async fn propose(&self, prompt: &Prompt) -> Result<Answer, ProviderError>;
    /// Asks a question in words, answered in words.
    async fn answer(&self, system: &str, question: &str) -> Result<Said, ProviderError>;
}

/// Prices per million tokens, in US dollars.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Prices {
    /// Per million input tokens.
    pub input_per_million: f64,
    /// Per million output tokens.
    pub output_per_million: f64,
}

/// A model first, the rules when it fails.
pub struct WithModel {
    provider: Box<dyn Provider>,
    prices: Prices,
}

impl WithModel {
    /// Reads with `provider`, priced at `prices`.
    pub fn new(provider: Box<dyn Provider>, prices: Prices) -> Self {
        WithModel { provider, prices }
    }
}

#[async_trait]
impl Understander for WithModel {
    fn answers_questions(&self) -> bool {
        true
    }

    async fn answer(&self, asked: &Asked<'_>) -> Option<Answered> {
        Some(self.answer_question(asked).await)
    }

    fn repairs_code(&self) -> bool {
        true
    }

    async fn propose_fix(&self, asked: &FixAsked<'_>) -> Option<ProposedFix> {
        let prompt = Prompt {
            tool: &code_fix::CODE_TOOL,
            system: code_fix::system(),
            user: code_fix::user(asked),
            repairs: Vec::new(),
        };
        let mut usage = self.usage();
        let outcome = self
            .ask(prompt, &mut usage, |answer| {
                code_fix::apply(answer, asked.files)
            })
            .await;
        if let Err(why) = &outcome {
            tracing::warn!(provider = usage.provider, model = usage.model, reason = %why, "the model proposed no fix that applies");
            usage.fallback = Some(why.clone());
        }
        Some(ProposedFix { outcome, usage })
    }

    async fn understand(&self, request: &Request<'_>) -> Result<Understood, SpecError> {
        let base = request.base();
        let prompt = Prompt {
            tool: &SPEC_TOOL,
            system: prompt::system(&base, request.focus),
            user: prompt::user(request.text, request.describes_app),
            repairs: Vec::new(),
        };
        let mut usage = self.usage();
        let asked = self
            .ask(prompt, &mut usage, |answer| {
                SpecPatch::parse(answer)
                    .map_err(|e| vec![e])
                    .and_then(|patch| patch.apply(&base).map(|done| (patch, done)))
            })
            .await;
        let why = match asked {
            Ok((patch, (spec, mut change))) => {
                if change.focus.is_none() {
                    change.focus = request.focus.cloned();
                }
                return Ok(Understood {
                    spec,
                    change,
                    patch,
                    usage: Some(usage),
                });
            }
            Err(why) => why,
        };
        tracing::warn!(provider = usage.provider, model = usage.model, reason = %why, "the rules read the message instead of the model");
        let mut read = Rules.understand(request).await?;
        read.change.notes.insert(
            0,
            format!(
                "I read this with the rules instead of {} ({}), because {why}",
                usage.model, usage.provider
            ),
        );
        usage.fallback = Some(why);
        read.usage = Some(usage);
        Ok(read)
    }
}

/// Where the model's AWS clients (Bedrock's, the key's secret) get the SDK's settings, when
/// they first need them.
#[cfg(feature = "bedrock")]
pub type Aws = crate::aws_http::SdkLoader;
/// A build without the AWS SDK has no settings to give.
#[cfg(not(feature = "bedrock"))]
pub type Aws = NoAws;

/// The settings of a build without the AWS SDK: none.
#[cfg(not(feature = "bedrock"))]
#[derive(Clone, Debug, Default)]
pub struct NoAws;

/// Reads the key from Secrets Manager.
#[cfg(feature = "aws")]
pub(crate) async fn secret_key(secret: &str, aws: &Aws) -> Result<String, String> {
    let sdk = aws().await;
    let client = aws_sdk_secretsmanager::Client::new(&sdk);
    let value = client
        .get_secret_value()
        .secret_id(secret)
        .send()
        .await
        .map_err(|e| aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string())?;
    value
        .secret_string()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| "the secret holds no text".to_owned())
}

#[cfg(not(feature = "aws"))]
pub(crate) async fn secret_key(_: &str, _: &Aws) -> Result<String, String> {
    Err("this build has no AWS SDK (build with the `aws` feature)".into())
}

impl WithModel {
    /// Asks until an answer passes `check`, with one repair call carrying the errors of a
    /// refused answer; counts the calls into `usage`. `Err` says why no answer is used.
    async fn ask<T>(
        &self,
        mut prompt: Prompt,
        usage: &mut ModelUsage,
        check: impl Fn(&Value) -> Result<T, Vec<String>>,
    ) -> Result<T, String> {
        loop {
            let started = Instant::now();
            let answer = self.provider.propose(&prompt).await;
            usage.latency_ms += started.elapsed().as_millis() as u64;
            let answer = answer.map_err(|e| match prompt.repairs.first() {
                // The repair call failed: why the first answer was refused still counts.
                Some(r) => format!(
                    "{e}, after its first answer could not be applied: {}",
                    r.errors.join("; ")
                ),
                None => e.to_string(),
            })?;
            usage.calls += 1;
            usage.input_tokens += answer.input_tokens;
            usage.output_tokens += answer.output_tokens;
            usage.cost_usd = cost(usage, self.prices);
            match check(&answer.patch) {
                Ok(done) => return Ok(done),
                Err(errors) if prompt.repairs.is_empty() => prompt.repairs.push(Repair {
                    answer: answer.patch,
                    tool_use_id: answer.tool_use_id,
                    errors,
                }),
                Err(errors) => {
                    return Err(format!(
                        "its answer could not be applied after one repair: {}",
                        errors.join("; ")
                    ))
                }
            }
        }
    }

    fn usage(&self) -> ModelUsage {
        ModelUsage {
            provider: self.provider.name().to_owned(),
            model: self.provider.model().to_owned(),
            ..ModelUsage::default()
        }
    }

    /// A question answered by the model, from the facts only.
    async fn answer_question(&self, asked: &Asked<'_>) -> Answered {
        let mut usage = self.usage();
        let started = Instant::now();
        let said = self
            .provider
            .answer(&prompt::answer_system(asked.facts), asked.question)
            .await;
        usage.latency_ms = started.elapsed().as_millis() as u64;
        match said {
            Ok(said) => {
                usage.calls = 1;
                usage.input_tokens = said.input_tokens;
                usage.output_tokens = said.output_tokens;
                usage.cost_usd = cost(&usage, self.prices);
                Answered {
                    text: Some(said.text),
                    usage,
                }
            }
            Err(e) => {
                usage.fallback = Some(e.to_string());
                Answered { text: None, usage }
            }
        }
    }
}

fn cost(usage: &ModelUsage, prices: Prices) -> f64 {
    // Not rounded: one message often costs less than a thousandth of a cent.
    usage.input_tokens as f64 * prices.input_per_million / 1e6
        + usage.output_tokens as f64 * prices.output_per_million / 1e6
}

/// Why the configured understander could not be made.
#[derive(Debug, thiserror::Error)]
#[error("KILN_LLM={provider}: {reason}")]
pub struct UnderstanderError {
    provider: &'static str,
    reason: String,
}

/// The understander the settings ask for. The OpenAI-compatible key is `KILN_LLM_API_KEY`,
/// or the Secrets Manager secret `KILN_LLM_API_KEY_SECRET` names, read when first needed (so a
/// process that never reads a message, the API's, never reads it).
pub async fn from_settings(
    llm: Llm,
    settings: &LlmSettings,
) -> Result<Arc<dyn Understander>, UnderstanderError> {
    #[cfg(feature = "bedrock")]
    let aws = crate::aws_http::chain();
    #[cfg(not(feature = "bedrock"))]
    let aws = NoAws;
    from_settings_with(llm, settings, aws).await
}

/// [`from_settings`], the model's AWS clients taking their settings from `aws`.
pub async fn from_settings_with(
    llm: Llm,
    settings: &LlmSettings,
    aws: Aws,
) -> Result<Arc<dyn Understander>, UnderstanderError> {
    let key = match (&settings.api_key_secret, &settings.api_key) {
        (Some(secret), _) => openai::Key::Secret {
            id: secret.clone(),
            value: tokio::sync::OnceCell::new(),
            aws: aws.clone(),
        },
        (None, Some(key)) => openai::Key::Plain(key.clone()),
        (None, None) => openai::Key::None,
    };
    let prices = Prices {
        input_per_million: settings.input_price_per_million,
        output_per_million: settings.output_price_per_million,
    };
    let recorder = settings.record_dir.clone().map(record::Recorder::new);
    let provider: Box<dyn Provider> = match llm {
        Llm::Rules => return Ok(Arc::new(Rules)),
        Llm::Openai => Box::new(openai::OpenAi::new(settings, key, recorder).map_err(
            |reason| UnderstanderError {
                provider: "openai",
                reason,
            },
        )?),
        #[cfg(feature = "bedrock")]
        Llm::Bedrock => Box::new(bedrock::Bedrock::new(settings, recorder, &aws).await),
        #[cfg(not(feature = "bedrock"))]
        Llm::Bedrock => {
            return Err(UnderstanderError {
                provider: "bedrock",
                reason: "this build has no Bedrock client (build with the `bedrock` feature)"
                    .into(),
            })
        }
    };
    Ok(Arc::new(WithModel::new(provider, prices)))
}

#[cfg(test)]
mod tests;
