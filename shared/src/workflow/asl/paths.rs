//! Paths of the Amazon States Language: reading with JSONPath, writing with reference paths,
//! and the `Parameters`/`ResultSelector` payload templates.

use serde_json::{Map, Value};
use serde_json_path::JsonPath;

use super::Failure;

/// Reads `path` from `input`. A definite path (no wildcard, filter, slice or union) yields its
/// one value and fails with `States.Runtime` when absent; any other path yields an array.
pub fn read(path: &str, input: &Value, context: &Value) -> Result<Value, Failure> {
    let (path, doc) = match path.strip_prefix("$$") {
        Some(rest) => (format!("${rest}"), context),
        None => (path.to_owned(), input),
    };
    let parsed = JsonPath::parse(&path)
        .map_err(|e| Failure::runtime(format!("invalid path {path:?}: {e}")))?;
    let nodes = parsed.query(doc);
    if is_definite(&path) {
        nodes.exactly_one().cloned().map_err(|_| {
            Failure::runtime(format!("the path {path:?} matched nothing in the input"))
        })
    } else {
        Ok(Value::Array(nodes.all().into_iter().cloned().collect()))
    }
}

/// Whether a path names at most one value.
pub fn is_definite(path: &str) -> bool {
    !path.contains("..") && !path.contains(['*', '?', ':', ','])
}

/// Whether `path` names a value present in `input`.
pub fn exists(path: &str, input: &Value) -> bool {
    JsonPath::parse(path).is_ok_and(|p| !p.query(input).is_empty())
}

/// Applies `InputPath`/`OutputPath`: absent means `$`, `null` means `{}`.
pub fn select(path: Option<&Value>, input: &Value, context: &Value) -> Result<Value, Failure> {
    match path {
        None => Ok(input.clone()),
        Some(Value::Null) => Ok(Value::Object(Map::new())),
        Some(Value::String(p)) => read(p, input, context),
        Some(other) => Err(Failure::runtime(format!(
            "a path must be a string, not {other}"
        ))),
    }
}

