//! The S3 bucket where the AWS runners hand work to CodeBuild: each build's source as a zip
//! (`sources/…`), and the JUnit report a test build writes back (`test-reports/…`).

use aws_sdk_s3::Client;

use super::RunnerError;
use crate::aws::{self, ObjectError};

/// A failed object call as a runner error: transient stays transient, so the step is retried.
fn job_error(e: ObjectError) -> RunnerError {
    match e {
        ObjectError::Missing => RunnerError::Process("S3: no such object".into()),
        ObjectError::Call(failure) => failure.into(),
    }
}

/// Objects of the runners' jobs in one bucket.
#[derive(Clone)]
pub struct JobBucket {
    client: Client,
    bucket: String,
}

impl JobBucket {
    /// The IAM actions the runners' bucket calls (a missing report is told from a failed read,
    /// which needs `s3:ListBucket`).
    pub const IAM_ACTIONS: &'static [&'static str] =
        &["s3:GetObject", "s3:PutObject", "s3:ListBucket"];

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
        aws::put(&self.client, &self.bucket, key, bytes, content_type)
            .await
            .map_err(job_error)
    }

    /// Reads an object; `None` when there is none under `key`.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, RunnerError> {
        match aws::get(&self.client, &self.bucket, key).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(ObjectError::Missing) => Ok(None),
            Err(e) => Err(job_error(e)),
        }
    }
}
