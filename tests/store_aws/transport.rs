//! What AWS checks of the requests Kiln's own HTTP client for the SDK (`kiln::aws_http`, on
//! reqwest) puts on the wire, and moto does not: every request arrives exactly as the SDK
//! signed it (path, query, signed headers and body, checked with a Signature Version 4
//! verifier written here, as S3 and DynamoDB check it), including keys whose characters need
//! escaping; a refused connection, and an answer that never comes within the read timeout, are
//! failures a retry may fix; a redirect is the SDK's to read, never followed to another host.

use std::time::Duration;

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

/// `kiln::aws::get` at `endpoint`, with the SDK's retries off and a read timeout of `read`.
async fn one_get(endpoint: &str, read: Duration) -> Result<Vec<u8>, ObjectError> {
    let s3 = s3_at(endpoint).await;
    let s3 = aws_sdk_s3::Client::from_conf(
        s3.config()
            .to_builder()
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
            .timeout_config(
                aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                    .read_timeout(read)
                    .build(),
            )
            .build(),
    );
    tokio::time::timeout(
        Duration::from_secs(20),
        kiln::aws::get(&s3, "kiln-artifacts", "k"),
    )
    .await
    .expect("the call ends: the read timeout is applied")
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
