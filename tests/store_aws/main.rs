//! The generic store suite on the AWS backends: DynamoDB (the table the SAM template declares)
//! and S3 on a real moto server. moto serves presigned links without checking their signature
//! or expiry, so the test checks both itself, as S3 would.

use std::sync::Arc;
use std::time::Duration;

use kiln::model::Intent;
use kiln::model::{Message, Owner, Project, Run};
use kiln::store::{conformance, ArtifactStore, DynamoStore, ProjectStore, S3ArtifactStore};
use kiln_integration_tests::{create_template_table, template_table, Moto};
use sha2::{Digest, Sha256};

mod checksums;
mod shapes;
mod stand_in;
mod transport;

async fn stores(moto: &Moto) -> (Arc<DynamoStore>, Arc<S3ArtifactStore>) {
    let config = moto.sdk_config().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&config);
    create_template_table(&dynamo, "kiln-test").await;
    let s3 = moto.s3().await;
    s3.create_bucket()
        .bucket("kiln-artifacts")
        .send()
        .await
        .unwrap();
    (
        Arc::new(DynamoStore::new(dynamo, "kiln-test")),
        Arc::new(S3ArtifactStore::new(s3, "kiln-artifacts")),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_and_s3_pass_the_store_suite() {
    let moto = Moto::start();
    let (projects, artifacts) = stores(&moto).await;
    let projects: Arc<dyn ProjectStore> = projects;
    let artifacts: Arc<dyn ArtifactStore> = artifacts;
    conformance::run_all(projects, artifacts).await;
}

#[tokio::test]
async fn s3_holds_one_object_per_content() {
    let moto = Moto::start();
    let (_, artifacts) = stores(&moto).await;
    let s3 = moto.s3().await;
    conformance::blobs_are_stored_once(artifacts.as_ref(), || {
        let s3 = s3.clone();
        async move {
            let listed = s3
                .list_objects_v2()
                .bucket("kiln-artifacts")
                .prefix("blobs/")
                .send()
                .await
                .unwrap();
            listed.contents().len()
        }
    })
    .await;
}

/// The template's time to live is on the attribute the store writes to idempotency claims, as
/// a number of epoch seconds (DynamoDB ignores a TTL attribute of any other type).
#[tokio::test]
async fn idempotency_claims_expire_by_the_templates_time_to_live() {
    let moto = Moto::start();
    let (projects, _) = stores(&moto).await;
    let (_, table) = template_table();
    let ttl_attribute = table["TimeToLiveSpecification"]["AttributeName"]
        .as_str()
        .expect("the template's table has a time to live");
    let dynamo = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    let described = dynamo
        .describe_time_to_live()
        .table_name("kiln-test")
        .send()
        .await
        .unwrap();
    let described = described.time_to_live_description().unwrap();
    assert_eq!(described.attribute_name(), Some(ttl_attribute));

    let project = Project::new(Owner("alice".into()), "Tasks".into(), String::new());
    projects.create_project(&project).await.unwrap();
    let message = Message::from_user(project.id, "hello".into(), Some("client-1".into()));
    let run = Run::queued(project.id, message.id, Intent::Create);
    projects.post_user_message(&message, &run).await.unwrap();
    let items = dynamo.scan().table_name("kiln-test").send().await.unwrap();
    let claims: Vec<_> = items
        .items()
        .iter()
        .filter(|i| i["SK"].as_s().is_ok_and(|sk| sk.starts_with("CLIENT#")))
        .collect();
    assert_eq!(claims.len(), 1, "{items:?}");
    let expires: i64 = claims[0]
        .get(ttl_attribute)
        .unwrap_or_else(|| panic!("the store writes no {ttl_attribute}: {:?}", claims[0]))
        .as_n()
        .unwrap_or_else(|_| panic!("{ttl_attribute} is a number: {:?}", claims[0]))
        .parse()
        .unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(
        (now + 86_400..=now + 31 * 86_400).contains(&expires),
        "claims live days, not forever nor seconds: {expires} at {now}"
    );
}

#[tokio::test]
async fn exports_are_downloaded_through_presigned_links() {
    let moto = Moto::start();
    let (_, artifacts) = stores(&moto).await;
    let asked = Duration::from_secs(300);
    let url = artifacts
        .presigned_export("p/v1.zip", b"PK\x03\x04zip".to_vec(), "tasks-v1.zip", asked)
        .await
        .unwrap();
    let signed = PresignedUrl::parse(&url).unwrap();
    let host = moto.endpoint.trim_start_matches("http://");
    assert_eq!(signed.host, host, "a link to the same server: {url}");
    assert_eq!(signed.path, "/kiln-artifacts/exports/p/v1.zip");
    assert_eq!(signed.param("X-Amz-Algorithm"), Some("AWS4-HMAC-SHA256"));
    let date = signed.param("X-Amz-Date").unwrap().to_owned();
    assert_eq!(
        signed.param("X-Amz-Credential"),
        Some(format!("testing/{}/us-east-1/s3/aws4_request", &date[..8]).as_str()),
        "the test credentials, scoped to S3 in the client's region on the signing day"
    );
    assert_eq!(
        signed.param("X-Amz-Expires"),
        Some(asked.as_secs().to_string().as_str())
    );
    assert_eq!(
        signed.param("X-Amz-SignedHeaders"),
        Some("host"),
        "a browser sends nothing but the link and its host"
    );
    assert_eq!(
        signed.param("response-content-disposition"),
        Some("attachment; filename=\"tasks-v1.zip\"")
    );
    assert_eq!(signed.param("X-Amz-Security-Token"), None);

    // S3's checks: the signature over the canonical request, the time window.
    let signed_at = signed.signed_at().unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(
        (signed_at - 60..=signed_at + 60).contains(&now),
        "signed just now: {date}"
    );
    let verify = |url: &str, at: i64| verify_presigned(url, "testing", "testing", "us-east-1", at);
    assert_eq!(verify(&url, now), Ok(()));
    assert_eq!(verify(&url, signed_at + 300), Ok(()));
    assert_eq!(verify(&url, signed_at + 301), Err(Rejected::Expired));
    assert_eq!(verify(&url, signed_at - 3600), Err(Rejected::NotYetValid));
    assert_eq!(
        verify_presigned(&url, "testing", "wrong-secret", "us-east-1", now),
        Err(Rejected::BadSignature)
    );
    for (what, tampered) in [
        (
            "another key",
            url.replace("/exports/p/v1.zip", "/exports/p/v2.zip"),
        ),
        (
            "a longer life",
            url.replace("X-Amz-Expires=300", "X-Amz-Expires=3000"),
        ),
        ("another file name", url.replace("tasks-v1.zip", "evil.exe")),
        ("a flipped signature", flip_signature_digit(&url)),
    ] {
        assert_ne!(tampered, url, "{what}: the URL changed");
        assert_eq!(
            verify(&tampered, now),
            Err(Rejected::BadSignature),
            "{what}"
        );
    }

    // Fetch it as a browser would, with nothing but the link.
    let path = url
        .strip_prefix(&moto.endpoint)
        .expect("a link to the same server");
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    use std::io::{Read, Write};
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let text = String::from_utf8_lossy(&response);
    assert!(
        text.starts_with("HTTP/1.0 200") || text.starts_with("HTTP/1.1 200"),
        "{text}"
    );
    assert!(text.ends_with("PK\u{3}\u{4}zip"), "{text}");
}

/// The verifier itself, on known answers: HMAC-SHA256 from RFC 4231 (test case 2) and the
/// presigned URL of the S3 documentation's query-string authentication example.
#[test]
fn the_signature_verifier_reproduces_known_answers() {
    assert_eq!(
        hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    let example =
        "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256\
        &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
        &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
        &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    let signed_at = PresignedUrl::parse(example).unwrap().signed_at().unwrap();
    let verify =
        |url: &str, at| verify_presigned(url, "AKIAIOSFODNN7EXAMPLE", secret, "us-east-1", at);
    assert_eq!(verify(example, signed_at + 1), Ok(()));
    assert_eq!(verify(example, signed_at + 86_401), Err(Rejected::Expired));
    assert_eq!(
        verify(&example.replace("test.txt", "test.txu"), signed_at + 1),
        Err(Rejected::BadSignature)
    );
    assert!(matches!(
        verify_presigned(
            example,
            "AKIAIOSFODNN7EXAMPLE",
            secret,
            "eu-west-1",
            signed_at
        ),
        Err(Rejected::Scope(_))
    ));
}

/// Why S3 would refuse a presigned link.
#[derive(Debug, PartialEq, Eq)]
enum Rejected {
    /// A parameter is missing or unreadable.
    Malformed(String),
    /// Another algorithm, key, region or service than the one checked for, or headers a
    /// browser would not send.
    Scope(String),
    /// Signed in the future (beyond S3's 15 minutes of clock skew).
    NotYetValid,
    /// Past `X-Amz-Date` + `X-Amz-Expires`.
    Expired,
    /// The signature does not match the request.
    BadSignature,
}

/// A presigned GET URL, taken apart: `param` values are percent-decoded.
struct PresignedUrl {
    host: String,
    path: String,
    params: Vec<(String, String)>,
}

impl PresignedUrl {
    fn parse(url: &str) -> Result<PresignedUrl, Rejected> {
        let bad = |what: &str| Rejected::Malformed(format!("{what}: {url}"));
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or_else(|| bad("scheme"))?;
        let (authority, rest) = rest.split_once('/').ok_or_else(|| bad("path"))?;
        let (path, query) = rest.split_once('?').ok_or_else(|| bad("query"))?;
        let params = query
            .split('&')
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                Ok((percent_decode(k)?, percent_decode(v)?))
            })
            .collect::<Result<_, String>>()
            .map_err(|e| bad(&e))?;
        Ok(PresignedUrl {
            host: authority.to_owned(),
            path: format!("/{path}"),
            params,
        })
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn required(&self, name: &str) -> Result<&str, Rejected> {
        self.param(name)
            .ok_or_else(|| Rejected::Malformed(format!("no {name}")))
    }

    /// `X-Amz-Date` as Unix seconds.
    fn signed_at(&self) -> Result<i64, Rejected> {
        let date = self.required("X-Amz-Date")?;
        let format =
            time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
        time::PrimitiveDateTime::parse(date, format)
            .map(|t| t.assume_utc().unix_timestamp())
            .map_err(|e| Rejected::Malformed(format!("X-Amz-Date {date}: {e}")))
    }
}

/// Checks a presigned GET link as S3 does (Signature Version 4, query-string authentication):
/// the credential scope, the signed headers, the time window at `now` (Unix seconds), and the
/// signature recomputed from the canonical request with `secret`.
fn verify_presigned(
    url: &str,
    access_key: &str,
    secret: &str,
    region: &str,
    now: i64,
) -> Result<(), Rejected> {
    let signed = PresignedUrl::parse(url)?;
    let algorithm = signed.required("X-Amz-Algorithm")?;
    if algorithm != "AWS4-HMAC-SHA256" {
        return Err(Rejected::Scope(format!("algorithm {algorithm}")));
    }
    let date = signed.required("X-Amz-Date")?;
    let scope = format!("{}/{region}/s3/aws4_request", date.get(..8).unwrap_or(date));
    let credential = signed.required("X-Amz-Credential")?;
    if credential != format!("{access_key}/{scope}") {
        return Err(Rejected::Scope(format!("credential {credential}")));
    }
    let signed_headers = signed.required("X-Amz-SignedHeaders")?;
    if signed_headers != "host" {
        return Err(Rejected::Scope(format!("signed headers {signed_headers}")));
    }
    let expires: i64 = signed
        .required("X-Amz-Expires")?
        .parse()
        .map_err(|_| Rejected::Malformed("X-Amz-Expires".into()))?;
    if !(1..=604_800).contains(&expires) {
        return Err(Rejected::Malformed(format!("X-Amz-Expires={expires}")));
    }
    let signed_at = signed.signed_at()?;
    if now < signed_at - 15 * 60 {
        return Err(Rejected::NotYetValid);
    }
    if now > signed_at + expires {
        return Err(Rejected::Expired);
    }

    let mut query: Vec<(String, String)> = signed
        .params
        .iter()
        .filter(|(k, _)| k != "X-Amz-Signature")
        .map(|(k, v)| (uri_encode(k, true), uri_encode(v, true)))
        .collect();
    query.sort();
    let canonical_query: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let canonical_path = uri_encode(
        &percent_decode(&signed.path).map_err(Rejected::Malformed)?,
        false,
    );
    let canonical_request = format!(
        "GET\n{canonical_path}\n{}\nhost:{}\n\nhost\nUNSIGNED-PAYLOAD",
        canonical_query.join("&"),
        signed.host
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let mut key = hmac_sha256(format!("AWS4{secret}").as_bytes(), &date.as_bytes()[..8]);
    for part in [region, "s3", "aws4_request"] {
        key = hmac_sha256(&key, part.as_bytes());
    }
    let expected = hex::encode(hmac_sha256(&key, string_to_sign.as_bytes()));
    if signed.required("X-Amz-Signature")? != expected {
        return Err(Rejected::BadSignature);
    }
    Ok(())
}

/// HMAC-SHA256 (RFC 2104), written out so that the check does not share code with the signer.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// SigV4's URI encoding: everything but `A-Z a-z 0-9 - _ . ~` as `%XX`, and `/` too unless it
/// separates path segments.
fn uri_encode(text: &str, encode_slash: bool) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b'/' if !encode_slash => "/".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn percent_decode(text: &str) -> Result<String, String> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex: String = bytes.by_ref().take(2).map(char::from).collect();
            out.push(u8::from_str_radix(&hex, 16).map_err(|_| format!("bad escape %{hex}"))?);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).map_err(|e| e.to_string())
}

