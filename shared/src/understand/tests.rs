use std::collections::VecDeque;
use std::sync::Mutex;

use serde_json::json;

use super::*;

fn spec_of(messages: &[&str]) -> AppSpec {
    let mut spec: Option<AppSpec> = None;
    for (i, m) in messages.iter().enumerate() {
        spec = Some(
            crate::spec::understand(spec.as_ref(), "App", m, i == 0)
                .unwrap()
                .0,
        );
    }
    spec.unwrap()
}

fn recipes() -> AppSpec {
    spec_of(&["recipes have a title (required) and instructions"])
}

fn field(name: &str, ty: &str, required: bool) -> Value {
    json!({"name": name, "type": ty, "values": null, "required": required, "unique": false, "default": null})
}

fn reviews() -> Value {
    json!({"operations": [
        {"op": "add_resource", "name": "review", "plural": null,
         "fields": [field("rating", "integer", true), field("comment", "text", false)]},
        {"op": "add_relation", "resource": "review", "belongs_to": "recipe"},
    ]})
}

#[test]
fn a_patch_applies_to_a_copy_and_says_what_changed() {
    let before = recipes();
    let patch = SpecPatch::parse(&reviews()).unwrap();
    let (after, change) = patch.apply(&before).unwrap();
    assert_eq!(
        after.describe(),
        "recipe(title:string!, instructions:text) review(rating:integer!, comment:text, >recipe)"
    );
    assert_eq!(before, recipes(), "the spec given is not touched");
    assert!(
        change.added.contains(&"resource `reviews`".to_owned()),
        "{change:?}"
    );
    assert!(
        change
            .added
            .contains(&"relation: each `review` belongs to a `recipe`".to_owned()),
        "{change:?}"
    );
    let focus = change.focus.unwrap();
    assert_eq!(
        (focus.resource.as_str(), focus.field.as_str()),
        ("review", "comment")
    );
}

#[test]
fn parsing_is_strict() {
    let mut unknown_in_field = reviews();
    unknown_in_field["operations"][0]["fields"][0]["nullable"] = json!(true);
    let mut unknown_in_op = reviews();
    unknown_in_op["operations"][1]["cascade"] = json!(true);
    let mut unknown_at_root = reviews();
    unknown_at_root["explanation"] = json!("because");
    let unknown_op = json!({"operations": [{"op": "drop_table", "name": "recipe"}]});
    let missing = json!({"operations": [{"op": "add_field", "resource": "recipe"}]});
    for bad in [
        unknown_in_field,
        unknown_in_op,
        unknown_at_root,
        unknown_op,
        missing,
        json!("text"),
    ] {
        let e = SpecPatch::parse(&bad).expect_err(&bad.to_string());
        assert!(e.starts_with("not a valid patch:"), "{e}");
    }
}

#[test]
fn a_patch_that_cannot_apply_names_every_reason() {
    let patch = SpecPatch::parse(&json!({"operations": [
        {"op": "add_relation", "resource": "recipe", "belongs_to": "cookbook"},
        {"op": "add_field", "resource": "recipe", "field":
            {"name": "mood", "type": "enum", "values": [], "required": false, "unique": false, "default": null}},
        {"op": "add_field", "resource": "recipe", "field": field("class", "string", false)},
        {"op": "add_field", "resource": "recipe", "field":
            {"name": "serves", "type": "integer", "values": null, "required": false, "unique": false, "default": "four"}},
        {"op": "remove_field", "resource": "recipe", "name": "colour"},
    ]}))
    .unwrap();
    let errors = patch.apply(&recipes()).unwrap_err();
    assert_eq!(errors.len(), 5, "{errors:?}");
    assert!(
        errors[0].contains("operation 1 (add_relation)")
            && errors[0].contains("no resource `cookbook`")
            && errors[0].contains("recipe"),
        "{}",
        errors[0]
    );
    assert!(errors[1].contains("needs its `values`"), "{}", errors[1]);
    assert!(errors[2].contains("reserved"), "{}", errors[2]);
    assert!(errors[3].contains("does not fit"), "{}", errors[3]);
    assert!(
        errors[4].contains("no field `colour`") && errors[4].contains("title, instructions"),
        "{}",
        errors[4]
    );
    // A link that would close a loop is refused at its operation, as the rules refuse it.
    let cycle = SpecPatch::parse(&json!({"operations": [
        {"op": "add_resource", "name": "author", "plural": null, "fields": []},
        {"op": "add_resource", "name": "book", "plural": null, "fields": []},
        {"op": "add_resource", "name": "shelf", "plural": "shelves", "fields": []},
        {"op": "add_relation", "resource": "author", "belongs_to": "book"},
        {"op": "add_relation", "resource": "book", "belongs_to": "shelf"},
        {"op": "add_relation", "resource": "shelf", "belongs_to": "author"},
    ]}))
    .unwrap();
    let errors = cycle.apply(&AppSpec::default()).unwrap_err();
    assert_eq!(
        errors,
        ["operation 6 (add_relation): `shelf` → `author` would make a cycle"]
    );
}

