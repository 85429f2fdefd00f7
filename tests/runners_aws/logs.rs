//! An app's log on AWS, read back by the ECS deployer from its stack's CloudWatch log group
//! on moto: the tasks' streams interleaved in time order, each event once as a cursor follows
//! on (events of the same millisecond too), and the requests held to what AWS takes and moto
//! does not check: a page's `limit` from 1 to 10,000, a bounded number of pages per read,
//! only the stack's own group.

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use kiln::runner::LogPage;

use super::*;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn put(
    logs: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    stream: &str,
    events: &[(i64, String)],
) {
    let _ = logs
        .create_log_stream()
        .log_group_name(group)
        .log_stream_name(stream)
        .send()
        .await;
    logs.put_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .set_log_events(Some(
            events
                .iter()
                .map(|(t, m)| {
                    InputLogEvent::builder()
                        .timestamp(*t)
                        .message(m)
                        .build()
                        .unwrap()
                })
                .collect(),
        ))
        .send()
        .await
        .unwrap();
}

fn request_line(id: &str, status: u16) -> String {
    json!({"ts": "2026-01-31T12:00:00.000Z", "method": "GET", "path": "/notes", "status": status,
           "duration_ms": 1.5, "request_id": id})
    .to_string()
}

/// The request ids (or the text, for other lines) of a page.
fn names(page: &LogPage) -> Vec<String> {
    page.lines
        .iter()
        .map(|l| match &l.fields {
            Some(f) => f["request_id"].as_str().unwrap().to_owned(),
            None => l.text.clone(),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_stacks_log_group_is_read_in_time_order_and_followed_once_per_event() {
    let aws = aws().await;
    let sent = SentRequests::default();
    let logs = aws_sdk_cloudwatchlogs::Client::from_conf(
        aws_sdk_cloudwatchlogs::config::Builder::from(&aws.sdk)
            .interceptor(sent.clone())
            .build(),
    );
    let deployer = EcsDeployer::new(
        aws_sdk_ecr::Client::new(&aws.sdk),
        aws_sdk_cloudformation::Client::new(&aws.sdk),
        aws_sdk_elasticloadbalancingv2::Client::new(&aws.sdk),
        aws_sdk_codebuild::Client::new(&aws.sdk),
        AppDatabases::new(
            aws_sdk_rdsdata::Client::new(&aws.sdk),
            aws_sdk_secretsmanager::Client::new(&aws.sdk),
            database_settings("127.0.0.1"),
        ),
        aws.jobs.clone(),
        ecs_settings(&aws.fixture),
    )
    .with_logs(logs.clone());
    let project = Uuid::now_v7();
    let dev = Environment::Dev;
    let group = format!("/kiln/apps/kiln-test-{}-dev", project.simple());

    // Before the stack made its group: nothing yet, and a cursor to come back with.
    let empty = deployer.read_logs(project, dev, None, 100).await.unwrap();
    assert!(empty.lines.is_empty());

    logs.create_log_group()
        .log_group_name(&group)
        .send()
        .await
        .unwrap();
    // Another environment's group is not read.
    let staging = format!("/kiln/apps/kiln-test-{}-staging", project.simple());
    logs.create_log_group()
        .log_group_name(&staging)
        .send()
        .await
        .unwrap();
    let now = now_ms();
    put(
        &logs,
        &staging,
        "app/app/x",
        &[(now - 1000, request_line("staging", 200))],
    )
    .await;
    // Two tasks' streams; one line from before the recent stretch (the last five minutes, as
    // the API documents).
    let old = now - 6 * 60_000;
    put(
        &logs,
        &group,
        "app/app/task-1",
        &[
            (old, request_line("old", 200)),
            (now - 3000, "INFO:     Started server process [1]".into()),
            (now - 1000, request_line("a", 200)),
        ],
    )
    .await;
    put(
        &logs,
        &group,
        "app/app/task-2",
        &[
            (now - 2000, request_line("b", 404)),
            (now - 1000, request_line("c", 500)),
        ],
    )
    .await;

    let tail = deployer.read_logs(project, dev, None, 100).await.unwrap();
    let mut seen = names(&tail);
    assert_eq!(seen[..2], ["INFO:     Started server process [1]", "b"]);
    seen[2..].sort();
    assert_eq!(seen[2..], ["a", "c"]);
    let b = &tail.lines[1];
    assert_eq!(b.fields.as_ref().unwrap()["status"], 404);
    // The time is CloudWatch's, to the millisecond.
    let at = time::OffsetDateTime::parse(
        b.ts.as_deref().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!((at.unix_timestamp_nanos() / 1_000_000) as i64, now - 2000);
    let latest = deployer.read_logs(project, dev, None, 2).await.unwrap();
    assert_eq!(latest.lines.len(), 2);
    assert!(
        names(&latest).iter().all(|n| n == "a" || n == "c"),
        "{:?}",
        names(&latest)
    );

    // Following on: nothing new, then each new event once, one of them in the same
    // millisecond as the last one given.
    let nothing = deployer
        .read_logs(project, dev, Some(&tail.next), 100)
        .await
        .unwrap();
    assert!(nothing.lines.is_empty(), "{:?}", names(&nothing));
    put(
        &logs,
        &group,
        "app/app/task-3",
        &[(now - 1000, request_line("d", 200))],
    )
    .await;
    put(
        &logs,
        &group,
        "app/app/task-1",
        &[
            (now, request_line("e", 200)),
            (now + 1, request_line("f", 200)),
        ],
    )
    .await;
    let mut followed = Vec::new();
    let mut cursor = nothing.next.clone();
    for _ in 0..5 {
        let page = deployer
            .read_logs(project, dev, Some(&cursor), 1)
            .await
            .unwrap();
        assert!(page.lines.len() <= 1);
        followed.extend(names(&page));
        cursor = page.next;
    }
    assert_eq!(followed, ["d", "e", "f"]);

    // A cursor this log did not hand out is refused.
    for bad in ["nonsense", "local.eyJyZWxlYXNlIjoiciIsIm9mZnNldCI6MH0"] {
        let err = deployer
            .read_logs(project, dev, Some(bad), 10)
            .await
            .unwrap_err();
        assert!(matches!(err, RunnerError::InvalidCursor(_)), "{err}");
    }

    // What AWS takes and moto does not check: every request names the stack's group and asks
    // for 1 to 10,000 events (FilterLogEvents' documented range).
    let bodies = sent.bodies("FilterLogEvents");
    assert!(!bodies.is_empty());
    for body in &bodies {
        assert_eq!(body["logGroupName"], group.as_str(), "{body}");
        let limit = body["limit"].as_i64().unwrap();
        assert!((1..=10_000).contains(&limit), "{body}");
        assert!(
            body["startTime"].as_i64().unwrap() > now - 15 * 60_000,
            "{body}"
        );
    }
}
