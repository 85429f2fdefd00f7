//! The alarms of every generated project's environment stack (`deploy/cloudformation.yaml`),
//! which moto's CloudFormation skips: server errors, unhealthy targets, CPU and no task. Each
//! watches this stack's own service or target group (so it is made and deleted with them),
//! names no alarm (CloudFormation's names are unique per stack, and go with it), and tells the
//! optional topic. cfn-lint and checkov lint them with the rest (`app_stack.rs`, `infra`).

use kiln::generator::generate_code;
use kiln::runner::TEMPLATE_PATH;
use kiln::spec::AppSpec;
use serde_yaml::Value;

fn template(spec_name: &str) -> Value {
    let path = format!(
        "{}/golden/specs/{spec_name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let spec: AppSpec = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let text = generate_code(&spec)
        .unwrap()
        .into_iter()
        .find(|f| f.path == TEMPLATE_PATH)
        .unwrap()
        .contents;
    serde_yaml::from_str(&text).unwrap()
}

const SPECS: [&str; 4] = [
    "typed_tasks_in_memory",
    "library_sqlite_auth",
    "notes_postgres",
    "hostile_name",
];

/// `!Tag value` as (tag, value).
fn tagged(v: &Value) -> Option<(String, &Value)> {
    match v {
        Value::Tagged(t) => Some((
            t.tag.to_string().trim_start_matches('!').to_owned(),
            &t.value,
        )),
        _ => None,
    }
}

/// The stack's alarms, by metric name.
fn alarms(t: &Value) -> Vec<(String, Value)> {
    t["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Alarm")
        .map(|(_, r)| {
            let p = r["Properties"].clone();
            (p["MetricName"].as_str().unwrap().to_owned(), p)
        })
        .collect()
}

fn alarm_on(t: &Value, metric: &str) -> Value {
    let found: Vec<Value> = alarms(t)
        .into_iter()
        .filter(|(m, _)| m == metric)
        .map(|(_, p)| p)
        .collect();
    assert_eq!(found.len(), 1, "one alarm on {metric}");
    found[0].clone()
}

/// The alarm's dimensions, by name.
fn dimensions(alarm: &Value) -> Vec<(String, Value)> {
    alarm["Dimensions"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|d| (d["Name"].as_str().unwrap().to_owned(), d["Value"].clone()))
        .collect()
}

fn dimension(alarm: &Value, name: &str) -> Value {
    dimensions(alarm)
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no dimension {name} in {alarm:?}"))
        .1
}

/// The text of `!GetAtt X.Y` or `!Ref X`.
fn points_at(v: &Value) -> String {
    let (tag, value) = tagged(v).unwrap_or_else(|| panic!("not a reference: {v:?}"));
    format!("{tag} {}", value.as_str().unwrap_or_default())
}

#[test]
fn every_stack_has_the_four_alarms_on_its_own_resources() {
    for name in SPECS {
        let t = template(name);
        let mut metrics: Vec<String> = alarms(&t).into_iter().map(|(m, _)| m).collect();
        metrics.sort();
        assert_eq!(
            metrics,
            [
                "CPUUtilization",
                "HTTPCode_Target_5XX_Count",
                "RunningTaskCount",
                "UnHealthyHostCount"
            ],
            "{name}"
        );

        // The load balancer's metrics: this stack's target group, on the listener's balancer.
        let errors = alarm_on(&t, "HTTPCode_Target_5XX_Count");
        let unhealthy = alarm_on(&t, "UnHealthyHostCount");
        for alarm in [&errors, &unhealthy] {
            assert_eq!(alarm["Namespace"], "AWS/ApplicationELB", "{name}");
            assert_eq!(
                points_at(&dimension(alarm, "TargetGroup")),
                "GetAtt TargetGroup.TargetGroupFullName",
                "{name}"
            );
            assert_eq!(dimensions(alarm).len(), 2, "{name}: {alarm:?}");
        }
        // The same balancer name, taken apart from the listener's ARN the same way.
        assert_eq!(
            dimension(&unhealthy, "LoadBalancer"),
            dimension(&errors, "LoadBalancer")
        );
        assert_eq!(unhealthy["Statistic"], "Maximum", "{name}");
        assert_eq!(
            unhealthy["ComparisonOperator"], "GreaterThanOrEqualToThreshold",
            "{name}"
        );
        assert_eq!(unhealthy["Threshold"].as_f64(), Some(1.0), "{name}");

        // ECS's metrics: this stack's service in the cluster it runs in.
        let cpu = alarm_on(&t, "CPUUtilization");
        assert_eq!(cpu["Namespace"], "AWS/ECS", "{name}");
        assert_eq!(
            points_at(&dimension(&cpu, "ClusterName")),
            "Ref ClusterName"
        );
        assert_eq!(
            points_at(&dimension(&cpu, "ServiceName")),
            "GetAtt Service.Name"
        );
        assert_eq!(dimensions(&cpu).len(), 2);
        assert_eq!(cpu["ComparisonOperator"], "GreaterThanThreshold");
        let threshold = cpu["Threshold"].as_f64().unwrap();
        assert!((50.0..100.0).contains(&threshold), "{threshold}");
        // No data is no task, which the task count's alarm reports, not this one.
        assert_eq!(cpu["TreatMissingData"], "notBreaching");
    }
}

#[test]
fn alarms_are_named_by_the_stack_and_tell_the_topic_when_there_is_one() {
    for name in SPECS {
        let t = template(name);
        for (metric, alarm) in alarms(&t) {
            // A fixed AlarmName would clash between environments and outlive nothing; the
            // stack's own name is in the description instead.
            assert!(alarm.get("AlarmName").is_none(), "{name} {metric}");
            let (tag, _) = tagged(&alarm["AlarmDescription"]).unwrap();
            assert_eq!(tag, "Sub", "{name} {metric}");
            assert!(
                format!("{:?}", alarm["AlarmDescription"]).contains("${AWS::StackName}"),
                "{name} {metric}"
            );
            let (tag, args) = tagged(&alarm["AlarmActions"]).unwrap();
            assert_eq!(tag, "If", "{name} {metric}");
            assert_eq!(args[0], "HasAlarmTopic", "{name} {metric}");
            let period = alarm["Period"].as_u64().unwrap();
            let periods = alarm["EvaluationPeriods"].as_u64().unwrap();
            // Standard-resolution metrics: a minute at least, and never a single blip.
            assert!(period >= 60 && periods >= 3, "{name} {metric}");
        }
    }
}
