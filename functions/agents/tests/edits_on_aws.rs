//! The user's own changes on the AWS backends (DynamoDB, the template's table, and S3, on
//! moto), with every Task of the pipeline invoking the agents Lambda's handler: an edited
//! router, an added file and a deleted file made versions of the user's own survive a spec
//! change's build; a conflicting edit makes the build wait for the user's decision, and no
//! version is made until it is given. "Fix it" sets the traced change aside, or, with a model
//! configured (the fake provider, a hand-written fixture), takes the model's fix first.

mod installation;

use installation::{installation, installation_where, say};
use kiln::agents::edits::{edit_files, pending_merge, resolve_merge, Decision, FileChange};
use kiln::agents::AgentContext;
use kiln::model::{Author, Intent, Owner, Project, RunStatus, Version};

const MY_ROUTE: &str =
    "\n\n@router.get(\"/mine/ping\")\ndef my_own_ping() -> dict:\n    return {\"pong\": True}\n";
const MY_FILE: &str = "def shout(text: str) -> str:\n    return text.upper() + \"!\"\n";

async fn current(ctx: &AgentContext, project: &Project) -> Version {
    let p = ctx.projects.load_project(project.id).await.unwrap();
    ctx.projects
        .get_version(project.id, p.current_version.unwrap())
        .await
        .unwrap()
}

async fn text(ctx: &AgentContext, version: &Version, path: &str) -> Option<String> {
    let entry = version.manifest.iter().find(|e| e.path == path)?;
    let bytes = ctx.artifacts.get_blob(&entry.sha256).await.unwrap();
    Some(String::from_utf8(bytes).unwrap())
}

