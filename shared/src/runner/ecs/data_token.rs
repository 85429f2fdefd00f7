//! The token Kiln moves an environment's data with on AWS: a Secrets Manager secret per
//! project environment (`<stack>/data-token`), made by the deployer at the first deploy of an
//! app that keeps data and kept after, handed to the task by reference (the stack parameter
//! `DataTokenSecretArn`), read to call the app's `/_kiln/data`, deleted with the project.

use aws_sdk_secretsmanager::types::Tag;

use super::database::{new_password, AppDatabases};
use crate::model::Cause;
use crate::runner::RunnerError;

impl AppDatabases {
    /// The ARN of the data token secret `name`, made (tagged) with a new random token if it
    /// is not there yet.
    pub(super) async fn ensure_data_token(
        &self,
        name: &str,
        tags: [(&str, String); 2],
    ) -> Result<String, RunnerError> {
        if let Some((arn, _)) = self.stored_url(name).await? {
            return Ok(arn);
        }
        let tags = tags
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build());
        let created = self
            .secrets
            .create_secret()
            .name(name)
            .description("The token Kiln moves a Kiln app environment's data with")
            .secret_string(new_password()?)
            .set_tags(Some(tags.collect()))
            .send()
            .await;
        match created {
            Ok(out) => out
                .arn()
                .map(str::to_owned)
                .ok_or_else(|| RunnerError::Process(format!("the secret {name} has no ARN"))),
            // Made meanwhile by a repeat of this step: the next attempt reads it.
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

    /// The token, if the environment has one.
    pub(super) async fn data_token(&self, name: &str) -> Result<Option<String>, RunnerError> {
        Ok(self.stored_url(name).await?.map(|(_, token)| token))
    }

    /// Deletes the token at once (what it opened is gone with the project).
    pub(super) async fn delete_data_token(&self, name: &str) -> Result<(), RunnerError> {
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
