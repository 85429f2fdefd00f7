//! The SAM template: cfn-lint (with the SAM transform) finds nothing, checkov fails no check
//! and every skipped one says why, and the functions get every setting the code reads; the
//! contracts between its parts that neither checks nor moto enforces (`sign_in.rs`: the web
//! client, the user pool's domain, the API's routes and authorizer; `database.rs`: the apps'
//! PostgreSQL cluster, its network and who may reach it; `model.rs`: the language model's
//! timeouts and rights; `build.rs`: what `sam build` compiles into each function).

mod build;
mod cost;
mod database;
mod model;
mod sign_in;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use kiln_integration_tests::{python_tool, run_in, show};
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn template() -> String {
    std::fs::read_to_string(repo().join("infra/template.yaml")).unwrap()
}

#[test]
fn cfn_lint_finds_nothing() {
    let out = run_in(&repo(), &python_tool("cfn-lint"), &["infra/template.yaml"]);
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "{}",
        show(&out)
    );
}

#[test]
fn checkov_fails_no_check_and_every_skip_is_justified() {
    let checkov = std::env::var_os("KILN_CHECKOV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap())
                .join(".cache/kiln/checkov-venv/bin/checkov")
        });
    assert!(checkov.exists(), "checkov is installed by ./scripts/test");
    let out = run_in(
        &repo(),
        &checkov,
        &[
            "-f",
            "infra/template.yaml",
            "--framework",
            "cloudformation",
            "--skip-download",
            "--quiet",
            "-o",
            "json",
        ],
    );
    let report: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{}", show(&out)));
    let summary = &report["summary"];
    println!(
        "checkov: {} passed, {} failed, {} skipped",
        summary["passed"], summary["failed"], summary["skipped"]
    );
    assert_eq!(
        summary["failed"], 0,
        "{:#}",
        report["results"]["failed_checks"]
    );
    assert!(
        summary["passed"].as_u64().unwrap() >= 50,
        "checkov read the template: {summary}"
    );
    for skipped in report["results"]["skipped_checks"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let why = skipped["check_result"]["suppress_comment"]
            .as_str()
            .unwrap_or_default();
        assert!(
            why.len() > 20,
            "{} on {} is skipped without a reason",
            skipped["check_id"],
            skipped["resource"]
        );
    }
}

