//! A code fix asked of each provider over the wire: the request names the code fix's own tool
//! (Bedrock's forced tool, OpenAI's strict response format), a fix whose `find` text is not in
//! the file is sent back once with the errors (on Bedrock as the error result of that very tool
//! use), and the corrected fix is applied to the files.

use std::collections::BTreeMap;

use kiln::understand::FixAsked;
use kiln_integration_tests::fake_llm::FakeLlm;

use super::{fixtures, tokens_of, understander, Bedrock, Openai, Provider};

pub(super) async fn a_code_fix_is_asked_with_its_own_tool_and_repaired_once(provider: Provider) {
    let fake = FakeLlm::start(fixtures(provider, &["code_fix_not_found", "code_fix"]));
    let u = understander(provider, &fake, &[]).await;
    assert!(u.repairs_code());
    let files = BTreeMap::from([
        (
            "app/main.py".to_owned(),
            "import os\nraise RuntimeError('mine')\napp = None\n".to_owned(),
        ),
        (
            "tests/test_main.py".to_owned(),
            "def test(): pass\n".to_owned(),
        ),
    ]);
    let shown = vec!["app/main.py".to_owned()];
    let failures = vec!["tests.test_main::test (RuntimeError at app/main.py:2): mine".to_owned()];
    let proposed = u
        .propose_fix(&FixAsked {
            files: &files,
            shown: &shown,
            failures: &failures,
            user_changed: &[],
        })
        .await
        .expect("a model proposes");
    let fixed = proposed.outcome.unwrap();
    assert_eq!(
        fixed.files,
        BTreeMap::from([(
            "app/main.py".to_owned(),
            "import os\napp = None\n".to_owned()
        )])
    );
    let (a, b) = (
        tokens_of(provider, "code_fix_not_found"),
        tokens_of(provider, "code_fix"),
    );
    let usage = proposed.usage;
    assert_eq!(
        (
            usage.calls,
            usage.input_tokens,
            usage.output_tokens,
            usage.fallback
        ),
        (2, a.0 + b.0, a.1 + b.1, None)
    );
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    let body = &requests[0].body;
    match provider {
        Bedrock => {
            assert_eq!(
                body["toolConfig"]["tools"][0]["toolSpec"]["name"],
                "propose_code_fix"
            );
            assert_eq!(
                body["toolConfig"]["toolChoice"]["tool"]["name"],
                "propose_code_fix"
            );
            let messages = requests[1].body["messages"].as_array().unwrap();
            let call = &messages[1]["content"][0]["toolUse"];
            let result = &messages[2]["content"][0]["toolResult"];
            assert_eq!(call["name"], "propose_code_fix");
            assert_eq!(call["toolUseId"], result["toolUseId"]);
            assert_eq!(result["status"], "error");
        }
        Openai => {
            assert_eq!(
                body["response_format"]["json_schema"]["name"],
                "propose_code_fix"
            );
            assert_eq!(body["response_format"]["json_schema"]["strict"], true);
        }
    }
    let told = requests[1].body.to_string();
    assert!(
        told.contains("That fix could not be applied")
            && told.contains("change 1: its `find` text does not occur in `app/main.py`"),
        "{told}"
    );
    assert!(body.to_string().contains("=== app/main.py ==="), "{body}");
    assert_eq!((fake.unexpected(), fake.remaining()), (0, 0));
}
