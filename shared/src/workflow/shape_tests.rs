//! The committed pipeline's shape, run through the interpreter with scripted agents: each agent
//! step appears once, the Choices route on what the request still needs, and the deploy gates
//! (the tests', then the review's) are the one place that lets a version through to the DevOps
//! steps.

use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::{json, Value};

use super::asl::{execute, Failure, Options, TaskHandler};
use super::pipeline;

/// Answers each step the way its agent would, from a script: the plan and the QA verdict are
/// the test's to choose; polls finish on their first check.
struct Scripted {
    plan: Value,
    passed: bool,
    /// The review's verdict.
    review_passed: bool,
    steps: Mutex<Vec<String>>,
    /// How many times `WaitTurn` answers "not done" before it lets the run go on.
    turns_to_wait: Mutex<u32>,
    /// Each `WaitTurn` answer, in order (kept apart from the agent steps).
    turns: Mutex<Vec<bool>>,
    /// What each smoke test finds, in order; passed when the script runs out.
    smoke: Mutex<Vec<Value>>,
    /// What each check of a fix's try says next (`wait`, `again`, `done`), in order; `done`
    /// when the script runs out.
    fixes: Mutex<Vec<&'static str>>,
}

#[async_trait]
impl TaskHandler for Scripted {
    async fn invoke(&self, _state: &str, _resource: &str, input: Value) -> Result<Value, Failure> {
        let step = input["step"].as_str().unwrap_or_default().to_owned();
        if step == "WaitTurn" {
            assert!(
                self.steps.lock().unwrap().is_empty(),
                "a run waits its turn before any other step"
            );
            let mut left = self.turns_to_wait.lock().unwrap();
            let done = *left == 0;
            *left = left.saturating_sub(1);
            self.turns.lock().unwrap().push(done);
            return Ok(json!({"done": done}));
        }
        self.steps.lock().unwrap().push(step.clone());
        Ok(match step.as_str() {
            "Plan" => self.plan.clone(),
            "QaStart" | "DevOpsDeploy" | "Review" => json!({"done": false}),
            "ReviewCheck" => json!({"done": true, "passed": self.review_passed}),
            "QaCheck" | "DevOpsBuildImage" | "DevOpsImageCheck" | "DevOpsCheck" => {
                json!({"done": true})
            }
            "QaReport" => json!({"passed": self.passed}),
            "Rollback" => json!({"redeploy": true}),
            "FixStart" => json!({"next": "wait"}),
            "FixCheck" => {
                let mut left = self.fixes.lock().unwrap();
                let next = if left.is_empty() {
                    "done"
                } else {
                    left.remove(0)
                };
                json!({"next": next})
            }
            // A deploy goes on unless the plan says it waits for the user's confirmation.
            "DevOpsEstimate" => json!({"go": self.plan["confirmed"] != false}),
            "SmokeTest" => {
                let mut left = self.smoke.lock().unwrap();
                if left.is_empty() {
                    json!({"passed": true, "reverting": false})
                } else {
                    left.remove(0)
                }
            }
            _ => Value::Null,
        })
    }
}

/// The steps an execution ran for `intent`, and how it ended.
async fn steps(intent: &str, plan: Value, passed: bool) -> (Vec<String>, Result<Value, Failure>) {
    run(intent, plan, passed, true, vec![]).await
}

/// The same, with the review's verdict too.
async fn reviewed(
    intent: &str,
    plan: Value,
    passed: bool,
    review_passed: bool,
) -> (Vec<String>, Result<Value, Failure>) {
    run(intent, plan, passed, review_passed, vec![]).await
}

/// The steps an execution ran for `intent` whose smoke tests find `smoke` in turn.
async fn steps_smoked(
    intent: &str,
    plan: Value,
    passed: bool,
    smoke: Vec<Value>,
) -> (Vec<String>, Result<Value, Failure>) {
    run(intent, plan, passed, true, smoke).await
}

/// The steps an execution ran, with the review's verdict and the smoke tests' answers.
async fn run(
    intent: &str,
    plan: Value,
    passed: bool,
    review_passed: bool,
    smoke: Vec<Value>,
) -> (Vec<String>, Result<Value, Failure>) {
    run_fixing(intent, plan, passed, review_passed, smoke, Vec::new()).await
}