#[test]
fn the_rules_reading_is_the_same_patch_type_and_applies_back() {
    let conversations: &[&[&str]] = &[
        &[
            "tasks with a title and a done flag",
            "projects have a name",
            "tasks belong to a project",
        ],
        &[
            "books: title, author, isbn",
            "rename author to writer",
            "add search on title",
            "rename books to volumes",
        ],
        &[
            "orders have a total (decimal) and a status from open/paid/shipped",
            "make the status required",
            "remove the total",
            "add authentication and sqlite and pagination",
        ],
        &[
            "customers have a name and an email",
            "orders belong to a customer",
            "actually remove customers",
        ],
    ];
    for messages in conversations {
        let mut spec: Option<AppSpec> = None;
        for (i, m) in messages.iter().enumerate() {
            let before = spec.clone().unwrap_or_else(|| AppSpec {
                name: "App".into(),
                ..AppSpec::default()
            });
            let (after, change) = crate::spec::understand(spec.as_ref(), "App", m, i == 0).unwrap();
            let patch = SpecPatch::between(&before, &after, &change.renamed);
            // It survives the wire: what a model would send is parsed strictly.
            let patch = SpecPatch::parse(&serde_json::to_value(&patch).unwrap()).unwrap();
            let (applied, replayed) = patch
                .apply(&before)
                .unwrap_or_else(|e| panic!("{m}: {e:?}"));
            assert_eq!(applied, after, "{m}: {patch:?}");
            assert_eq!(replayed.renamed, change.renamed, "{m}");
            spec = Some(after);
        }
    }
}

/// A provider that answers from a script, for the fallback logic alone (the wire formats are
/// tested against the fake provider server in the integration tests).
struct Scripted {
    answers: Mutex<VecDeque<Result<Answer, ProviderError>>>,
    prompts: Mutex<Vec<Prompt>>,
}

impl Scripted {
    fn new(answers: Vec<Result<Value, ProviderError>>) -> Self {
        let answers = answers
            .into_iter()
            .map(|a| {
                a.map(|patch| Answer {
                    patch,
                    tool_use_id: Some("t1".into()),
                    input_tokens: 1000,
                    output_tokens: 200,
                })
            })
            .collect();
        Scripted {
            answers: Mutex::new(answers),
            prompts: Mutex::default(),
        }
    }
}

#[async_trait]
impl Provider for std::sync::Arc<Scripted> {
    fn name(&self) -> &'static str {
        "openai"
    }
    fn model(&self) -> &str {
        "m"
    }
    async fn propose(&self, prompt: &Prompt) -> Result<Answer, ProviderError> {
        self.prompts.lock().unwrap().push(prompt.clone());
        self.answers
            .lock()
            .unwrap()
            .pop_front()
            .expect("a scripted answer")
    }
    async fn answer(&self, _: &str, _: &str) -> Result<Said, ProviderError> {
        Err(ProviderError::Malformed("not scripted".into()))
    }
}

async fn read_with(answers: Vec<Result<Value, ProviderError>>) -> (Understood, Vec<Prompt>) {
    let scripted = std::sync::Arc::new(Scripted::new(answers));
    let prices = Prices {
        input_per_million: 3.0,
        output_per_million: 15.0,
    };
    let model = WithModel::new(Box::new(scripted.clone()), prices);
    let spec = recipes();
    let text = "other people can leave reviews on a recipe with a rating from 1 to 5";
    let read = model
        .understand(&Request {
            spec: Some(&spec),
            project_name: "App",
            text,
            describes_app: false,
            focus: None,
        })
        .await
        .unwrap();
    let prompts = scripted.prompts.lock().unwrap().clone();
    (read, prompts)
}

#[tokio::test]
async fn a_valid_patch_is_used_and_priced() {
    let (read, prompts) = read_with(vec![Ok(reviews())]).await;
    assert!(read.spec.resource("review").is_some());
    let usage = read.usage.unwrap();
    assert_eq!(
        (usage.calls, usage.input_tokens, usage.output_tokens),
        (1, 1000, 200)
    );
    assert!((usage.cost_usd - 0.006).abs() < 1e-12, "{}", usage.cost_usd);
    assert_eq!(usage.fallback, None);
    assert!(
        prompts[0].system.contains("\"recipe\""),
        "the spec is in the prompt"
    );
    assert!(prompts[0].user.contains("rating from 1 to 5"));
}

