//! The PostgreSQL database of a project environment on AWS: a database and a role of its own
//! on the installation's Aurora PostgreSQL cluster, made through the RDS Data API with the
//! cluster's master secret, and their `DATABASE_URL` in a Secrets Manager secret the task
//! gets by reference. Made at the environment's first deploy, found again by every later one
//! (the data stays), dropped with the project.
//!
//! Nothing typed by a user reaches the SQL: names are made from the project's UUID and the
//! environment (an enum), checked again before they are quoted, and the role's password
//! reaches the server only as a SCRAM-SHA-256 verifier, so no statement text carries it.

use aws_sdk_rdsdata::types::{Field, SqlParameter};
use uuid::Uuid;

use crate::model::{Cause, Environment};
use crate::runner::RunnerError;

/// Where the apps' databases live, and how Kiln reaches the cluster.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// The Aurora PostgreSQL cluster's ARN (the Data API's `resourceArn`).
    pub cluster_arn: String,
    /// The cluster's master user secret, managed by RDS (the Data API's `secretArn`).
    pub admin_secret_arn: String,
    /// The cluster's writer endpoint, which the apps connect to.
    pub host: String,
}

/// The apps' databases: the Data API to make and drop them, Secrets Manager to keep their URLs.
pub struct AppDatabases {
    rdsdata: aws_sdk_rdsdata::Client,
    pub(super) secrets: aws_sdk_secretsmanager::Client,
    settings: DatabaseSettings,
}

/// The database every statement that makes or drops a database runs in.
const ADMIN_DATABASE: &str = "postgres";
/// PostgreSQL's port on the cluster.
const PORT: u16 = 5432;
/// Characters of a generated password (letters and digits, so a URL carries it as it is).
const PASSWORD_CHARS: usize = 40;
/// The iterations of a SCRAM-SHA-256 verifier (PostgreSQL's default).
const SCRAM_ITERATIONS: u32 = 4096;

/// The database of a project environment, and its role (of the same name):
/// `kiln_<project>_<environment>`, as `kiln serve` names its databases; at most 45 characters.
pub fn database_name(project_id: Uuid, environment: Environment) -> String {
    format!("kiln_{}_{}", project_id.simple(), environment.as_str())
}

/// `name` as a quoted SQL identifier, if it is one Kiln makes (lower-case letters, digits and
/// underscores, at most 63 bytes); anything else is refused rather than escaped.
fn identifier(name: &str) -> Result<String, RunnerError> {
    let fine = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if fine {
        Ok(format!("\"{name}\""))
    } else {
        Err(RunnerError::Process(format!(
            "refusing {name:?} as a database name"
        )))
    }
}

/// A random password of letters and digits.
pub(super) fn new_password() -> Result<String, RunnerError> {
    use ring::rand::SecureRandom;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let random = ring::rand::SystemRandom::new();
    let mut password = String::with_capacity(PASSWORD_CHARS);
    let mut byte = [0u8; 1];
    while password.len() < PASSWORD_CHARS {
        random
            .fill(&mut byte)
            .map_err(|_| RunnerError::Process("no randomness for a password".into()))?;
        // 248 = 4 × 62: bytes above it are dropped, so every character is equally likely.
        if byte[0] < 248 {
            password.push(ALPHABET[usize::from(byte[0]) % ALPHABET.len()] as char);
        }
    }
    Ok(password)
}

/// Whether `password` is one Kiln would have made (so it may be used again).
fn is_generated_password(password: &str) -> bool {
    password.len() == PASSWORD_CHARS && password.chars().all(|c| c.is_ascii_alphanumeric())
}

/// The SCRAM-SHA-256 verifier PostgreSQL stores for `password` with `salt` (RFC 5802 and
/// 7677): given as the role's password, the server keeps it as it is and the password itself
/// is never sent.
fn scram_verifier(password: &str, salt: &[u8]) -> String {
    use base64::Engine;
    use ring::{digest, hmac, pbkdf2};
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut salted = [0u8; 32];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        std::num::NonZeroU32::new(SCRAM_ITERATIONS).expect("not zero"),
        salt,
        password.as_bytes(),
        &mut salted,
    );
    let key = hmac::Key::new(hmac::HMAC_SHA256, &salted);
    let client_key = hmac::sign(&key, b"Client Key");
    let stored_key = digest::digest(&digest::SHA256, client_key.as_ref());
    let server_key = hmac::sign(&key, b"Server Key");
    format!(
        "SCRAM-SHA-256${SCRAM_ITERATIONS}:{}${}:{}",
        b64(salt),
        b64(stored_key.as_ref()),
        b64(server_key.as_ref())
    )
}

