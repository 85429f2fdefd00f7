//! What AWS checks of the requests Kiln's own HTTP client for the SDK (`kiln::aws_http`, on
//! reqwest) puts on the wire, and moto does not: every request arrives exactly as the SDK
//! signed it (path, query, signed headers and body, checked with a Signature Version 4
//! verifier written here, as S3 and DynamoDB check it), including keys whose characters need
//! escaping; a path with a `.` or `..` segment, which reqwest would rewrite after signing, is
//! refused before anything is sent; a refused connection is an I/O failure and an answer that
//! never comes a timeout, both of which the SDK retries; an answer cut short, or one that
//! stalls, reaches the SDK as a stream, so that its retries and its stalled-stream protection
//! apply; a redirect is the SDK's to read, never followed to another host.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::StalledStreamProtectionConfig;
use aws_sdk_s3::error::SdkError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use aws_sdk_dynamodb::types::AttributeValue;
use kiln::aws::{CallFailure, ObjectError};
use sha2::{Digest, Sha256};

use super::stand_in::{s3_at, stand_in, Answer, Received};
use super::{hmac_sha256, percent_decode, uri_encode};

/// Checks a request signed in its `Authorization` header as AWS does: the signature
/// recomputed with `secret` from the canonical request made of the request as it arrived, and
/// the payload's hash against the body. S3 canonicalises the path as sent; the other
/// services' paths here are `/`.
fn verify_signed(r: &Received, secret: &str) -> Result<(), String> {
    let header = |name: &str| {
        r.headers
            .get(name)
            .map(String::as_str)
            .ok_or(format!("no {name} header"))
    };
    let fields = header("authorization")?
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or("not Signature Version 4")?;
    let field = |name: &str| {
        fields
            .split(", ")
            .find_map(|f| f.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
            .ok_or(format!("no {name}"))
    };
    let (credential, signed_headers, signature) = (
        field("Credential")?,
        field("SignedHeaders")?,
        field("Signature")?,
    );
    let scope: Vec<&str> = credential
        .split_once('/')
        .map_or("", |(_, scope)| scope)
        .split('/')
        .collect();
    let [day, region, service, "aws4_request"] = scope[..] else {
        return Err(format!("credential scope {credential}"));
    };
    let body_hash = hex::encode(Sha256::digest(&r.body));
    let payload = match r.headers.get("x-amz-content-sha256") {
        Some(declared) if *declared != body_hash && declared != "UNSIGNED-PAYLOAD" => {
            return Err(format!(
                "the body's hash is {body_hash}, the request says {declared}"
            ))
        }
        Some(declared) => declared.clone(),
        None => body_hash,
    };
    let (path, query) = r.target.split_once('?').unwrap_or((&r.target, ""));
    let mut params: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Ok((
                uri_encode(&percent_decode(k)?, true),
                uri_encode(&percent_decode(v)?, true),
            ))
        })
        .collect::<Result<_, String>>()?;
    params.sort();
    let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut headers = String::new();
    for name in signed_headers.split(';') {
        let value = header(name)?
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        headers.push_str(&format!("{name}:{value}\n"));
    }
    let canonical = format!(
        "{}\n{}\n{}\n{headers}\n{signed_headers}\n{payload}",
        r.method,
        uri_encode(&percent_decode(path)?, false),
        query.join("&"),
    );
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{}\n{day}/{region}/{service}/aws4_request\n{}",
        header("x-amz-date")?,
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac_sha256(format!("AWS4{secret}").as_bytes(), day.as_bytes());
    for part in [region, service, "aws4_request"] {
        key = hmac_sha256(&key, part.as_bytes());
    }
    if hex::encode(hmac_sha256(&key, to_sign.as_bytes())) != signature {
        return Err(format!("the signature does not match:\n{canonical}"));
    }
    Ok(())
}

/// What the S3 stand-in answers every request: an empty listing (a put ignores it, a get
/// takes it as the object).
fn listing() -> Answer {
    Answer {
        status: 200,
        headers: vec![],
        body: br#"<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>kiln-artifacts</Name><IsTruncated>false</IsTruncated></ListBucketResult>"#.to_vec(),
    }
}

