//! One test per state type and per rule, with expected outputs worked out from the ASL
//! specification.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use super::*;

/// Task resources for the tests: `echo` returns its input, `fail:NAME` fails with NAME,
/// `flaky` fails twice then succeeds, `slow` takes a second.
#[derive(Default)]
struct Resources {
    calls: AtomicU32,
    seen: Mutex<Vec<(String, Value)>>,
}

#[async_trait]
impl TaskHandler for Resources {
    async fn invoke(&self, state: &str, resource: &str, input: Value) -> Result<Value, Failure> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        self.seen
            .lock()
            .unwrap()
            .push((state.to_owned(), input.clone()));
        match resource {
            "echo" => Ok(input),
            "flaky" if n <= 2 => Err(Failure::new("Kiln.Transient", format!("attempt {n}"))),
            "flaky" => Ok(json!({"attempts": n})),
            "slow" => {
                tokio::time::sleep(Duration::from_secs(1)).await;
                Ok(json!("late"))
            }
            r => match r.strip_prefix("fail:") {
                Some(name) => Err(Failure::new(name, "it failed")),
                None => Err(Failure::runtime(format!("unknown resource {r}"))),
            },
        }
    }
}

async fn run(def: Value, input: Value) -> (Result<Value, Failure>, Resources) {
    let machine = StateMachine::from_value(&def).expect("valid definition");
    let resources = Resources::default();
    let out = execute(
        &machine,
        input,
        &resources,
        Options { time_scale: 0.0 },
        None,
    )
    .await;
    (out, resources)
}

#[tokio::test]
async fn pass_injects_its_result_at_the_result_path() {
    let def = json!({"StartAt": "P", "States": {"P": {
        "Type": "Pass", "Result": {"x": 1}, "ResultPath": "$.injected", "End": true}}});
    let (out, _) = run(def, json!({"keep": true})).await;
    assert_eq!(out.unwrap(), json!({"keep": true, "injected": {"x": 1}}));
}

#[tokio::test]
async fn pass_without_result_passes_its_effective_input() {
    let def = json!({"StartAt": "P", "States": {"P": {
        "Type": "Pass", "InputPath": "$.a", "Parameters": {"b.$": "$.b", "c": 3}, "End": true}}});
    let (out, _) = run(def, json!({"a": {"b": 2}, "z": 0})).await;
    assert_eq!(out.unwrap(), json!({"b": 2, "c": 3}));
}

#[tokio::test]
async fn task_input_and_output_processing_in_order() {
    // InputPath → Parameters → invoke → ResultSelector → ResultPath → OutputPath.
    let def = json!({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "echo",
        "InputPath": "$.order",
        "Parameters": {"id.$": "$.id", "fixed": "yes"},
        "ResultSelector": {"echoed.$": "$.id"},
        "ResultPath": "$.order.result",
        "OutputPath": "$.order",
        "End": true}}});
    let (out, res) = run(def, json!({"order": {"id": 7}, "other": 1})).await;
    assert_eq!(out.unwrap(), json!({"id": 7, "result": {"echoed": 7}}));
    assert_eq!(
        res.seen.lock().unwrap()[0].1,
        json!({"id": 7, "fixed": "yes"})
    );
}

#[tokio::test]
async fn choice_routes_by_the_first_matching_rule_then_the_default() {
    let def = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [
            {"Variable": "$.n", "NumericLessThan": 0, "Next": "Negative"},
            {"And": [{"Variable": "$.n", "NumericGreaterThanEquals": 0},
                     {"Variable": "$.n", "NumericLessThan": 10}], "Next": "Small"}
        ], "Default": "Big"},
        "Negative": {"Type": "Pass", "Result": "negative", "End": true},
        "Small": {"Type": "Pass", "Result": "small", "End": true},
        "Big": {"Type": "Pass", "Result": "big", "End": true}}});
    for (n, want) in [(-1, "negative"), (3, "small"), (42, "big")] {
        assert_eq!(
            run(def.clone(), json!({"n": n})).await.0.unwrap(),
            json!(want)
        );
    }
    let no_default = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "S"}]},
        "S": {"Type": "Succeed"}}});
    assert_eq!(
        run(no_default, json!({"n": 2})).await.0.unwrap_err().error,
        "States.NoChoiceMatched"
    );
}

/// Runs `def` at full time scale on tokio's paused clock, which moves only when everything
/// waits: returns the output and how much (virtual) time the execution spent.
async fn run_on_paused_clock(def: Value, input: Value) -> (Result<Value, Failure>, Duration) {
    let machine = StateMachine::from_value(&def).expect("valid definition");
    let started = tokio::time::Instant::now();
    let out = execute(
        &machine,
        input,
        &Resources::default(),
        Options { time_scale: 1.0 },
        None,
    )
    .await;
    (out, started.elapsed())
}