fn change(path: &str, content: Option<String>) -> FileChange {
    FileChange {
        path: path.into(),
        content,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn edits_survive_a_spec_change_and_a_conflict_waits_for_a_decision_on_aws() {
    let aws = installation().await;
    let ctx = &aws.ctx;
    let owner = Owner("alice".into());
    let project = Project::new(owner.clone(), "Tasks".into(), String::new());
    ctx.projects.create_project(&project).await.unwrap();
    let described = "Build a REST API for managing tasks. Each task has a title";
    say(&aws, &project, described, Intent::Create).await;
    let built = say(&aws, &project, "build it", Intent::Build).await;
    assert_eq!(built.status, RunStatus::Succeeded, "{:?}", built.error);
    let v1 = current(ctx, &project).await;
    let router = text(ctx, &v1, "app/routers/tasks.py").await.unwrap();

    // An edited router and an added file in one version, a deleted file in the next.
    let edited = edit_files(
        ctx,
        &owner,
        project.id,
        Some(v1.number),
        &[
            change("app/routers/tasks.py", Some(format!("{router}{MY_ROUTE}"))),
            change("app/helpers.py", Some(MY_FILE.into())),
        ],
        Some("my route and helpers".into()),
    )
    .await
    .unwrap();
    assert!(edited.made);
    assert_eq!(edited.version.author, Author::User);
    assert_eq!(edited.version.number, v1.number + 1);
    let deleted = edit_files(
        ctx,
        &owner,
        project.id,
        None,
        &[change(".github/workflows/ci.yml", None)],
        None,
    )
    .await
    .unwrap();
    // Another owner's project is not found.
    let theirs = edit_files(
        ctx,
        &Owner("mallory".into()),
        project.id,
        None,
        &[change("app/x.py", Some("x = 1\n".into()))],
        None,
    )
    .await;
    assert!(theirs.is_err());
    assert_eq!(current(ctx, &project).await.number, deleted.version.number);

    // A spec change, built: all three kept, the new field generated.
    say(&aws, &project, "tasks have a priority", Intent::Refine).await;
    let rebuilt = say(&aws, &project, "build it", Intent::Build).await;
    assert_eq!(rebuilt.status, RunStatus::Succeeded, "{:?}", rebuilt.error);
    let v4 = current(ctx, &project).await;
    assert_eq!(v4.number, deleted.version.number + 1);
    assert_eq!(v4.author, Author::Kiln);
    assert!(v4.generated.is_some());
    let router4 = text(ctx, &v4, "app/routers/tasks.py").await.unwrap();
    assert!(router4.ends_with(MY_ROUTE), "{router4}");
    assert_eq!(
        text(ctx, &v4, "app/helpers.py").await.as_deref(),
        Some(MY_FILE)
    );
    assert!(text(ctx, &v4, ".github/workflows/ci.yml").await.is_none());
    let schemas = text(ctx, &v4, "app/schemas.py").await.unwrap();
    assert!(schemas.contains("priority"), "{schemas}");

    // A conflicting edit: beside the line the next field goes after.
    let mine = schemas.replacen(
        "    priority: _Int | None = None\n",
        "    priority: _Int | None = None  # by hand\n",
        1,
    );
    assert_ne!(mine, schemas);
    let v5 = edit_files(
        ctx,
        &owner,
        project.id,
        None,
        &[change("app/schemas.py", Some(mine))],
        None,
    )
    .await
    .unwrap()
    .version;
    say(&aws, &project, "tasks also have a due date", Intent::Refine).await;
    let held = say(&aws, &project, "build it", Intent::Build).await;
    assert_eq!(held.status, RunStatus::Failed);
    assert_eq!(held.error.unwrap().code, "merge_conflicts");
    let waiting = ctx.projects.load_project(project.id).await.unwrap();
    assert_eq!(waiting.current_version, Some(v5.number), "no version made");
    let at = waiting.merge.expect("the merge waits on the project");
    assert_eq!((at.ours, at.conflicts), (v5.number, 1));
    let merge = pending_merge(ctx, &owner, project.id).await.unwrap();
    assert_eq!(merge.ours, v5.number);
    let paths: Vec<&str> = merge.conflicts.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, ["app/schemas.py"]);

    let made = resolve_merge(
        ctx,
        &owner,
        project.id,
        &[("app/schemas.py".into(), Decision::Generated)],
        None,
    )
    .await
    .unwrap();
    assert_eq!((made.number, made.author), (v5.number + 1, Author::User));
    let now = current(ctx, &project).await;
    assert_eq!(now.number, made.number);
    let schemas6 = text(ctx, &now, "app/schemas.py").await.unwrap();
    assert!(schemas6.contains("due_date") && !schemas6.contains("# by hand"));
    assert!(text(ctx, &now, "app/routers/tasks.py")
        .await
        .unwrap()
        .ends_with(MY_ROUTE));
    assert!(ctx
        .projects
        .load_project(project.id)
        .await
        .unwrap()
        .merge
        .is_none());
}

/// The user's `changes` made a version, then "fix it" said: the run succeeds after two test
/// builds played (the failing version's, then the first repair's). The broken version and the
/// current one after.
async fn edited_then_fixed(
    aws: &installation::Installation,
    owner: &Owner,
    project: &Project,
    changes: &[FileChange],
) -> (Version, Version) {
    let ctx = &aws.ctx;
    let broken_at = edit_files(ctx, owner, project.id, None, changes, None)
        .await
        .unwrap()
        .version;
    let played = aws.played.load(std::sync::atomic::Ordering::SeqCst);
    let fixing = say(aws, project, "fix it", Intent::Fix).await;
    assert_eq!(fixing.status, RunStatus::Succeeded, "{:?}", fixing.error);
    assert_eq!(
        aws.played.load(std::sync::atomic::Ordering::SeqCst),
        played + 2,
        "the failing version's tests, then the first repair's"
    );
    (broken_at, current(ctx, project).await)
}

/// "Fix it" on AWS: the failing version's tests and a repair's, each a test build played on its
/// source; the repair that sets the traced change aside passes and becomes current.
#[tokio::test(flavor = "multi_thread")]
async fn a_fix_sets_aside_the_traced_change_on_aws() {
    let aws = installation().await;
    let ctx = &aws.ctx;
    let owner = Owner("alice".into());
    let project = Project::new(owner.clone(), "Tasks".into(), String::new());
    ctx.projects.create_project(&project).await.unwrap();
    let described = "Build a REST API for managing tasks. Each task has a title";
    say(&aws, &project, described, Intent::Create).await;
    say(&aws, &project, "build it", Intent::Build).await;
    let v1 = current(ctx, &project).await;
    let router = text(ctx, &v1, "app/routers/tasks.py").await.unwrap();
    let def = "def create_task(body: TaskCreate, session: SessionDep) -> Any:\n";
    let broken = router.replacen(def, &format!("{def}    raise RuntimeError(\"mine\")\n"), 1);
    assert_ne!(broken, router);
    let changes = [
        change("app/routers/tasks.py", Some(broken)),
        change("app/helpers.py", Some(MY_FILE.into())),
    ];
    let (broken_at, fixed) = edited_then_fixed(&aws, &owner, &project, &changes).await;
    assert!(fixed.number > broken_at.number);
    assert_eq!(
        text(ctx, &fixed, "app/routers/tasks.py").await.unwrap(),
        router
    );
    assert_eq!(
        text(ctx, &fixed, "app/helpers.py").await.as_deref(),
        Some(MY_FILE)
    );
    let p = ctx.projects.load_project(project.id).await.unwrap();
    assert_eq!(p.tested_version, Some(fixed.number));
}

/// "Fix it" on AWS with a model configured (OpenAI's wire format, the fake provider answering
/// from hand-written fixtures): the model's fix is the first repair, its test build played, and
/// it keeps the user's other change in the router; the project counts the call.
#[tokio::test(flavor = "multi_thread")]
async fn a_models_fix_is_the_first_repair_on_aws() {
    use kiln_integration_tests::fake_llm::FakeLlm;
    let fake = FakeLlm::from_fixtures(&["openai/recipes.http", "openai/fix_recipes.http"]);
    let base = fake.openai_base_url();
    let aws = installation_where(|c| {
        c.llm = kiln::config::Llm::Openai;
        c.llm_settings.model = "gpt-4o-mini".into();
        c.llm_settings.base_url = Some(base);
        c.llm_settings.api_key = Some("sk-test-kiln-0123456789".into());
    })
    .await;
    let ctx = &aws.ctx;
    let owner = Owner("alice".into());
    let project = Project::new(owner.clone(), "Cookbook".into(), String::new());
    ctx.projects.create_project(&project).await.unwrap();
    say(&aws, &project, "a place to keep my recipes", Intent::Create).await;
    say(&aws, &project, "build it", Intent::Build).await;
    let v1 = current(ctx, &project).await;
    let router = text(ctx, &v1, "app/routers/recipes.py").await.unwrap();
    let def = "def create_recipe(body: RecipeCreate, session: SessionDep) -> Any:\n";
    let mine = "# Reviewed by hand: recipes keep their titles.\n";
    let raise = "    raise RuntimeError(\"a slip of mine\")\n";
    let broken = format!(
        "{mine}{}",
        router.replacen(def, &format!("{def}{raise}"), 1)
    );
    assert!(broken.contains(raise));
    let changes = [change("app/routers/recipes.py", Some(broken))];
    let (broken_at, fixed) = edited_then_fixed(&aws, &owner, &project, &changes).await;
    assert_eq!(fixed.number, broken_at.number + 1);
    assert_eq!(
        fixed.note.as_deref(),
        Some(
            format!(
                "Repair 1 of version {}: the fix proposed by gpt-4o-mini",
                broken_at.number
            )
            .as_str()
        )
    );
    assert_eq!(
        text(ctx, &fixed, "app/routers/recipes.py").await.unwrap(),
        format!("{mine}{router}")
    );
    let p = ctx.projects.load_project(project.id).await.unwrap();
    assert_eq!(p.tested_version, Some(fixed.number));
    assert_eq!(p.model_usage.calls, 2, "the reading and the fix");
    assert_eq!((fake.unexpected(), fake.remaining()), (0, 0));
}
