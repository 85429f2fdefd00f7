//! The product manager: reads what the user wants into the spec, and answers questions.

use serde_json::{json, Value};

use super::{change_and_say, post, AgentContext, AgentError, Step};
use crate::model::{Agent, Block, Intent, Message, ModelUsage, Project, ProjectStatus, RunInput};
use crate::spec::{
    mentions, mentions_auth, words_of, AppSpec, AuthFeature, DatabaseFeature, SpecChange,
};
use crate::store::PageRequest;
use crate::understand::Request;

/// Merges the user's message into the project's spec and says what changed.
pub(super) async fn read_requirements(
    ctx: &AgentContext,
    input: &RunInput,
) -> Result<Value, AgentError> {
    let message = ctx
        .projects
        .get_message(input.project_id, input.message_id)
        .await?;
    let describes_app = input.intent == Intent::Create;
    // The tables the last built version keeps: a field they cannot fill for stored rows is
    // asked about before the next build.
    let loaded = ctx.projects.load_project(input.project_id).await?;
    let built = match loaded.current_version {
        Some(n) => ctx.projects.get_version(input.project_id, n).await?.spec,
        None => None,
    };
    // A reply that picks an answer to the question asked last is read by the rules, in the
    // write below; any other message is read here, by the configured understander (a model
    // call may take seconds, so never inside the write).
    let answers_question = loaded.pending_question.as_ref().is_some_and(|q| {
        let current = loaded.spec.clone().unwrap_or_default();
        crate::spec::answer(&current, q, &message.content).is_some()
    });
    let understood = if answers_question {
        None
    } else {
        Some(
            ctx.understander
                .understand(&Request {
                    spec: loaded.spec.as_ref(),
                    project_name: &loaded.name,
                    text: &message.content,
                    describes_app,
                    focus: loaded.focus.as_ref(),
                })
                .await?,
        )
    };
    let usage = understood.as_ref().and_then(|u| u.usage.clone());
    let mut change = SpecChange::default();
    let key = (Step::ProductManager, "read");
    // The reply goes with the change in one write; a message that changes nothing is answered
    // after (under the same key, from the same state, so a repeat says the same).
    let (project, repeat) = change_and_say(ctx, input, key, |project| {
        // A reply that picks an answer to the question asked last applies that answer.
        if let Some(question) = project.pending_question.clone() {
            let current = project.spec.clone().unwrap_or_default();
            if let Some(answered) = crate::spec::answer(&current, &question, &message.content) {
                let (spec, read) = answered?;
                project.focus = read.focus.clone();
                change = read;
                crate::spec::Renamed::record(&mut project.renamed, &change.renamed);
                project.spec = Some(spec);
                project.pending_question = None;
                return Ok(Some(reply_to(input, project, &change, None)));
            }
        }
        // The reading was made against the project as loaded; if another writer changed what
        // it read from, the step runs again (a transient conflict) and reads anew.
        let (Some(u), true) = (
            &understood,
            project.spec == loaded.spec
                && project.focus == loaded.focus
                && project.pending_question == loaded.pending_question,
        ) else {
            return Err(AgentError::Contended);
        };
        let (spec, read) = (u.spec.clone(), u.change.clone());
        change = read;
        // What a model reading cost counts once, with the write that records the reading.
        if let Some(u) = &usage {
            project.model_usage.add(u);
        }
        // Asked once, by the message that made the field one stored rows cannot fill.
        if let (Some(built), Some(before), true) =
            (&built, &project.spec, change.questions.is_empty())
        {
            let now = crate::spec::stored_rows_question(built, &spec);
            if now.is_some() && now != crate::spec::stored_rows_question(built, before) {
                change.questions.extend(now);
            }
        }
        let focus_changed = project.focus != change.focus;
        project.focus = change.focus.clone();
        // The newest question replaces one left unanswered.
        let asked = change.questions.first().cloned();
        let asking_changed = project.pending_question != asked;
        project.pending_question = asked;
        if change.is_empty() {
            return Ok((asking_changed || focus_changed || usage.is_some())
                .then(|| reply_to(input, project, &change, usage.as_ref())));
        }
        crate::spec::Renamed::record(&mut project.renamed, &change.renamed);
        project.spec = Some(spec);
        if project.status == ProjectStatus::New {
            project.status = ProjectStatus::Specified;
        }
        Ok(Some(reply_to(input, project, &change, usage.as_ref())))
    })
    .await?;
    if let Some(usage) = usage {
        record_usage(ctx, input, usage).await?;
    }
    if repeat {
        // An earlier run of this step made the change and said so in the same write.
        return Ok(json!({"changed": true}));
    }
    // Nothing was saved, so nothing was said yet.
    post(ctx, input, key, reply_to(input, &project, &change, None)).await?;
    Ok(json!({"changed": !change.is_empty()}))
}