#[tokio::test(start_paused = true)]
async fn wait_waits_then_passes_its_input_on() {
    let def = json!({"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 5, "Next": "V"},
        "V": {"Type": "Wait", "SecondsPath": "$.delay", "Next": "T"},
        "T": {"Type": "Wait", "Timestamp": "2020-01-01T00:00:00Z", "End": true}}});
    let (out, took) = run_on_paused_clock(def, json!({"delay": 3})).await;
    assert_eq!(out.unwrap(), json!({"delay": 3}));
    // 5 s, then the 3 s the input names; a timestamp in the past waits not at all.
    assert_eq!(took.as_secs(), 8, "{took:?}");
    // A timestamp ahead is waited for until it comes.
    let at = (time::OffsetDateTime::now_utc() + time::Duration::seconds(120))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Wait", "TimestampPath": "$.at", "End": true}}});
    let (out, took) = run_on_paused_clock(def, json!({ "at": at })).await;
    out.unwrap();
    assert!((118..=120).contains(&took.as_secs()), "{took:?}");
}

#[tokio::test]
async fn succeed_applies_its_paths_and_fail_reports_error_and_cause() {
    let def = json!({"StartAt": "S", "States": {"S": {"Type": "Succeed", "OutputPath": "$.x"}}});
    assert_eq!(run(def, json!({"x": [1]})).await.0.unwrap(), json!([1]));
    let def = json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Kiln.Bad", "Cause": "because"}}});
    assert_eq!(
        run(def, json!({})).await.0.unwrap_err(),
        Failure::new("Kiln.Bad", "because")
    );
}

#[tokio::test]
async fn fail_reads_its_error_and_cause_from_the_input_by_path() {
    let def = json!({"StartAt": "F", "States": {"F": {
        "Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"}}});
    let input = json!({"error": {"Error": "Kiln.nothing_to_build", "Cause": "describe it"}});
    let (out, _) = run(def.clone(), input).await;
    assert_eq!(
        out.unwrap_err(),
        Failure::new("Kiln.nothing_to_build", "describe it")
    );
    // The path must select a string: anything else is the data breaking a rule.
    let (out, _) = run(def.clone(), json!({"error": {"Error": "E", "Cause": 3}})).await;
    let failure = out.unwrap_err();
    assert_eq!(failure.error, "States.Runtime");
    assert!(failure.cause.contains("CausePath"), "{failure:?}");
    let (out, _) = run(def, json!({"error": {"Cause": "c"}})).await;
    assert_eq!(out.unwrap_err().error, "States.Runtime");
}

#[test]
fn a_fail_state_takes_a_value_or_a_path_not_both() {
    for state in [
        json!({"Type": "Fail", "Cause": "c", "CausePath": "$.c"}),
        json!({"Type": "Fail", "Error": "E", "ErrorPath": "$.e"}),
        // Intrinsic functions are allowed there on AWS; this interpreter does not run them.
        json!({"Type": "Fail", "CausePath": "States.Format('{}', $.c)"}),
        // A reference path names one value.
        json!({"Type": "Fail", "CausePath": "$..c"}),
        json!({"Type": "Fail", "ErrorPath": "$.errors[*]"}),
    ] {
        let def = json!({"StartAt": "F", "States": {"F": state}});
        assert!(StateMachine::from_value(&def).is_err(), "{def}");
    }
}

#[tokio::test]
async fn parallel_runs_every_branch_and_gathers_their_outputs() {
    let branch = |r: &str| json!({"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": r, "End": true}}});
    let def = json!({"StartAt": "Par", "States": {"Par": {
        "Type": "Parallel", "Branches": [branch("one"), branch("two"),
            {"StartAt": "E", "States": {"E": {"Type": "Task", "Resource": "echo", "End": true}}}],
        "ResultPath": "$.results", "End": true}}});
    let (out, _) = run(def, json!({"in": 1})).await;
    assert_eq!(
        out.unwrap(),
        json!({"in": 1, "results": ["one", "two", {"in": 1}]})
    );
}

#[tokio::test]
async fn a_failing_branch_fails_the_parallel_state() {
    let def = json!({"StartAt": "Par", "States": {"Par": {
        "Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "X", "States": {"X": {"Type": "Task", "Resource": "fail:Kiln.Broken", "End": true}}}]}}});
    assert_eq!(
        run(def, json!({})).await.0.unwrap_err().error,
        "Kiln.Broken"
    );
}

#[tokio::test]
async fn retry_repeats_matching_errors_up_to_max_attempts() {
    let def = json!({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "flaky", "End": true,
        "Retry": [{"ErrorEquals": ["Kiln.Transient"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 2}]}}});
    let (out, res) = run(def, json!({})).await;
    assert_eq!(
        out.unwrap(),
        json!({"attempts": 3}),
        "first try plus two retries"
    );
    assert_eq!(res.calls.load(Ordering::SeqCst), 3);

    let def = json!({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "flaky", "End": true,
        "Retry": [{"ErrorEquals": ["Kiln.Transient"], "MaxAttempts": 1}]}}});
    let (out, res) = run(def, json!({})).await;
    assert_eq!(out.unwrap_err().error, "Kiln.Transient");
    assert_eq!(res.calls.load(Ordering::SeqCst), 2);

    let def = json!({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "fail:Other", "End": true,
        "Retry": [{"ErrorEquals": ["Kiln.Transient"]}]}}});
    let (_, res) = run(def, json!({})).await;
    assert_eq!(
        res.calls.load(Ordering::SeqCst),
        1,
        "other errors are not retried"
    );
}

