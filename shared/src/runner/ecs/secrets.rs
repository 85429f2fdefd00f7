//! The secrets the deployer keeps under a stack's name (an environment's `DATABASE_URL` and
//! data token): read, made with their tags, deleted at once.

use aws_sdk_secretsmanager::types::Tag;

use super::database::AppDatabases;
use crate::model::Cause;
use crate::runner::RunnerError;

impl AppDatabases {
    /// Makes the secret `name` holding `value`, tagged; answers its ARN. One made meanwhile
    /// (by a repeat of the step) is a failure the next attempt passes, as it then reads it.
    pub(super) async fn create_secret(
        &self,
        name: &str,
        description: &str,
        value: &str,
        tags: [(&str, String); 2],
    ) -> Result<String, RunnerError> {
        let tags = tags
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build());
        let created = self
            .secrets
            .create_secret()
            .name(name)
            .description(description)
            .secret_string(value)
            .set_tags(Some(tags.collect()))
            .send()
            .await;
        match created {
            Ok(out) => out
                .arn()
                .map(str::to_owned)
                .ok_or_else(|| RunnerError::Process(format!("the secret {name} has no ARN"))),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_exists_exception()) =>
            {
                Err(RunnerError::Unavailable(Cause::new(format!(
                    "the secret {name} was made meanwhile; the deploy is tried again"
                ))))
            }
            Err(e) => Err(crate::runner::aws_call_failed(e)),
        }
    }

    /// Deletes the secret `name` without a recovery window; one already gone is no error.
    pub(super) async fn delete_secret(&self, name: &str) -> Result<(), RunnerError> {
        match self
            .secrets
            .delete_secret()
            .secret_id(name)
            .force_delete_without_recovery(true)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(crate::runner::aws_call_failed(e)),
        }
    }
}