/// What the product manager says about a read of the message: what changed in the spec, the
/// notes, and the first question, if any.
fn reply_to(
    input: &RunInput,
    project: &Project,
    change: &SpecChange,
    usage: Option<&ModelUsage>,
) -> Message {
    let spec = project.spec.clone().unwrap_or_default();
    let notes = change
        .notes
        .iter()
        .map(|n| format!("Note: {n}."))
        .collect::<Vec<_>>()
        .join(" ");
    let mut reply = if change.is_empty() && change.questions.is_empty() {
        let text = if notes.is_empty() {
            nothing_understood(&spec)
        } else {
            notes
        };
        Message::from_agent(input.project_id, Agent::ProductManager, input.run_id, text)
    } else if change.is_empty() {
        Message::from_agent(input.project_id, Agent::ProductManager, input.run_id, notes)
    } else {
        let mut text = String::from("Noted. ");
        for (label, items) in [
            ("Added", &change.added),
            ("Removed", &change.removed),
            ("Changed", &change.changed),
        ] {
            if !items.is_empty() {
                text.push_str(&format!("{label}: {}. ", items.join(", ")));
            }
        }
        text.push_str(&notes);
        if spec.resources.is_empty() {
            text.push_str(
                " What should the API manage? For example: \"a REST API for managing tasks\".",
            );
        }
        let mut m = Message::from_agent(
            input.project_id,
            Agent::ProductManager,
            input.run_id,
            text.trim().to_owned(),
        );
        m.blocks.push(Block::SpecDiff {
            added: change.added.clone(),
            removed: change.removed.clone(),
            changed: change.changed.clone(),
        });
        m
    };
    // One question at a time: the first, which the next reply answers.
    if let Some(q) = change.questions.first() {
        let options: Vec<String> = q.options.iter().map(|o| o.label.clone()).collect();
        let numbered: Vec<String> = options
            .iter()
            .enumerate()
            .map(|(i, o)| format!("{}) {o}", i + 1))
            .collect();
        // A question about a field already added says its guess; the others come before one.
        let opening = if q.about.is_some() {
            "One question:"
        } else {
            "One question before I guess:"
        };
        reply.content = format!(
            "{} {opening} {} Reply {}.",
            reply.content.trim(),
            q.text,
            numbered.join(" or ")
        );
        reply.blocks.push(Block::Question {
            text: q.text.clone(),
            options,
        });
    }
    if let Some(usage) = usage {
        reply.blocks.push(Block::Usage {
            usage: usage.clone(),
        });
    }
    reply.content = reply.content.trim().to_owned();
    reply
}

/// The run shows what its model calls cost (the step's own record re-reads the run after).
pub(super) async fn record_usage(
    ctx: &AgentContext,
    input: &RunInput,
    usage: ModelUsage,
) -> Result<(), AgentError> {
    let mut run = ctx.projects.get_run(input.project_id, input.run_id).await?;
    if run.usage.as_ref() != Some(&usage) {
        run.usage = Some(usage);
        ctx.projects.update_run(&run).await?;
    }
    Ok(())
}

fn nothing_understood(spec: &AppSpec) -> String {
    if spec.resources.is_empty() {
        "I couldn't tell what the API should manage. Describe it in a sentence, for example: \
         \"Build a REST API for managing tasks and projects\"."
            .to_owned()
    } else {
        "I didn't find a change to the spec in that. You can say things like \"add user \
         authentication\", \"add database support\" or \"also manage projects\"; or \"build it\"."
            .to_owned()
    }
}