#[tokio::test]
async fn what_the_sdk_signed_reaches_the_wire_as_it_signed_it() {
    let fake = stand_in(listing()).await;
    let s3 = s3_at(&fake.endpoint).await;
    let keys = [
        "blobs/3f2a",
        "exports/a b+c/d!'()*~@,;=&$ü.zip",
        "%41/already-escaped",
    ];
    for key in keys {
        kiln::aws::put(
            &s3,
            "kiln-artifacts",
            key,
            b"{}".to_vec(),
            "application/json",
        )
        .await
        .unwrap();
        kiln::aws::get(&s3, "kiln-artifacts", key).await.unwrap();
    }
    s3.list_objects_v2()
        .bucket("kiln-artifacts")
        .prefix("exports/a b")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));

    let answer = Answer {
        status: 200,
        headers: vec![("content-type".into(), "application/x-amz-json-1.0".into())],
        body: b"{}".to_vec(),
    };
    let dynamo_fake = stand_in(answer).await;
    let sdk = kiln::aws_http::sdk_defaults()
        .region(aws_config::Region::new("eu-west-1"))
        .endpoint_url(&dynamo_fake.endpoint)
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .load()
        .await;
    aws_sdk_dynamodb::Client::new(&sdk)
        .get_item()
        .table_name("kiln")
        .key("PK", AttributeValue::S("PROJECT#ü é".into()))
        .send()
        .await
        .unwrap();

    let mut received = fake.received.lock().unwrap().clone();
    received.extend(dynamo_fake.received.lock().unwrap().iter().cloned());
    assert_eq!(received.len(), 2 * keys.len() + 2, "{received:#?}");
    for (i, key) in keys.iter().enumerate() {
        for r in &received[2 * i..2 * i + 2] {
            let path = r.target.split('?').next().unwrap();
            assert_eq!(
                percent_decode(path).unwrap(),
                format!("/kiln-artifacts/{key}"),
                "the key arrives as it was given"
            );
        }
    }
    for r in &received {
        verify_signed(r, "testing").unwrap_or_else(|e| panic!("{} {}: {e}", r.method, r.target));
    }

    // The verifier is not satisfied by just anything.
    let mut moved = received[2].clone();
    moved.target = moved.target.replacen("%20", "+", 1);
    assert!(
        verify_signed(&moved, "testing").is_err(),
        "a path changed on the way"
    );
    let mut changed = received[0].clone();
    changed.body = b"{ }".to_vec();
    assert!(
        verify_signed(&changed, "testing").is_err(),
        "a body changed on the way"
    );
    assert!(verify_signed(&received[1], "another secret").is_err());
}

/// An S3 client at `endpoint` with these retries and this read timeout, and the SDK's
/// stalled-stream protection after a grace period of one second.
async fn s3_with(endpoint: &str, retries: RetryConfig, read: Duration) -> aws_sdk_s3::Client {
    let s3 = s3_at(endpoint).await;
    aws_sdk_s3::Client::from_conf(
        s3.config()
            .to_builder()
            .retry_config(retries)
            .timeout_config(
                aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                    .read_timeout(read)
                    .build(),
            )
            .stalled_stream_protection(
                StalledStreamProtectionConfig::enabled()
                    .grace_period(Duration::from_secs(1))
                    .build(),
            )
            .build(),
    )
}

/// `kiln::aws::get` at `endpoint`, with the SDK's retries off.
async fn one_get(endpoint: &str, read: Duration) -> Result<Vec<u8>, ObjectError> {
    let s3 = s3_with(endpoint, RetryConfig::disabled(), read).await;
    tokio::time::timeout(
        Duration::from_secs(20),
        kiln::aws::get(&s3, "kiln-artifacts", "k"),
    )
    .await
    .expect("the call ends: the read timeout is applied")
}

