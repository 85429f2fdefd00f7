//! The claim about a generated project's Dockerfile: its app runs as a user other than root,
//! with a health check that probes the app's `/health`.

use reqwest::Method;

use crate::common::{call, project_after, Session};
use crate::support::NOTES;

#[tokio::test(flavor = "multi_thread")]
async fn the_dockerfile_runs_as_a_non_root_user_with_a_health_check() {
    let session = Session::start(&[]);
    let (client, api) = (&session.client, &session.api);
    let id = project_after(client, api, "Notes", &[NOTES, "build it"]).await;
    let (status, dockerfile) = call(
        client,
        Method::GET,
        format!("{api}/projects/{id}/versions/1/files/Dockerfile"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{dockerfile}");
    let dockerfile = dockerfile.as_str().unwrap().to_owned();
    let instructions = dockerfile_instructions(&dockerfile);
    let position = |keyword: &str| {
        instructions
            .iter()
            .rposition(|(k, _)| k == keyword)
            .unwrap_or_else(|| panic!("no {keyword} in:\n{dockerfile}"))
    };
    let cmd = position("CMD");
    let user_at = instructions[..cmd]
        .iter()
        .rposition(|(k, _)| k == "USER")
        .unwrap_or_else(|| panic!("no USER before CMD:\n{dockerfile}"));
    let user = instructions[user_at].1.split(':').next().unwrap().trim();
    assert!(
        !["root", "0", ""].contains(&user),
        "CMD runs as {user:?}:\n{dockerfile}"
    );
    // A named user must be one the image creates, with an id other than 0.
    if user.parse::<u32>().is_err() {
        let made = instructions[..user_at].iter().any(|(k, args)| {
            k == "RUN"
                && args.contains("useradd")
                && args.split_whitespace().any(|w| w == user)
                && !args.contains("--uid 0 ")
        });
        assert!(made, "the image never creates {user:?}:\n{dockerfile}");
    }
    let check = &instructions[position("HEALTHCHECK")].1;
    let probe = check
        .split_once("CMD")
        .unwrap_or_else(|| panic!("HEALTHCHECK without CMD: {check}"))
        .1;
    assert!(
        probe.contains("/health") && probe.contains("127.0.0.1"),
        "the health check does not probe the app's /health: {check}"
    );
}

/// A Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined.
fn dockerfile_instructions(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for line in text.lines() {
        let line = line.trim();
        if pending.is_empty() && (line.is_empty() || line.starts_with('#')) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => pending.push_str(part),
            None => {
                pending.push_str(line);
                let (keyword, args) = pending
                    .split_once(char::is_whitespace)
                    .unwrap_or((&pending, ""));
                out.push((keyword.to_uppercase(), args.trim().to_owned()));
                pending.clear();
            }
        }
    }
    out
}
