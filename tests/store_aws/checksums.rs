//! What S3 checks of the checksums the SDK computes, and moto does not: S3 refuses an upload
//! whose `x-amz-checksum-crc32` is not the CRC of its body (`BadDigest`), and the SDK refuses a
//! download whose body does not match the checksum S3 sent with it. Both CRCs come from
//! `patches/crc-fast` (see the root `Cargo.toml`), so they are held here against values that
//! do not: `crc32fast`, another implementation of zlib's CRC-32, and the check values of the
//! catalogue of parametrised CRC algorithms (the CRC of the ASCII digits "123456789").
//!
//! The fixture is `stand_in`, a plain HTTP/1.1 listener standing in for S3's endpoint.

use super::stand_in::{b64, s3_at, stand_in, Answer};

#[tokio::test]
async fn an_upload_carries_the_crc32_s3_checks() {
    let fake = stand_in(Answer {
        status: 200,
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
            status: 200,
            headers: vec![(header.to_owned(), b64(&check))],
            body: digits.clone(),
        })
        .await;
        let got = kiln::aws::get(&s3_at(&fake.endpoint).await, "kiln-artifacts", "k").await;
        assert_eq!(got.ok(), Some(digits.clone()), "{header}");

        let mut wrong = check.clone();
        wrong[0] ^= 1;
        let fake = stand_in(Answer {
            status: 200,
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
