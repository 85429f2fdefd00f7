//! S3 objects by key, for the backends that keep things in S3: the artifact store (blobs and
//! exports) and the AWS runners' job bucket (build sources and test reports).

use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;

/// Why an object could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// There is no object under the key.
    #[error("no such object")]
    Missing,
    /// S3 failed, with its explanation.
    #[error("S3: {0}")]
    Failed(String),
}

fn failed<E: std::error::Error + 'static>(e: E) -> ObjectError {
    ObjectError::Failed(DisplayErrorContext(e).to_string())
}

/// Stores `bytes` under `key`.
pub async fn put(
    client: &Client,
    bucket: &str,
    key: &str,
    bytes: Vec<u8>,
    content_type: &str,
) -> Result<(), ObjectError> {
    client
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type(content_type)
        .body(ByteStream::from(bytes))
        .send()
        .await
        .map_err(failed)?;
    Ok(())
}

/// Reads the object under `key`.
pub async fn get(client: &Client, bucket: &str, key: &str) -> Result<Vec<u8>, ObjectError> {
    match client.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => Ok(out.body.collect().await.map_err(failed)?.to_vec()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
            Err(ObjectError::Missing)
        }
        Err(e) => Err(failed(e)),
    }
}