/// Answers a question from what the project holds: its spec, design, versions and runs.
pub(super) async fn answer(ctx: &AgentContext, input: &RunInput) -> Result<Value, AgentError> {
    let message = ctx
        .projects
        .get_message(input.project_id, input.message_id)
        .await?;
    let project = ctx.projects.load_project(input.project_id).await?;
    let q = message.content.to_lowercase();
    let words = words_of(&q);
    let about = |phrases: &[&str]| phrases.iter().any(|p| mentions(&words, p));
    let mut blocks = Vec::new();
    let text = match &project.spec {
        _ if ["hi", "hello", "hey"].iter().any(|g| q.trim_matches(|c: char| !c.is_alphanumeric()) == *g) => {
            "Hello! Describe the API you want, and I'll plan, build, test and deploy it.".to_owned()
        }
        _ if q.starts_with("thank") => "You're welcome.".to_owned(),
        None => "There's nothing in this project yet. Describe the API you want, for example: \
                 \"Build a REST API for managing tasks\". Then say \"build it\", \"run the tests\" \
                 and \"deploy it\"."
            .to_owned(),
        Some(spec) if about(&["endpoint", "endpoints", "route", "routes", "design", "plan"]) => {
            match &project.design {
                Some(design) if !design.endpoints.is_empty() => {
                    blocks.push(Block::Plan {
                        title: "Endpoints".into(),
                        items: design.endpoint_lines(),
                    });
                    format!("{} has {} endpoints.", spec.name, design.endpoints.len())
                }
                _ => "There is no design yet: tell me what the API should manage first.".to_owned(),
            }
        }
        Some(spec) if mentions_auth(&words) => match spec.features.auth {
            AuthFeature::Jwt => "Yes: users register and log in to get a JWT bearer token, which every resource endpoint requires.".to_owned(),
            AuthFeature::None => "No, the API is open. Say \"add user authentication\" to add JWT login.".to_owned(),
        },
        Some(spec) if about(&["database", "db", "storage", "stored", "store", "persist", "persisted"]) => {
            match spec.features.database {
                DatabaseFeature::None => "Records are kept in memory. Say \"add database support\" for SQLite.".to_owned(),
                DatabaseFeature::Sqlite => "Records are stored in SQLite through SQLAlchemy.".to_owned(),
                DatabaseFeature::Postgres => "Records are stored in PostgreSQL through SQLAlchemy.".to_owned(),
            }
        }
        Some(_) if about(&["deploy", "deployed", "deployment", "url", "running", "live", "link"]) => {
            if project.deployments.is_empty() {
                "It isn't deployed anywhere yet.".to_owned()
            } else {
                for d in &project.deployments {
                    if let Some(url) = &d.url {
                        blocks.push(Block::Link {
                            label: format!("{} (version {})", d.environment.as_str(), d.version),
                            url: url.clone(),
                        });
                    }
                }
                format!("It is deployed to {} environment(s).", project.deployments.len())
            }
        }
        Some(spec) => {
            let versions = ctx.projects.list_versions(project.id, &PageRequest::first(1)).await?;
            let resources: Vec<&str> = spec.resources.iter().map(|r| r.plural.as_str()).collect();
            let built = match versions.items.first() {
                Some(v) => format!("The latest version is {}.", v.number),
                None => "Nothing has been built yet; say \"build it\" when the spec looks right.".to_owned(),
            };
            format!(
                "{} manages {}. Authentication: {}. Storage: {}. {built}",
                spec.name,
                if resources.is_empty() { "nothing yet".to_owned() } else { resources.join(", ") },
                match spec.features.auth {
                    AuthFeature::Jwt => "JWT",
                    AuthFeature::None => "none",
                },
                match spec.features.database {
                    DatabaseFeature::None => "in memory",
                    DatabaseFeature::Sqlite => "SQLite",
                    DatabaseFeature::Postgres => "PostgreSQL",
                },
            )
        }
    };
    let mut reply =
        Message::from_agent(input.project_id, Agent::ProductManager, input.run_id, text);
    reply.blocks = blocks;
    // The facts are gathered only for a model that reads them.
    let answered = if ctx.understander.answers_questions() {
        let facts = super::facts::of(ctx, &project).await?;
        let asked = crate::understand::Asked {
            question: &message.content,
            facts: &facts,
        };
        ctx.understander.answer(&asked).await
    } else {
        None
    };
    let Some(answered) = answered else {
        post(ctx, input, (Step::Answer, "answer"), reply).await?;
        return Ok(Value::Null);
    };
    // A model answers from the project's facts; if it fails, the rules' answer stands and
    // says why. Either way the reply shows the call, and the project counts it, in one write.
    let usage = answered.usage;
    match (answered.text, &usage.fallback) {
        (Some(text), _) => reply.content = text,
        (None, why) => {
            reply.content = format!(
                "{} Note: I answered with the rules instead of {} ({}), because {}.",
                reply.content,
                usage.model,
                usage.provider,
                why.as_deref().unwrap_or("the model gave no answer")
            )
        }
    }
    reply.blocks.push(Block::Usage {
        usage: usage.clone(),
    });
    change_and_say(ctx, input, (Step::Answer, "answer"), |p| {
        p.model_usage.add(&usage);
        Ok(Some(reply.clone()))
    })
    .await?;
    record_usage(ctx, input, usage).await?;
    Ok(Value::Null)
}
