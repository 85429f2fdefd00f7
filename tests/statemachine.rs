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
