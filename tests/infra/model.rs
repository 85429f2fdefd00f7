//! The language model the product manager and the fix loop may use (`LlmProvider`), held to
//! what neither moto nor cfn-lint checks: a reading (one call and one repair call, each bounded
//! by `KILN_LLM_TIMEOUT_SECS`) fits the ProductManager state's timeout, which fits the agents
//! function's, and a code fix with its repair fits FixStart's and the function's; the function
//! may invoke the configured model only and read the key's secret only, a secret no app's task
//! can read.

use super::{parsed, repo, text_of};

/// A model setting, as the agents function gets it (the api function gets none: it runs no
/// step, see `the_model_is_given_to_the_agents_function_alone`).
fn env(t: &serde_yaml::Value, var: &str) -> String {
    text_of(&t["Resources"]["AgentsFunction"]["Properties"]["Environment"]["Variables"][var])
}

#[test]
fn the_model_is_given_to_the_agents_function_alone() {
    let t = parsed();
    let given = |vars: &serde_yaml::Value| -> Vec<String> {
        vars.as_mapping()
            .map(|m| {
                m.keys()
                    .filter_map(|k| k.as_str())
                    .filter(|k| k.starts_with("KILN_LLM"))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let agents = given(&t["Resources"]["AgentsFunction"]["Properties"]["Environment"]["Variables"]);
    let on_aws = kiln::config::VARIABLES
        .iter()
        .filter(|v| v.starts_with("KILN_LLM") && !kiln::config::LOCAL_ONLY.contains(v));
    for var in on_aws {
        assert!(
            agents.iter().any(|a| a == var),
            "the agents function gets no {var}"
        );
    }
    for (place, vars) in [
        (
            "Globals",
            &t["Globals"]["Function"]["Environment"]["Variables"],
        ),
        (
            "the api function",
            &t["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"],
        ),
    ] {
        assert_eq!(
            given(vars),
            Vec::<String>::new(),
            "{place} sets model settings"
        );
    }
}

fn agents_statement(t: &serde_yaml::Value, sid: &str) -> serde_yaml::Value {
    t["Resources"]["AgentsFunction"]["Properties"]["Policies"][0]["Statement"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == sid)
        .unwrap_or_else(|| panic!("the agents function has no statement {sid}"))
        .clone()
}

/// One model call's bound (`KILN_LLM_TIMEOUT_SECS`), the pipeline state `name`'s timeout and
/// the agents function's.
fn timeouts(name: &str) -> (u64, u64, u64) {
    let t = parsed();
    let per_call: u64 = env(&t, "KILN_LLM_TIMEOUT_SECS").parse().unwrap();
    let machine: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("statemachines/agent_pipeline.asl.json")).unwrap(),
    )
    .unwrap();
    let state = machine["States"][name]["TimeoutSeconds"]
        .as_u64()
        .unwrap_or_else(|| panic!("the {name} state has no timeout"));
    let lambda = t["Resources"]["AgentsFunction"]["Properties"]["Timeout"]
        .as_u64()
        .unwrap();
    (per_call, state, lambda)
}

#[test]
fn a_model_reading_and_its_repair_fit_the_product_managers_timeouts() {
    let (per_call, state, lambda) = timeouts("ProductManager");
    // Two calls, then the rules, loading and writing the project: 15 s is ample for the rest.
    assert!(
        2 * per_call + 15 <= state,
        "two calls of {per_call} s do not fit the state's {state} s"
    );
    assert!(
        state <= lambda,
        "the state waits longer than the function may run"
    );
}

#[test]
fn a_models_code_fix_and_its_repair_fit_the_fix_steps_timeouts() {
    let (per_call, state, lambda) = timeouts("FixStart");
    // FixStart asks the model (a call and a repair call), then generates the spec's code,
    // merges, stores the version and starts its suite: a minute for the rest.
    let bound = state.min(lambda);
    assert!(
        2 * per_call + 60 <= bound,
        "two calls of {per_call} s and the repair do not fit FixStart's {bound} s"
    );
}

#[test]
fn the_agents_function_invokes_the_configured_model_only_and_reads_only_the_keys_secret() {
    let t = parsed();
    let model = agents_statement(&t, "UnderstandingModel");
    assert_eq!(model["Action"], "bedrock:InvokeModel");
    let arns: Vec<String> = model["Resource"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(text_of)
        .collect();
    for arn in &arns {
        assert!(
            arn.ends_with("/${LlmModel}"),
            "{arn}: the configured model, no wildcard"
        );
        assert!(!arn.contains('*'), "{arn}");
    }
    let key = agents_statement(&t, "UnderstandingKey");
    assert_eq!(key["Action"], "secretsmanager:GetSecretValue");
    let granted = text_of(&key["Resource"]);
    let secret = env(&t, "KILN_LLM_API_KEY_SECRET");
    // Secrets Manager appends a dash and six characters to a secret's name in its ARN.
    assert_eq!(granted, format!("arn:${{AWS::Partition}}:secretsmanager:${{AWS::Region}}:${{AWS::AccountId}}:secret:{secret}-*"));
    // The apps' tasks read their own secrets, `kiln-<installation>-<stack>/…`: not this one.
    let apps = serde_yaml::to_string(&t["Resources"]["AppsExecutionRole"]).unwrap();
    let pattern = apps
        .lines()
        .find(|l| l.contains(":secret:"))
        .and_then(|l| l.split(":secret:").nth(1))
        .unwrap()
        .trim_end_matches('"')
        .trim_end_matches('*')
        .to_owned();
    assert!(
        !secret.starts_with(&pattern),
        "the apps' tasks may read {pattern}*, which takes in {secret}"
    );
}

#[test]
fn the_provider_settings_come_from_parameters_the_code_accepts() {
    let t = parsed();
    let allowed: Vec<String> = t["Parameters"]["LlmProvider"]["AllowedValues"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    for provider in &allowed {
        let mut vars = std::collections::HashMap::from([
            ("KILN_LLM".to_owned(), provider.clone()),
            (
                "KILN_LLM_MODEL".to_owned(),
                "anthropic.claude-3-5-haiku-20241022-v1:0".to_owned(),
            ),
            (
                "KILN_LLM_TIMEOUT_SECS".to_owned(),
                env(&t, "KILN_LLM_TIMEOUT_SECS"),
            ),
            (
                "KILN_LLM_MAX_TOKENS".to_owned(),
                env(&t, "KILN_LLM_MAX_TOKENS"),
            ),
            ("KILN_LLM_INPUT_PRICE".to_owned(), "0.8".to_owned()),
        ]);
        if provider == "openai" {
            vars.insert(
                "KILN_LLM_BASE_URL".into(),
                "https://api.openai.com/v1".into(),
            );
        }
        kiln::config::Config::from_vars(&vars)
            .unwrap_or_else(|e| panic!("LlmProvider {provider}: {e}"));
    }
    assert_eq!(allowed, ["rules", "bedrock", "openai"]);
}