/// The URL with the first digit of its signature changed.
fn flip_signature_digit(url: &str) -> String {
    let at = url.find("X-Amz-Signature=").expect("a signature") + "X-Amz-Signature=".len();
    let digit = if url[at..].starts_with('0') { "1" } else { "0" };
    format!("{}{digit}{}", &url[..at], &url[at + 1..])
}

/// The sparse index `LIVE` holds the queued and running runs and the pending and running
/// deployments and nothing else, so start-up recovery and the cost estimate read no more than
/// they return; what it lists is read again from the table, so an entry the index has not yet
/// dropped (an index is eventually consistent on DynamoDB) is not taken for a live one.
#[tokio::test]
async fn the_live_index_holds_only_live_runs_and_deployments() {
    use aws_sdk_dynamodb::types::AttributeValue;
    use kiln::model::{Deployment, DeploymentStatus, Environment, RunStatus};
    let moto = Moto::start();
    let (projects, _) = stores(&moto).await;
    let dynamo = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    let owner = Owner("dora".into());
    let project = Project::new(owner.clone(), "Tasks".into(), String::new());
    projects.create_project(&project).await.unwrap();
    let mut runs = Vec::new();
    for text in ["build it", "deploy it"] {
        let message = Message::from_user(project.id, text.into(), None);
        let run = Run::queued(project.id, message.id, Intent::Build);
        projects.post_user_message(&message, &run).await.unwrap();
        runs.push(run);
    }
    runs[1].status = RunStatus::Succeeded;
    projects.update_run(&runs[1]).await.unwrap();
    let deployment = |status| Deployment {
        id: kiln::model::new_id(),
        project_id: project.id,
        environment: Environment::Dev,
        version: 1,
        status,
        url: None,
        resources: Default::default(),
        logs: String::new(),
        monthly_usd: None,
        confirmed_by: None,
        review_override: None,
        created_at: kiln::model::now(),
    };
    let (live, stopped) = (
        deployment(DeploymentStatus::Running),
        deployment(DeploymentStatus::Stopped),
    );
    projects.put_deployment(&live).await.unwrap();
    projects.put_deployment(&stopped).await.unwrap();

    // What the index holds, read as a whole here (the store never scans).
    let index = dynamo
        .scan()
        .table_name("kiln-test")
        .index_name("LIVE")
        .send()
        .await
        .unwrap();
    let mut held: Vec<String> = index
        .items()
        .iter()
        .map(|i| i["SK"].as_s().unwrap().clone())
        .collect();
    held.sort();
    let mut expected = vec![
        format!("DEP#dev#{}", live.id),
        format!("RUN#{}", runs[0].id),
    ];
    expected.sort();
    assert_eq!(held, expected);
    let ids = |runs: Vec<Run>| runs.iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(ids(projects.unfinished_runs().await.unwrap()), [runs[0].id]);
    let live_ids: Vec<_> = projects
        .live_deployments()
        .await
        .unwrap()
        .iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(live_ids, [live.id]);

    // An entry the index still lists after the run finished: the table's item says finished.
    let mut done = runs[0].clone();
    done.status = RunStatus::Failed;
    let item = dynamo
        .get_item()
        .table_name("kiln-test")
        .key("PK", AttributeValue::S(format!("PROJECT#{}", project.id)))
        .key("SK", AttributeValue::S(format!("RUN#{}", done.id)))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let mut stale = item.clone();
    stale.insert(
        "doc".into(),
        AttributeValue::S(serde_json::to_string(&done).unwrap()),
    );
    dynamo
        .put_item()
        .table_name("kiln-test")
        .set_item(Some(stale))
        .send()
        .await
        .unwrap();
    assert!(projects.unfinished_runs().await.unwrap().is_empty());
}
