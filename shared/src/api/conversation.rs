//! Messages, the conversation, and runs.

use std::convert::Infallible;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use utoipa::ToSchema;

use super::error::{parse_id, ApiError, Body, ErrorBody, Params};
use super::projects::{check_limit, check_text, ListQuery};
use super::AppState;
use crate::intent::classify;
use crate::model::{now, Intent, Message, Owner, Run, RunError, RunInput, RunStatus};
use crate::store::{MessageJson, PageRequest, ProjectEvent, MAX_PAGE};

/// Starts a stored, queued run. If the workflow cannot start it, the run fails with the reason
/// (unless a step wrote it meanwhile) and the error is the answer: no run stays queued for
/// ever, and the message can be sent again with the same `client_id` to start it.
pub(super) async fn start_run(state: &AppState, input: RunInput) -> Result<(), ApiError> {
    let (project_id, run_id) = (input.project_id, input.run_id);
    let Err(e) = state.workflow.start(input).await else {
        return Ok(());
    };
    tracing::warn!(error = %e, "the run could not be started");
    let mut run = state.agents.projects.get_run(project_id, run_id).await?;
    run.status = RunStatus::Failed;
    run.error = Some(RunError::not_started(&format!(
        "The pipeline could not be started ({e})"
    )));
    run.updated_at = now();
    state
        .agents
        .projects
        .update_run_from(&run, RunStatus::Queued)
        .await?;
    Err(e.into())
}

/// Longest client id, in characters.
pub const MAX_CLIENT_ID_CHARS: usize = 128;

/// Body of `POST …/messages`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostMessage {
    /// What the user says: not only blanks, no control characters but line breaks and tabs.
    #[schema(
        min_length = 1,
        max_length = 8000,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub content: String,
    /// The client's idempotency key: a retry with the same key returns the first answer. No
    /// control characters.
    #[serde(default)]
    #[schema(max_length = 128, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    pub client_id: Option<String>,
}

/// Answer of `POST …/messages`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PostedMessage {
    /// The stored message.
    pub message: Message,
    /// The run it started.
    pub run: Run,
}

/// A page of the conversation, or what changed in it since an `after` mark.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MessagePage {
    /// Oldest first; with `after`, only the messages that are new since that mark.
    pub items: Vec<Message>,
    /// Pass back as `cursor` for the next page; absent on the last page, and on pages read
    /// backwards (`latest`, `before`), which page on with `before`.
    pub next_cursor: Option<String>,
    /// With `latest` or `before`: pass back as `before` for the messages just before these;
    /// absent when these begin the conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// Pass back as `after` to get only what changed since this answer; on the last page
    /// (the answer to `latest` is one), and on every answer to `after`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// With `after`: the runs that were going at that mark or belong to the new messages, as
    /// they are now.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<Run>,
}

/// A [`MessagePage`] of the messages' JSON as the store hands it out, written with the same
/// fields in the same order: a page of the conversation is not read into messages and written
/// again, and its messages' JSON goes into the body as it is ([`MessageJson`]).
#[derive(Debug)]
pub struct MessageJsonPage {
    /// As [`MessagePage::items`].
    pub items: Vec<MessageJson>,
    /// As [`MessagePage::next_cursor`].
    pub next_cursor: Option<String>,
    /// As [`MessagePage::before`], left out when absent.
    pub before: Option<String>,
    /// As [`MessagePage::after`], left out when absent.
    pub after: Option<String>,
}

