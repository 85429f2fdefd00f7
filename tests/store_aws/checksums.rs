//! What S3 checks of the checksums the SDK computes, and moto does not: S3 refuses an upload
//! whose `x-amz-checksum-crc32` is not the CRC of its body (`BadDigest`), and the SDK refuses a
//! download whose body does not match the checksum S3 sent with it. Both CRCs come from
//! `patches/crc-fast` (see the root `Cargo.toml`), so they are held here against values that
//! do not: `crc32fast`, another implementation of zlib's CRC-32, and the check values of the
//! catalogue of parametrised CRC algorithms (the CRC of the ASCII digits "123456789").
//!
//! The fixture is a plain HTTP/1.1 listener on 127.0.0.1 standing in for S3's REST endpoint
//! (path-style): it records each request's headers and body and answers with the status,
//! headers and body a test gives it. It checks nothing itself.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A request the stand-in received: its lower-cased headers and its body.
#[derive(Debug, Clone)]
struct Received {
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// The stand-in's answer to every request.
#[derive(Clone)]
struct Answer {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

struct StandIn {
    endpoint: String,
    received: Arc<Mutex<Vec<Received>>>,
}

async fn stand_in(answer: Answer) -> StandIn {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = received.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let (log, answer) = (log.clone(), answer.clone());
            tokio::spawn(async move {
                while let Some(request) = read_request(&mut socket).await {
                    log.lock().unwrap().push(request);
                    let mut head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n",
                        answer.body.len()
                    );
                    for (name, value) in &answer.headers {
                        head.push_str(&format!("{name}: {value}\r\n"));
                    }
                    head.push_str("\r\n");
                    let mut bytes = head.into_bytes();
                    bytes.extend_from_slice(&answer.body);
                    if socket.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    StandIn { endpoint, received }
}

/// One HTTP/1.1 request with a `Content-Length` body; `None` when the client hung up.
async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<Received> {
    let mut buf = Vec::new();
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let mut chunk = [0u8; 4096];
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let headers: HashMap<String, String> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .map_or(0, |v| v.parse().unwrap());
    let mut body = buf[end + 4..].to_vec();
    while body.len() < length {
        let mut chunk = vec![0u8; length - body.len()];
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Received { headers, body })
}

async fn s3_at(endpoint: &str) -> aws_sdk_s3::Client {
    let sdk = kiln::aws_http::sdk_defaults()
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .load()
        .await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    )
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn an_upload_carries_the_crc32_s3_checks() {
    let fake = stand_in(Answer {
        headers: vec![],
        body: vec![],
    })
    .await;
    let s3 = s3_at(&fake.endpoint).await;
    let body: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    kiln::aws::put(
        &s3,
        "kiln-artifacts",
        "blobs/x",
        body.clone(),
        "application/zip",
    )
    .await
    .unwrap();
    let received = fake.received.lock().unwrap().clone();
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0].body, body, "the body as given, not aws-chunked");
    assert_eq!(
        received[0].headers.get("x-amz-checksum-crc32"),
        Some(&b64(&crc32fast::hash(&body).to_be_bytes())),
        "the header S3 compares with the body it received"
    );
}

/// S3 sends a stored checksum with the object (the SDK asks for it); the SDK compares it with
/// the body it read, and a body that does not match is an error, never data.
#[tokio::test]
async fn a_download_is_checked_against_each_crc_s3_sends() {
    let digits = b"123456789".to_vec();
    let checks: [(&str, Vec<u8>); 3] = [
        (
            "x-amz-checksum-crc32",
            0xCBF4_3926u32.to_be_bytes().to_vec(),
        ),
        (
            "x-amz-checksum-crc32c",
            0xE306_9283u32.to_be_bytes().to_vec(),
        ),
        (
            "x-amz-checksum-crc64nvme",
            0xAE8B_1486_0A79_9888u64.to_be_bytes().to_vec(),
        ),
    ];
    for (header, check) in checks {
        let fake = stand_in(Answer {
            headers: vec![(header.to_owned(), b64(&check))],
            body: digits.clone(),
        })
        .await;
        let got = kiln::aws::get(&s3_at(&fake.endpoint).await, "kiln-artifacts", "k").await;
        assert_eq!(got.ok(), Some(digits.clone()), "{header}");

        let mut wrong = check.clone();
        wrong[0] ^= 1;
        let fake = stand_in(Answer {
            headers: vec![(header.to_owned(), b64(&wrong))],
            body: digits.clone(),
        })
        .await;
        let got = kiln::aws::get(&s3_at(&fake.endpoint).await, "kiln-artifacts", "k").await;
        assert!(
            got.is_err(),
            "{header}: a body that does not match is refused"
        );
    }
}
