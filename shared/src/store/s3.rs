//! `ArtifactStore` on S3: `blobs/{sha256}`, written once, and `exports/…` with presigned links.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;

use super::{check_sha256, ArtifactStore, StoreError, StoreResult};
use crate::aws::{self, ObjectError};
use crate::model::sha256_hex;

/// How long an export link downloads (the bucket's lifecycle deletes exports after a day).
pub const EXPORT_LINK_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// Blobs in one bucket.
#[derive(Clone)]
pub struct S3ArtifactStore {
    client: Client,
    bucket: String,
}

fn object_error(e: ObjectError) -> StoreError {
    match e {
        ObjectError::Missing => StoreError::NotFound("object"),
        ObjectError::Call(failure) => failure.into(),
    }
}

fn backend<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    aws::call_failed("S3", e).into()
}

impl S3ArtifactStore {
    /// The IAM actions this store calls. A read of a missing object answers 404 only to a caller
    /// that may list the bucket (403 otherwise), and the store tells missing from failed.
    pub const IAM_ACTIONS: &'static [&'static str] =
        &["s3:GetObject", "s3:PutObject", "s3:ListBucket"];

    /// A store in `bucket`, which must exist.
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        S3ArtifactStore {
            client,
            bucket: bucket.into(),
        }
    }

    /// Stores an object under `key` (not content-addressed: exports).
    async fn put_object(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> StoreResult<()> {
        aws::put(&self.client, &self.bucket, key, bytes, content_type)
            .await
            .map_err(object_error)
    }

    /// Reads an object, `NotFound` if it is missing.
    async fn get_object(&self, key: &str) -> StoreResult<Vec<u8>> {
        aws::get(&self.client, &self.bucket, key)
            .await
            .map_err(object_error)
    }

    /// Stores an export and returns a link that downloads it for `valid_for`.
    pub async fn presigned_export(
        &self,
        key: &str,
        bytes: Vec<u8>,
        file_name: &str,
        valid_for: Duration,
    ) -> StoreResult<String> {
        let key = format!("exports/{key}");
        self.put_object(&key, bytes, "application/zip").await?;
        let config = PresigningConfig::expires_in(valid_for)
            .map_err(|e| StoreError::failed_with("presigning an export", e))?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .response_content_disposition(format!("attachment; filename=\"{file_name}\""))
            .presigned(config)
            .await
            .map_err(backend)?;
        Ok(request.uri().to_owned())
    }

    fn blob_key(sha256: &str) -> String {
        format!("blobs/{sha256}")
    }
}

#[async_trait]
impl ArtifactStore for S3ArtifactStore {
    async fn export_link(
        &self,
        key: &str,
        bytes: Vec<u8>,
        file_name: &str,
    ) -> StoreResult<Option<String>> {
        self.presigned_export(key, bytes, file_name, EXPORT_LINK_LIFETIME)
            .await
            .map(Some)
    }

    async fn put_blob(&self, bytes: &[u8]) -> StoreResult<String> {
        let sha = sha256_hex(bytes);
        if self.has_blob(&sha).await? {
            return Ok(sha);
        }
        let out = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(Self::blob_key(&sha))
            // Contents never change under a key; a racing writer of the same bytes wins.
            .if_none_match("*")
            .body(ByteStream::from(bytes.to_vec()))
            .send()
            .await;
        match out {
            Ok(_) => Ok(sha),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 412) => Ok(sha),
            Err(e) => Err(backend(e)),
        }
    }

    async fn get_blob(&self, sha256: &str) -> StoreResult<Vec<u8>> {
        check_sha256(sha256)?;
        match self.get_object(&Self::blob_key(sha256)).await {
            Err(StoreError::NotFound(_)) => Err(StoreError::NotFound("blob")),
            other => other,
        }
    }

    async fn has_blob(&self, sha256: &str) -> StoreResult<bool> {
        if check_sha256(sha256).is_err() {
            return Ok(false);
        }
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(Self::blob_key(sha256))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(false),
            Err(e) => Err(backend(e)),
        }
    }
}