impl MessageJsonPage {
    /// The page as JSON, in one buffer of the size it needs.
    pub fn to_json(&self) -> serde_json::Result<Vec<u8>> {
        let marks = [&self.next_cursor, &self.before, &self.after];
        let size = self.items.iter().map(|m| m.get().len() + 1).sum::<usize>()
            + marks
                .iter()
                .flat_map(|m| m.as_deref())
                .map(str::len)
                .sum::<usize>()
            + 64;
        let mut out = Vec::with_capacity(size);
        out.extend_from_slice(br#"{"items":["#);
        for (i, message) in self.items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(message.get().as_bytes());
        }
        out.extend_from_slice(br#"],"next_cursor":"#);
        serde_json::to_writer(&mut out, &self.next_cursor)?;
        for (name, mark) in [("before", &self.before), ("after", &self.after)] {
            if let Some(mark) = mark {
                out.extend_from_slice(format!(r#","{name}":"#).as_bytes());
                serde_json::to_writer(&mut out, mark)?;
            }
        }
        out.push(b'}');
        Ok(out)
    }
}

impl IntoResponse for MessageJsonPage {
    fn into_response(self) -> Response {
        match self.to_json() {
            Ok(body) => super::json_answer(body),
            Err(e) => ApiError::from(crate::store::StoreError::failed_with("writing a page", e))
                .into_response(),
        }
    }
}

/// Paging through the conversation, forwards from its start or backwards from its end, or
/// asking what changed since a mark.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConversationQuery {
    /// Items per page, 1–200 (default 50); with `before`, how many messages before it.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `after` of an earlier answer: only what changed since it (no paging).
    pub after: Option<String>,
    /// The newest this many messages, 1–200, oldest first, with `before` for the page before
    /// them and `after` to follow on (no other parameter).
    #[param(minimum = 1, maximum = 200)]
    pub latest: Option<u32>,
    /// `before` of an earlier answer: the `limit` messages just before those it answered.
    pub before: Option<String>,
}

/// A conversation query the server does not take: ways of reading it mixed, or a bound passed.
fn bad_query(what: &str) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", what.to_owned())
}

/// The conversation read backwards: the newest `latest` messages, or those before a `before`
/// cursor, with the cursor of the page before them; the newest page also carries the `after`
/// mark that follows on from it.
async fn read_backwards(
    state: &AppState,
    project_id: uuid::Uuid,
    query: ConversationQuery,
) -> Result<MessageJsonPage, ApiError> {
    if query.cursor.is_some() {
        return Err(bad_query(
            "`latest` and `before` page backwards and take no `cursor` (page on with `before`)",
        ));
    }
    let newest = query.latest.is_some();
    if newest && (query.before.is_some() || query.limit.is_some()) {
        return Err(bad_query(
            "`latest` asks for the newest messages and takes no `before` or `limit`",
        ));
    }
    let limit = match query.latest {
        Some(n) if !(1..=MAX_PAGE).contains(&n) => {
            return Err(bad_query(&format!(
                "latest must be from 1 to {MAX_PAGE}: how many of the newest messages to answer"
            )))
        }
        Some(n) => Some(n),
        None => check_limit(query.limit, MAX_PAGE)?,
    };
    let at = now();
    let page = state
        .agents
        .projects
        .list_messages_backwards_json(
            project_id,
            &PageRequest {
                limit,
                cursor: query.before,
            },
        )
        .await?;
    let after = if newest {
        Some(super::follow::mark_after_last_page(state, project_id, at, &page.items).await?)
    } else {
        None
    };
    Ok(MessageJsonPage {
        items: page.items,
        next_cursor: None,
        before: page.next_cursor,
        after,
    })
}

/// Send a message to the project's crew.
#[utoipa::path(
    post,
    path = "/api/v2/projects/{id}/messages",
    tag = "conversation",
    params(("id" = String, Path, description = "Project id")),
    request_body = PostMessage,
    responses(
        (status = 202, description = "Stored; the run is under way or done", body = PostedMessage),
        (status = 200, description = "A retry with a known client_id: the first answer", body = PostedMessage),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 409, description = "The `client_id` is the key of one of Kiln's replies (`conflict`), never a message's", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Empty or too long", body = ErrorBody),
    )
)]
pub async fn post_message(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    Path(id): Path<String>,
    Body(body): Body<PostMessage>,
) -> Result<(StatusCode, Json<PostedMessage>), ApiError> {
    let project_id = parse_id(&id, "project")?;
    let content = body.content.trim();
    if content.is_empty() {
        return Err(ApiError::invalid("`content` must not be empty"));
    }
    check_text("content", content, state.limits.max_message_chars, true)?;
    let client_id = body
        .client_id
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty());
    if let Some(c) = &client_id {
        check_text("client_id", c, MAX_CLIENT_ID_CHARS, false)?;
    }
    let project = state
        .agents
        .projects
        .get_project(&owner, project_id)
        .await?;

    // While a question is open, a reply that is not a request for the crew is its answer.
    let intent = match classify(content, project.spec.is_some()) {
        Intent::Question if project.pending_question.is_some() => Intent::Refine,
        other => other,
    };
    let mut message = Message::from_user(project_id, content.to_owned(), client_id);
    let run = Run::queued(project_id, message.id, intent);
    message.run_id = Some(run.id);
    let posted = state
        .agents
        .projects
        .post_user_message(&message, &run)
        .await?;
    if !posted.created {
        // A retry. If the first attempt stored the message but could not start its run, this
        // one starts it (unless another retry already did).
        let mut stored = state
            .agents
            .projects
            .get_run(project_id, posted.run.id)
            .await?;
        let unstarted = stored
            .error
            .as_ref()
            .is_some_and(|e| e.code == RunError::NOT_STARTED);
        let mut restarted = false;
        if unstarted {
            let mut queued = stored.clone();
            queued.status = RunStatus::Queued;
            queued.error = None;
            queued.updated_at = now();
            restarted = state
                .agents
                .projects
                .update_run_from(&queued, RunStatus::Failed)
                .await?;
        }
        if restarted {
            super::trace::record(project_id, Some(stored.id));
            let input = RunInput {
                project_id,
                run_id: stored.id,
                message_id: posted.message.id,
                intent: stored.intent,
                owner,
            };
            start_run(&state, input).await?;
        }
        if unstarted {
            stored = state.agents.projects.get_run(project_id, stored.id).await?;
        }
        let status = if restarted {
            StatusCode::ACCEPTED
        } else {
            StatusCode::OK
        };
        return Ok((
            status,
            Json(PostedMessage {
                message: posted.message,
                run: stored,
            }),
        ));
    }
    super::trace::record(project_id, Some(run.id));
    tracing::info!(intent = intent.as_str(), "message posted");
    start_run(
        &state,
        RunInput {
            project_id,
            run_id: run.id,
            message_id: message.id,
            intent,
            owner,
        },
    )
    .await?;
    let run = state.agents.projects.get_run(project_id, run.id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(PostedMessage {
            message: posted.message,
            run,
        }),
    ))
}

