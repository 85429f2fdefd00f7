//! Choice rules: comparisons, `And`, `Or`, `Not`, and the type tests.

use std::cmp::Ordering;

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{paths, Failure};

/// Whether `rule` holds for `input`.
pub fn matches(rule: &Value, input: &Value, context: &Value) -> Result<bool, Failure> {
    let obj = rule
        .as_object()
        .ok_or_else(|| Failure::runtime("a choice rule must be an object"))?;
    if let Some(all) = obj.get("And") {
        for r in list(all, "And")? {
            if !matches(r, input, context)? {
                return Ok(false);
            }
        }
        return Ok(true);
    }
    if let Some(any) = obj.get("Or") {
        for r in list(any, "Or")? {
            if matches(r, input, context)? {
                return Ok(true);
            }
        }
        return Ok(false);
    }
    if let Some(inner) = obj.get("Not") {
        return Ok(!matches(inner, input, context)?);
    }
    let variable = obj
        .get("Variable")
        .and_then(Value::as_str)
        .ok_or_else(|| Failure::runtime("a choice rule needs a Variable"))?;
    let (op, operand) = obj
        .iter()
        .find(|(k, _)| !matches!(k.as_str(), "Variable" | "Next"))
        .ok_or_else(|| Failure::runtime("a choice rule needs a comparison"))?;
    let present = if let Some(rest) = variable.strip_prefix("$$") {
        paths::exists(&format!("${rest}"), context)
    } else {
        paths::exists(variable, input)
    };
    if op == "IsPresent" {
        return Ok(present == operand.as_bool().unwrap_or(false));
    }
    let value = paths::read(variable, input, context)?;
    let want = |b: bool| operand.as_bool().map(|w| w == b).unwrap_or(false);
    match op.as_str() {
        "IsNull" => return Ok(want(value.is_null())),
        "IsNumeric" => return Ok(want(value.is_number())),
        "IsString" => return Ok(want(value.is_string())),
        "IsBoolean" => return Ok(want(value.is_boolean())),
        "IsTimestamp" => return Ok(want(timestamp(&value).is_some())),
        _ => {}
    }
    let (name, other) = match op.strip_suffix("Path") {
        Some(name) => {
            let path = operand
                .as_str()
                .ok_or_else(|| Failure::runtime(format!("{op} takes a path")))?;
            (name, paths::read(path, input, context)?)
        }
        None => (op.as_str(), operand.clone()),
    };
    compare(name, &value, &other)
}

fn list<'a>(v: &'a Value, what: &str) -> Result<&'a Vec<Value>, Failure> {
    v.as_array()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| Failure::runtime(format!("{what} takes a non-empty list of rules")))
}

fn timestamp(v: &Value) -> Option<OffsetDateTime> {
    v.as_str()
        .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
}

/// Compares with one of the ASL operators; values of the wrong type never match.
fn compare(op: &str, value: &Value, operand: &Value) -> Result<bool, Failure> {
    let family = ["String", "Numeric", "Boolean", "Timestamp"]
        .into_iter()
        .find(|f| op.starts_with(f))
        .ok_or_else(|| Failure::runtime(format!("unknown comparison {op}")))?;
    let relation = &op[family.len()..];
    if family == "String" && relation == "Matches" {
        return Ok(match (value.as_str(), operand.as_str()) {
            (Some(s), Some(pattern)) => wildcard(pattern, s),
            _ => false,
        });
    }
    let ordering = match family {
        "String" => match (value.as_str(), operand.as_str()) {
            (Some(a), Some(b)) => Some(a.cmp(b)),
            _ => None,
        },
        "Numeric" => match (value.as_f64(), operand.as_f64()) {
            (Some(a), Some(b)) => a.partial_cmp(&b),
            _ => None,
        },
        // Booleans are only ever equal or not: `BooleanEquals` is the one Boolean operator.
        "Boolean" if relation != "Equals" => {
            return Err(Failure::runtime(format!("unknown comparison {op}")))
        }
        "Boolean" => match (value.as_bool(), operand.as_bool()) {
            (Some(a), Some(b)) => Some(a.cmp(&b)),
            _ => None,
        },
        _ => match (timestamp(value), timestamp(operand)) {
            (Some(a), Some(b)) => Some(a.cmp(&b)),
            _ => None,
        },
    };
    let Some(ordering) = ordering else {
        return Ok(false);
    };
    Ok(match relation {
        "Equals" => ordering == Ordering::Equal,
        "LessThan" => ordering == Ordering::Less,
        "GreaterThan" => ordering == Ordering::Greater,
        "LessThanEquals" => ordering != Ordering::Greater,
        "GreaterThanEquals" => ordering != Ordering::Less,
        _ => return Err(Failure::runtime(format!("unknown comparison {op}"))),
    })
}