/// The same, with what each check of a fix's try says next.
async fn run_fixing(
    intent: &str,
    plan: Value,
    passed: bool,
    review_passed: bool,
    smoke: Vec<Value>,
    fixes: Vec<&'static str>,
) -> (Vec<String>, Result<Value, Failure>) {
    let agents = Scripted {
        plan,
        passed,
        review_passed,
        steps: Mutex::new(Vec::new()),
        turns_to_wait: Mutex::new(0),
        turns: Mutex::new(Vec::new()),
        smoke: Mutex::new(smoke),
        fixes: Mutex::new(fixes),
    };
    let input = json!({"run": {"intent": intent}, "state": {}});
    let out = execute(
        &pipeline(),
        input,
        &agents,
        Options { time_scale: 0.0 },
        None,
    )
    .await;
    (agents.steps.into_inner().unwrap(), out)
}

fn plan(build: bool, test: bool, deploy: bool, passed: bool) -> Value {
    json!({
        "build": build,
        "test": test,
        "deploy": deploy,
        "tests": {"passed": passed},
        "review_override": false,
    })
}

const BUILD: [&str; 3] = ["BackendDeveloper", "DocumentationWriter", "Release"];
/// Every build, test or deploy request has its current version reviewed (at once when it was
/// reviewed before: the scripted review always polls once).
const REVIEW: [&str; 2] = ["Review", "ReviewCheck"];
const TEST: [&str; 3] = ["QaStart", "QaCheck", "QaReport"];
const DEPLOY: [&str; 7] = [
    "DevOpsEstimate",
    "DevOpsBuildImage",
    "DevOpsImageCheck",
    "DevOpsDeploy",
    "DevOpsCheck",
    "DevOpsReport",
    "SmokeTest",
];
/// Going back to the deployment a failed smoke test replaced: its image exists already.
const REVERT: [&str; 4] = ["DevOpsDeploy", "DevOpsCheck", "DevOpsReport", "SmokeTest"];

fn chain(parts: &[&[&str]]) -> Vec<String> {
    parts.concat().into_iter().map(str::to_owned).collect()
}

#[test]
fn each_agent_step_appears_once() {
    let definition: Value = serde_json::from_str(super::PIPELINE_JSON).unwrap();
    let states = definition["States"].as_object().unwrap();
    let mut names: Vec<&str> = states
        .values()
        .filter(|s| s["Type"] == "Task")
        .filter_map(|s| s["Parameters"]["step"].as_str())
        .collect();
    let all = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), all, "a step appears twice: {names:?}");
    // A guard against sprawl: the fix loop's four states took it from 48, the end of a run
    // whose failure could not be reported (`NotReported`) to 53.
    assert!(states.len() <= 53, "{} states", states.len());
}

/// Every run first waits for the runs of its project before it (the WaitTurn loop), and only
/// then does anything: here the turn comes on the third check.
#[tokio::test]
async fn a_run_waits_its_turn_before_anything_else() {
    let agents = Scripted {
        plan: plan(true, false, false, false),
        passed: true,
        review_passed: true,
        steps: Mutex::new(Vec::new()),
        turns_to_wait: Mutex::new(2),
        turns: Mutex::new(Vec::new()),
        smoke: Mutex::new(Vec::new()),
        fixes: Mutex::new(Vec::new()),
    };
    let input = json!({"run": {"intent": "build"}, "state": {}});
    let out = execute(
        &pipeline(),
        input,
        &agents,
        Options { time_scale: 0.0 },
        None,
    )
    .await;
    assert!(out.is_ok(), "{out:?}");
    assert_eq!(agents.turns.into_inner().unwrap(), [false, false, true]);
    assert_eq!(
        agents.steps.into_inner().unwrap(),
        chain(&[&["Plan"], &BUILD, &REVIEW, &["Complete"]])
    );
}

#[tokio::test]
async fn describing_and_asking_go_to_the_product_manager() {
    let none = Value::Null;
    for intent in ["create", "refine"] {
        let (ran, out) = steps(intent, none.clone(), true).await;
        assert!(out.is_ok());
        assert_eq!(ran, ["ProductManager", "Architect", "Complete"]);
    }
    let (ran, _) = steps("question", none, true).await;
    assert_eq!(ran, ["Answer", "Complete"]);
}

