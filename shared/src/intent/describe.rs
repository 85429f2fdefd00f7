//! Descriptions: a sentence that describes or changes the app (its data, fields, features, a
//! list, a constraint) rather than asking for an action or a reply.

use super::{has, seq};

/// Words that show a sentence describes the app's data or features.
pub(super) const SCHEMA: &[&str] = &[
    "default",
    "max",
    "min",
    "maximum",
    "minimum",
    "markdown",
    "decimal",
    "float",
    "int",
    "datetime",
    "timestamp",
    "email",
    "url",
    "kg",
    "km",
    "cm",
    "minutes",
    "hours",
    "mongodb",
    "mysql",
    "mariadb",
    "redis",
    "one",
    "null",
    "nullable",
    "search",
    "persist",
    "persistence",
    "field",
    "fields",
    "column",
    "columns",
    "resource",
    "resources",
    "entity",
    "entities",
    "table",
    "tables",
    "attribute",
    "attributes",
    "property",
    "properties",
    "belong",
    "belongs",
    "relation",
    "relationship",
    "enum",
    "string",
    "integer",
    "boolean",
    "required",
    "optional",
    "unique",
    "searchable",
    "filterable",
    "sortable",
    "authentication",
    "auth",
    "login",
    "database",
    "db",
    "postgres",
    "postgresql",
    "sqlite",
    "pagination",
    "paginate",
    "paginated",
    "timestamps",
    "cors",
    "crud",
    "users",
    "editable",
    "flag",
];
/// Verbs that change the spec.
const CHANGES: &[&str] = &[
    "add", "adding", "remove", "drop", "delete", "rename", "change", "include", "support", "use",
    "require", "set", "allow", "track", "store", "manage", "keep", "make", "need", "needs", "want",
    "let", "give", "record", "log", "save", "replace", "swap", "switch", "turn", "enable",
    "disable", "limit", "protect", "secure", "restrict", "only", "mark", "split", "merge",
    "create", "build", "design", "have", "has", "having", "with", "w", "contain", "contains",
    "hold", "holds", "each", "every", "per", "should", "must", "can", "belong", "belongs",
    "called", "named", "rather", "instead", "actually", "also", "plus", "from", "into", "scratch",
    "forget", "undo", "call",
];

/// Whether a sentence describes or changes the app.
pub(super) fn describes(core: &[String], words: &[String], schema: bool) -> bool {
    // "status: confirmed, cancelled", "fields a, b, c": a list describes.
    schema
        || words.iter().any(|w| w == ":")
        // "that should be a yes/no", "needs to be unique": a constraint on what was said.
        || ["should be", "must be", "needs to be", "has to be", "can be", "cannot be", "cant be"]
            .iter()
            .any(|p| seq(words, p))
        // "also an isbn", "and a body": one more item of what was described.
        || words.len() <= 6
            && matches!(words[0].as_str(), "also" | "and" | "plus" | "oh")
            && words.get(1).is_some_and(|w| matches!(w.as_str(), "a" | "an"))
        || words.iter().filter(|w| *w == ",").count() >= 2
        || has(core, CHANGES)
        || has(
            core,
            &[
                "api",
                "app",
                "backend",
                "service",
                "system",
                "application",
                "crud",
                "rest",
                "endpoint",
                "endpoints",
                "tracker",
                "catalog",
                "catalogue",
                "inventory",
                "platform",
            ],
        )
        || core.iter().any(|w| {
            w.len() > 3
                && w.ends_with('s')
                && !w.ends_with("ss")
                && !matches!(
                    w.as_str(),
                    "thanks"
                        | "thx"
                        | "yes"
                        | "this"
                        | "does"
                        | "was"
                        | "is"
                        | "has"
                        | "its"
                        | "lets"
                        | "tests"
                        | "always"
                        | "works"
                        | "passes"
                        | "versions"
                        | "questions"
                        | "progress"
                        | "status"
                        | "details"
                )
        })
}

#[cfg(test)]
mod tests {
    use super::describes;

    fn words(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_owned).collect()
    }

    /// Each way a sentence describes the app, alone: no verb of change and no app word, so
    /// only the rule under test can say yes.
    #[test]
    fn each_form_of_description_counts_on_its_own() {
        for (said, describing) in [
            ("it cannot be empty", true), // a constraint on what was said
            ("and a body", true),         // one more item of what was described
            ("plus an isbn", true),
            ("and the weather", false),   // "and" without an item
            ("a body", false),            // an item without "and", "also", …
            ("red , green , blue", true), // a list
            ("red , green", false),       // one comma is not a list
            ("status : open", true),      // "name: values"
            ("and a b c d e f g", false), // too long to be one more item
            ("hello there", false),
        ] {
            let w = words(said);
            assert_eq!(describes(&w, &w, false), describing, "{said}");
        }
        let w = words("hello there");
        assert!(describes(&w, &w, true), "a schema word describes");
    }
}