/// `StringMatches`: `*` matches any run of characters; `\*` and `\\` are literal.
fn wildcard(pattern: &str, s: &str) -> bool {
    enum Tok {
        Any,
        Lit(char),
    }
    let mut toks = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => toks.push(Tok::Lit(chars.next().unwrap_or('\\'))),
            '*' => toks.push(Tok::Any),
            c => toks.push(Tok::Lit(c)),
        }
    }
    let s: Vec<char> = s.chars().collect();
    // Classic two-pointer wildcard match with backtracking to the last star.
    let (mut p, mut i, mut star, mut mark) = (0, 0, None, 0);
    while i < s.len() {
        match toks.get(p) {
            Some(Tok::Lit(c)) if *c == s[i] => {
                p += 1;
                i += 1;
            }
            Some(Tok::Any) => {
                star = Some(p);
                mark = i;
                p += 1;
            }
            _ => match star {
                Some(sp) => {
                    p = sp + 1;
                    mark += 1;
                    i = mark;
                }
                None => return false,
            },
        }
    }
    toks[p..].iter().all(|t| matches!(t, Tok::Any))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(rule: Value, input: Value) -> bool {
        matches(&rule, &input, &json!({})).unwrap()
    }

    #[test]
    fn comparisons_from_the_specification() {
        let input = json!({"type": "Private", "value": 20, "rating": 3.5, "flag": true,
                           "when": "2026-01-01T00:00:00Z", "other": 20, "name": "log-2026.txt"});
        assert!(check(
            json!({"Variable": "$.type", "StringEquals": "Private"}),
            input.clone()
        ));
        assert!(!check(
            json!({"Variable": "$.type", "StringEquals": "Public"}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.value", "NumericGreaterThanEquals": 20}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.value", "NumericLessThan": 30}),
            input.clone()
        ));
        assert!(!check(
            json!({"Variable": "$.value", "NumericGreaterThan": 20}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.rating", "NumericLessThanEquals": 3.5}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.flag", "BooleanEquals": true}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.value", "NumericEqualsPath": "$.other"}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.when", "TimestampLessThan": "2026-06-01T00:00:00Z"}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.type", "StringLessThan": "Public"}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.name", "StringMatches": "log-*.txt"}),
            input.clone()
        ));
        assert!(!check(
            json!({"Variable": "$.name", "StringMatches": "log-*.csv"}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.name", "StringMatches": "*"}),
            input.clone()
        ));
    }

    #[test]
    fn a_star_gives_back_what_the_rest_of_the_pattern_needs() {
        let matches = |pattern: &str, s: &str| wildcard(pattern, s);
        assert!(matches("*.txt", "log-2026.txt"));
        assert!(matches("*.log", "app.log.log"));
        assert!(matches("a*b*c", "aXbYbZc"));
        assert!(!matches("*.txt", "notes.txt.bak"));
    }

    #[test]
    fn boolean_comparisons_other_than_equals_are_not_asl() {
        let input = json!({"flag": true});
        for op in [
            "BooleanLessThan",
            "BooleanGreaterThan",
            "BooleanGreaterThanEquals",
        ] {
            let rule = json!({"Variable": "$.flag", op: false});
            assert!(matches(&rule, &input, &json!({})).is_err(), "{op}");
        }
        assert!(!check(
            json!({"Variable": "$.flag", "BooleanEquals": false}),
            input
        ));
    }

    #[test]
    fn mismatched_types_never_match() {
        let input = json!({"value": "20"});
        assert!(!check(
            json!({"Variable": "$.value", "NumericEquals": 20}),
            input.clone()
        ));
        assert!(!check(
            json!({"Variable": "$.value", "BooleanEquals": true}),
            input
        ));
    }

    #[test]
    fn and_or_not_combine() {
        let input = json!({"value": 20, "type": "Private"});
        let and = json!({"And": [
            {"Variable": "$.value", "NumericGreaterThanEquals": 20},
            {"Variable": "$.value", "NumericLessThan": 30}
        ]});
        assert!(check(and, input.clone()));
        let or = json!({"Or": [
            {"Variable": "$.type", "StringEquals": "Public"},
            {"Not": {"Variable": "$.type", "StringEquals": "Public"}}
        ]});
        assert!(check(or, input.clone()));
        assert!(!check(
            json!({"Not": {"Variable": "$.value", "NumericEquals": 20}}),
            input
        ));
    }

    #[test]
    fn type_tests_and_presence() {
        let input = json!({"n": null, "x": 1, "s": "a", "t": "2026-01-01T00:00:00Z"});
        assert!(check(
            json!({"Variable": "$.n", "IsNull": true}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.x", "IsNumeric": true}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.s", "IsString": true}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.s", "IsBoolean": false}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.t", "IsTimestamp": true}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.missing", "IsPresent": false}),
            input.clone()
        ));
        assert!(check(
            json!({"Variable": "$.x", "IsPresent": true}),
            input.clone()
        ));
        let err = matches(
            &json!({"Variable": "$.missing", "StringEquals": "a"}),
            &input,
            &json!({}),
        )
        .unwrap_err();
        assert_eq!(
            err.error, "States.Runtime",
            "comparing a missing variable is a runtime error"
        );
    }

    #[test]
    fn wildcards_escape() {
        assert!(wildcard("a\\*b", "a*b"));
        assert!(!wildcard("a\\*b", "axb"));
        assert!(wildcard("*.log", ".log"));
        assert!(wildcard("a*b*c", "aXXbYYc"));
        assert!(!wildcard("a*b*c", "aXXbYY"));
    }
}