/// How the SDK saw a failed call: `io`, `timeout`, `user` or `other` for a dispatch failure
/// (what the connector said), else the kind of error.
fn seen_as<E, R>(e: &SdkError<E, R>) -> &'static str {
    match e {
        SdkError::DispatchFailure(d) if d.is_io() => "io",
        SdkError::DispatchFailure(d) if d.is_timeout() => "timeout",
        SdkError::DispatchFailure(d) if d.is_user() => "user",
        SdkError::DispatchFailure(_) => "other",
        SdkError::ResponseError(_) => "response",
        SdkError::TimeoutError(_) => "operation timeout",
        SdkError::ServiceError(_) => "service",
        _ => "construction",
    }
}

#[tokio::test]
async fn refused_and_unanswered_calls_are_failures_a_retry_may_fix() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let got = one_get(&closed, Duration::from_secs(5)).await;
    assert!(
        matches!(got, Err(ObjectError::Call(CallFailure::Transient(_)))),
        "a refused connection: {got:?}"
    );
    let s3 = s3_with(&closed, RetryConfig::disabled(), Duration::from_secs(5)).await;
    let e = s3
        .get_object()
        .bucket("b")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(seen_as(&e), "io", "which the SDK retries: {e:?}");

    // A server that takes the request and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", silent.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let got = one_get(&endpoint, Duration::from_millis(300)).await;
    assert!(
        matches!(got, Err(ObjectError::Call(CallFailure::Transient(_)))),
        "no answer within the read timeout: {got:?}"
    );
    let s3 = s3_with(
        &endpoint,
        RetryConfig::disabled(),
        Duration::from_millis(300),
    )
    .await;
    let e = s3
        .get_object()
        .bucket("b")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(seen_as(&e), "timeout", "which the SDK retries: {e:?}");
}

/// A listener that answers every request with 200, a `Content-Length` of 100 and ten bytes,
/// then either closes the connection (`stall` false) or holds it open saying nothing more;
/// it counts the requests.
async fn cut_short(stall: bool) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let asked = Arc::new(AtomicUsize::new(0));
    let count = asked.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && socket.read(&mut byte).await.unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            count.fetch_add(1, Ordering::SeqCst);
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
                .await;
            if stall {
                held.push(socket);
            }
        }
    });
    (endpoint, asked)
}

#[tokio::test]
async fn an_answer_cut_short_is_retried_and_one_that_stalls_fails() {
    let retries = RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(10));
    let (endpoint, asked) = cut_short(false).await;
    let s3 = s3_with(&endpoint, retries.clone(), Duration::from_secs(5)).await;
    // An answer the SDK reads whole before handing it over (a listing): it asks again.
    let listed = tokio::time::timeout(
        Duration::from_secs(20),
        s3.list_objects_v2().bucket("kiln-artifacts").send(),
    )
    .await
    .expect("the call ends");
    let e = listed.expect_err("ten bytes of a hundred are not a listing");
    assert_eq!(seen_as(&e), "response", "{e:?}");
    assert_eq!(
        asked.load(Ordering::SeqCst),
        3,
        "the SDK asked again, as it may"
    );
    // An object, whose body the caller reads: a failure a retry may fix.
    let got = tokio::time::timeout(
        Duration::from_secs(20),
        kiln::aws::get(&s3, "kiln-artifacts", "k"),
    )
    .await
    .expect("the call ends");
    assert!(
        matches!(got, Err(ObjectError::Call(CallFailure::Transient(_)))),
        "ten bytes of a hundred are not the object: {got:?}"
    );

    let (endpoint, _) = cut_short(true).await;
    let s3 = s3_with(
        &endpoint,
        RetryConfig::disabled(),
        Duration::from_secs(3600),
    )
    .await;
    let got = tokio::time::timeout(
        Duration::from_secs(20),
        kiln::aws::get(&s3, "kiln-artifacts", "k"),
    )
    .await
    .expect("a stalled answer ends: the SDK's stalled-stream protection sees it");
    assert!(got.is_err(), "{got:?}");
}

