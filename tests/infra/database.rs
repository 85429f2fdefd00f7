//! The apps' PostgreSQL cluster, which neither moto nor cfn-lint holds to what Kiln needs:
//! Aurora Serverless v2 that scales to zero, with the Data API the DevOps step makes databases
//! through, on an engine version that has both; encrypted, in the apps' private subnets,
//! reachable on 5432 from the apps' tasks only; its master password kept by RDS; and IAM that
//! lets the functions reach this cluster and this installation's database URLs only.

use super::{parsed, text_of};
use serde_yaml::Value;

/// The one resource of `ty`: its logical id and the resource.
fn only(t: &Value, ty: &str) -> (String, Value) {
    let found: Vec<(String, Value)> = t["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == ty)
        .map(|(id, r)| (id.as_str().unwrap().to_owned(), r.clone()))
        .collect();
    assert_eq!(found.len(), 1, "one {ty}: {found:?}");
    found.into_iter().next().unwrap()
}

/// The tag of a tagged value (`Ref`, `GetAtt`, `Sub`) and its text.
fn intrinsic(v: &Value) -> (String, String) {
    match v {
        Value::Tagged(t) => (
            t.tag.to_string().trim_start_matches('!').to_owned(),
            text_of(&t.value),
        ),
        other => (String::new(), text_of(other)),
    }
}

#[test]
fn the_apps_database_scales_to_zero_with_the_data_api_encrypted_in_the_private_subnets() {
    let t = parsed();
    let (id, cluster) = only(&t, "AWS::RDS::DBCluster");
    let p = &cluster["Properties"];
    assert_eq!(p["Engine"], "aurora-postgresql");
    let scaling = &p["ServerlessV2ScalingConfiguration"];
    assert_eq!(
        scaling["MinCapacity"].as_f64(),
        Some(0.0),
        "scales to zero when idle"
    );
    let pause = scaling["SecondsUntilAutoPause"]
        .as_u64()
        .expect("a pause delay");
    assert!(
        (300..=86_400).contains(&pause),
        "AWS takes 300 to 86400: {pause}"
    );
    assert!(scaling["MaxCapacity"].as_f64().is_some_and(|m| m >= 1.0));
    assert_eq!(p["EnableHttpEndpoint"], Value::Bool(true), "the Data API");
    assert_eq!(p["StorageEncrypted"], Value::Bool(true));
    // RDS makes the master password and keeps it in a secret (the Data API's secretArn);
    // no password is written anywhere in the template.
    assert_eq!(p["ManageMasterUserPassword"], Value::Bool(true));
    assert!(p["MasterUserPassword"].is_null());
    assert_eq!(
        cluster["DeletionPolicy"], "Snapshot",
        "the apps' data outlives the stack"
    );
    assert_eq!(cluster["UpdateReplacePolicy"], "Snapshot");

    // In the private subnets the apps' tasks use.
    let (kind, group) = intrinsic(&p["DBSubnetGroupName"]);
    assert_eq!(kind, "Ref");
    let subnets = &t["Resources"][group.as_str()];
    assert_eq!(subnets["Type"], "AWS::RDS::DBSubnetGroup");
    assert_eq!(
        intrinsic(&subnets["Properties"]["SubnetIds"]),
        ("Ref".to_owned(), "PrivateSubnetIds".to_owned())
    );
    let tasks_subnets =
        text_of(&t["Globals"]["Function"]["Environment"]["Variables"]["KILN_SUBNETS"]);
    assert!(
        tasks_subnets.contains("PrivateSubnetIds"),
        "{tasks_subnets}"
    );

    // One Serverless v2 instance, the writer, not public.
    let (_, instance) = only(&t, "AWS::RDS::DBInstance");
    let i = &instance["Properties"];
    assert_eq!(i["DBInstanceClass"], "db.serverless");
    assert_eq!(intrinsic(&i["DBClusterIdentifier"]), ("Ref".to_owned(), id));
    assert_eq!(i["PubliclyAccessible"], Value::Bool(false));
}

/// An Aurora PostgreSQL version, major and minor.
type Version = (u32, u32);

/// The documented minimum Aurora PostgreSQL versions, by major version: for a Serverless v2
/// minimum capacity of 0 ACUs (auto-pause: 16.3, 15.7, 14.12, 13.15, from AWS's "Aurora
/// Serverless v2 capacity"), and for the RDS Data API on Serverless v2 and provisioned
/// clusters (16.1, 15.3, 14.8, 13.11, from "Supported Regions and Aurora DB engines for RDS
/// Data API"). A major version not listed here has to be checked against the documentation
/// and added.
const MINIMUMS: &[(u32, Version, Version)] = &[
    (16, (16, 3), (16, 1)),
    (15, (15, 7), (15, 3)),
    (14, (14, 12), (14, 8)),
    (13, (13, 15), (13, 11)),
];

#[test]
fn the_engine_version_supports_scaling_to_zero_and_the_data_api() {
    let t = parsed();
    let (_, cluster) = only(&t, "AWS::RDS::DBCluster");
    let version = text_of(&cluster["Properties"]["EngineVersion"]);
    let (major, minor) = version
        .trim()
        .split_once('.')
        .map(|(a, b)| (a.parse::<u32>().unwrap(), b.parse::<u32>().unwrap()))
        .unwrap_or_else(|| panic!("a major.minor engine version, not {version:?}"));
    let (_, pause, data_api) = MINIMUMS
        .iter()
        .find(|(m, _, _)| *m == major)
        .unwrap_or_else(|| panic!("no documented minimums for Aurora PostgreSQL {major}"));
    assert!((major, minor) >= *pause, "{version} cannot scale to 0 ACUs");
    assert!(
        (major, minor) >= *data_api,
        "{version} has no Data API on Serverless v2"
    );
}

/// The database takes PostgreSQL from the apps' tasks only (by their security group, on
/// 5432), starts no connection, and the tasks may reach it (their group lists every egress).
#[test]
fn only_the_apps_reach_the_database_on_5432() {
    let t = parsed();
    let (_, cluster) = only(&t, "AWS::RDS::DBCluster");
    let groups = cluster["Properties"]["VpcSecurityGroupIds"]
        .as_sequence()
        .expect("the cluster's security groups")
        .clone();
    assert_eq!(groups.len(), 1, "{groups:?}");
    let group = text_of(&groups[0]);
    let sg = &t["Resources"][group.as_str()]["Properties"];
    let mut ingress: Vec<Value> = sg["SecurityGroupIngress"]
        .as_sequence()
        .cloned()
        .unwrap_or_default();
    for (_, r) in t["Resources"].as_mapping().unwrap() {
        if r["Type"] == "AWS::EC2::SecurityGroupIngress"
            && text_of(&r["Properties"]["GroupId"]) == group
        {
            ingress.push(r["Properties"].clone());
        }
    }
    assert!(!ingress.is_empty(), "the apps must reach it");
    for rule in &ingress {
        assert_eq!(rule["IpProtocol"], "tcp", "{rule:?}");
        assert_eq!(rule["FromPort"].as_u64(), Some(5432), "{rule:?}");
        assert_eq!(rule["ToPort"].as_u64(), Some(5432), "{rule:?}");
        assert_eq!(
            text_of(&rule["SourceSecurityGroupId"]),
            "AppsSecurityGroup",
            "{rule:?}"
        );
        assert!(
            rule["CidrIp"].is_null() && rule["CidrIpv6"].is_null(),
            "{rule:?}"
        );
    }
    let egress = sg["SecurityGroupEgress"]
        .as_sequence()
        .expect("egress listed");
    for rule in egress {
        assert!(
            text_of(&rule["CidrIp"]).ends_with("/32") && rule["IpProtocol"] == "icmp",
            "the database starts no connection: {rule:?}"
        );
    }
    // The tasks' own egress reaches the database.
    let reaches = t["Resources"].as_mapping().unwrap().values().any(|r| {
        r["Type"] == "AWS::EC2::SecurityGroupEgress"
            && text_of(&r["Properties"]["GroupId"]) == "AppsSecurityGroup"
            && text_of(&r["Properties"]["DestinationSecurityGroupId"]) == group
            && r["Properties"]["FromPort"].as_u64() == Some(5432)
            && r["Properties"]["ToPort"].as_u64() == Some(5432)
    });
    assert!(reaches, "the apps' tasks may not connect to their database");
}

/// The functions learn the cluster, its master secret and its endpoint from the cluster itself.
#[test]
fn the_functions_are_told_the_cluster_its_master_secret_and_its_writer() {
    let t = parsed();
    let (id, _) = only(&t, "AWS::RDS::DBCluster");
    let settings = &t["Globals"]["Function"]["Environment"]["Variables"];
    for (variable, attribute) in [
        ("KILN_APPS_DATABASE_ARN", "DBClusterArn"),
        (
            "KILN_APPS_DATABASE_SECRET_ARN",
            "MasterUserSecret.SecretArn",
        ),
        ("KILN_APPS_DATABASE_HOST", "Endpoint.Address"),
    ] {
        assert_eq!(
            intrinsic(&settings[variable]),
            ("GetAtt".to_owned(), format!("{id}.{attribute}")),
            "{variable}"
        );
    }
}

/// `*` in an IAM resource pattern, against a name.
fn glob(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, tail)) => {
            name.starts_with(head)
                && (0..=name.len() - head.len()).any(|i| glob(tail, &name[head.len() + i..]))
        }
    }
}

