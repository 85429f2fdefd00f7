//! The conversation: messages from the user and the agents, and the blocks the UI renders.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{new_id, now, FileEntry, TestReport};

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The person.
    User,
    /// One of the agents.
    Assistant,
    /// Kiln itself (errors, notices).
    System,
}

/// The role agents of the crew.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Agent {
    /// Reads what the user wants into a spec.
    ProductManager,
    /// Turns the spec into a design.
    Architect,
    /// Writes the code.
    BackendDeveloper,
    /// Runs the tests.
    QaEngineer,
    /// Builds and deploys.
    DevopsEngineer,
    /// Writes the README.
    DocumentationWriter,
    /// Reviews each version before it may be deployed.
    CodeReviewer,
}

/// The shape of a [`Message`]'s JSON as this build writes it. A store that keeps the JSON
/// beside its shape answers a message stored in this shape as it was stored, and reads one
/// stored in an older shape and writes it again (so that a field added since gets its
/// default). Raise it with any change to what a Message is written as: the test
/// `message_format_follows_the_schema` fails until it is.
pub const MESSAGE_FORMAT: i64 = 3;

/// One message of a project's conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Message {
    /// UUIDv7.
    pub id: Uuid,
    /// The project it belongs to.
    pub project_id: Uuid,
    /// Who wrote it.
    pub role: Role,
    /// Which agent answered, for assistant messages.
    pub agent: Option<Agent>,
    /// Plain text; never interpreted as markup or code.
    pub content: String,
    /// Structured attachments.
    #[serde(default)]
    pub blocks: Vec<Block>,
    /// The run this message started or answers.
    pub run_id: Option<Uuid>,
    /// The idempotency key: for a user message the client's own (a retried post returns the
    /// first answer); for a reply `{run}/{step}/{what}`, so that a step run twice writes it once.
    pub client_id: Option<String>,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl Message {
    /// A message written by the user.
    pub fn from_user(project_id: Uuid, content: String, client_id: Option<String>) -> Self {
        Message {
            id: new_id(),
            project_id,
            role: Role::User,
            agent: None,
            content,
            blocks: Vec::new(),
            run_id: None,
            client_id,
            created_at: now(),
        }
    }

    /// A reply from one of the agents.
    pub fn from_agent(project_id: Uuid, agent: Agent, run_id: Uuid, content: String) -> Self {
        Message {
            id: new_id(),
            project_id,
            role: Role::Assistant,
            agent: Some(agent),
            content,
            blocks: Vec::new(),
            run_id: Some(run_id),
            client_id: None,
            created_at: now(),
        }
    }

    /// A notice from Kiln itself, such as the reason a run failed.
    pub fn from_system(project_id: Uuid, run_id: Uuid, content: String) -> Self {
        Message {
            id: new_id(),
            project_id,
            role: Role::System,
            agent: None,
            content,
            blocks: Vec::new(),
            run_id: Some(run_id),
            client_id: None,
            created_at: now(),
        }
    }
}

/// A structured attachment to a message, rendered by the UI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    /// A titled list of points: a plan, a set of endpoints.
    Plan {
        /// Heading.
        title: String,
        /// One line each.
        items: Vec<String>,
    },
    /// What changed in the spec.
    SpecDiff {
        /// Added things, one line each.
        added: Vec<String>,
        /// Removed things, one line each.
        removed: Vec<String>,
        /// Changed things, one line each.
        changed: Vec<String>,
    },
    /// The files of a version.
    FileList {
        /// Version number.
        version: u32,
        /// Paths with sizes.
        files: Vec<FileEntry>,
    },
    /// The results of a test run.
    TestReport {
        /// The version tested.
        version: u32,
        /// Counts and failures.
        report: TestReport,
    },
    /// What the code reviewer found in a version: findings most severe first, the counts of
    /// all of them, and how many were left out to keep the block small.
    Review {
        /// The version reviewed.
        version: u32,
        /// Findings, counts and how many were omitted.
        review: super::Review,
    },
    /// A question the product manager asks instead of guessing, with the answers it offers.
    Question {
        /// The question.
        text: String,
        /// The answers, in order; replying with one (or its number) picks it.
        options: Vec<String>,
    },
    /// The language-model calls behind the message, and why the rules answered if they did.
    Usage {
        /// Provider, model, calls, tokens, cost, latency, fallback.
        usage: super::ModelUsage,
    },
    /// What the version would cost a month where it is about to run, and, when the deploy
    /// waits for the user's word, the message that gives it.
    Cost {
        /// The environment about to be deployed.
        environment: super::Environment,
        /// The version about to be deployed.
        version: u32,
        /// The estimate, itemised.
        estimate: super::CostEstimate,
        /// Why the deploy waits for a confirmation (prod, over budget); empty when it does not.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        reasons: Vec<String>,
        /// The message that confirms ("yes, deploy to prod"), offered as a button.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        confirm: Option<String>,
    },
    /// Another project of the same owner, such as the copy a clone made.
    Project {
        /// Its id.
        project_id: Uuid,
        /// Its name when the block was written.
        name: String,
    },
    /// What QA found when it called a live deployment: the smoke test, and the load test
    /// after it (none when the smoke test failed).
    LoadTest {
        /// The environment called.
        environment: super::Environment,
        /// The version running there.
        version: u32,
        /// Every endpoint called once with valid data.
        smoke: super::SmokeReport,
        /// Many safe requests at once, within a time bound.
        load: Option<super::LoadReport>,
    },
    /// A build that met the user's own changes and could not merge some files: each one
    /// with both sides, to keep the user's, take the generated, or edit. No version was made.
    MergeConflicts {
        /// The version holding the user's files.
        version: u32,
        /// The files, at most [`CONFLICTS_SHOWN`](super::merge::CONFLICTS_SHOWN).
        conflicts: Vec<super::ShownConflict>,
        /// Conflicting files left out of the list.
        #[serde(default)]
        omitted: usize,
    },
    /// A link, such as a deployment URL.
    Link {
        /// What it is.
        label: String,
        /// Where it goes.
        url: String,
    },
}