/// Read the conversation, oldest first: a page at a time from its start (`cursor`), or from
/// its end (`latest`, then `before`), or only what changed since a mark (`after`).
#[utoipa::path(
    get,
    path = "/api/v2/projects/{id}/conversation",
    tag = "conversation",
    params(("id" = String, Path, description = "Project id"), ConversationQuery),
    responses(
        (status = 200, description = "A page of messages, or what changed since `after`", body = MessagePage),
        (status = 400, description = "Bad paging parameters, a cursor or mark this server did not hand out, or ways of reading mixed", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
    )
)]
pub async fn list_conversation(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    Path(id): Path<String>,
    Params(query): Params<ConversationQuery>,
) -> Result<Response, ApiError> {
    let project_id = parse_id(&id, "project")?;
    state
        .agents
        .projects
        .check_owner(&owner, project_id)
        .await?;
    if let Some(after) = &query.after {
        if query.cursor.is_some()
            || query.limit.is_some()
            || query.latest.is_some()
            || query.before.is_some()
        {
            return Err(bad_query(
                "`after` asks for what changed since a mark and takes no `cursor`, `limit`, `latest` or `before`",
            ));
        }
        return Ok(Json(super::follow::changes(&state, project_id, after).await?).into_response());
    }
    if query.latest.is_some() || query.before.is_some() {
        return Ok(read_backwards(&state, project_id, query)
            .await?
            .into_response());
    }
    let at = now();
    let page = state
        .agents
        .projects
        .list_messages_json(
            project_id,
            &ListQuery {
                limit: query.limit,
                cursor: query.cursor,
            }
            .page()?,
        )
        .await?;
    let after = match page.next_cursor {
        None => {
            Some(super::follow::mark_after_last_page(&state, project_id, at, &page.items).await?)
        }
        Some(_) => None,
    };
    Ok(MessageJsonPage {
        items: page.items,
        next_cursor: page.next_cursor,
        before: None,
        after,
    }
    .into_response())
}

