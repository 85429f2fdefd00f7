//! An interpreter for the subset of the Amazon States Language that Kiln's pipeline uses:
//! Pass, Task, Choice, Wait, Succeed, Fail and Parallel; InputPath, Parameters, ResultSelector,
//! ResultPath and OutputPath; Retry and Catch; `States.ALL`, `States.TaskFailed`,
//! `States.Timeout`; TimeoutSeconds. Task resources are handed to a [`TaskHandler`].

mod choice;
mod paths;

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::future::{join_all, BoxFuture};
use serde_json::{json, Value};

/// An error of an execution or a task, as ASL names them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}: {cause}")]
pub struct Failure {
    /// The error name, e.g. `States.Timeout` or `Kiln.NothingToBuild`.
    pub error: String,
    /// A human explanation.
    pub cause: String,
}

impl Failure {
    /// A failure with this name and cause.
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Failure {
            error: error.into(),
            cause: cause.into(),
        }
    }

    /// `States.Runtime`: the definition or the data broke a rule.
    pub fn runtime(cause: impl Into<String>) -> Self {
        Failure::new("States.Runtime", cause)
    }
}

/// Runs the work of Task states.
#[async_trait]
pub trait TaskHandler: Send + Sync {
    /// Runs `resource` for the Task state `state` with the effective input.
    async fn invoke(&self, state: &str, resource: &str, input: Value) -> Result<Value, Failure>;
}

/// A parsed state machine.
#[derive(Debug, Clone)]
pub struct StateMachine {
    start_at: String,
    states: HashMap<String, Value>,
    timeout_seconds: Option<f64>,
}

/// Why a definition was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid state machine: {0}")]
pub struct DefinitionError(pub String);

const TYPES: &[&str] = &[
    "Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel",
];

impl StateMachine {
    /// Parses and checks a definition: every state has a known type, every transition leads to
    /// a state that exists, and non-terminal states say where to go.
    pub fn from_value(def: &Value) -> Result<Self, DefinitionError> {
        let err = |m: String| DefinitionError(m);
        let start_at = def["StartAt"]
            .as_str()
            .ok_or_else(|| err("StartAt is missing".into()))?;
        let states = def["States"]
            .as_object()
            .ok_or_else(|| err("States is missing".into()))?;
        if !states.contains_key(start_at) {
            return Err(err(format!(
                "StartAt names {start_at:?}, which is not a state"
            )));
        }
        for (name, state) in states {
            let ty = state["Type"].as_str().unwrap_or_default();
            if !TYPES.contains(&ty) {
                return Err(err(format!(
                    "state {name:?} has the unsupported type {ty:?}"
                )));
            }
            let mut targets: Vec<&str> = Vec::new();
            targets.extend(state["Next"].as_str());
            targets.extend(state["Default"].as_str());
            for list in ["Choices", "Catch"] {
                if let Some(items) = state[list].as_array() {
                    targets.extend(items.iter().filter_map(|c| c["Next"].as_str()));
                }
            }
            for t in targets {
                if !states.contains_key(t) {
                    return Err(err(format!(
                        "state {name:?} leads to {t:?}, which is not a state"
                    )));
                }
            }
            let terminal =
                matches!(ty, "Succeed" | "Fail" | "Choice") || state["End"] == json!(true);
            if !terminal && state["Next"].as_str().is_none() {
                return Err(err(format!("state {name:?} has neither Next nor End")));
            }
            if ty == "Fail" {
                for (fixed, path) in [("Error", "ErrorPath"), ("Cause", "CausePath")] {
                    if state.get(fixed).is_some() && state.get(path).is_some() {
                        return Err(err(format!(
                            "fail state {name:?} has both {fixed} and {path}"
                        )));
                    }
                    if let Some(p) = state.get(path) {
                        if !p
                            .as_str()
                            .is_some_and(|p| p.starts_with('$') && paths::is_definite(p))
                        {
                            return Err(err(format!(
                                "{path} of fail state {name:?} must be a reference path to \
                                 one value (this interpreter does not run intrinsic functions \
                                 there)"
                            )));
                        }
                    }
                }
            }
            if ty == "Choice" && state["Choices"].as_array().is_none_or(Vec::is_empty) {
                return Err(err(format!("choice state {name:?} has no Choices")));
            }
            if ty == "Parallel" {
                for branch in state["Branches"].as_array().into_iter().flatten() {
                    StateMachine::from_value(branch)?;
                }
            }
        }
        Ok(StateMachine {
            start_at: start_at.to_owned(),
            states: states.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            timeout_seconds: def["TimeoutSeconds"].as_f64(),
        })
    }

