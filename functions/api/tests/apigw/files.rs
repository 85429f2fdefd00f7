//! Files through API Gateway: a name API Gateway hands over decoded, and exports, inline in
//! base64 or, past the inline limit, a redirect to a presigned link.

use kiln_integration_tests::Moto;

use super::{answer, event, new_project, state_with};

/// An HTTP API hands the path over decoded: a file whose name holds a space, `#`, `%` or a
/// letter outside ASCII is found all the same.
#[tokio::test(flavor = "multi_thread")]
async fn a_file_with_spaces_and_signs_in_its_name_is_read_through_api_gateway() {
    use kiln::model::{FileEntry, Version};
    let moto = Moto::start();
    let (state, _) = state_with(&moto, &[]).await;
    let (projects, artifacts) = (
        state.agents.projects.clone(),
        state.agents.artifacts.clone(),
    );
    let app = kiln_api_function::app(state);
    let id: uuid::Uuid = new_project(&app, "Odd Names", "dora")
        .await
        .parse()
        .unwrap();
    let bytes = b"# Notes\n".to_vec();
    let sha256 = artifacts.put_blob(&bytes).await.unwrap();
    projects
        .create_version(&Version {
            project_id: id,
            number: 1,
            message_id: None,
            manifest: vec![FileEntry {
                path: "notes/my notes #1 100% \u{e9}.md".into(),
                sha256,
                size: bytes.len() as u64,
            }],
            spec: None,
            renames: Vec::new(),
            created_at: kiln::model::now(),
            author: kiln::model::Author::Kiln,
            note: None,
            generated: None,
        })
        .await
        .unwrap();
    // The address a browser asks for.
    let url = format!(
        "/api/v2/projects/{id}/versions/1/files/notes/my%20notes%20%231%20100%25%20%C3%A9.md"
    );
    let (status, _, body) = answer(&app, &event("GET", &url, None, Some("dora"))).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(body, bytes);
}

/// Lambda answers at most 6 MB (a binary body goes base64-encoded), so an export larger than
/// `KILN_MAX_INLINE_EXPORT_BYTES` is stored in S3 and answered with a redirect to a presigned
/// link that downloads it; a small one is answered inline.
#[tokio::test(flavor = "multi_thread")]
async fn a_large_export_is_a_redirect_to_a_presigned_link() {
    use kiln::model::{FileEntry, Version};
    let moto = Moto::start();
    let (state, _) = state_with(&moto, &[("KILN_MAX_INLINE_EXPORT_BYTES", "4096")]).await;
    let (projects, artifacts) = (
        state.agents.projects.clone(),
        state.agents.artifacts.clone(),
    );
    let app = kiln_api_function::app(state);
    let id: uuid::Uuid = new_project(&app, "Big One", "carol").await.parse().unwrap();
    // Two versions: a small one, and one whose file does not compress below the limit.
    let mut noise = Vec::new();
    let mut x: u32 = 12345;
    for _ in 0..20_000 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        noise.push((x >> 16) as u8);
    }
    for (number, bytes) in [(1u32, b"print('hi')\n".to_vec()), (2, noise.clone())] {
        let sha256 = artifacts.put_blob(&bytes).await.unwrap();
        projects
            .create_version(&Version {
                project_id: id,
                number,
                message_id: None,
                manifest: vec![FileEntry {
                    path: "app/main.py".into(),
                    sha256,
                    size: bytes.len() as u64,
                }],
                spec: None,
                renames: Vec::new(),
                created_at: kiln::model::now(),
                author: kiln::model::Author::Kiln,
                note: None,
                generated: None,
            })
            .await
            .unwrap();
    }
    let export = |n: u32| {
        let event = event(
            "GET",
            &format!("/api/v2/projects/{id}/export?version={n}"),
            None,
            Some("carol"),
        );
        let app = app.clone();
        async move { answer(&app, &event).await }
    };
    let (status, headers, small) = export(1).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/zip");
    // A binary body crosses API Gateway in base64, and comes out as the archive.
    let small = zip::ZipArchive::new(std::io::Cursor::new(small)).expect("a zip archive");
    assert!(!small.is_empty(), "the archive holds the version's files");

    let (status, headers, _) = export(2).await;
    assert_eq!(status, 303, "{headers:?}");
    let link = headers["location"].as_str().unwrap().to_owned();
    assert!(link.contains("X-Amz-Signature="), "{link}");
    assert!(link.contains("X-Amz-Expires="), "{link}");
    let downloaded = reqwest::get(&link).await.unwrap();
    assert_eq!(downloaded.status(), 200);
    let disposition = downloaded.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(disposition.contains("big-one-v2.zip"), "{disposition}");
    let bytes = downloaded.bytes().await.unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let mut file = zip.by_name("big-one/app/main.py").unwrap();
    let mut content = Vec::new();
    std::io::Read::read_to_end(&mut file, &mut content).unwrap();
    assert_eq!(content, noise);
}
