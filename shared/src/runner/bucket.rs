//! The S3 bucket where the AWS runners hand work to CodeBuild: each build's source as a zip
//! (`sources/…`), and the JUnit report a test build writes back (`test-reports/…`).

use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;

use super::RunnerError;

/// Objects of the runners' jobs in one bucket.
#[derive(Clone)]
pub struct JobBucket {
    client: Client,
    bucket: String,
}

fn failed<E: std::error::Error + 'static>(e: E) -> RunnerError {
    RunnerError::Process(format!("S3: {}", DisplayErrorContext(e)))
}

impl JobBucket {
    /// Jobs in `bucket`, which must exist.
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        JobBucket {
            client,
            bucket: bucket.into(),
        }
    }

    /// The bucket's name.
    pub fn name(&self) -> &str {
        &self.bucket
    }

    /// The S3 client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Stores an object under `key`.
    pub async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), RunnerError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(failed)?;
        Ok(())
    }

    /// Reads an object; `None` when there is none under `key`.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, RunnerError> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(Some(out.body.collect().await.map_err(failed)?.to_vec())),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(failed(e)),
        }
    }
}