#[tokio::test]
async fn a_path_with_dot_segments_is_refused_before_anything_is_sent() {
    let fake = stand_in(listing()).await;
    let s3 = s3_at(&fake.endpoint).await;
    for key in ["a/./b", "a/../b", ".."] {
        let got = kiln::aws::put(&s3, "kiln-artifacts", key, b"{}".to_vec(), "text/plain").await;
        assert!(
            matches!(got, Err(ObjectError::Call(CallFailure::Permanent(_)))),
            "{key}: {got:?}"
        );
    }
    assert!(fake.received.lock().unwrap().is_empty(), "nothing was sent");
    // Dots inside a segment, and a `%` the SDK escapes, are names like any other.
    for key in ["a/.b/..c/b.", "a/%2e%2E/b"] {
        kiln::aws::put(&s3, "kiln-artifacts", key, b"{}".to_vec(), "text/plain")
            .await
            .unwrap_or_else(|e| panic!("{key}: {e:?}"));
    }
}

#[tokio::test]
async fn a_redirect_is_read_by_the_sdk_and_not_followed() {
    let elsewhere = stand_in(Answer {
        status: 200,
        headers: vec![],
        body: b"somebody else's object".to_vec(),
    })
    .await;
    let redirecting = stand_in(Answer {
        status: 301,
        headers: vec![(
            "location".into(),
            format!("{}/kiln-artifacts/k", elsewhere.endpoint),
        )],
        body: b"<Error><Code>PermanentRedirect</Code><Message>elsewhere</Message></Error>".to_vec(),
    })
    .await;
    let got = one_get(&redirecting.endpoint, Duration::from_secs(5)).await;
    assert!(got.is_err(), "a 301 is not an object: {got:?}");
    assert!(
        elsewhere.received.lock().unwrap().is_empty(),
        "nothing was sent to the redirect's target"
    );
}

/// A Lambda's SDK settings come from the variables Lambda sets (`aws_http::lambda_sdk`), not
/// the SDK's chain: its calls are signed with the execution role's keys and session token,
/// for its region, and go to `AWS_ENDPOINT_URL` when it is set. Without a region or keys it
/// does not start, and says which are missing.
#[tokio::test]
async fn a_lambda_signs_with_the_keys_and_region_of_its_environment() {
    let answer = Answer {
        status: 200,
        headers: vec![("content-type".into(), "application/x-amz-json-1.0".into())],
        body: b"{}".to_vec(),
    };
    let fake = stand_in(answer).await;
    let vars = std::collections::HashMap::from([
        ("AWS_REGION", "eu-central-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "ASIAQEXAMPLEROLEKEY".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "the-role's-secret".to_owned()),
        ("AWS_SESSION_TOKEN", "IQoJb3JpZ2luX2VjEXAMPLE".to_owned()),
        ("AWS_ENDPOINT_URL", fake.endpoint.clone()),
    ]);
    let sdk = kiln::aws_http::lambda_sdk_from(|name| vars.get(name).cloned()).unwrap();
    aws_sdk_dynamodb::Client::new(&sdk)
        .get_item()
        .table_name("kiln")
        .key("PK", AttributeValue::S("PROJECT#1".into()))
        .send()
        .await
        .unwrap();
    let received = fake.received.lock().unwrap().clone();
    let [r] = &received[..] else {
        panic!("one request: {received:#?}")
    };
    verify_signed(r, "the-role's-secret").unwrap();
    let authorization = &r.headers["authorization"];
    assert!(
        authorization.contains("Credential=ASIAQEXAMPLEROLEKEY/")
            && authorization.contains("/eu-central-1/dynamodb/aws4_request"),
        "{authorization}"
    );
    assert_eq!(r.headers["x-amz-security-token"], "IQoJb3JpZ2luX2VjEXAMPLE");
    assert!(
        authorization.contains("x-amz-security-token"),
        "the session token is signed: {authorization}"
    );

    let missing = kiln::aws_http::lambda_sdk_from(|_| None).unwrap_err();
    assert_eq!(
        missing,
        "AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY"
    );
    let only_keys = |name: &str| match name {
        "AWS_DEFAULT_REGION" => Some("us-west-2".to_owned()),
        "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" => Some("k".to_owned()),
        "AWS_REGION" => Some(" ".to_owned()),
        _ => None,
    };
    let sdk = kiln::aws_http::lambda_sdk_from(only_keys).unwrap();
    assert_eq!(sdk.region().unwrap().as_ref(), "us-west-2");
    assert!(sdk.endpoint_url().is_none(), "AWS's own endpoints");
}
