//! Builds the backends a [`Config`] asks for, once, at start.

#[cfg(test)]
mod owner_checks;

use std::sync::Arc;
use std::time::Duration;

use crate::agents::AgentContext;
use crate::api::{AppParts, AppState, Authenticator, Limits};
use crate::config::{Backend, Config};
use crate::model::DeploymentStatus;
use crate::runner::{LocalRunnerSettings, LocalTestRunner};
use crate::store::{FsArtifactStore, ObservedStore, ProjectStore, SqliteStore, StoreError};
use crate::workflow::{fail_interrupted_runs, LocalWorkflow, WorkflowError};

/// Why the backends could not be built.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Listening beyond loopback without a token would hand everything to anyone on the network.
    #[error(
        "KILN_BIND={0} is not a loopback address: set KILN_TOKEN so that clients must authenticate"
    )]
    TokenRequired(std::net::SocketAddr),
    /// This build cannot serve the asked-for backend.
    #[error("this build has no {0} backend (build with the `aws` feature for KILN_BACKEND=aws)")]
    Unsupported(&'static str),
    /// The price table `KILN_PRICE_TABLE` names cannot be used.
    #[error("KILN_PRICE_TABLE: {0}")]
    PriceTable(String),
    /// Settings the backend needs are missing.
    #[error("the AWS backend needs these settings: {0}")]
    Missing(String),
    /// Sign-in with the OpenID Connect provider cannot work.
    #[error("KILN_OIDC_ISSUER: {0}")]
    Oidc(#[from] crate::api::OidcError),
    /// A store could not be opened.
    #[error("could not open the store under {dir}: {source}")]
    Store {
        /// The data directory.
        dir: String,
        /// The cause.
        source: StoreError,
    },
    /// A Lambda was configured with a backend that cannot run inside Lambda.
    #[error(
        "the Lambdas run only with KILN_BACKEND=aws: a local backend inside Lambda keeps its \
         data on one instance's disk and loses it when the instance goes"
    )]
    LocalInLambda,
    /// The language model the settings name cannot be used.
    #[error(transparent)]
    Understander(#[from] crate::understand::UnderstanderError),
    /// Interrupted runs could not be recorded as failed.
    #[error("could not recover interrupted runs: {0}")]
    Recovery(#[from] WorkflowError),
}

/// The API state for the local backend: SQLite and files under `config.data_dir`, pytest and
/// uvicorn as child processes, the pipeline interpreted in-process. Runs a previous process
/// left unfinished are marked failed, and its deployments (which ended with it) stopped.
pub async fn local_state(config: &Config) -> Result<AppState, StartError> {
    if config.backend != Backend::Local {
        return Err(StartError::Unsupported("aws"));
    }
    if !config.is_loopback() && config.bearer_tokens().is_empty() && config.oidc.is_none() {
        return Err(StartError::TokenRequired(config.bind));
    }
    // Before anything else, so that a server that could not check a token never starts.
    let auth = match &config.oidc {
        Some(settings) => Authenticator::Oidc(Arc::new(
            crate::api::OidcVerifier::discover(settings).await?,
        )),
        None => Authenticator::Bearer {
            tokens: Arc::new(
                config
                    .bearer_tokens()
                    .into_iter()
                    .map(|(owner, token)| (crate::model::Owner(owner), token))
                    .collect(),
            ),
        },
    };
    let dir = &config.data_dir;
    let store_error = |source| StartError::Store {
        dir: dir.display().to_string(),
        source,
    };
    let sqlite = Arc::new(SqliteStore::open(&dir.join("kiln.db")).map_err(store_error)?);
    let projects = Arc::new(ObservedStore::new(sqlite, 1024));
    let (tests, deployer) = LocalTestRunner::with_deployer(LocalRunnerSettings {
        python: config.python.clone(),
        venv_root: config.venv_dir.clone(),
        requirements: crate::generator::every_requirement(),
        work_dir: dir.join("work"),
        deploy_dir: dir.join("deployments"),
        test_timeout: Duration::from_secs(config.test_timeout_secs),
        deploy_timeout: Duration::from_secs(config.deploy_timeout_secs),
        postgres_url: config.postgres_url.clone(),
        osv_url: config.osv_url.clone(),
    });
    let ctx = AgentContext {
        projects: projects.clone(),
        artifacts: Arc::new(FsArtifactStore::new(&dir.join("artifacts"))),
        repos: Some(dir.join("repos")),
        tests,
        deployer,
        understander: crate::understand::from_settings(config.llm, &config.llm_settings).await?,
        max_projects_per_owner: config.max_projects_per_owner,
        costs: Arc::new(costs(config, false)?),
        max_live_deployments: config.max_live_deployments_per_owner,
        deploy_timeout: Duration::from_secs(config.deploy_timeout_secs),
        load_test: crate::runner::LoadSettings {
            requests: config.load_test_requests,
            ..crate::runner::LoadSettings::default()
        },
    };
    let interrupted = fail_interrupted_runs(&ctx).await?;
    if interrupted > 0 {
        tracing::warn!(
            interrupted,
            "marked runs left unfinished by a previous process as failed"
        );
    }
    let stopped = stop_orphaned_deployments(projects.as_ref())
        .await
        .map_err(store_error)?;
    if stopped > 0 {
        tracing::warn!(
            stopped,
            "deployments of a previous process ended with it; deploy again to restart them"
        );
    }
    Ok(AppState::new(AppParts {
        events: Some(projects),
        workflow: Arc::new(LocalWorkflow::new(ctx.clone(), config.pipeline_time_scale)),
        agents: ctx,
        auth,
        limits: Limits::from_config(config),
    }))
}

/// Local deployments are child processes and end with the server: record them as stopped.
async fn stop_orphaned_deployments(projects: &dyn ProjectStore) -> Result<usize, StoreError> {
    let live = projects.live_deployments().await?;
    for mut d in live.iter().cloned() {
        d.status = DeploymentStatus::Stopped;
        projects.put_deployment(&d).await?;
        let mut project = projects.load_project(d.project_id).await?;
        project.deployments.retain(|r| r.deployment_id != d.id);
        projects.update_project(&project).await?;
    }
    Ok(live.len())
}

/// The state the agents function runs with: the AWS backend and the configured model, and
/// nothing else (`KILN_BACKEND=local` is refused before anything is opened).
#[cfg(feature = "aws")]
/// `sdk` is the function's SDK settings (`aws_http::lambda_sdk`), which the model's clients
/// use too.
pub async fn agents_lambda_state(
    config: &Config,
    sdk: &aws_config::SdkConfig,
) -> Result<AppState, StartError> {
    match config.backend {
        Backend::Aws => {
            let understander = crate::understand::from_settings_with(
                config.llm,
                &config.llm_settings,
                crate::aws_http::given(sdk.clone()),
            )
            .await?;
            aws_state_reading_with(config, sdk, understander).await
        }
        Backend::Local => Err(StartError::LocalInLambda),
    }
}

/// The state the api function runs with: the AWS backend, refusing `KILN_BACKEND=local` as
/// [`agents_lambda_state`] does, and the rules as its understander. The api function runs no
/// pipeline step (the agents function does, with the model the template gives it alone), so
/// it builds no model client: none in its package, no secret read and no client made at its
/// cold start.
#[cfg(feature = "aws")]
pub async fn api_lambda_state(
    config: &Config,
    sdk: &aws_config::SdkConfig,
) -> Result<AppState, StartError> {
    match config.backend {
        Backend::Aws => {
            aws_state_reading_with(config, sdk, Arc::new(crate::understand::Rules)).await
        }
        Backend::Local => Err(StartError::LocalInLambda),
    }
}

/// The API state for the AWS backend: DynamoDB, S3, Step Functions, CodeBuild, ECR,
/// CloudFormation and ELB clients built once from `sdk`, and the configured model. The caller
/// is trusted to have verified the owner.
#[cfg(feature = "aws")]
pub async fn aws_state_with(
    config: &Config,
    sdk: &aws_config::SdkConfig,
) -> Result<AppState, StartError> {
    let understander = crate::understand::from_settings(config.llm, &config.llm_settings).await?;
    aws_state_reading_with(config, sdk, understander).await
}

/// [`aws_state_with`], reading messages with `understander`.
#[cfg(feature = "aws")]
async fn aws_state_reading_with(
    config: &Config,
    sdk: &aws_config::SdkConfig,
    understander: Arc<dyn crate::understand::Understander>,
) -> Result<AppState, StartError> {
    use crate::runner::{
        AppDatabases, CodeBuildTestRunner, DatabaseSettings, EcsDeployer, EcsSettings, JobBucket,
    };
    use crate::store::{DynamoStore, S3ArtifactStore};
    use crate::workflow::StepFunctionsWorkflow;

    let a = &config.aws;
    let mut missing = Vec::new();
    let mut need = |value: &Option<String>, var: &str| {
        if value.is_none() {
            missing.push(var.to_owned());
        }
        value.clone().unwrap_or_default()
    };
    let table = need(&config.table, "KILN_TABLE");
    let bucket = need(&config.bucket, "KILN_BUCKET");
    let state_machine = need(&config.state_machine_arn, "KILN_STATE_MACHINE_ARN");
    let test_project = need(&a.test_project, "KILN_TEST_PROJECT");
    let settings = EcsSettings {
        image_project: need(&a.image_project, "KILN_IMAGE_PROJECT"),
        cluster: need(&a.cluster, "KILN_CLUSTER"),
        listener_arn: need(&a.listener_arn, "KILN_LISTENER_ARN"),
        vpc_id: need(&a.vpc_id, "KILN_VPC_ID"),
        execution_role_arn: need(&a.execution_role_arn, "KILN_EXECUTION_ROLE_ARN"),
        public_url: need(&a.apps_url, "KILN_APPS_URL"),
        stack_prefix: need(&a.stack_prefix, "KILN_STACK_PREFIX"),
        stack_role_arn: need(&a.stack_role_arn, "KILN_STACK_ROLE_ARN"),
        subnets: a.subnets.clone(),
        security_groups: a.security_groups.clone(),
        log_retention_days: a.apps_log_retention_days,
    };
    let database = DatabaseSettings {
        cluster_arn: need(&a.apps_database_arn, "KILN_APPS_DATABASE_ARN"),
        admin_secret_arn: need(&a.apps_database_secret_arn, "KILN_APPS_DATABASE_SECRET_ARN"),
        host: need(&a.apps_database_host, "KILN_APPS_DATABASE_HOST"),
    };
    if settings.subnets.is_empty() {
        missing.push("KILN_SUBNETS".into());
    }
    if !missing.is_empty() {
        return Err(StartError::Missing(missing.join(", ")));
    }
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(a.s3_path_style)
            .build(),
    );
    let artifacts = S3ArtifactStore::new(s3.clone(), bucket.clone());
    let jobs = JobBucket::new(s3, bucket);
    let projects: Arc<dyn ProjectStore> =
        Arc::new(DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), table));
    let codebuild = aws_sdk_codebuild::Client::new(sdk);
    let ctx = AgentContext {
        projects: projects.clone(),
        artifacts: Arc::new(artifacts.clone()),
        repos: None,
        tests: Arc::new(
            CodeBuildTestRunner::new(codebuild.clone(), jobs.clone(), test_project)
                .with_review_tools(crate::generator::review_tools(), config.osv_url.clone()),
        ),
        deployer: Arc::new(
            EcsDeployer::new(
                aws_sdk_ecr::Client::new(sdk),
                aws_sdk_cloudformation::Client::new(sdk),
                aws_sdk_elasticloadbalancingv2::Client::new(sdk),
                codebuild,
                AppDatabases::new(
                    aws_sdk_rdsdata::Client::new(sdk),
                    aws_sdk_secretsmanager::Client::new(sdk),
                    database,
                ),
                jobs,
                settings,
            )
            .with_logs(aws_sdk_cloudwatchlogs::Client::new(sdk)),
        ),
        understander,
        max_projects_per_owner: config.max_projects_per_owner,
        costs: Arc::new(costs(config, true)?),
        max_live_deployments: config.max_live_deployments_per_owner,
        deploy_timeout: Duration::from_secs(config.deploy_timeout_secs),
        load_test: crate::runner::LoadSettings {
            requests: config.load_test_requests,
            ..crate::runner::LoadSettings::default()
        },
    };
    Ok(AppState::new(AppParts {
        workflow: Arc::new(StepFunctionsWorkflow::new(
            aws_sdk_sfn::Client::new(sdk),
            state_machine,
        )),
        agents: ctx,
        events: None,
        // API Gateway's authorizer checks the tokens; the settings only tell the UI where
        // people sign in.
        auth: Authenticator::Verified {
            sign_in: match &config.oidc {
                Some(settings) => Some(Arc::new(crate::api::SignIn::from_settings(settings)?)),
                None => None,
            },
        },
        limits: Limits::from_config(config),
    }))
}

/// What deploys cost and may cost; a price table file that cannot be used stops the start.
fn costs(config: &Config, billed: bool) -> Result<crate::agents::Costs, StartError> {
    let costs = crate::agents::Costs::from_settings(
        &config.costs,
        billed,
        config.aws.apps_log_retention_days,
    );
    if let Err(e) = &costs.table {
        return Err(StartError::PriceTable(e.clone()));
    }
    Ok(costs)
}