    /// Parses a definition from JSON text.
    pub fn from_json(text: &str) -> Result<Self, DefinitionError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| DefinitionError(format!("not JSON: {e}")))?;
        Self::from_value(&value)
    }

    /// The Task states' `Parameters.step` values, i.e. the agent steps the machine can call.
    pub fn task_steps(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .states
            .values()
            .filter(|s| s["Type"] == "Task")
            .filter_map(|s| s["Parameters"]["step"].as_str().map(str::to_owned))
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

/// How an execution treats time.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Multiplies every Wait and Retry interval: 1.0 is real time, 0.0 never waits.
    pub time_scale: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options { time_scale: 1.0 }
    }
}

/// Observes an execution: called as each state is entered and left.
pub trait Observer: Send + Sync {
    /// A state is entered.
    fn entered(&self, _state: &str, _ty: &str) {}
    /// A state is left, with its failure if it failed.
    fn exited(&self, _state: &str, _ty: &str, _failure: Option<&Failure>) {}
}

struct Nobody;
impl Observer for Nobody {}

/// Runs `machine` on `input`, returning its output or the failure that ended it.
pub async fn execute(
    machine: &StateMachine,
    input: Value,
    handler: &dyn TaskHandler,
    options: Options,
    observer: Option<&dyn Observer>,
) -> Result<Value, Failure> {
    let context = json!({"Execution": {"Input": input.clone()}});
    let run = Run {
        handler,
        options,
        observer: observer.unwrap_or(&Nobody),
        context,
    };
    match machine.timeout_seconds {
        // Time limits are never scaled: only Wait and Retry intervals are.
        Some(secs) => {
            tokio::time::timeout(Duration::from_secs_f64(secs), run.states(machine, input))
                .await
                .unwrap_or_else(|_| {
                    Err(Failure::new(
                        "States.Timeout",
                        "the execution ran out of time",
                    ))
                })
        }
        None => run.states(machine, input).await,
    }
}

struct Run<'a> {
    handler: &'a dyn TaskHandler,
    options: Options,
    observer: &'a dyn Observer,
    context: Value,
}