/// A fresh verifier of `password` (a random salt each time).
fn verifier(password: &str) -> Result<String, RunnerError> {
    use ring::rand::SecureRandom;
    let mut salt = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut salt)
        .map_err(|_| RunnerError::Process("no randomness for a salt".into()))?;
    Ok(scram_verifier(password, &salt))
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The app's `DATABASE_URL`: SQLAlchemy with psycopg 3, TLS required.
pub fn database_url(role: &str, password: &str, host: &str, database: &str) -> String {
    format!(
        "postgresql+psycopg://{role}:{}@{host}:{PORT}/{database}?sslmode=require",
        percent_encoded(password)
    )
}

/// The password in a URL this module wrote, if it is one it would have made.
fn password_in(url: &str) -> Option<String> {
    let url = reqwest::Url::parse(url).ok()?;
    let password = url.password()?;
    is_generated_password(password).then(|| password.to_owned())
}

/// Makes the role if it is missing, and gives it the password's verifier either way (the
/// password is the one the secret holds, so a role made by an attempt that stopped half-way
/// takes the password its URL says). One statement: the Data API runs it on its own.
fn role_statement(role: &str, verifier: &str) -> Result<String, RunnerError> {
    let quoted = identifier(role)?;
    let fine = verifier
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "$:+/=-".contains(c));
    if !fine {
        return Err(RunnerError::Process("refusing a malformed verifier".into()));
    }
    Ok(format!(
        "DO $kiln$ BEGIN \
         IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{role}') THEN \
         ALTER ROLE {quoted} WITH LOGIN NOCREATEDB NOCREATEROLE PASSWORD '{verifier}'; \
         ELSE \
         CREATE ROLE {quoted} WITH LOGIN NOCREATEDB NOCREATEROLE PASSWORD '{verifier}'; \
         END IF; END $kiln$"
    ))
}

/// Error codes of the Data API that a retry fixes: an auto-paused Serverless v2 instance
/// resuming (the call that found it paused starts the resume), a writer briefly unavailable,
/// a statement that timed out (every statement here may run again).
const RESUMING_CODES: &[&str] = &[
    "DatabaseResumingException",
    "DatabaseUnavailableException",
    "StatementTimeoutException",
    "ServiceUnavailableError",
    "InternalServerErrorException",
];

/// Whether a Data API error is one a retry may fix: AWS's transient failures, the codes above,
/// and the connection failure the Data API answers (as a bad request) while a cluster resumes.
fn transient(
    e: &aws_sdk_rdsdata::error::SdkError<
        aws_sdk_rdsdata::operation::execute_statement::ExecuteStatementError,
    >,
) -> bool {
    use aws_sdk_rdsdata::error::ProvideErrorMetadata;
    crate::aws::is_transient(e)
        || e.as_service_error().is_some_and(|s| {
            s.code().is_some_and(|c| RESUMING_CODES.contains(&c))
                || s.message()
                    .is_some_and(|m| m.contains("Communications link failure"))
        })
}

impl AppDatabases {
    /// The apps' databases on the cluster `settings` names.
    pub fn new(
        rdsdata: aws_sdk_rdsdata::Client,
        secrets: aws_sdk_secretsmanager::Client,
        settings: DatabaseSettings,
    ) -> Self {
        AppDatabases {
            rdsdata,
            secrets,
            settings,
        }
    }

    /// Runs one statement in the cluster's `postgres` database (with no transaction, each is
    /// committed on its own, as `CREATE DATABASE` needs), with named string parameters.
    async fn execute(
        &self,
        sql: &str,
        parameters: &[(&str, &str)],
    ) -> Result<Vec<Vec<Field>>, RunnerError> {
        let parameters = parameters
            .iter()
            .map(|(name, value)| {
                SqlParameter::builder()
                    .name(*name)
                    .value(Field::StringValue((*value).to_owned()))
                    .build()
            })
            .collect();
        match self
            .rdsdata
            .execute_statement()
            .resource_arn(&self.settings.cluster_arn)
            .secret_arn(&self.settings.admin_secret_arn)
            .database(ADMIN_DATABASE)
            .sql(sql)
            .set_parameters(Some(parameters))
            .send()
            .await
        {
            Ok(out) => Ok(out.records().to_vec()),
            Err(e) if transient(&e) => Err(RunnerError::Unavailable(Cause::with(
                "the apps' database (it may be resuming from a pause; the deploy is tried again)",
                e,
            ))),
            Err(e) => Err(RunnerError::Process(
                Cause::with("the apps' database", e).to_string(),
            )),
        }
    }

