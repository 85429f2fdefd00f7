//! The generic store suite on the AWS backends: DynamoDB and S3 on a real moto server.

use std::sync::Arc;
use std::time::Duration;

use kiln::store::{conformance, ArtifactStore, DynamoStore, ProjectStore, S3ArtifactStore};
use kiln_integration_tests::Moto;

async fn stores(moto: &Moto) -> (Arc<DynamoStore>, Arc<S3ArtifactStore>) {
    let config = moto.sdk_config().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&config);
    DynamoStore::create_table(&dynamo, "kiln-test")
        .await
        .unwrap();
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
async fn exports_are_downloaded_through_presigned_links() {
    let moto = Moto::start();
    let (_, artifacts) = stores(&moto).await;
    let url = artifacts
        .presigned_export(
            "p/v1.zip",
            b"PK\x03\x04zip".to_vec(),
            "tasks-v1.zip",
            Duration::from_secs(300),
        )
        .await
        .unwrap();
    assert!(url.contains("X-Amz-Signature="), "{url}");
    // Fetch it as a browser would, with nothing but the link.
    let path = url
        .strip_prefix(&moto.endpoint)
        .expect("a link to the same server");
    let mut stream =
        std::net::TcpStream::connect(moto.endpoint.trim_start_matches("http://")).unwrap();
    use std::io::{Read, Write};
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {}\r\n\r\n",
        moto.endpoint.trim_start_matches("http://")
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let text = String::from_utf8_lossy(&response);
    assert!(
        text.starts_with("HTTP/1.0 200") || text.starts_with("HTTP/1.1 200"),
        "{text}"
    );
    assert!(text.ends_with("PK\u{3}\u{4}zip"), "{text}");
}
