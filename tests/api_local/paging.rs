//! The lists the web UI pages through: projects searched by name on the server, a page at a
//! time, and a conversation opened at its newest page and read back a page at a time, the
//! follow mark still handed out; each refusing what it did not hand out, and hostile text
//! taken as text.

use axum::http::StatusCode;
use kiln::model::{Agent, Message};
use serde_json::Value;

use crate::common::{app, App};

/// `text` as one value of a query string: every byte but the unreserved ones percent-encoded.
fn encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The names a search for `q` finds, `limit` a page, every page; and how many pages it took.
async fn search(app: &App, q: &str, limit: u32) -> (Vec<String>, usize) {
    let (mut names, mut pages, mut cursor) = (Vec::new(), 0, None::<String>);
    loop {
        let mut path = format!("/api/v2/projects?q={}&limit={limit}", encoded(q));
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, body) = app.call("GET", &path, None).await;
        assert_eq!(status, StatusCode::OK, "{q:?}: {body}");
        let items = body["items"].as_array().unwrap();
        assert!(items.len() <= limit as usize, "{body}");
        names.extend(items.iter().map(|p| p["name"].as_str().unwrap().to_owned()));
        pages += 1;
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return (names, pages),
        }
        assert!(pages < 50, "paging does not end");
    }
}

#[tokio::test]
async fn projects_are_searched_on_the_server_a_page_at_a_time() {
    let app = app().await;
    for name in [
        "Inventory one",
        "Tasks",
        "Book loans",
        "INVENTORY two",
        "Notes",
        "Café inventaire",
        "Old inventory",
        "50% off_sale [x]*",
    ] {
        app.create_project(name).await;
    }
    assert_eq!(
        search(&app, "inventory", 2).await,
        (
            vec![
                "Old inventory".to_owned(),
                "INVENTORY two".into(),
                "Inventory one".into()
            ],
            2
        ),
        "ignoring case, newest first, paged"
    );
    assert_eq!(
        search(&app, "CAFÉ", 10).await.0,
        ["Café inventaire"],
        "case beyond ASCII"
    );
    // Nothing in `q` is a pattern, nor reaches SQL.
    for q in ["%", "_", "off_", "[x]*", "50% off"] {
        assert_eq!(search(&app, q, 10).await.0, ["50% off_sale [x]*"], "{q:?}");
    }
    for q in [
        "' OR '1'='1",
        "\"; DROP TABLE projects; --",
        "^.*$",
        "%%",
        "<script>",
    ] {
        assert_eq!(search(&app, q, 10).await.0, Vec::<String>::new(), "{q:?}");
    }
    let (every, _) = search(&app, "", 50).await;
    assert_eq!(every.len(), 8, "an empty q is every project");

    // At most 100 characters: a name has no more.
    let long = "a".repeat(101);
    let (status, body) = app
        .call("GET", &format!("/api/v2/projects?q={long}"), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "invalid_query");
    assert_eq!(
        body["error"]["message"],
        "`q` is 101 characters long; at most 100 are allowed"
    );
    assert_eq!(search(&app, &"é".repeat(100), 5).await.0.len(), 0);
    // A search takes back only cursors a list of projects handed out.
    let (status, body) = app
        .call("GET", "/api/v2/projects?q=inventory&cursor=bm9wZQ", None)
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_cursor")),
        "{body}"
    );
}

/// Appends `n` agent messages, `m0`, `m1`, …, to the project's conversation.
async fn chat(app: &App, id: &str, n: usize) {
    let project_id: uuid::Uuid = id.parse().unwrap();
    for i in 0..n {
        let m = Message::from_agent(
            project_id,
            Agent::Architect,
            uuid::Uuid::now_v7(),
            format!("m{i}"),
        );
        assert!(app.state.agents.projects.append_message(&m).await.unwrap());
    }
}

