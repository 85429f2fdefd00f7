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