#[tokio::test]
async fn a_request_runs_only_what_its_plan_still_needs() {
    let cases: [(&str, Value, Vec<String>); 5] = [
        (
            "build",
            plan(true, false, false, false),
            chain(&[&["Plan"], &BUILD, &REVIEW, &["Complete"]]),
        ),
        (
            "test",
            plan(false, true, false, false),
            chain(&[&["Plan"], &REVIEW, &TEST, &["Complete"]]),
        ),
        (
            "test",
            plan(true, true, false, false),
            chain(&[&["Plan"], &BUILD, &REVIEW, &TEST, &["Complete"]]),
        ),
        (
            "deploy",
            plan(false, false, true, true),
            chain(&[&["Plan"], &REVIEW, &DEPLOY, &["Complete"]]),
        ),
        (
            "deploy",
            plan(true, true, true, false),
            chain(&[&["Plan"], &BUILD, &REVIEW, &TEST, &DEPLOY, &["Complete"]]),
        ),
    ];
    for (intent, plan, expected) in cases {
        let (ran, out) = steps(intent, plan.clone(), true).await;
        assert!(out.is_ok(), "{intent} {plan}: {out:?}");
        assert_eq!(ran, expected, "{intent} {plan}");
    }
}

#[tokio::test]
async fn the_gate_lets_no_failing_version_through() {
    // Tests ran in this run and failed.
    let (ran, out) = steps("deploy", plan(true, true, true, false), false).await;
    assert_eq!(
        ran,
        chain(&[&["Plan"], &BUILD, &REVIEW, &TEST, &["RefuseDeploy"]]),
        "no DevOps step runs"
    );
    assert_eq!(out.unwrap_err().error, "Kiln.RunFailed");

    // A plan that says the version passed is overruled by tests that fail when they run.
    let (ran, _) = steps("deploy", plan(false, true, true, true), false).await;
    assert_eq!(ran, chain(&[&["Plan"], &REVIEW, &TEST, &["RefuseDeploy"]]));

    // No test run and no record of passing: refused too.
    let (ran, _) = steps("deploy", plan(false, false, true, false), true).await;
    assert_eq!(ran, chain(&[&["Plan"], &REVIEW, &["RefuseDeploy"]]));
}

fn overriding(mut plan: Value) -> Value {
    plan["review_override"] = json!(true);
    plan
}

#[tokio::test]
async fn the_review_gate_stops_a_tested_version_with_blocking_findings() {
    // Tests pass, the review does not: refused, no DevOps step.
    let (ran, out) = reviewed("deploy", plan(true, true, true, false), true, false).await;
    assert_eq!(
        ran,
        chain(&[&["Plan"], &BUILD, &REVIEW, &TEST, &["RefuseDeploy"]])
    );
    assert_eq!(out.unwrap_err().error, "Kiln.RunFailed");
    let (ran, _) = reviewed("deploy", plan(false, false, true, true), true, false).await;
    assert_eq!(ran, chain(&[&["Plan"], &REVIEW, &["RefuseDeploy"]]));

    // "Deploy anyway" opens the review's gate…
    let (ran, out) = reviewed(
        "deploy",
        overriding(plan(false, false, true, true)),
        true,
        false,
    )
    .await;
    assert!(out.is_ok(), "{out:?}");
    assert_eq!(ran, chain(&[&["Plan"], &REVIEW, &DEPLOY, &["Complete"]]));

    // …and never the tests'.
    let (ran, _) = reviewed(
        "deploy",
        overriding(plan(false, true, true, false)),
        false,
        false,
    )
    .await;
    assert_eq!(ran, chain(&[&["Plan"], &REVIEW, &TEST, &["RefuseDeploy"]]));
    let (ran, _) = reviewed(
        "deploy",
        overriding(plan(false, false, true, false)),
        true,
        true,
    )
    .await;
    assert_eq!(ran, chain(&[&["Plan"], &REVIEW, &["RefuseDeploy"]]));
}

#[tokio::test]
async fn a_rollback_redeploys_without_building_or_testing() {
    let (ran, out) = steps("rollback", Value::Null, true).await;
    assert!(out.is_ok());
    // A rollback redeploys what ran before: no estimate, no confirmation.
    assert_eq!(ran, chain(&[&["Rollback"], &DEPLOY[1..], &["Complete"]]));
}

#[tokio::test]
async fn a_clone_copies_and_completes_without_building_or_deploying() {
    let (ran, out) = steps("clone", Value::Null, true).await;
    assert!(out.is_ok());
    assert_eq!(ran, ["Clone", "Complete"]);
}