/// Fills a payload template: keys ending in `.$` take the value their path selects.
pub fn fill(template: &Value, input: &Value, context: &Value) -> Result<Value, Failure> {
    match template {
        Value::Object(fields) => {
            let mut out = Map::new();
            for (key, value) in fields {
                match key.strip_suffix(".$") {
                    Some(name) => {
                        let path = value.as_str().ok_or_else(|| {
                            Failure::runtime(format!("the value of {key:?} must be a path string"))
                        })?;
                        if path.starts_with("States.") {
                            return Err(Failure::runtime(format!(
                                "intrinsic functions are not supported: {path}"
                            )));
                        }
                        out.insert(name.to_owned(), read(path, input, context)?);
                    }
                    None => {
                        out.insert(key.clone(), fill(value, input, context)?);
                    }
                }
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => items
            .iter()
            .map(|v| fill(v, input, context))
            .collect::<Result<_, _>>()
            .map(Value::Array),
        other => Ok(other.clone()),
    }
}

/// Applies `ResultPath`: absent means `$` (the result replaces the input), `null` discards the
/// result, a reference path puts the result there, creating objects on the way.
pub fn merge(result_path: Option<&Value>, input: &Value, result: Value) -> Result<Value, Failure> {
    let path = match result_path {
        None => return Ok(result),
        Some(Value::Null) => return Ok(input.clone()),
        Some(Value::String(p)) => p,
        Some(other) => {
            return Err(Failure::runtime(format!(
                "ResultPath must be a string, not {other}"
            )))
        }
    };
    let segments = reference_segments(path)?;
    if segments.is_empty() {
        return Ok(result);
    }
    let mut out = input.clone();
    let mut at = &mut out;
    for (i, seg) in segments.iter().enumerate() {
        let last = i == segments.len() - 1;
        at = match seg {
            Segment::Field(name) => {
                let obj = at.as_object_mut().ok_or_else(|| mismatch(path))?;
                if last {
                    obj.insert(name.clone(), result);
                    return Ok(out);
                }
                obj.entry(name.clone())
                    .or_insert_with(|| Value::Object(Map::new()))
            }
            Segment::Index(n) => {
                let arr = at.as_array_mut().ok_or_else(|| mismatch(path))?;
                let slot = arr.get_mut(*n).ok_or_else(|| mismatch(path))?;
                if last {
                    *slot = result;
                    return Ok(out);
                }
                slot
            }
        };
    }
    unreachable!("the loop returns at the last segment")
}

fn mismatch(path: &str) -> Failure {
    Failure::new(
        "States.ResultPathMatchFailure",
        format!("ResultPath {path:?} cannot be applied to the input"),
    )
}

#[derive(Debug, PartialEq)]
enum Segment {
    Field(String),
    Index(usize),
}

/// Parses a reference path: `$`, then `.name`, `['name']` or `[index]` segments.
fn reference_segments(path: &str) -> Result<Vec<Segment>, Failure> {
    let bad = || Failure::runtime(format!("{path:?} is not a reference path"));
    let mut rest = path.strip_prefix('$').ok_or_else(bad)?;
    let mut out = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end == 0 || r[..end].contains(['*', '?', '@', ' ']) {
                return Err(bad());
            }
            out.push(Segment::Field(r[..end].to_owned()));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix("['") {
            let end = r.find("']").ok_or_else(bad)?;
            out.push(Segment::Field(r[..end].to_owned()));
            rest = &r[end + 2..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').ok_or_else(bad)?;
            out.push(Segment::Index(r[..end].parse().map_err(|_| bad())?));
            rest = &r[end + 1..];
        } else {
            return Err(bad());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // Examples after the "Input and output processing" chapter of the ASL specification.
    fn input() -> Value {
        json!({
            "comment": "An input comment.",
            "data": {"val1": 23, "val2": 17},
            "extra": "foo",
            "lambda": {"who": "AWS Step Functions"},
            "items": [1, 2, 3]
        })
    }

    #[test]
    fn input_path_selects_and_null_gives_an_empty_object() {
        let ctx = json!({});
        assert_eq!(
            select(Some(&json!("$.lambda")), &input(), &ctx).unwrap(),
            json!({"who": "AWS Step Functions"})
        );
        assert_eq!(select(None, &input(), &ctx).unwrap(), input());
        assert_eq!(
            select(Some(&Value::Null), &input(), &ctx).unwrap(),
            json!({})
        );
        assert_eq!(
            select(Some(&json!("$.items[1]")), &input(), &ctx).unwrap(),
            json!(2)
        );
        let missing = select(Some(&json!("$.nope")), &input(), &ctx).unwrap_err();
        assert_eq!(missing.error, "States.Runtime");
    }

    #[test]
    fn indefinite_paths_yield_arrays() {
        let ctx = json!({});
        assert_eq!(
            read("$.items[*]", &input(), &ctx).unwrap(),
            json!([1, 2, 3])
        );
        assert_eq!(read("$.data.*", &input(), &ctx).unwrap(), json!([23, 17]));
        assert_eq!(
            read("$..who", &input(), &ctx).unwrap(),
            json!(["AWS Step Functions"])
        );
    }

    #[test]
    fn parameters_fill_dollar_keys_and_copy_the_rest() {
        let template = json!({
            "flagged": true,
            "parts": {"first.$": "$.data.val1", "last.$": "$.data.val2"},
            "list": [{"who.$": "$.lambda.who"}],
            "execution.$": "$$.Execution.Id"
        });
        let ctx = json!({"Execution": {"Id": "exec-1"}});
        assert_eq!(
            fill(&template, &input(), &ctx).unwrap(),
            json!({
                "flagged": true,
                "parts": {"first": 23, "last": 17},
                "list": [{"who": "AWS Step Functions"}],
                "execution": "exec-1"
            })
        );
        assert_eq!(
            fill(&json!({"x.$": 3}), &input(), &ctx).unwrap_err().error,
            "States.Runtime"
        );
        assert!(fill(&json!({"x.$": "States.Format('{}', $.a)"}), &input(), &ctx).is_err());
    }

    #[test]
    fn result_path_replaces_discards_or_nests() {
        let result = json!("Hello, AWS Step Functions!");
        assert_eq!(merge(None, &input(), result.clone()).unwrap(), result);
        assert_eq!(
            merge(Some(&json!("$")), &input(), result.clone()).unwrap(),
            result
        );
        assert_eq!(
            merge(Some(&Value::Null), &input(), result.clone()).unwrap(),
            input()
        );
        let nested = merge(Some(&json!("$.taskresult")), &input(), result.clone()).unwrap();
        assert_eq!(nested["taskresult"], result);
        assert_eq!(nested["extra"], "foo", "the rest of the input is kept");
        let deep = merge(Some(&json!("$.a.b['c d']")), &input(), json!(1)).unwrap();
        assert_eq!(deep["a"]["b"]["c d"], 1, "objects are created on the way");
        assert_eq!(
            merge(Some(&json!("$.items[0]")), &input(), json!(9)).unwrap()["items"],
            json!([9, 2, 3])
        );
        let bad = merge(Some(&json!("$.extra.x")), &input(), json!(1)).unwrap_err();
        assert_eq!(bad.error, "States.ResultPathMatchFailure");
        assert!(
            merge(Some(&json!("$.items[*]")), &input(), json!(1)).is_err(),
            "not a reference path"
        );
        for bad in ["$.a..b", "$.a*", "$.a b", "$."] {
            assert!(
                merge(Some(&json!(bad)), &input(), json!(1)).is_err(),
                "{bad} is not a reference path"
            );
        }
    }
}
