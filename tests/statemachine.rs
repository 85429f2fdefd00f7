//! The pipeline definition is valid Amazon States Language by a real validator: cfn-lint's
//! schema for `AWS::StepFunctions::StateMachine` definitions (rule E3601).

use serde_json::{json, Value};

use kiln_integration_tests::{python_tool, run_in, show};

fn template(definition: &Value) -> Value {
    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}]}}},
            "Pipeline": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
                "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
                "Definition": definition,
                "DefinitionSubstitutions": {"AgentsFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:agents"}}}
        }
    })
}

fn lint(dir: &std::path::Path, name: &str, definition: &Value) -> std::process::Output {
    let path = dir.join(name);
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&template(definition)).unwrap(),
    )
    .unwrap();
    run_in(dir, &python_tool("cfn-lint"), &[path.to_str().unwrap()])
}

#[test]
fn the_pipeline_passes_cfn_lint_and_a_broken_one_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let definition: Value = serde_json::from_str(kiln::workflow::PIPELINE_JSON).unwrap();
    let out = lint(dir.path(), "pipeline.json", &definition);
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "{}",
        show(&out)
    );

    // The validator really reads definitions: an unknown state type is an error.
    let mut broken = definition.clone();
    broken["States"]["Done"]["Type"] = json!("Finish");
    let out = lint(dir.path(), "broken.json", &broken);
    assert!(!out.status.success(), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("E3601"),
        "{}",
        show(&out)
    );
}

/// What Step Functions documents and moto does not model, read from the definition: Lambda's
/// own transient errors (the service, throttling, the SDK's client) are retried with backoff
/// by every Task, everything else is caught into `ReportFailure`, `ReportFailure`'s own failure
/// still ends at the `Fail` state, and polls wait long enough not to pay for a state
/// transition every second.
#[test]
fn every_task_retries_lambdas_transient_errors_and_every_failure_is_reported() {
    let definition: Value = serde_json::from_str(kiln::workflow::PIPELINE_JSON).unwrap();
    let states = definition["States"].as_object().unwrap();
    let lambda = [
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
    ];
    let mut waits = 0;
    for (name, state) in states {
        match state["Type"].as_str().unwrap() {
            "Task" => {
                let retries = state["Retry"].as_array().cloned().unwrap_or_default();
                for error in lambda {
                    let rule = retries
                        .iter()
                        .find(|r| r["ErrorEquals"].as_array().unwrap().contains(&json!(error)))
                        .unwrap_or_else(|| panic!("{name} does not retry {error}"));
                    assert!(
                        rule["MaxAttempts"].as_u64().unwrap_or(3) >= 3,
                        "{name}: {rule}"
                    );
                    assert!(
                        rule["BackoffRate"].as_f64().unwrap_or(2.0) >= 2.0,
                        "{name}: {rule}"
                    );
                    assert!(
                        rule["IntervalSeconds"].as_u64().unwrap_or(1) >= 1,
                        "{name}: {rule}"
                    );
                }
                assert!(
                    retries
                        .iter()
                        .any(|r| r["ErrorEquals"] == json!(["Kiln.Transient"])),
                    "{name} does not retry Kiln.Transient"
                );
                let catches = state["Catch"].as_array().cloned().unwrap_or_default();
                let catch_all = catches
                    .iter()
                    .find(|c| c["ErrorEquals"] == json!(["States.ALL"]))
                    .unwrap_or_else(|| {
                        panic!("{name} lets a failure end the execution unreported")
                    });
                let next = catch_all["Next"].as_str().unwrap();
                if name == "ReportFailure" {
                    assert_eq!(
                        states[next]["Type"], "Fail",
                        "{name}'s failure goes to {next}"
                    );
                } else {
                    assert_eq!(next, "ReportFailure", "{name}'s failures go to {next}");
                }
            }
            "Wait" => {
                waits += 1;
                let seconds = state["Seconds"].as_u64().unwrap_or(0);
                assert!(
                    (10..=60).contains(&seconds),
                    "{name} waits {seconds} s: poll every 10 to 60 s"
                );
            }
            _ => {}
        }
    }
    assert_eq!(
        waits, 6,
        "the turn, review, test, image and rollout polls, and a fix's tests"
    );
}