#[test]
fn the_functions_get_every_setting_the_code_reads_and_no_other() {
    let text = template();
    let set: BTreeSet<&str> = text
        .lines()
        .filter_map(|l| {
            l.trim_start()
                .strip_prefix("KILN_")
                .and_then(|rest| rest.split_once(':'))
                .map(|(name, _)| name)
        })
        .collect();
    let set: BTreeSet<String> = set.into_iter().map(|n| format!("KILN_{n}")).collect();
    let wanted: BTreeSet<String> = kiln::config::VARIABLES
        .iter()
        .filter(|v| !kiln::config::LOCAL_ONLY.contains(v))
        .map(|v| v.to_string())
        .collect();
    let missing: Vec<&String> = wanted.difference(&set).collect();
    let unknown: Vec<&String> = set.difference(&wanted).collect();
    assert!(missing.is_empty(), "the template does not set {missing:?}");
    assert!(
        unknown.is_empty(),
        "the template sets {unknown:?}, which the code does not read"
    );
    // The SDK's own variables are not read in a Lambda (`aws_http::lambda_sdk` takes the
    // region, the role's keys and `AWS_ENDPOINT_URL` alone), so the template sets none.
    let sdk_vars: Vec<&str> = text
        .lines()
        .map(str::trim_start)
        .filter(|l| {
            l.strip_prefix("AWS_")
                .and_then(|rest| rest.split_once(':'))
                .is_some_and(|(name, _)| name.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        })
        .collect();
    assert!(sdk_vars.is_empty(), "the template sets {sdk_vars:?}");
    // Both functions take them from Globals, and the settings block is under Globals.
    let globals = text.split("\nResources:").next().unwrap();
    assert!(
        globals.contains("KILN_BACKEND: aws"),
        "the settings live in Globals"
    );
}

#[test]
fn the_template_points_at_files_that_exist() {
    let text = template();
    for line in text.lines() {
        for key in ["DefinitionUri:", "CodeUri:"] {
            if let Some(rel) = line.trim().strip_prefix(key) {
                let path = repo().join("infra").join(rel.trim());
                assert!(path.exists(), "{key} {} does not exist", path.display());
            }
        }
    }
    assert!(repo().join("infra/buildspec-test.yml").exists());
    assert!(repo().join("infra/buildspec-image.yml").exists());
}

/// The template parsed (CloudFormation's short tags such as `!Ref` come back as tagged values).
fn parsed() -> serde_yaml::Value {
    serde_yaml::from_str(&template()).expect("the template is YAML")
}

/// The text of a scalar or of a tagged scalar (`!Sub "…"`).
fn text_of(v: &serde_yaml::Value) -> String {
    match v {
        serde_yaml::Value::Tagged(t) => text_of(&t.value),
        serde_yaml::Value::String(s) => s.clone(),
        other => serde_yaml::to_string(other).unwrap(),
    }
}

/// HTTP API keeps a named stage in the path the Lambda sees (`/v2/api/v2/…` on the API's own
/// address), which the routes do not know: the API is published on `$default` (one stage,
/// deployed with every change, with its access logs and throttling), and the URL the stack
/// gives out has no stage in it.
#[test]
fn the_api_is_published_on_the_default_stage() {
    let t = parsed();
    let api = &t["Resources"]["HttpApi"];
    assert_eq!(api["Type"], "AWS::ApiGatewayV2::Api");
    assert_eq!(api["Properties"]["ProtocolType"], "HTTP");
    let stages: Vec<&serde_yaml::Value> = t["Resources"]
        .as_mapping()
        .unwrap()
        .values()
        .filter(|r| {
            r["Type"] == "AWS::ApiGatewayV2::Stage"
                && text_of(&r["Properties"]["ApiId"]) == "HttpApi"
        })
        .collect();
    assert_eq!(stages.len(), 1, "one stage: {stages:?}");
    let stage = &stages[0]["Properties"];
    assert_eq!(
        text_of(&stage["StageName"]),
        "$default",
        "the HttpApi's stage is {:?}",
        stage["StageName"]
    );
    assert_eq!(
        stage["AutoDeploy"],
        serde_yaml::Value::Bool(true),
        "without a deployment, the routes are never published"
    );
    assert_eq!(
        text_of(&stage["AccessLogSettings"]["DestinationArn"]),
        "ApiAccessLogs.Arn"
    );
    assert!(stage["DefaultRouteSettings"]["ThrottlingRateLimit"].is_number());
    assert!(stage["DefaultRouteSettings"]["ThrottlingBurstLimit"].is_number());
    let url = text_of(&t["Outputs"]["ApiUrl"]["Value"]);
    assert_eq!(
        url, "https://${HttpApi}.execute-api.${AWS::Region}.amazonaws.com/api/v2",
        "the API's URL is the routes' path on the API's address"
    );
}

/// The load balancer reaches the apps' tasks by their security group, not by an address range
/// (a default VPC is 172.31.0.0/16, so a rule to 10.0.0.0/8 reached nothing), and it has no
/// other way out.
#[test]
fn the_load_balancer_reaches_the_apps_by_their_security_group() {
    let t = parsed();
    let resources = t["Resources"].as_mapping().unwrap();
    let lb = &t["Resources"]["LoadBalancerSecurityGroup"]["Properties"];
    let to_app_port = |rule: &serde_yaml::Value| {
        rule["IpProtocol"] == "tcp"
            && rule["FromPort"].as_u64().is_some_and(|p| p <= 8000)
            && rule["ToPort"].as_u64().is_some_and(|p| p >= 8000)
    };
    // Rules in the group itself, and rules of their own that name it.
    let mut rules: Vec<serde_yaml::Value> = lb["SecurityGroupEgress"]
        .as_sequence()
        .cloned()
        .unwrap_or_default();
    for (_, r) in resources {
        if r["Type"] == "AWS::EC2::SecurityGroupEgress"
            && text_of(&r["Properties"]["GroupId"]) == "LoadBalancerSecurityGroup"
        {
            rules.push(r["Properties"].clone());
        }
    }
    assert!(
        !rules.is_empty(),
        "with no egress rule, EC2 adds allow-all egress to the load balancer's group"
    );
    let to_apps: Vec<&serde_yaml::Value> = rules.iter().filter(|r| to_app_port(r)).collect();
    assert_eq!(to_apps.len(), 1, "{rules:?}");
    assert_eq!(
        text_of(&to_apps[0]["DestinationSecurityGroupId"]),
        "AppsSecurityGroup",
        "{:?}",
        to_apps[0]
    );
    for rule in &rules {
        let cidr = text_of(&rule["CidrIp"]);
        assert!(
            rule["CidrIp"].is_null() || cidr.ends_with("/32"),
            "the load balancer may only reach the apps: {rule:?}"
        );
    }
    // The apps take the load balancer's traffic on the same port.
    let apps = &t["Resources"]["AppsSecurityGroup"]["Properties"]["SecurityGroupIngress"];
    assert!(apps
        .as_sequence()
        .unwrap()
        .iter()
        .any(|r| to_app_port(r)
            && text_of(&r["SourceSecurityGroupId"]) == "LoadBalancerSecurityGroup"));
}

/// CloudFront reads a bucket through its origin access control only if it can decrypt the
/// files: a bucket behind a distribution is encrypted with S3's keys, or with a KMS key whose
/// policy lets CloudFront's service principal decrypt.
#[test]
fn cloudfront_can_read_every_bucket_it_serves() {
    let t = parsed();
    let resources = t["Resources"].as_mapping().unwrap();
    let mut served = 0;
    for (_, r) in resources {
        if r["Type"] != "AWS::CloudFront::Distribution" {
            continue;
        }
        let origins = r["Properties"]["DistributionConfig"]["Origins"]
            .as_sequence()
            .unwrap();
        for origin in origins {
            if origin["OriginAccessControlId"].is_null() {
                continue;
            }
            // `!GetAtt UiBucket.RegionalDomainName`
            let bucket = text_of(&origin["DomainName"]);
            let bucket = bucket.split('.').next().unwrap();
            let encryption = &t["Resources"][bucket]["Properties"]["BucketEncryption"]
                ["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"];
            served += 1;
            match encryption["SSEAlgorithm"].as_str() {
                Some("AES256") => {}
                Some("aws:kms") | Some("aws:kms:dsse") => {
                    let key = text_of(&encryption["KMSMasterKeyID"]);
                    let statements = t["Resources"][key.as_str()]["Properties"]["KeyPolicy"]
                        ["Statement"]
                        .as_sequence()
                        .unwrap();
                    assert!(
                        statements.iter().any(|s| {
                            text_of(&s["Principal"]["Service"]) == "cloudfront.amazonaws.com"
                                && serde_yaml::to_string(&s["Action"])
                                    .unwrap()
                                    .contains("kms:Decrypt")
                        }),
                        "{bucket} is encrypted with {key}, whose policy does not let CloudFront decrypt"
                    );
                }
                other => panic!("{bucket} has no default encryption: {other:?}"),
            }
        }
    }
    assert!(served > 0, "the UI is served from a bucket");
}

/// The UI calls `/api/v2` on its own origin, on AWS as locally: the distribution forwards
/// `/api/*` to the HTTP API (HTTPS only, every method, nothing cached, every viewer header but
/// `Host`, which API Gateway needs to be its own), and the API, reached from the same origin,
/// answers no cross-origin requests.
#[test]
fn the_ui_reaches_the_api_on_its_own_origin() {
    const CACHING_DISABLED: &str = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";
    const ALL_VIEWER_EXCEPT_HOST_HEADER: &str = "b689b0a8-53d0-40ab-baf2-68738e2966ac";
    let t = parsed();
    let config = &t["Resources"]["UiDistribution"]["Properties"]["DistributionConfig"];
    let origins = config["Origins"].as_sequence().unwrap();
    let api = origins
        .iter()
        .find(|o| text_of(&o["DomainName"]).starts_with("${HttpApi}.execute-api."))
        .expect("the HTTP API is an origin of the distribution");
    assert_eq!(
        text_of(&api["DomainName"]),
        "${HttpApi}.execute-api.${AWS::Region}.amazonaws.com"
    );
    assert_eq!(
        api["CustomOriginConfig"]["OriginProtocolPolicy"].as_str(),
        Some("https-only")
    );
    let ui_js = std::fs::read_to_string(repo().join("static/app.js")).unwrap();
    assert!(
        ui_js.contains("const api = \"/api/v2\";"),
        "the UI's API path"
    );
    let behaviours = config["CacheBehaviors"].as_sequence().expect("behaviours");
    let behaviour = behaviours
        .iter()
        .find(|b| b["PathPattern"].as_str() == Some("/api/*"))
        .expect("an /api/* behaviour");
    assert_eq!(behaviour["TargetOriginId"], api["Id"]);
    // POST, PUT and DELETE cannot follow a redirect to HTTPS.
    assert_eq!(
        behaviour["ViewerProtocolPolicy"].as_str(),
        Some("https-only")
    );
    let methods: Vec<&str> = behaviour["AllowedMethods"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    for m in ["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"] {
        assert!(methods.contains(&m), "{m} reaches the API: {methods:?}");
    }
    assert_eq!(behaviour["CachePolicyId"].as_str(), Some(CACHING_DISABLED));
    // With caching disabled, this policy forwards Authorization too.
    assert_eq!(
        behaviour["OriginRequestPolicyId"].as_str(),
        Some(ALL_VIEWER_EXCEPT_HOST_HEADER)
    );
    assert!(
        t["Resources"]["HttpApi"]["Properties"]["CorsConfiguration"].is_null(),
        "the API is called from the UI's own origin; no other origin needs CORS"
    );
}

/// A value of the template as CloudFormation would resolve it with `given` parameters (the
/// others at their defaults): `!Ref` to a parameter, `!Equals`, `!Not`, `!If` and conditions;
/// `AWS::NoValue` resolves to null. Other intrinsics stay as they are.
fn resolve(
    t: &serde_yaml::Value,
    v: &serde_yaml::Value,
    given: &[(&str, &str)],
) -> serde_yaml::Value {
    use serde_yaml::Value as Y;
    let Y::Tagged(tagged) = v else {
        return v.clone();
    };
    let args = &tagged.value;
    let arg = |i: usize| resolve(t, &args[i], given);
    let condition = |name: &str| resolve(t, &t["Conditions"][name], given);
    match tagged.tag.to_string().as_str() {
        "!Ref" => {
            let name = args.as_str().unwrap();
            if name == "AWS::NoValue" {
                return Y::Null;
            }
            match given.iter().find(|(k, _)| *k == name) {
                Some((_, value)) => Y::String((*value).to_owned()),
                None => t["Parameters"][name]["Default"].clone(),
            }
        }
        "!Equals" => Y::Bool(text_of(&arg(0)) == text_of(&arg(1))),
        "!Not" => Y::Bool(!arg(0).as_bool().unwrap()),
        "!If" => {
            if condition(args[0].as_str().unwrap()).as_bool().unwrap() {
                arg(1)
            } else {
                arg(2)
            }
        }
        _ => v.clone(),
    }
}

/// Nobody signs up on their own unless the installation says so (every user can run Fargate
/// services on the owner's bill), and no concurrency is reserved unless asked for.
#[test]
fn sign_up_is_by_an_administrator_and_concurrency_is_reserved_only_when_asked() {
    let t = parsed();
    let only_admins = &t["Resources"]["UserPool"]["Properties"]["AdminCreateUserConfig"]
        ["AllowAdminCreateUserOnly"];
    assert_eq!(resolve(&t, only_admins, &[]), serde_yaml::Value::Bool(true));
    assert_eq!(
        resolve(&t, only_admins, &[("AllowSelfSignUp", "true")]),
        serde_yaml::Value::Bool(false)
    );
    for function in ["ApiFunction", "AgentsFunction"] {
        let reserved = &t["Resources"][function]["Properties"]["ReservedConcurrentExecutions"];
        assert!(
            resolve(&t, reserved, &[]).is_null(),
            "{function}: {reserved:?}"
        );
        assert_eq!(
            text_of(&resolve(&t, reserved, &[("ReservedConcurrency", "20")])),
            "20",
            "{function}"
        );
    }
}

/// No run stays "running" on AWS: EventBridge hands the agents function every execution of
/// this installation's state machine that ends FAILED, TIMED_OUT or ABORTED, in the event the
/// function reads (`Step Functions Execution Status Change`).
#[test]
fn every_execution_that_ends_badly_reaches_the_agents_function() {
    let t = parsed();
    let events = t["Resources"]["AgentsFunction"]["Properties"]["Events"]
        .as_mapping()
        .expect("the agents function has events");
    let rule = events
        .values()
        .find(|e| e["Type"] == "EventBridgeRule")
        .expect("an EventBridge rule");
    let pattern = &rule["Properties"]["Pattern"];
    assert_eq!(pattern["source"][0], "aws.states");
    assert_eq!(
        pattern["detail-type"][0],
        "Step Functions Execution Status Change"
    );
    let statuses: BTreeSet<&str> = pattern["detail"]["status"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(statuses, BTreeSet::from(["FAILED", "TIMED_OUT", "ABORTED"]));
    // The same state machine the functions start runs on.
    let machine = text_of(&pattern["detail"]["stateMachineArn"][0]);
    let started =
        text_of(&t["Globals"]["Function"]["Environment"]["Variables"]["KILN_STATE_MACHINE_ARN"]);
    assert_eq!(machine, started);
}

/// The regions a condition built of `!Or` and `!Equals [!Ref AWS::Region, <region>]` names.
fn regions_named(condition: &serde_yaml::Value) -> Vec<String> {
    match condition {
        serde_yaml::Value::Tagged(t) if t.tag == "Or" => t
            .value
            .as_sequence()
            .unwrap()
            .iter()
            .flat_map(regions_named)
            .collect(),
        serde_yaml::Value::Tagged(t) if t.tag == "Equals" => {
            let pair = t.value.as_sequence().unwrap();
            assert_eq!(text_of(&pair[0]), "AWS::Region", "{pair:?}");
            vec![text_of(&pair[1])]
        }
        other => panic!("not a region condition: {other:?}"),
    }
}

/// ALB access logs reach their bucket in every Region: newer Regions write them as the
/// log-delivery service principal, those opened before August 2022 as the Region's ELB account
/// (AWS's documented list; us-east-1's is 127311923021). Both are allowed, under the prefix
/// and account path the load balancer writes to, and the account statement is there exactly in
/// the Regions the account table knows.
#[test]
fn load_balancer_logs_can_be_written_in_old_and_new_regions() {
    let t = parsed();
    let lb_attributes = t["Resources"]["AppsLoadBalancer"]["Properties"]["LoadBalancerAttributes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| (text_of(&a["Key"]), text_of(&a["Value"])))
        .collect::<std::collections::BTreeMap<_, _>>();
    let prefix = &lb_attributes["access_logs.s3.prefix"];
    let statements = t["Resources"]["AccessLogsBucketPolicy"]["Properties"]["PolicyDocument"]
        ["Statement"]
        .as_sequence()
        .unwrap()
        .clone();
    let where_logs_go = format!("${{AccessLogsBucket.Arn}}/{prefix}/AWSLogs/${{AWS::AccountId}}/*");
    let service = statements
        .iter()
        .find(|s| s["Principal"]["Service"] == "logdelivery.elasticloadbalancing.amazonaws.com")
        .expect("the log-delivery principal may write");
    assert_eq!(text_of(&service["Resource"]), where_logs_go);
    let by_account = statements
        .iter()
        .find_map(|s| match s {
            serde_yaml::Value::Tagged(t) if t.tag == "If" => Some(t.value.clone()),
            _ => None,
        })
        .expect("a statement for the Regions' ELB accounts");
    let condition = by_account[0].as_str().unwrap();
    let statement = &by_account[1];
    assert_eq!(text_of(&statement["Resource"]), where_logs_go);
    assert_eq!(statement["Action"], "s3:PutObject");
    let principal = serde_yaml::to_string(&statement["Principal"]["AWS"]).unwrap();
    assert!(principal.contains("ElbLogAccounts"), "{principal}");
    let accounts = t["Mappings"]["ElbLogAccounts"].as_mapping().unwrap();
    assert_eq!(
        accounts[&serde_yaml::Value::from("us-east-1")]["AccountId"],
        "127311923021"
    );
    assert_eq!(
        accounts[&serde_yaml::Value::from("eu-west-1")]["AccountId"],
        "156460612806"
    );
    let mut named = regions_named(&t["Conditions"][condition]);
    named.sort();
    let mut mapped: Vec<String> = accounts
        .keys()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    mapped.sort();
    assert_eq!(named, mapped);
    assert!(
        !named.contains(&"ap-southeast-5".to_owned()),
        "a Region opened in 2024"
    );
}
