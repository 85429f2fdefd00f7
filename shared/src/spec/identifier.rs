//! Identifiers: the names generated code may take.
//!
//! Every resource, field and choice name ends up in Python, SQL and URLs; it is checked here
//! (shape, length, not a keyword or a name the generated code uses) before a spec is accepted.

/// Python keywords and names the generated code relies on; no identifier may be one of them.
const RESERVED: &[&str] = &[
    "false",
    "none",
    "true",
    "and",
    "as",
    "assert",
    "async",
    "await",
    "break",
    "class",
    "continue",
    "def",
    "del",
    "elif",
    "else",
    "except",
    "finally",
    "for",
    "from",
    "global",
    "if",
    "import",
    "in",
    "is",
    "lambda",
    "nonlocal",
    "not",
    "or",
    "pass",
    "raise",
    "return",
    "try",
    "while",
    "with",
    "yield",
    "match",
    "case",
    "type",
    "id",
    "self",
    "cls",
    "app",
    "db",
    "settings",
    "router",
    "models",
    "schemas",
    "auth",
    "auth_account",
    "auth_accounts",
    "base",
    "session",
    "health",
    "list",
    "dict",
    "str",
    "int",
    "float",
    "bool",
    "object",
    "print",
    "exec",
    "eval",
];

/// Longest identifier accepted.
pub const MAX_IDENTIFIER_LEN: usize = 40;

/// Why a word cannot be an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentifierError {
    /// Empty after normalisation.
    #[error("an identifier may not be empty")]
    Empty,
    /// Longer than [`MAX_IDENTIFIER_LEN`].
    #[error("`{0}` is longer than {MAX_IDENTIFIER_LEN} characters")]
    TooLong(String),
    /// Not `[a-z][a-z0-9_]*`.
    #[error("`{0}` must start with a letter and hold only a-z, 0-9 and _")]
    Shape(String),
    /// A Python keyword or a name the generated code uses.
    #[error("`{0}` is reserved")]
    Reserved(String),
}

/// Checks that `name` is safe to use as a Python/SQL/URL identifier in generated code.
pub fn check_identifier(name: &str) -> Result<(), IdentifierError> {
    if name.is_empty() {
        return Err(IdentifierError::Empty);
    }
    if name.len() > MAX_IDENTIFIER_LEN {
        return Err(IdentifierError::TooLong(name.chars().take(60).collect()));
    }
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    if !first_ok
        || !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        || name.ends_with('_')
        || name.contains("__")
    {
        return Err(IdentifierError::Shape(name.chars().take(60).collect()));
    }
    if RESERVED.contains(&name) {
        return Err(IdentifierError::Reserved(name.to_owned()));
    }
    Ok(())
}

/// Names the generated code imports or defines, which a resource's class may not take.
const GENERATED_NAMES: &[&str] = &[
    "Any",
    "APIRouter",
    "Annotated",
    "AuthAccount",
    "AuthLogin",
    "AuthRegister",
    "AuthToken",
    "Awaitable",
    "Base",
    "BaseModel",
    "Boolean",
    "CORSMiddleware",
    "Callable",
    "ConfigDict",
    "Database",
    "Date",
    "DateTime",
    "DeclarativeBase",
    "Depends",
    "FastAPI",
    "Field",
    "Float",
    "ForeignKey",
    "HTTPAuthorizationCredentials",
    "HTTPBearer",
    "HTTPException",
    "Integer",
    "Iterator",
    "JSONResponse",
    "Literal",
    "Mapped",
    "MonkeyPatch",
    "Query",
    "Repository",
    "Request",
    "Response",
    "Session",
    "SessionDep",
    "Settings",
    "String",
    "TestClient",
    "Text",
];

/// The class name of a resource in generated code: `blog_post` → `BlogPost`.
pub fn class_name(name: &str) -> String {
    name.split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// Checks a resource name: an identifier whose class name the generated code does not use.
pub fn check_resource_name(name: &str) -> Result<(), IdentifierError> {
    check_identifier(name)?;
    if GENERATED_NAMES.contains(&class_name(name).as_str()) {
        return Err(IdentifierError::Reserved(name.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_checked() {
        assert!(check_identifier("task").is_ok());
        assert!(check_identifier("due_date").is_ok());
        assert!(check_identifier("item2").is_ok());
        for bad in [
            "",
            "Task",
            "2task",
            "ta-sk",
            "class",
            "__import__",
            "a__b",
            "x_",
            "tâche",
        ] {
            assert!(check_identifier(bad).is_err(), "{bad:?} accepted");
        }
        assert!(check_identifier(&"a".repeat(41)).is_err());
        assert!(
            check_identifier(&"a".repeat(MAX_IDENTIFIER_LEN)).is_ok(),
            "the limit itself"
        );
    }
}
