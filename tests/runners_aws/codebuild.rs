//! The CodeBuild test runner on moto, with each build's buildspec played on its source.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn codebuild_runs_the_buildspec_and_its_junit_report_comes_back() {
    let aws = aws().await;
    let sent = SentRequests::default();
    let codebuild = sent.codebuild(&aws.sdk);
    let runner = CodeBuildTestRunner::new(codebuild.clone(), aws.jobs.clone(), "kiln-tests");
    let buildspec = Buildspec::read("buildspec-test.yml");

    // The buildspec agrees with itself: the report pytest writes is the file the post-build
    // step uploads and the file CodeBuild's report group reads.
    let junit = buildspec.junit_path();
    let uploads = buildspec.s3_uploads();
    assert_eq!(uploads.len(), 1, "one upload: {uploads:?}");
    let (uploaded, destination) = &uploads[0];
    assert_eq!(
        uploaded, &junit,
        "the post-build step uploads pytest's report"
    );
    assert!(
        buildspec
            .report_files()
            .contains(&(junit.clone(), "JUNITXML".to_owned())),
        "the report group reads {junit}: {:?}",
        buildspec.report_files()
    );

    let project = Uuid::now_v7();
    let job = runner
        .start(project, 3, suite(), Uuid::now_v7())
        .await
        .unwrap();
    let ids: Value = serde_json::from_str(&job.id).unwrap();

    // The build was started on the version's source, zipped in S3, with this buildspec and
    // exactly the variables it reads.
    let builds = codebuild
        .list_builds_for_project()
        .project_name("kiln-tests")
        .send()
        .await
        .unwrap();
    assert_eq!(builds.ids().len(), 1);
    assert_eq!(builds.ids()[0], ids["build"].as_str().unwrap());
    let sources = aws
        .jobs
        .client()
        .list_objects_v2()
        .bucket("kiln-artifacts")
        .prefix(format!("sources/{project}/v3-"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        sources.contents().len(),
        1,
        "the version's source was uploaded once"
    );
    let source_key = sources.contents()[0].key().unwrap();
    let zip = aws.jobs.get(source_key).await.unwrap().unwrap();
    let archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    assert_eq!(archive.len(), suite().len());
    let started = sent.start_builds();
    assert_eq!(started.len(), 1);
    let build = &started[0];
    assert_eq!(build.project, "kiln-tests");
    assert_eq!(build.source_type, "S3");
    assert_eq!(
        build.source_location,
        format!("kiln-artifacts/{source_key}")
    );
    assert_eq!(build.buildspec, buildspec.text, "the buildspec of infra/");
    assert_eq!(
        build.env.keys().cloned().collect::<BTreeSet<_>>(),
        buildspec.variables_from_outside(),
        "the runner sets the variables the buildspec reads, and no others"
    );
    assert!(
        build
            .env
            .iter()
            .all(|(k, v)| !v.is_empty() && build.env_types[k] == "PLAINTEXT"),
        "{build:?}"
    );
    let target = expand(destination, &build.env);
    let report_key = target
        .strip_prefix("s3://kiln-artifacts/")
        .unwrap_or_else(|| panic!("the report goes to the artifacts bucket: {target}"));
    assert!(
        report_key.contains(&project.to_string()),
        "reports of different projects do not collide: {report_key}"
    );

    // moto's builds end at once and run nothing: no report is an error, not a pass.
    let TestStatus::Finished(report) = runner.poll(&job).await.unwrap() else {
        panic!("moto builds end at once")
    };
    assert!(!report.all_passed());
    assert!(
        report.failures[0].message.contains("without a test report"),
        "{report:?}"
    );

    // Played as CodeBuild's container would, the buildspec leaves pytest's report where the
    // check step reads it.
    let python = kiln_integration_tests::python();
    let played = run_test_build(build, aws.jobs.client(), python.parent().unwrap()).await;
    assert!(played.commands.iter().all(|(_, ok)| *ok), "{played:?}");
    assert_eq!(
        played.uploads,
        [("kiln-artifacts".to_owned(), report_key.to_owned())]
    );
    let TestStatus::Finished(report) = runner.poll(&job).await.unwrap() else {
        panic!("finished")
    };
    assert_eq!((report.passed, report.failed, report.errors), (1, 1, 0));
    assert_eq!(report.failures[0].name, "tests.test_main::test_broken");
    assert!(
        report.failures[0].message.contains("assert 2 == 3"),
        "{report:?}"
    );
}