/// A fix request tries, waits for each try's tests, tries again while its check says so, and
/// completes when it says done: it never builds, reviews or deploys.
#[tokio::test]
async fn a_fix_tries_until_its_check_says_done() {
    let fixes = vec!["wait", "again", "wait", "wait", "again", "done"];
    let (ran, out) = run_fixing("fix", Value::Null, true, true, vec![], fixes).await;
    assert!(out.is_ok(), "{out:?}");
    let try_ = |checks: usize| {
        let mut t = vec!["FixStart"];
        t.extend(std::iter::repeat_n("FixCheck", checks));
        t
    };
    assert_eq!(ran, chain(&[&try_(2), &try_(3), &try_(1), &["Complete"]]));
}

#[tokio::test]
async fn a_deploy_waiting_for_confirmation_ends_after_the_estimate() {
    let mut waiting = plan(false, false, true, true);
    waiting["confirmed"] = json!(false);
    let (ran, out) = steps("deploy", waiting, true).await;
    assert!(out.is_ok());
    assert_eq!(
        ran,
        chain(&[&["Plan"], &REVIEW, &["DevOpsEstimate", "Complete"]])
    );
}

fn smoke_failed(revert: bool) -> Value {
    json!({"passed": false, "reverting": revert})
}

/// A deployment that fails its smoke test goes back to the one it replaced (without building
/// an image: it was built when that version was first deployed), whose own smoke test ends the
/// run as failed whatever it finds: a rollback is never rolled back.
#[tokio::test]
async fn a_failed_smoke_test_rolls_back_once_and_fails_the_run() {
    let deploy = plan(false, false, true, true);
    let expected = chain(&[&["Plan"], &REVIEW, &DEPLOY, &REVERT, &["SmokeFailed"]]);
    for after in [json!({"passed": true}), smoke_failed(true)] {
        let script = vec![smoke_failed(true), after.clone()];
        let (ran, out) = steps_smoked("deploy", deploy.clone(), true, script).await;
        assert_eq!(ran, expected, "the rollback's smoke test found {after}");
        assert_eq!(out.unwrap_err().error, "Kiln.RunFailed");
    }
    // Nothing ran there before: nothing to go back to.
    let (ran, out) = steps_smoked("deploy", deploy, true, vec![smoke_failed(false)]).await;
    assert_eq!(ran, chain(&[&["Plan"], &REVIEW, &DEPLOY, &["SmokeFailed"]]));
    assert_eq!(out.unwrap_err().error, "Kiln.RunFailed");
    // A rollback the user asked for is smoke-tested as well, and goes back the same way.
    let (ran, _) = steps_smoked("rollback", Value::Null, true, vec![smoke_failed(true)]).await;
    assert_eq!(
        ran,
        chain(&[&["Rollback"], &DEPLOY[1..], &REVERT, &["SmokeFailed"]])
    );
}

/// A step that fails with `error` and a `ReportFailure` that answers `report`.
struct FailingPlan {
    report: Result<Value, Failure>,
}

#[async_trait]
impl TaskHandler for FailingPlan {
    async fn invoke(&self, _state: &str, _resource: &str, input: Value) -> Result<Value, Failure> {
        match input["step"].as_str().unwrap_or_default() {
            "WaitTurn" => Ok(json!({"done": true})),
            "Plan" => Err(Failure::new(
                "Kiln.nothing_to_build",
                "Describe the API first: nothing to build yet.",
            )),
            "ReportFailure" => {
                assert_eq!(input["error"]["Error"], "Kiln.nothing_to_build");
                self.report.clone()
            }
            other => panic!("{other} ran after a failed plan"),
        }
    }
}

/// A failed step is reported by `ReportFailure`, and the execution then ends as `Failed`,
/// whose cause points at the run; when the report itself fails, nothing has said why yet, so
/// the execution ends with the failed step's own error and cause (`NotReported`), which the
/// handler of an ended execution writes to the run.
#[tokio::test]
async fn an_execution_whose_report_failed_ends_with_the_steps_own_error() {
    let input = json!({"run": {"intent": "build"}, "state": {}});
    let ended = |report| async {
        let agents = FailingPlan { report };
        execute(
            &pipeline(),
            input.clone(),
            &agents,
            Options { time_scale: 0.0 },
            None,
        )
        .await
        .unwrap_err()
    };
    let reported = ended(Ok(Value::Null)).await;
    assert_eq!(reported.error, "Kiln.RunFailed");

    let unreported = ended(Err(Failure::new("Kiln.storage_corrupt", "a stored record"))).await;
    assert_eq!(
        (unreported.error.as_str(), unreported.cause.as_str()),
        (
            "Kiln.nothing_to_build",
            "Describe the API first: nothing to build yet."
        )
    );
}