#[tokio::test]
async fn a_refused_patch_is_repaired_once_with_its_errors() {
    let bad = json!({"operations": [{"op": "add_relation", "resource": "review", "belongs_to": "cookbook"}]});
    let (read, prompts) = read_with(vec![Ok(bad.clone()), Ok(reviews())]).await;
    assert!(read.spec.resource("review").is_some());
    assert_eq!(read.usage.as_ref().unwrap().calls, 2);
    assert_eq!(read.usage.as_ref().unwrap().input_tokens, 2000);
    assert_eq!(prompts[1].repairs.len(), 1);
    assert_eq!(prompts[1].repairs[0].answer, bad);
    assert!(
        prompts[1].repairs[0].errors[0].contains("no resource `review`"),
        "{:?}",
        prompts[1].repairs
    );
    assert!(read.change.notes.is_empty(), "{:?}", read.change.notes);
}

#[tokio::test]
async fn a_repair_call_that_fails_keeps_why_the_first_answer_was_refused() {
    let bad = json!({"operations": [{"op": "add_relation", "resource": "review", "belongs_to": "cookbook"}]});
    let (read, _) = read_with(vec![
        Ok(bad),
        Err(ProviderError::Timeout(std::time::Duration::from_secs(9))),
    ])
    .await;
    let why = read.usage.unwrap().fallback.unwrap();
    assert!(
        why.contains("did not answer within") && why.contains("no resource `review`"),
        "{why}"
    );
}

#[tokio::test]
async fn refused_twice_the_rules_answer_and_say_why() {
    let bad = json!({"operations": [{"op": "add_relation", "resource": "review", "belongs_to": "cookbook"}]});
    let (read, prompts) = read_with(vec![Ok(bad.clone()), Ok(bad)]).await;
    assert_eq!(prompts.len(), 2, "one repair call, no more");
    let usage = read.usage.unwrap();
    assert_eq!(usage.calls, 2);
    let why = usage.fallback.unwrap();
    assert!(
        why.contains("after one repair") && why.contains("no resource `review`"),
        "{why}"
    );
    assert!(
        read.change.notes[0].starts_with("I read this with the rules instead of m (openai)"),
        "{:?}",
        read.change.notes
    );
    // What the rules read of the same message.
    let rules = Rules
        .understand(&Request {
            spec: Some(&recipes()),
            project_name: "App",
            text: "other people can leave reviews on a recipe with a rating from 1 to 5",
            describes_app: false,
            focus: None,
        })
        .await
        .unwrap();
    assert_eq!(read.spec, rules.spec);
}

#[tokio::test]
async fn a_provider_failure_is_not_repaired_and_the_rules_answer() {
    let (read, prompts) = read_with(vec![Err(ProviderError::Auth("bad key".into()))]).await;
    assert_eq!(prompts.len(), 1);
    let usage = read.usage.unwrap();
    assert_eq!(usage.calls, 0);
    assert!(usage
        .fallback
        .unwrap()
        .contains("refused the credentials: bad key"));
    assert!(
        read.change.notes[0].contains("because the provider refused the credentials"),
        "{:?}",
        read.change.notes
    );
}

#[test]
fn the_schema_is_closed_everywhere_and_names_every_operation() {
    fn walk(v: &Value, objects: &mut usize) {
        if v["type"] == "object" {
            *objects += 1;
            assert_eq!(v["additionalProperties"], false, "{v}");
            let props: Vec<&String> = v["properties"].as_object().unwrap().keys().collect();
            let required: Vec<&str> = v["required"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap())
                .collect();
            assert_eq!(
                props.len(),
                required.len(),
                "every key required (strict mode): {v}"
            );
        }
        match v {
            Value::Object(o) => o.values().for_each(|x| walk(x, objects)),
            Value::Array(a) => a.iter().for_each(|x| walk(x, objects)),
            _ => {}
        }
    }
    let schema = schema();
    let mut objects = 0;
    walk(&schema, &mut objects);
    let ops: Vec<&str> = schema["properties"]["operations"]["items"]["anyOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["properties"]["op"]["enum"][0].as_str().unwrap())
        .collect();
    assert_eq!(ops.len(), 12, "{ops:?}");
    // Every operation the schema offers, filled in as the schema allows (nulls where it
    // allows them), parses: a key the parser refuses, or one it needs that the schema leaves
    // out, would make every such answer fail.
    fn instance(schema: &Value) -> Value {
        if let Some(choices) = schema["enum"].as_array() {
            return choices[0].clone();
        }
        let types: Vec<&str> = match &schema["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().map(|t| t.as_str().unwrap()).collect(),
            _ => vec![],
        };
        if types.contains(&"null") {
            return Value::Null;
        }
        match types.first().copied() {
            Some("object") => Value::Object(
                schema["properties"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), instance(v)))
                    .collect(),
            ),
            Some("array") => json!([]),
            Some("boolean") => json!(false),
            Some("string") => json!("recipe"),
            other => panic!("{other:?} in {schema}"),
        }
    }
    for op in schema["properties"]["operations"]["items"]["anyOf"]
        .as_array()
        .unwrap()
    {
        let one = json!({"operations": [instance(op)]});
        SpecPatch::parse(&one).unwrap_or_else(|e| panic!("{one}: {e}"));
    }
    assert!(objects > 12);
}
