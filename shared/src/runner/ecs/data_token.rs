//! The token Kiln moves an environment's data with on AWS: a Secrets Manager secret per
//! project environment (`<stack>/data-token`), made by the deployer at the first deploy of an
//! app that keeps data and kept after, handed to the task by reference (the stack parameter
//! `DataTokenSecretArn`), read to call the app's `/_kiln/data`, deleted with the project.

use super::database::{new_password, AppDatabases};
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
        let description = "The token Kiln moves a Kiln app environment's data with";
        self.create_secret(name, description, &new_password()?, tags)
            .await
    }

    /// The token, if the environment has one.
    pub(super) async fn data_token(&self, name: &str) -> Result<Option<String>, RunnerError> {
        Ok(self.stored_url(name).await?.map(|(_, token)| token))
    }

    /// Deletes the token at once (what it opened is gone with the project).
    pub(super) async fn delete_data_token(&self, name: &str) -> Result<(), RunnerError> {
        self.delete_secret(name).await
    }
}