/// Follow the project: its new messages and run changes, as server-sent events named
/// `message` and `run` whose data is the JSON of a Message or a Run.
#[utoipa::path(
    get,
    path = "/api/v2/projects/{id}/events",
    tag = "conversation",
    params(("id" = String, Path, description = "Project id")),
    responses(
        (status = 200, description = "An event stream", content_type = "text/event-stream"),
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 501, description = "This backend does not stream; poll the run instead", body = ErrorBody),
    )
)]
pub async fn events(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let project_id = parse_id(&id, "project")?;
    state
        .agents
        .projects
        .check_owner(&owner, project_id)
        .await?;
    let source = state.events.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "not_streaming",
            "this backend does not stream events; poll GET …/runs/{run_id} instead",
        )
    })?;
    let receiver = source.subscribe();
    let stream = futures_util::stream::unfold(receiver, move |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(event) if event.project_id() == project_id => {
                    let data = match &event {
                        ProjectEvent::Message(m) => serde_json::to_string(m),
                        ProjectEvent::Run(r) => serde_json::to_string(r),
                    }
                    .unwrap_or_default();
                    return Some((Ok(Event::default().event(event.name()).data(data)), rx));
                }
                Ok(_) => continue,
                // A slow reader missed events: tell it to reload, then go on.
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    return Some((Ok(Event::default().event("reload").data("{}")), rx));
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// Read a run: its status and steps.
#[utoipa::path(
    get,
    path = "/api/v2/projects/{id}/runs/{run_id}",
    tag = "conversation",
    params(
        ("id" = String, Path, description = "Project id"),
        ("run_id" = String, Path, description = "Run id"),
    ),
    responses(
        (status = 200, description = "The run", body = Run),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 404, description = "No such project or run", body = ErrorBody),
    )
)]
pub async fn get_run(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    Path((id, run_id)): Path<(String, String)>,
) -> Result<Json<Run>, ApiError> {
    let project_id = parse_id(&id, "project")?;
    let run_id = parse_id(&run_id, "run")?;
    state
        .agents
        .projects
        .check_owner(&owner, project_id)
        .await?;
    Ok(Json(
        state.agents.projects.get_run(project_id, run_id).await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(
        items: &[&str],
        next: Option<&str>,
        before: Option<&str>,
        after: Option<&str>,
    ) -> String {
        let page = MessageJsonPage {
            items: items
                .iter()
                .map(|m| MessageJson::checked((*m).to_owned(), "m").unwrap())
                .collect(),
            next_cursor: next.map(str::to_owned),
            before: before.map(str::to_owned),
            after: after.map(str::to_owned),
        };
        String::from_utf8(page.to_json().unwrap()).unwrap()
    }

    /// The body holds each message's JSON as stored, and the page's fields as a
    /// [`MessagePage`] is written: `next_cursor` always, `before` and `after` when given.
    #[test]
    fn a_page_is_written_with_its_messages_as_stored() {
        assert_eq!(
            page(&[], None, None, None),
            r#"{"items":[],"next_cursor":null}"#
        );
        assert_eq!(
            page(
                &[r#"{"id":"a","content":"say \"hi\"\n"}"#, r#"{"id":"b"}"#],
                Some("bmV4dA"),
                None,
                None
            ),
            r#"{"items":[{"id":"a","content":"say \"hi\"\n"},{"id":"b"}],"next_cursor":"bmV4dA"}"#
        );
        assert_eq!(
            page(&[r#"{"id":"c"}"#], None, Some("b\"4"), Some("af")),
            r#"{"items":[{"id":"c"}],"next_cursor":null,"before":"b\"4","after":"af"}"#
        );
    }
}