    /// The URL secret's ARN and value, if the secret exists.
    pub(super) async fn stored_url(
        &self,
        name: &str,
    ) -> Result<Option<(String, String)>, RunnerError> {
        match self.secrets.get_secret_value().secret_id(name).send().await {
            Ok(out) => Ok(Some((
                out.arn().unwrap_or(name).to_owned(),
                out.secret_string().unwrap_or_default().to_owned(),
            ))),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(crate::runner::aws_call_failed(e)),
        }
    }

    /// Stores `url` under `name`: a new secret (tagged with its project and environment), or
    /// a new value of the one `before` found when it differs. Answers the secret's ARN.
    async fn store_url(
        &self,
        name: &str,
        url: &str,
        before: Option<(String, String)>,
        tags: [(&str, String); 2],
    ) -> Result<String, RunnerError> {
        if let Some((arn, value)) = before {
            if value != url {
                self.secrets
                    .put_secret_value()
                    .secret_id(&arn)
                    .secret_string(url)
                    .send()
                    .await
                    .map_err(crate::runner::aws_call_failed)?;
            }
            return Ok(arn);
        }
        self.create_secret(name, "DATABASE_URL of a Kiln app's environment", url, tags)
            .await
    }

    /// Makes sure the environment has its role, its database and its URL secret, keeping
    /// whatever is there (a redeploy keeps the data and the password); answers the secret's
    /// ARN. In this order, so that a role or a database never exists without the secret
    /// that says how to reach it: the secret (with the password it already holds, or a new
    /// one), the role with that password, the database owned by the role.
    pub async fn ensure(
        &self,
        project_id: Uuid,
        environment: Environment,
        secret_name: &str,
    ) -> Result<String, RunnerError> {
        let name = database_name(project_id, environment);
        let quoted = identifier(&name)?;
        let before = self.stored_url(secret_name).await?;
        let password = match before.as_ref().and_then(|(_, url)| password_in(url)) {
            Some(password) => password,
            None => new_password()?,
        };
        let url = database_url(&name, &password, &self.settings.host, &name);
        let tags = [
            ("kiln:project", project_id.to_string()),
            ("kiln:environment", environment.as_str().to_owned()),
        ];
        let arn = self.store_url(secret_name, &url, before, tags).await?;
        self.execute(&role_statement(&name, &verifier(&password)?)?, &[])
            .await?;
        // The cluster's master user is no superuser: it may give a database to a role only
        // as a member of that role.
        self.execute(&format!("GRANT {quoted} TO CURRENT_USER"), &[])
            .await?;
        let found = self
            .execute(
                "SELECT 1 FROM pg_catalog.pg_database WHERE datname = :name",
                &[("name", &name)],
            )
            .await?;
        if found.is_empty() {
            match self
                .execute(&format!("CREATE DATABASE {quoted} OWNER {quoted}"), &[])
                .await
            {
                Ok(_) => {}
                // Made meanwhile by a repeat of this step.
                Err(RunnerError::Process(why)) if why.contains("already exists") => {}
                Err(e) => return Err(e),
            }
        }
        // Only its owner (and the cluster's administrators) may connect.
        self.execute(&format!("REVOKE ALL ON DATABASE {quoted} FROM PUBLIC"), &[])
            .await?;
        Ok(arn)
    }

