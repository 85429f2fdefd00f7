//! The pipeline's step sequences as a run records them, written out once for every test that
//! follows a whole run (the names of `kiln::agents::Step`): a new step is added here, not in
//! each test.

/// Writing a version.
pub const BUILD: [&str; 3] = ["BackendDeveloper", "DocumentationWriter", "Release"];
/// Reviewing a version that has no review yet: the step starts the checks, the check step
/// collects their findings.
pub const REVIEW: [&str; 2] = ["Review", "ReviewCheck"];
/// Going past a version reviewed already: the step finds its review and goes on.
pub const REVIEWED: [&str; 1] = ["Review"];
/// Running its tests.
pub const TEST: [&str; 3] = ["QaStart", "QaCheck", "QaReport"];
/// Deploying it from a request: the estimate, the image, the rollout, the report and the
/// smoke test of what answers. A rollback's redeploy is `DEPLOY[1..]` (no estimate).
pub const DEPLOY: [&str; 7] = [
    "DevOpsEstimate",
    "DevOpsBuildImage",
    "DevOpsImageCheck",
    "DevOpsDeploy",
    "DevOpsCheck",
    "DevOpsReport",
    "SmokeTest",
];
/// Going back to what a failed smoke test replaced: its image exists already.
pub const REVERT: [&str; 4] = ["DevOpsDeploy", "DevOpsCheck", "DevOpsReport", "SmokeTest"];

/// The parts one after the other, as a run's step names.
pub fn chain(parts: &[&[&str]]) -> Vec<String> {
    parts.concat().into_iter().map(str::to_owned).collect()
}