/// The functions run statements on the apps' cluster only, read its master secret and
/// nothing else of RDS's, and make, read, change or delete only this installation's
/// `…/database-url` secrets (which the tasks' role may read); the stacks' JWT secrets and
/// other installations' secrets are out of their reach.
#[test]
fn the_functions_reach_only_the_apps_cluster_and_this_installations_database_urls() {
    let t = parsed();
    let (id, _) = only(&t, "AWS::RDS::DBCluster");
    let urls = "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:kiln-${EnvironmentName}-*/database-url-*";
    // The environments' data tokens (`…/data-token`), made and read beside the URLs.
    let tokens = urls.replace("/database-url-*", "/data-token-*");
    let mut seen = 0;
    for function in ["ApiFunction", "AgentsFunction"] {
        for policy in t["Resources"][function]["Properties"]["Policies"]
            .as_sequence()
            .unwrap()
        {
            for s in policy["Statement"].as_sequence().unwrap() {
                // The language model's key: held to its own secret in model.rs.
                if s["Sid"] == "UnderstandingKey" {
                    continue;
                }
                let actions: Vec<String> = match &s["Action"] {
                    Value::String(a) => vec![a.clone()],
                    Value::Sequence(l) => {
                        l.iter().map(|a| a.as_str().unwrap().to_owned()).collect()
                    }
                    other => panic!("{other:?}"),
                };
                let resources: Vec<(String, String)> = match &s["Resource"] {
                    Value::Sequence(l) => l.iter().map(intrinsic).collect(),
                    one => vec![intrinsic(one)],
                };
                let resource = resources[0].clone();
                if actions.iter().any(|a| a.starts_with("rds-data:")) {
                    seen += 1;
                    assert_eq!(actions, ["rds-data:ExecuteStatement"], "{function}");
                    assert_eq!(
                        resource,
                        ("GetAtt".to_owned(), format!("{id}.DBClusterArn"))
                    );
                }
                if actions.iter().any(|a| a.starts_with("secretsmanager:")) {
                    seen += 1;
                    if resource.0 == "GetAtt" {
                        assert_eq!(resource.1, format!("{id}.MasterUserSecret.SecretArn"));
                        assert_eq!(actions, ["secretsmanager:GetSecretValue"], "{function}");
                    } else {
                        for r in &resources {
                            assert_eq!(r.0, "Sub", "{function}");
                            assert!(r.1 == urls || r.1 == tokens, "{function}: {r:?}");
                        }
                    }
                }
            }
        }
    }
    assert!(
        seen >= 6,
        "both functions reach the cluster, its secret and the URLs"
    );
    // The names the deployer gives the URLs (`kiln-<installation>-<project>-<env>/database-url`,
    // see tests/runners_aws/database.rs) fall under the pattern, and the stacks' JWT secrets
    // do not; the tasks' role may read them.
    let arn =
        |name: &str| format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-AbCdEf");
    let pattern = urls
        .replace("${AWS::Partition}", "aws")
        .replace("${AWS::Region}", "us-east-1")
        .replace("${AWS::AccountId}", "123456789012")
        .replace("${EnvironmentName}", "prod");
    let ours = arn("kiln-prod-0190a1b2c3d4e5f60718293a4b5c6d7e-dev/database-url");
    assert!(glob(&pattern, &ours));
    assert!(!glob(
        &pattern,
        &arn("kiln-prod-0190a1b2c3d4e5f60718293a4b5c6d7e-dev/jwt-secret-x")
    ));
    assert!(!glob(
        &pattern,
        &arn("kiln-staging-0190a1b2-dev/database-url")
    ));
    let read = text_of(
        &t["Resources"]["AppsExecutionRole"]["Properties"]["Policies"][0]["PolicyDocument"]
            ["Statement"][0]["Resource"],
    )
    .replace("${AWS::Partition}", "aws")
    .replace("${AWS::Region}", "us-east-1")
    .replace("${AWS::AccountId}", "123456789012")
    .replace("${EnvironmentName}", "prod");
    assert!(glob(&read, &ours), "the tasks' role reads {read}");
}
