//! The estimate before a deploy, on the local backend (real deployments under uvicorn): what
//! the version would cost a month on AWS, said before its first deploy to an environment;
//! every deploy to prod waits for a confirmation, which the next "yes, deploy to prod" gives
//! and the deployment records. Locally the deploy itself is free, and the estimate says so.

use axum::http::StatusCode;
use serde_json::Value;

use crate::common::{app_with, config_with, App};

async fn said(app: &App, id: &str, text: &str) -> Value {
    let (status, body) = app.say(id, text).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["run"]["status"], "succeeded", "{text}: {body}");
    body
}

fn cost_blocks(conversation: &[Value]) -> Vec<Value> {
    conversation
        .iter()
        .flat_map(|m| m["blocks"].as_array().cloned().unwrap_or_default())
        .filter(|b| b["type"] == "cost")
        .collect()
}

async fn project(app: &App, id: &str) -> Value {
    app.call("GET", &format!("/api/v2/projects/{id}"), None)
        .await
        .1
}

/// A price table whose every price is a round number, so the expected figures are worked out
/// here by hand: 0.25 vCPU and 0.5 GB (the generated template's task), one task, 100 hours.
const TABLE: &str = r#"{
  "date": "2026-01-15",
  "source": "a table made for this test",
  "assumptions": {
    "hours_per_month": 100,
    "requests_per_month": 1000000,
    "log_bytes_per_request": 1000,
    "load_balancer_lcu": 1,
    "image_gb": 0.5,
    "database_acu_hours_per_month": 10,
    "database_storage_gb": 2
  },
  "regions": {
    "xx-test-1": {
      "fargate_arm64_vcpu_hour": 1,
      "fargate_arm64_gb_hour": 0.1,
      "alb_hour": 2,
      "alb_lcu_hour": 1,
      "logs_ingestion_gb": 1,
      "logs_storage_gb_month": 0.5,
      "ecr_storage_gb_month": 0.2,
      "aurora_serverless_v2_acu_hour": 3,
      "aurora_storage_gb_month": 1
    }
  }
}"#;

