//! What the AWS backends share: which SDK errors a retry may fix, and S3 objects by key (for
//! the artifact store's blobs and exports and the runners' build sources and test reports).

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;

use crate::model::Cause;

/// An AWS call that failed, sorted once for every port: a retry may fix it, or it will not.
/// Each port turns it into its own error (`From`).
#[derive(Debug)]
pub enum CallFailure {
    /// A timeout, a broken connection, throttling, the service failing on its side.
    Transient(Cause),
    /// Everything else: a refusal, a missing resource, a rejected request.
    Permanent(Cause),
}

/// Sorts the failure of a call to `service` (see [`is_transient`]), keeping the SDK's error as
/// the cause.
pub fn call_failed<E, R>(service: &str, e: SdkError<E, R>) -> CallFailure
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    if is_transient(&e) {
        CallFailure::Transient(Cause::with(service, e))
    } else {
        CallFailure::Permanent(Cause::with(service, e))
    }
}

/// Why an object could not be read or written.
#[derive(Debug)]
pub enum ObjectError {
    /// There is no object under the key.
    Missing,
    /// The call failed.
    Call(CallFailure),
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
        .map_err(|e| ObjectError::Call(call_failed("S3", e)))?;
    Ok(())
}

/// Reads the object under `key`.
pub async fn get(client: &Client, bucket: &str, key: &str) -> Result<Vec<u8>, ObjectError> {
    match client.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => Ok(out
            .body
            .collect()
            .await
            .map_err(|e| {
                ObjectError::Call(CallFailure::Transient(Cause::with(
                    "reading an S3 object",
                    e,
                )))
            })?
            .to_vec()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
            Err(ObjectError::Missing)
        }
        Err(e) => Err(ObjectError::Call(call_failed("S3", e))),
    }
}

/// Error codes AWS services answer when a retry may succeed: throttling, and the service
/// failing on its side.
const RETRYABLE_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "SlowDown",
    "RequestTimeout",
    "InternalServerError",
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "ServerException",
];

/// Whether a retry may fix what an SDK call answered: a timeout, a connection that failed or
/// broke, a response that could not be read, throttling, or a failure on the service's side.
/// Everything else (a missing table, no permission, a rejected request, one the connector
/// refused to send) is permanent.
pub fn is_transient<E, R>(e: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
{
    match e {
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
        // The connector's own refusal of a request it could not send as signed is not.
        SdkError::DispatchFailure(d) => !d.is_user(),
        SdkError::ServiceError(service) => service
            .err()
            .code()
            .is_some_and(|code| RETRYABLE_CODES.contains(&code)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::config::http::HttpResponse;
    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_dynamodb::operation::get_item::GetItemError;

    fn service_error(code: &str, status: u16) -> SdkError<GetItemError, HttpResponse> {
        let error = GetItemError::generic(ErrorMetadata::builder().code(code).build());
        let response = HttpResponse::new(status.try_into().unwrap(), "".into());
        SdkError::service_error(error, response)
    }

    #[test]
    fn timeouts_throttling_and_service_failures_are_transient() {
        let timeout: SdkError<GetItemError, HttpResponse> =
            SdkError::timeout_error(std::io::Error::other("slow"));
        assert!(is_transient(&timeout));
        for code in [
            "ThrottlingException",
            "ProvisionedThroughputExceededException",
            "RequestLimitExceeded",
            "InternalServerError",
            "SlowDown",
        ] {
            assert!(is_transient(&service_error(code, 400)), "{code}");
        }
    }

    #[test]
    fn refusals_and_missing_things_are_not() {
        for code in [
            "AccessDeniedException",
            "ResourceNotFoundException",
            "ValidationException",
            "ConditionalCheckFailedException",
        ] {
            assert!(!is_transient(&service_error(code, 400)), "{code}");
        }
        let construction: SdkError<GetItemError, HttpResponse> =
            SdkError::construction_failure(std::io::Error::other("bad input"));
        assert!(!is_transient(&construction));
    }
}