impl Run<'_> {
    fn scaled(&self, seconds: f64) -> Duration {
        Duration::from_secs_f64((seconds * self.options.time_scale).max(0.0))
    }

    fn states<'s>(
        &'s self,
        machine: &'s StateMachine,
        input: Value,
    ) -> BoxFuture<'s, Result<Value, Failure>> {
        Box::pin(async move {
            let mut name = machine.start_at.clone();
            let mut data = input;
            // A bound on transitions, so a loop that never ends is an error, not a hang.
            for _ in 0..10_000 {
                let state = &machine.states[&name];
                let ty = state["Type"].as_str().unwrap_or_default();
                self.observer.entered(&name, ty);
                let outcome = self.state(&name, state, data).await;
                self.observer.exited(&name, ty, outcome.as_ref().err());
                match outcome? {
                    (output, Some(next)) => {
                        data = output;
                        name = next;
                    }
                    (output, None) => return Ok(output),
                }
            }
            Err(Failure::runtime("more than 10,000 state transitions"))
        })
    }

    /// Runs one state: its output, and the next state's name unless it ended the machine.
    async fn state(
        &self,
        name: &str,
        s: &Value,
        input: Value,
    ) -> Result<(Value, Option<String>), Failure> {
        let ctx = {
            let mut c = self.context.clone();
            c["State"] = json!({"Name": name});
            c
        };
        let next = s["Next"].as_str().map(str::to_owned);
        match s["Type"].as_str().unwrap_or_default() {
            "Pass" => {
                let effective = self.effective_input(s, &input, &ctx)?;
                let result = s.get("Result").cloned().unwrap_or(effective);
                let merged = paths::merge(s.get("ResultPath"), &input, result)?;
                Ok((paths::select(s.get("OutputPath"), &merged, &ctx)?, next))
            }
            "Succeed" => {
                let selected = paths::select(s.get("InputPath"), &input, &ctx)?;
                Ok((paths::select(s.get("OutputPath"), &selected, &ctx)?, None))
            }
            "Fail" => {
                // `ErrorPath` and `CausePath` are reference paths into the state's input that
                // must select a string (intrinsic functions are refused with the definition).
                let field = |fixed: &str, path: &str, otherwise: &str| match s[path].as_str() {
                    Some(p) => match paths::read(p, &input, &ctx)? {
                        Value::String(text) => Ok(text),
                        other => Err(Failure::runtime(format!(
                            "{path} {p} of state {name:?} selects {other}, not a string"
                        ))),
                    },
                    None => Ok(s[fixed].as_str().unwrap_or(otherwise).to_owned()),
                };
                let error = field("Error", "ErrorPath", "States.Fail")?;
                let cause = field("Cause", "CausePath", "")?;
                Err(Failure::new(error, cause))
            }
            "Choice" => {
                let selected = paths::select(s.get("InputPath"), &input, &ctx)?;
                let mut target = None;
                for rule in s["Choices"].as_array().into_iter().flatten() {
                    if choice::matches(rule, &selected, &ctx)? {
                        target = rule["Next"].as_str().map(str::to_owned);
                        break;
                    }
                }
                let target = target
                    .or_else(|| s["Default"].as_str().map(str::to_owned))
                    .ok_or_else(|| {
                        Failure::new(
                            "States.NoChoiceMatched",
                            format!("no choice of {name:?} matched"),
                        )
                    })?;
                Ok((
                    paths::select(s.get("OutputPath"), &selected, &ctx)?,
                    Some(target),
                ))
            }
            "Wait" => {
                let selected = paths::select(s.get("InputPath"), &input, &ctx)?;
                let seconds = if let Some(n) = s["Seconds"].as_f64() {
                    n
                } else if let Some(p) = s["SecondsPath"].as_str() {
                    paths::read(p, &selected, &ctx)?
                        .as_f64()
                        .ok_or_else(|| Failure::runtime("SecondsPath must select a number"))?
                } else if let Some(ts) = s["Timestamp"].as_str().map(str::to_owned).or_else(|| {
                    s["TimestampPath"]
                        .as_str()
                        .and_then(|p| paths::read(p, &selected, &ctx).ok())
                        .and_then(|v| v.as_str().map(str::to_owned))
                }) {
                    let at = time::OffsetDateTime::parse(
                        &ts,
                        &time::format_description::well_known::Rfc3339,
                    )
                    .map_err(|_| Failure::runtime(format!("{ts:?} is not a timestamp")))?;
                    (at - time::OffsetDateTime::now_utc())
                        .as_seconds_f64()
                        .max(0.0)
                } else {
                    return Err(Failure::runtime(format!(
                        "wait state {name:?} says no time"
                    )));
                };
                tokio::time::sleep(self.scaled(seconds)).await;
                Ok((paths::select(s.get("OutputPath"), &selected, &ctx)?, next))
            }
            "Task" | "Parallel" => self.with_retry_and_catch(name, s, input, &ctx, next).await,
            other => Err(Failure::runtime(format!(
                "unsupported state type {other:?}"
            ))),
        }
    }

    fn effective_input(&self, s: &Value, input: &Value, ctx: &Value) -> Result<Value, Failure> {
        let selected = paths::select(s.get("InputPath"), input, ctx)?;
        match s.get("Parameters") {
            Some(template) => paths::fill(template, &selected, ctx),
            None => Ok(selected),
        }
    }

    /// Runs a Task or Parallel state's work under its Retry and Catch rules.
    async fn with_retry_and_catch(
        &self,
        name: &str,
        s: &Value,
        input: Value,
        ctx: &Value,
        next: Option<String>,
    ) -> Result<(Value, Option<String>), Failure> {
        let mut attempts: Vec<u32> = vec![0; s["Retry"].as_array().map_or(0, Vec::len)];
        let outcome = loop {
            let attempt = self.work(name, s, &input, ctx).await;
            let failure = match attempt {
                Ok(result) => break Ok(result),
                Err(f) => f,
            };
            let retriers = s["Retry"].as_array().map(Vec::as_slice).unwrap_or_default();
            let Some(i) = retriers
                .iter()
                .position(|r| error_matches(&r["ErrorEquals"], &failure.error))
            else {
                break Err(failure);
            };
            let r = &retriers[i];
            let max = r["MaxAttempts"].as_u64().unwrap_or(3) as u32;
            if attempts[i] >= max {
                break Err(failure);
            }
            attempts[i] += 1;
            let interval = r["IntervalSeconds"].as_f64().unwrap_or(1.0);
            let rate = r["BackoffRate"].as_f64().unwrap_or(2.0);
            let mut delay = interval * rate.powi(attempts[i] as i32 - 1);
            if let Some(cap) = r["MaxDelaySeconds"].as_f64() {
                delay = delay.min(cap);
            }
            tokio::time::sleep(self.scaled(delay)).await;
        };
        match outcome {
            Ok(result) => {
                let selected = match s.get("ResultSelector") {
                    Some(template) => paths::fill(template, &result, ctx)?,
                    None => result,
                };
                let merged = paths::merge(s.get("ResultPath"), &input, selected)?;
                Ok((paths::select(s.get("OutputPath"), &merged, ctx)?, next))
            }
            Err(failure) => {
                let catchers = s["Catch"].as_array().map(Vec::as_slice).unwrap_or_default();
                match catchers
                    .iter()
                    .find(|c| error_matches(&c["ErrorEquals"], &failure.error))
                {
                    Some(c) => {
                        let error = json!({"Error": failure.error, "Cause": failure.cause});
                        let path = c.get("ResultPath").cloned().unwrap_or(json!("$"));
                        let merged = paths::merge(Some(&path), &input, error)?;
                        Ok((merged, c["Next"].as_str().map(str::to_owned)))
                    }
                    None => Err(failure),
                }
            }
        }
    }

    /// One attempt at a Task's invocation or a Parallel's branches, under TimeoutSeconds.
    async fn work(
        &self,
        name: &str,
        s: &Value,
        input: &Value,
        ctx: &Value,
    ) -> Result<Value, Failure> {
        let effective = self.effective_input(s, input, ctx)?;
        let job = async {
            if s["Type"] == "Parallel" {
                let branches: Vec<StateMachine> = s["Branches"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(StateMachine::from_value)
                    .collect::<Result<_, _>>()
                    .map_err(|e| Failure::runtime(e.0))?;
                let results =
                    join_all(branches.iter().map(|b| self.states(b, effective.clone()))).await;
                results
                    .into_iter()
                    .collect::<Result<Vec<_>, _>>()
                    .map(Value::Array)
            } else {
                let resource = s["Resource"]
                    .as_str()
                    .ok_or_else(|| Failure::runtime(format!("task {name:?} has no Resource")))?;
                self.handler.invoke(name, resource, effective.clone()).await
            }
        };
        match s["TimeoutSeconds"].as_f64() {
            Some(secs) => tokio::time::timeout(Duration::from_secs_f64(secs), job)
                .await
                .unwrap_or_else(|_| {
                    Err(Failure::new(
                        "States.Timeout",
                        format!("{name} ran longer than {secs} s"),
                    ))
                }),
            None => job.await,
        }
    }
}

/// Whether an `ErrorEquals` list covers `error`. `States.ALL` covers everything;
/// `States.TaskFailed` everything but `States.Timeout`.
fn error_matches(list: &Value, error: &str) -> bool {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .any(|e| {
            e == error
                || e == "States.ALL"
                || (e == "States.TaskFailed" && error != "States.Timeout")
        })
}

#[cfg(test)]
mod tests;