#[tokio::test(flavor = "multi_thread")]
async fn the_first_deploy_says_what_it_would_cost_and_prod_waits_for_a_yes() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("prices.json");
    std::fs::write(&table, TABLE).unwrap();
    let app = app_with(&[
        ("KILN_PRICE_TABLE", table.to_str().unwrap()),
        ("KILN_PRICE_REGION", "xx-test-1"),
        ("KILN_APPS_LOG_RETENTION_DAYS", "60"),
    ])
    .await;
    let id = app.create_project("Priced").await;
    said(&app, &id, "API for notes. Each note has a title").await;
    said(&app, &id, "Add database support").await;
    said(&app, &id, "deploy it").await;
    let blocks = cost_blocks(&app.conversation(&id).await);
    assert_eq!(blocks.len(), 1, "{blocks:?}");
    let block = &blocks[0];
    assert_eq!(block["environment"], "dev");
    assert_eq!(block["version"], 1);
    assert_eq!(block.get("confirm"), None);
    let e = &block["estimate"];
    assert_eq!(e["region"], "xx-test-1");
    assert_eq!(e["prices_date"], "2026-01-15");
    assert_eq!(e["billed"], false);
    let lines: Vec<(&str, f64)> = e["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["name"].as_str().unwrap(),
                i["monthly_usd"].as_f64().unwrap(),
            )
        })
        .collect();
    // By hand: 0.25 × 100 × 1; 0.5 × 100 × 0.1; (2 + 1 × 1) × 100 for the one app on the
    // load balancer; 1 GB ingested × 1; 1 GB × 60/30 days kept × 0.5; 10 images × 0.5 GB ×
    // 0.2; 10 ACU-hours × 3 + 2 GB × 1.
    assert_eq!(
        lines,
        [
            ("Fargate vCPU (arm64)", 25.0),
            ("Fargate memory (arm64)", 5.0),
            ("Load balancer (share)", 300.0),
            ("CloudWatch Logs ingestion", 1.0),
            ("CloudWatch Logs storage", 1.0),
            ("ECR image storage", 1.0),
            ("Aurora Serverless v2 (database)", 32.0),
        ]
    );
    assert_eq!(e["monthly_usd"], 365.0);
    let (_, deployments) = app
        .call("GET", &format!("/api/v2/projects/{id}/deployments"), None)
        .await;
    assert_eq!(deployments["items"][0]["monthly_usd"], 365.0);
    assert_eq!(deployments["items"][0].get("confirmed_by"), None);

    // The same version to the same place again: nothing new to say about its cost.
    said(&app, &id, "redeploy it").await;
    assert_eq!(cost_blocks(&app.conversation(&id).await).len(), 1);

    // Prod waits for a yes: asking again is not one, and nothing is deployed meanwhile.
    for text in ["deploy it to prod", "deploy to production please"] {
        let body = said(&app, &id, text).await;
        let steps: Vec<&str> = body["run"]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            steps,
            ["Plan", "Review", "DevOpsEstimate", "Complete"],
            "{text}"
        );
    }
    let waiting = project(&app, &id).await;
    assert_eq!(waiting["deployments"].as_array().unwrap().len(), 1);
    assert_eq!(waiting["awaiting_confirmation"]["environment"], "prod");
    let asked = cost_blocks(&app.conversation(&id).await).pop().unwrap();
    assert_eq!(asked["environment"], "prod");
    assert_eq!(asked["confirm"], "yes, deploy to prod");
    assert_eq!(
        asked["reasons"],
        serde_json::json!(["every deploy to prod is confirmed first"])
    );
    // A second app on the load balancer halves each one's share of it.
    assert_eq!(asked["estimate"]["monthly_usd"], 215.0);

    // "no" is not a yes either.
    said(&app, &id, "no, don't deploy to prod yet").await;
    assert_eq!(
        project(&app, &id).await["deployments"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let body = said(&app, &id, "yes, deploy to prod").await;
    let confirming = body["message"]["id"].clone();
    let deployed = project(&app, &id).await;
    assert_eq!(deployed.get("awaiting_confirmation"), None, "{deployed}");
    let environments: Vec<&str> = deployed["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["environment"].as_str().unwrap())
        .collect();
    assert_eq!(environments, ["dev", "prod"]);
    let (_, deployments) = app
        .call(
            "GET",
            &format!("/api/v2/projects/{id}/deployments?limit=1"),
            None,
        )
        .await;
    let prod = &deployments["items"][0];
    assert_eq!(prod["environment"], "prod");
    assert_eq!(prod["confirmed_by"], confirming);
    assert_eq!(prod["monthly_usd"], 215.0);
}

#[tokio::test]
async fn a_yes_with_nothing_asked_only_asks_and_a_bad_table_stops_the_start() {
    let app = app_with(&[]).await;
    let id = app.create_project("Eager").await;
    said(&app, &id, "API for notes. Each note has a title").await;
    said(&app, &id, "yes, deploy to prod").await;
    let waiting = project(&app, &id).await;
    assert_eq!(waiting["deployments"], serde_json::json!([]));
    assert_eq!(waiting["awaiting_confirmation"]["environment"], "prod");
    // The table in the repo prices us-east-1, the default region.
    let asked = cost_blocks(&app.conversation(&id).await).pop().unwrap();
    assert_eq!(asked["estimate"]["region"], "us-east-1");

    for (contents, says) in [
        ("{\"date\": \"2026-01-01\"}", "missing field"),
        (
            &TABLE.replace("\"alb_hour\": 2", "\"alb_hour\": -2")[..],
            "alb_hour",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let table = dir.path().join("prices.json");
        std::fs::write(&table, contents).unwrap();
        let (config, _data) = config_with(&[("KILN_PRICE_TABLE", table.to_str().unwrap())]);
        let err = kiln::backends::local_state(&config)
            .await
            .err()
            .expect("a bad table stops the start");
        let text = err.to_string();
        assert!(text.starts_with("KILN_PRICE_TABLE: "), "{text}");
        assert!(text.contains(says), "{text}");
    }
}
