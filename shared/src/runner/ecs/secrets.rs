//! The apps' secrets in AWS Secrets Manager: one JWT signing secret per project environment,
//! made on its first deployment and kept across redeploys (tokens stay valid), handed to the
//! task by reference (the task definition names the secret, never its value), and deleted
//! with the project.

use uuid::Uuid;

use super::EcsDeployer;
use crate::model::Environment;
use crate::runner::RunnerError;

/// The secret's name: under `kiln/`, which the tasks' role may read and nothing else.
pub(super) fn jwt_secret_name(project_id: Uuid, environment: Environment) -> String {
    format!("kiln/{project_id}/{}/jwt-secret", environment.as_str())
}

impl EcsDeployer {
    /// The ARN of the environment's JWT secret, made with a random value the first time.
    pub(super) async fn jwt_secret(
        &self,
        project_id: Uuid,
        environment: Environment,
    ) -> Result<String, RunnerError> {
        let name = jwt_secret_name(project_id, environment);
        let value = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
        let created = self
            .secrets
            .create_secret()
            .name(&name)
            .description("The JWT signing secret of a Kiln app's environment")
            .secret_string(value)
            .send()
            .await;
        let arn = match created {
            Ok(out) => out.arn,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_exists_exception()) =>
            {
                self.secrets
                    .describe_secret()
                    .secret_id(&name)
                    .send()
                    .await
                    .map_err(crate::runner::aws_call_failed)?
                    .arn
            }
            Err(e) => return Err(crate::runner::aws_call_failed(e)),
        };
        arn.ok_or_else(|| RunnerError::Process(format!("Secrets Manager has no ARN for {name}")))
    }

    /// Deletes the environment's JWT secret at once (the project is gone), if there is one.
    pub(super) async fn delete_jwt_secret(
        &self,
        project_id: Uuid,
        environment: Environment,
    ) -> Result<(), RunnerError> {
        let deleted = self
            .secrets
            .delete_secret()
            .secret_id(jwt_secret_name(project_id, environment))
            .force_delete_without_recovery(true)
            .send()
            .await;
        match deleted {
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