fn contents(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_conversation_opens_at_its_newest_page_and_reads_back_from_there() {
    let app = app().await;
    let id = app.create_project("Long talk").await;
    chat(&app, &id, 12).await;
    let base = format!("/api/v2/projects/{id}/conversation");

    let (status, newest) = app.call("GET", &format!("{base}?latest=5"), None).await;
    assert_eq!(status, StatusCode::OK, "{newest}");
    assert_eq!(contents(&newest), ["m7", "m8", "m9", "m10", "m11"]);
    assert!(newest["next_cursor"].is_null(), "{newest}");
    let mark = newest["after"]
        .as_str()
        .expect("the newest page follows on");
    let before = newest["before"].as_str().expect("a page before it");

    let (_, earlier) = app
        .call("GET", &format!("{base}?before={before}&limit=5"), None)
        .await;
    assert_eq!(contents(&earlier), ["m2", "m3", "m4", "m5", "m6"]);
    assert!(
        earlier.get("after").is_none(),
        "only the newest page follows on: {earlier}"
    );
    let (_, first) = app
        .call(
            "GET",
            &format!(
                "{base}?before={}&limit=5",
                earlier["before"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(contents(&first), ["m0", "m1"]);
    assert!(
        first.get("before").is_none(),
        "the conversation begins here: {first}"
    );
    // Without a limit, a page before is the default page.
    let (_, default) = app
        .call("GET", &format!("{base}?before={before}"), None)
        .await;
    assert_eq!(contents(&default).len(), 7);

    // The newest page's mark follows on: only what is new since.
    let project_id: uuid::Uuid = id.parse().unwrap();
    let new = Message::from_agent(
        project_id,
        Agent::QaEngineer,
        uuid::Uuid::now_v7(),
        "new".into(),
    );
    app.state
        .agents
        .projects
        .append_message(&new)
        .await
        .unwrap();
    let (status, changes) = app.call("GET", &format!("{base}?after={mark}"), None).await;
    assert_eq!(status, StatusCode::OK, "{changes}");
    assert_eq!(contents(&changes), ["new"]);

    // A whole conversation within `latest`: no page before it.
    let (_, all) = app.call("GET", &format!("{base}?latest=200"), None).await;
    assert_eq!(contents(&all).len(), 13);
    assert!(all.get("before").is_none(), "{all}");
}

#[tokio::test]
async fn reading_backwards_refuses_what_it_did_not_hand_out() {
    let app = app().await;
    let id = app.create_project("Strict").await;
    chat(&app, &id, 4).await;
    let base = format!("/api/v2/projects/{id}/conversation");
    let (_, forwards) = app.call("GET", &format!("{base}?limit=2"), None).await;
    let cursor = forwards["next_cursor"].as_str().unwrap().to_owned();
    let (_, backwards) = app.call("GET", &format!("{base}?latest=2"), None).await;
    let before = backwards["before"].as_str().unwrap().to_owned();
    let after = backwards["after"].as_str().unwrap().to_owned();

    let refused = |query: String, code: &'static str| {
        let (app, base) = (&app, &base);
        async move {
            let (status, body) = app.call("GET", &format!("{base}?{query}"), None).await;
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (StatusCode::BAD_REQUEST, Some(code)),
                "{query}: {body}"
            );
            body["error"]["message"].as_str().unwrap().to_owned()
        }
    };
    // Each direction takes back only its own cursors.
    refused(format!("before={cursor}"), "invalid_cursor").await;
    refused(format!("cursor={before}"), "invalid_cursor").await;
    refused("before=not%20a%20cursor!".into(), "invalid_cursor").await;
    // "<99999999999999999999": a backward mark, but past any position.
    refused(
        "before=PDk5OTk5OTk5OTk5OTk5OTk5OTk5".into(),
        "invalid_cursor",
    )
    .await;
    refused(format!("before={after}"), "invalid_cursor").await;
    // `latest` is a count from 1 to 200, said so.
    for n in ["0", "201", "4294967295"] {
        let message = refused(format!("latest={n}"), "invalid_query").await;
        assert_eq!(
            message,
            "latest must be from 1 to 200: how many of the newest messages to answer"
        );
    }
    let message = refused("latest=abc".into(), "invalid_query").await;
    assert!(message.contains("latest"), "{message}");
    refused(format!("before={before}&limit=0"), "invalid_query").await;
    refused(format!("before={before}&limit=201"), "invalid_query").await;
    // One way of reading at a time.
    for query in [
        format!("latest=2&before={before}"),
        "latest=2&limit=2".into(),
        format!("latest=2&cursor={cursor}"),
        format!("before={before}&cursor={cursor}"),
        format!("after={after}&latest=2"),
        format!("after={after}&before={before}"),
    ] {
        refused(query, "invalid_query").await;
    }
    // Another project's conversation is not there, whichever way it is read.
    let missing = uuid::Uuid::now_v7();
    let (status, _) = app
        .call(
            "GET",
            &format!("/api/v2/projects/{missing}/conversation?latest=5"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_openapi_document_describes_search_and_reading_backwards() {
    let app = app().await;
    let (_, doc) = app.call("GET", "/api/v2/openapi.json", None).await;
    let param = |path: &str, name: &str| -> Value {
        doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{path} has no parameter {name}"))
    };
    let q = param("/api/v2/projects", "q");
    assert_eq!(q["in"], "query");
    assert_eq!(q["schema"]["maxLength"], 100, "{q}");
    let conversation = "/api/v2/projects/{id}/conversation";
    let latest = param(conversation, "latest");
    assert_eq!(
        (&latest["schema"]["minimum"], &latest["schema"]["maximum"]),
        (&Value::from(1), &Value::from(200)),
        "{latest}"
    );
    param(conversation, "before");
    let page = &doc["components"]["schemas"]["MessagePage"]["properties"];
    assert!(page["before"].is_object(), "{page}");
}