    /// Drops the environment's database (closing its connections) and role, then deletes
    /// its URL secret at once. Nothing happens for an environment without the secret: it
    /// never had a database (the secret is made first and deleted last).
    pub async fn drop(
        &self,
        project_id: Uuid,
        environment: Environment,
        secret_name: &str,
    ) -> Result<(), RunnerError> {
        if self.stored_url(secret_name).await?.is_none() {
            return Ok(());
        }
        let quoted = identifier(&database_name(project_id, environment))?;
        self.execute(
            &format!("DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"),
            &[],
        )
        .await?;
        self.execute(&format!("DROP ROLE IF EXISTS {quoted}"), &[])
            .await?;
        // Without a recovery window: the secret names a role and a database that are gone,
        // so there is nothing it could give back.
        self.delete_secret(secret_name).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_identifiers_and_nothing_else_is_quoted() {
        let name = database_name(Uuid::nil(), Environment::Staging);
        assert_eq!(name, "kiln_00000000000000000000000000000000_staging");
        assert_eq!(identifier(&name).unwrap(), format!("\"{name}\""));
        for hostile in [
            "",
            "a\"; DROP DATABASE x; --",
            "Kiln",
            "a b",
            "é",
            "1abc",
            &"a".repeat(64),
        ] {
            assert!(identifier(hostile).is_err(), "{hostile:?}");
        }
    }

    #[test]
    fn passwords_are_long_random_letters_and_digits() {
        let a = new_password().unwrap();
        let b = new_password().unwrap();
        assert_ne!(a, b);
        assert!(is_generated_password(&a), "{a}");
        assert!(!is_generated_password("short"));
        assert!(!is_generated_password(&format!("{}'", &a[1..])));
    }

    /// The verifier PostgreSQL itself makes: Python's hashlib and hmac (as PostgreSQL's
    /// `scram_build_secret` does) for this password and salt give the same.
    #[test]
    fn the_verifier_is_postgresqls_scram_sha_256() {
        assert_eq!(
            scram_verifier("pencil", b"0123456789abcdef"),
            "SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$\
             nQpbZ77WudtqufPwikHXGRt6g2QJ4zns8bZLw273DRM=:\
             jn2amWP1q1h+jgjy0YTO14S6/F02SV7taipOeB7ef20="
        );
        let a = verifier("pencil").unwrap();
        let b = verifier("pencil").unwrap();
        assert_ne!(a, b, "each verifier has its own salt");
    }

    #[test]
    fn the_role_statement_carries_no_password_and_only_checked_names() {
        let sql = role_statement("kiln_x_dev", &scram_verifier("secretpw", b"salt")).unwrap();
        assert!(!sql.contains("secretpw"), "{sql}");
        assert!(
            sql.contains("CREATE ROLE \"kiln_x_dev\" WITH LOGIN"),
            "{sql}"
        );
        assert!(sql.contains("rolname = 'kiln_x_dev'"), "{sql}");
        assert!(role_statement("x'; --", "SCRAM").is_err());
        assert!(role_statement("kiln_x_dev", "a'b").is_err());
    }

    #[test]
    fn the_url_carries_the_password_encoded_and_gives_it_back() {
        let url = database_url("kiln_x_dev", "pa ss@/", "db.example.com", "kiln_x_dev");
        assert_eq!(
            url,
            "postgresql+psycopg://kiln_x_dev:pa%20ss%40%2F@db.example.com:5432/kiln_x_dev?sslmode=require"
        );
        let password = new_password().unwrap();
        let url = database_url("kiln_x_dev", &password, "h", "kiln_x_dev");
        assert_eq!(password_in(&url), Some(password));
        assert_eq!(password_in("postgresql+psycopg://r:short@h/d"), None);
        assert_eq!(password_in("not a url"), None);
    }

    #[test]
    fn a_resuming_cluster_is_worth_a_retry_and_a_bad_statement_is_not() {
        use aws_sdk_rdsdata::config::http::HttpResponse;
        use aws_sdk_rdsdata::error::{ErrorMetadata, SdkError};
        use aws_sdk_rdsdata::operation::execute_statement::ExecuteStatementError;
        let answer = |code: &str, message: &str| -> SdkError<ExecuteStatementError, HttpResponse> {
            let error = ExecuteStatementError::generic(
                ErrorMetadata::builder().code(code).message(message).build(),
            );
            SdkError::service_error(error, HttpResponse::new(400.try_into().unwrap(), "".into()))
        };
        for code in RESUMING_CODES {
            assert!(transient(&answer(code, "")), "{code}");
        }
        assert!(transient(&answer(
            "BadRequestException",
            "Communications link failure\n\nThe last packet sent successfully to the server was 0 milliseconds ago."
        )));
        assert!(transient(&answer("ThrottlingException", "")));
        for code in [
            "BadRequestException",
            "DatabaseErrorException",
            "ForbiddenException",
            "AccessDeniedException",
            "HttpEndpointNotEnabledException",
        ] {
            assert!(!transient(&answer(code, "syntax error")), "{code}");
        }
    }
}