/// A review is a build of the same test project with `buildspec-review.yml`: the version's
/// files go to S3 with the review's script and the tools' pins beside them, the build gets
/// the variables the buildspec reads (and the OSV URL the script reads), and the tools'
/// outputs come back through S3 as findings. Before anything ran, a review is findings that
/// say so, never a pass.
#[tokio::test(flavor = "multi_thread")]
async fn a_review_build_plays_the_review_buildspec_and_its_findings_come_back() {
    use kiln::model::Severity;
    use kiln::runner::review::{name_files, REVIEW_SCRIPT};
    use kiln::runner::ReviewStatus;
    use kiln_integration_tests::fake_osv::{Advisory, FakeOsv};

    let aws = aws().await;
    let osv = FakeOsv::start(vec![Advisory {
        package: "fastapi".into(),
        version: "0.165.0".into(),
        id: "GHSA-kiln-aws-0001".into(),
        summary: "a stand-in advisory".into(),
        fixed: "0.165.1".into(),
    }]);
    let sent = SentRequests::default();
    let codebuild = sent.codebuild(&aws.sdk);
    let tools = kiln::generator::review_tools();
    let runner = CodeBuildTestRunner::new(codebuild.clone(), aws.jobs.clone(), "kiln-tests")
        .with_review_tools(tools.clone(), Some(osv.url()));
    let buildspec = Buildspec::read("buildspec-review.yml");
    let mut version = suite();
    version.push((
        "app/run.py".into(),
        b"import subprocess\n\n\ndef run(command):\n    return subprocess.call(command, shell=True)\n"
            .to_vec(),
    ));
    let paths: Vec<String> = version.iter().map(|(p, _)| p.clone()).collect();

    let project = Uuid::now_v7();
    let job = runner
        .start_review(project, 2, version.clone(), Uuid::now_v7())
        .await
        .unwrap();
    let started = sent.start_builds();
    assert_eq!(started.len(), 1);
    let build = &started[0];
    assert_eq!(
        build.project, "kiln-tests",
        "the test project runs reviews too"
    );
    assert_eq!(build.buildspec, buildspec.text, "the buildspec of infra/");
    let mut wanted = buildspec.variables_from_outside();
    wanted.insert("KILN_OSV_URL".into());
    assert_eq!(
        build.env.keys().cloned().collect::<BTreeSet<_>>(),
        wanted,
        "the variables the buildspec reads, and the database the script asks"
    );
    // The source: the version's files, the script and the tools' pins.
    let source_key = build
        .source_location
        .strip_prefix("kiln-artifacts/")
        .unwrap();
    let zip = aws.jobs.get(source_key).await.unwrap().unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    assert_eq!(archive.len(), version.len() + 2);
    let read = |archive: &mut zip::ZipArchive<_>, name: &str| {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut archive.by_name(name).unwrap(), &mut text).unwrap();
        text
    };
    assert_eq!(read(&mut archive, ".kiln/review.sh"), REVIEW_SCRIPT);
    assert_eq!(
        read(&mut archive, ".kiln/requirements.txt")
            .lines()
            .collect::<Vec<_>>(),
        tools
    );

    // moto's builds end at once and run nothing: every tool is reported as not run.
    let ReviewStatus::Finished(found) = runner.poll_review(&job).await.unwrap() else {
        panic!("moto builds end at once")
    };
    let rules: Vec<&str> = found.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(
        rules,
        [
            "ruff/did-not-run",
            "bandit/did-not-run",
            "pip-audit/unreachable"
        ]
    );

    // Played as CodeBuild's container would, the tools' outputs come back under the prefix.
    let python = kiln_integration_tests::python();
    let played = run_test_build(build, aws.jobs.client(), python.parent().unwrap()).await;
    assert!(played.commands.iter().all(|(_, ok)| *ok), "{played:?}");
    assert_eq!(played.uploads.len(), 4, "{played:?}");
    let ReviewStatus::Finished(mut found) = runner.poll_review(&job).await.unwrap() else {
        panic!("finished")
    };
    name_files(&mut found, &paths);
    let seen: Vec<(&str, &str, Severity)> = found
        .iter()
        .filter(|f| f.severity == Severity::High)
        .map(|f| (f.file.as_str(), f.rule.as_str(), f.severity))
        .collect();
    assert_eq!(
        seen,
        [
            ("app/run.py", "bandit/B602", Severity::High),
            (
                "requirements.txt",
                "pip-audit/GHSA-kiln-aws-0001",
                Severity::High
            ),
        ],
        "{found:#?}"
    );
    assert!(
        !found.iter().any(|f| f.rule.ends_with("/did-not-run")),
        "{found:#?}"
    );
    assert!(!osv.queries().is_empty(), "pip-audit asked the stand-in");
}