#[tokio::test(start_paused = true)]
async fn retry_waits_with_exponential_backoff() {
    let def = json!({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "flaky", "End": true,
        "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "BackoffRate": 2.0, "MaxAttempts": 3}]}}});
    // Waits of 1 s then 2 s before the two retries, on the paused clock.
    let (out, took) = run_on_paused_clock(def, json!({})).await;
    assert_eq!(out.unwrap(), json!({"attempts": 3}));
    assert_eq!(took, Duration::from_secs(3), "{took:?}");
}

#[tokio::test]
async fn catch_sends_error_and_cause_to_the_catcher() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "fail:Kiln.Broken", "Next": "Never",
              "Catch": [{"ErrorEquals": ["Kiln.Other"], "Next": "Never"},
                        {"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Report"}]},
        "Never": {"Type": "Fail", "Error": "Wrong"},
        "Report": {"Type": "Pass", "End": true}}});
    let (out, _) = run(def, json!({"run": 1})).await;
    assert_eq!(
        out.unwrap(),
        json!({"run": 1, "error": {"Error": "Kiln.Broken", "Cause": "it failed"}})
    );
}

#[tokio::test]
async fn timeouts_are_caught_by_all_but_not_by_task_failed() {
    let def = |errors: Value| {
        json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "slow", "TimeoutSeconds": 0.05, "End": true,
              "Catch": [{"ErrorEquals": errors, "Next": "Caught"}]},
        "Caught": {"Type": "Pass", "Result": "caught", "End": true}}})
    };
    assert_eq!(
        run(def(json!(["States.TaskFailed"])), json!({}))
            .await
            .0
            .unwrap_err()
            .error,
        "States.Timeout"
    );
    assert_eq!(
        run(def(json!(["States.Timeout"])), json!({}))
            .await
            .0
            .unwrap(),
        json!("caught")
    );
    assert_eq!(
        run(def(json!(["States.ALL"])), json!({})).await.0.unwrap(),
        json!("caught")
    );
}

#[tokio::test]
async fn the_execution_has_a_time_limit_too() {
    let def = json!({"StartAt": "T", "TimeoutSeconds": 0.05, "States": {
        "T": {"Type": "Task", "Resource": "slow", "End": true}}});
    let machine = StateMachine::from_value(&def).unwrap();
    let out = execute(
        &machine,
        json!({}),
        &Resources::default(),
        Options::default(),
        None,
    )
    .await;
    assert_eq!(out.unwrap_err().error, "States.Timeout");
}

#[tokio::test]
async fn a_loop_polls_until_its_choice_lets_it_out() {
    let def = json!({"StartAt": "Count", "States": {
        "Count": {"Type": "Task", "Resource": "echo", "Parameters": {"n.$": "$.n"},
                  "ResultSelector": {"n.$": "$.n"}, "ResultPath": "$.last", "Next": "Add"},
        "Add": {"Type": "Pass", "Parameters": {"n.$": "$.last.n", "tick": true}, "Next": "Done?"},
        "Done?": {"Type": "Choice", "Choices": [
            {"Variable": "$.tick", "BooleanEquals": true, "Next": "Finish"}], "Default": "Count"},
        "Finish": {"Type": "Succeed"}}});
    let (out, res) = run(def, json!({"n": 1})).await;
    assert_eq!(out.unwrap(), json!({"n": 1, "tick": true}));
    assert_eq!(res.calls.load(Ordering::SeqCst), 1);
}

#[test]
fn definitions_are_checked() {
    let bad = [
        json!({"States": {}}),
        json!({"StartAt": "Nowhere", "States": {"A": {"Type": "Succeed"}}}),
        json!({"StartAt": "A", "States": {"A": {"Type": "Map", "End": true}}}),
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass"}}}),
        json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}}),
        json!({"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": []}}}),
        json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true,
               "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Pass"}}}]}}}),
        json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "x", "End": true,
               "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Gone"}]}}}),
    ];
    for def in bad {
        assert!(StateMachine::from_value(&def).is_err(), "{def}");
    }
}

#[tokio::test]
async fn time_scale_shortens_waits_but_not_time_limits() {
    let def = json!({"StartAt": "W", "TimeoutSeconds": 5, "States": {
        "W": {"Type": "Wait", "Seconds": 3600, "Next": "T"},
        "T": {"Type": "Task", "Resource": "echo", "TimeoutSeconds": 5, "End": true}}});
    let machine = StateMachine::from_value(&def).unwrap();
    let out = execute(
        &machine,
        json!({"ok": true}),
        &Resources::default(),
        Options { time_scale: 0.0 },
        None,
    )
    .await;
    assert_eq!(
        out.unwrap(),
        json!({"ok": true}),
        "an hour's wait took no time, and 5 s was enough"
    );
}
