//! The understanding benchmark: conversations written by people who had not read Kiln's rules,
//! each with the spec it should end in, replayed through the same classifier and reader the
//! product manager uses, and scored per conversation and overall.
//!
//! The cases live in `tests/understanding/cases/` and are never edited to fit the reader; see
//! the README there for how they were written.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use kiln::intent::classify;
use kiln::model::Intent;
use kiln::spec::{
    understand_after, AppSpec, AuthFeature, DatabaseFeature, FieldRef, FieldType, RelationKind,
};
use serde::Deserialize;

pub mod e2e;
pub mod references;

/// One conversation and the spec it should end in.
#[derive(Debug, Clone, Deserialize)]
pub struct Case {
    /// Short id, e.g. `a07`.
    pub id: String,
    /// How it is written (terse, chatty, bullets, ...).
    #[serde(default)]
    pub style: String,
    /// The project as created.
    pub project: NewProject,
    /// What the user says, in order.
    pub messages: Vec<CaseMessage>,
    /// The spec after every message.
    pub expect: Expected,
}

/// The project's name and description.
#[derive(Debug, Clone, Deserialize)]
pub struct NewProject {
    /// Name.
    pub name: String,
    /// Description (may be empty).
    #[serde(default)]
    pub description: String,
}

/// One user message and the intent its writer meant.
#[derive(Debug, Clone, Deserialize)]
pub struct CaseMessage {
    /// What the user typed.
    pub text: String,
    /// describe, build, test, deploy, question or rollback.
    pub intent: String,
}

/// The spec a conversation should end in.
#[derive(Debug, Clone, Deserialize)]
pub struct Expected {
    /// Resources.
    pub resources: Vec<ExpectedResource>,
    /// Features.
    pub features: ExpectedFeatures,
}

/// An expected resource.
#[derive(Debug, Clone, Deserialize)]
pub struct ExpectedResource {
    /// Singular name.
    pub name: String,
    /// Other acceptable singular names.
    #[serde(default)]
    pub aka: Vec<String>,
    /// Fields.
    #[serde(default)]
    pub fields: Vec<ExpectedField>,
    /// Resources it belongs to.
    #[serde(default)]
    pub belongs_to: Vec<String>,
}

/// An expected field.
#[derive(Debug, Clone, Deserialize)]
pub struct ExpectedField {
    /// Name.
    pub name: String,
    /// Type label (string, text, integer, number, boolean, date, datetime, email, url, enum).
    #[serde(rename = "type")]
    pub ty: String,
    /// Enum values.
    #[serde(default)]
    pub values: Vec<String>,
    /// Other acceptable names.
    #[serde(default)]
    pub aka: Vec<String>,
}

/// Expected features.
#[derive(Debug, Clone, Deserialize)]
pub struct ExpectedFeatures {
    /// Authentication on.
    #[serde(default)]
    pub auth: bool,
    /// "sqlite", "postgres" or null.
    #[serde(default)]
    pub database: Option<String>,
    /// Pagination.
    #[serde(default)]
    pub pagination: bool,
    /// Timestamps.
    #[serde(default)]
    pub timestamps: bool,
    /// Soft delete.
    #[serde(default)]
    pub soft_delete: bool,
    /// CORS.
    #[serde(default)]
    pub cors: bool,
    /// Rate limiting.
    #[serde(default)]
    pub rate_limit: bool,
    /// `resource.field` keys searchable.
    #[serde(default)]
    pub search: Vec<String>,
}

/// Every case, from the JSON files in `tests/understanding/cases/`.
pub fn cases() -> Vec<Case> {
    json_lists("cases")
}

/// The items of every JSON list in `tests/understanding/{dir}/`, files in name order.
pub fn json_lists<T: serde::de::DeserializeOwned>(dir: &str) -> Vec<T> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("understanding")
        .join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            serde_json::from_str::<Vec<T>>(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        })
        .collect()
}

/// Every labelled short message, from the TSV files in `tests/understanding/intents/`:
/// `(intent label, message)`.
pub fn intent_messages() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("understanding/intents");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "tsv"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for p in files {
        for line in std::fs::read_to_string(&p).unwrap().lines() {
            if let Some((label, text)) = line.split_once('\t') {
                out.push((label.to_owned(), text.to_owned()));
            }
        }
    }
    out
}

/// The label a benchmark writer uses for an intent: a description or a change is "describe".
pub fn label(intent: Intent) -> &'static str {
    match intent {
        Intent::Create | Intent::Refine => "describe",
        other => other.as_str(),
    }
}

/// Right and wrong counts of one kind of thing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Expected and found.
    pub right: u32,
    /// Expected and missing or wrong, or found and not expected.
    pub wrong: u32,
}

impl Tally {
    fn add(&mut self, ok: bool) {
        if ok {
            self.right += 1;
        } else {
            self.wrong += 1;
        }
    }

    fn merge(&mut self, other: Tally) {
        self.right += other.right;
        self.wrong += other.wrong;
    }

    /// right / (right + wrong), 1 when there was nothing to get.
    pub fn share(self) -> f64 {
        let n = self.right + self.wrong;
        if n == 0 {
            1.0
        } else {
            f64::from(self.right) / f64::from(n)
        }
    }
}

/// How one conversation, or all of them, scored.
#[derive(Debug, Clone, Default)]
pub struct Score {
    /// Resources found (by name or aka) versus missing or invented.
    pub resources: Tally,
    /// Fields of found resources: found versus missing or invented.
    pub fields: Tally,
    /// Types of found fields (enum values compared as sets).
    pub types: Tally,
    /// Belongs-to relations.
    pub relations: Tally,
    /// Features (auth, database, toggles, search keys).
    pub features: Tally,
    /// Message intents.
    pub intents: Tally,
    /// Conversations whose spec was right in every respect.
    pub exact: Tally,
}

impl Score {
    /// Adds another score's counts to this one.
    pub fn merge(&mut self, o: &Score) {
        self.resources.merge(o.resources);
        self.fields.merge(o.fields);
        self.types.merge(o.types);
        self.relations.merge(o.relations);
        self.features.merge(o.features);
        self.intents.merge(o.intents);
        self.exact.merge(o.exact);
    }

    /// One number: the mean share over resources, fields, types, relations and features.
    pub fn overall(&self) -> f64 {
        [
            self.resources,
            self.fields,
            self.types,
            self.relations,
            self.features,
        ]
        .iter()
        .map(|t| t.share())
        .sum::<f64>()
            / 5.0
    }
}

/// What replaying a conversation produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The final spec (empty when nothing was understood).
    pub spec: AppSpec,
    /// The intent read for each message, in the benchmark's labels.
    pub intents: Vec<&'static str>,
}

/// Replays a conversation the way `POST /projects` and `POST /messages` drive the product
/// manager: the description first, as a message that describes the app, then each message,
/// classified, and read when it describes or changes the app.
pub fn replay(case: &Case) -> Outcome {
    let mut spec: Option<AppSpec> = None;
    let name = case.project.name.trim();
    let description = case.project.description.trim();
    let mut focus: Option<FieldRef> = None;
    if !description.is_empty() {
        if let Ok((next, change)) = understand_after(spec.as_ref(), name, description, true, None) {
            focus = change.focus.clone();
            if !change.is_empty() {
                spec = Some(next);
            }
        }
    }
    let mut intents = Vec::new();
    // The spec of each built version, and the current one, as the pipeline keeps them: build,
    // test and deploy build first when the spec changed; a rollback makes an earlier version's
    // spec current again (the one named, or the one before the current).
    let mut versions: Vec<AppSpec> = Vec::new();
    let mut current: usize = 0;
    for m in &case.messages {
        let intent = classify(&m.text, spec.is_some());
        intents.push(label(intent));
        match intent {
            Intent::Create | Intent::Refine => {
                let describes_app = intent == Intent::Create;
                // As the product manager does: a project has a spec once a message changed it.
                if let Ok((next, change)) =
                    understand_after(spec.as_ref(), name, &m.text, describes_app, focus.as_ref())
                {
                    focus = change.focus.clone();
                    if !change.is_empty() || spec.is_some() {
                        spec = Some(next);
                    }
                }
            }
            Intent::Build | Intent::Test | Intent::Deploy => {
                if let Some(s) = spec.as_ref().filter(|s| !s.resources.is_empty()) {
                    if current == 0 || versions[current - 1] != *s {
                        versions.push(s.clone());
                        current = versions.len();
                    }
                }
            }
            Intent::Rollback => {
                let target = match kiln::intent::version_in(&m.text) {
                    Some(n) => n as usize,
                    None => current.saturating_sub(1),
                };
                if target >= 1 && target <= versions.len() && target != current {
                    current = target;
                    spec = Some(versions[target - 1].clone());
                }
            }
            Intent::Question => {}
        }
    }
    Outcome {
        spec: spec.unwrap_or_default(),
        intents,
    }
}

fn type_matches(got: &FieldType, want: &ExpectedField) -> bool {
    match got {
        FieldType::Enum { values } => {
            want.ty == "enum"
                && values.iter().collect::<BTreeSet<_>>()
                    == want.values.iter().collect::<BTreeSet<_>>()
        }
        other => kiln::spec::type_label(other) == want.ty,
    }
}

/// Scores an outcome against a case's expectation, with a line per mistake in `notes`.
pub fn score(case: &Case, outcome: &Outcome, notes: &mut Vec<String>) -> Score {
    let mut s = Score::default();
    let spec = &outcome.spec;
    for (m, got) in case.messages.iter().zip(&outcome.intents) {
        s.intents.add(m.intent == *got);
        if m.intent != *got {
            notes.push(format!("intent of {:?}: {got}, meant {}", m.text, m.intent));
        }
    }
    // Which spec resource each expected one is (by name or aka, singular or plural).
    let names_of = |r: &ExpectedResource| -> Vec<String> {
        std::iter::once(&r.name).chain(&r.aka).cloned().collect()
    };
    let find = |names: &[String]| {
        spec.resources
            .iter()
            .position(|r| names.iter().any(|n| *n == r.name || *n == r.plural))
    };
    let mut matched = vec![None; case.expect.resources.len()];
    for (i, want) in case.expect.resources.iter().enumerate() {
        matched[i] = find(&names_of(want));
        s.resources.add(matched[i].is_some());
        if matched[i].is_none() {
            notes.push(format!("missing resource {}", want.name));
        }
    }
    let expected_name = |spec_name: &str| -> Option<String> {
        case.expect
            .resources
            .iter()
            .zip(&matched)
            .find(|(_, m)| m.is_some_and(|i| spec.resources[i].name == spec_name))
            .map(|(r, _)| r.name.clone())
    };
    for (i, r) in spec.resources.iter().enumerate() {
        if !matched.contains(&Some(i)) {
            s.resources.add(false);
            notes.push(format!("invented resource {}", r.name));
        }
    }
    for (want, got) in case.expect.resources.iter().zip(&matched) {
        let Some(gi) = *got else {
            // Every field and relation of a missing resource is missing too.
            for f in &want.fields {
                s.fields.add(false);
                notes.push(format!("missing field {}.{}", want.name, f.name));
            }
            for _ in &want.belongs_to {
                s.relations.add(false);
            }
            continue;
        };
        let res = &spec.resources[gi];
        let mut used = BTreeSet::new();
        for f in &want.fields {
            let found = res
                .fields
                .iter()
                .position(|g| g.name == f.name || f.aka.contains(&g.name));
            s.fields.add(found.is_some());
            match found {
                Some(k) => {
                    used.insert(k);
                    let ok = type_matches(&res.fields[k].ty, f);
                    s.types.add(ok);
                    if !ok {
                        notes.push(format!(
                            "type of {}.{}: {:?}, meant {} {:?}",
                            want.name, f.name, res.fields[k].ty, f.ty, f.values
                        ));
                    }
                }
                None => notes.push(format!("missing field {}.{}", want.name, f.name)),
            }
        }
        for (k, g) in res.fields.iter().enumerate() {
            if !used.contains(&k) {
                s.fields.add(false);
                notes.push(format!("invented field {}.{}", want.name, g.name));
            }
        }
        let got_parents: BTreeSet<String> = res
            .relations
            .iter()
            .filter(|r| r.kind == RelationKind::BelongsTo)
            .map(|r| expected_name(&r.target).unwrap_or_else(|| format!("?{}", r.target)))
            .collect();
        let want_parents: BTreeSet<String> = want.belongs_to.iter().cloned().collect();
        for p in &want_parents {
            s.relations.add(got_parents.contains(p));
            if !got_parents.contains(p) {
                notes.push(format!("missing relation {} -> {p}", want.name));
            }
        }
        for p in got_parents.difference(&want_parents) {
            s.relations.add(false);
            notes.push(format!("invented relation {} -> {p}", want.name));
        }
    }
    let f = &spec.features;
    let want = &case.expect.features;
    let db = match f.database {
        DatabaseFeature::None => None,
        DatabaseFeature::Sqlite => Some("sqlite"),
        DatabaseFeature::Postgres => Some("postgres"),
    };
    let checks = [
        ("auth", (f.auth == AuthFeature::Jwt) == want.auth),
        ("database", db == want.database.as_deref()),
        ("pagination", f.pagination == want.pagination),
        ("timestamps", f.timestamps == want.timestamps),
        ("soft_delete", f.soft_delete == want.soft_delete),
        ("cors", f.cors == want.cors),
        ("rate_limit", f.rate_limit == want.rate_limit),
    ];
    for (name, ok) in checks {
        s.features.add(ok);
        if !ok {
            notes.push(format!("feature {name} wrong"));
        }
    }
    // Search keys, by the expected resource and field names.
    let got_search: BTreeSet<String> = f
        .search
        .iter()
        .filter_map(|k| k.split_once('.'))
        .map(|(r, fld)| {
            let r_exp = expected_name(r).unwrap_or_else(|| r.to_owned());
            let fld_exp = case
                .expect
                .resources
                .iter()
                .find(|e| e.name == r_exp)
                .and_then(|e| {
                    e.fields
                        .iter()
                        .find(|x| x.name == fld || x.aka.iter().any(|a| a == fld))
                })
                .map_or_else(|| fld.to_owned(), |x| x.name.clone());
            format!("{r_exp}.{fld_exp}")
        })
        .collect();
    let want_search: BTreeSet<String> = want.search.iter().cloned().collect();
    for k in want_search.symmetric_difference(&got_search) {
        s.features.add(false);
        notes.push(format!("search {k} wrong"));
    }
    for _ in want_search.intersection(&got_search) {
        s.features.add(true);
    }
    let exact = s.resources.wrong == 0
        && s.fields.wrong == 0
        && s.types.wrong == 0
        && s.relations.wrong == 0
        && s.features.wrong == 0;
    s.exact.add(exact);
    s
}

/// Runs every case; returns the report text and the total score.
pub fn run_all(cases: &[Case], verbose: bool) -> (String, Score) {
    let mut out = String::new();
    let mut total = Score::default();
    let _ = writeln!(
        out,
        "{:<5} {:<12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}  overall",
        "case", "style", "resources", "fields", "types", "relations", "features", "intents"
    );
    for case in cases {
        let outcome = replay(case);
        let mut notes = Vec::new();
        let s = score(case, &outcome, &mut notes);
        let cell = |t: Tally| format!("{}/{}", t.right, t.right + t.wrong);
        let _ = writeln!(
            out,
            "{:<5} {:<12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}  {:.2}",
            case.id,
            case.style.chars().take(12).collect::<String>(),
            cell(s.resources),
            cell(s.fields),
            cell(s.types),
            cell(s.relations),
            cell(s.features),
            cell(s.intents),
            s.overall()
        );
        if verbose {
            for n in &notes {
                let _ = writeln!(out, "      - {n}");
            }
            if !notes.is_empty() {
                let _ = writeln!(out, "      = {}", outcome.spec.describe());
            }
        }
        total.merge(&s);
    }
    let pct = |t: Tally| format!("{:.1}%", t.share() * 100.0);
    let _ = writeln!(
        out,
        "\nall {} conversations: resources {} · fields {} · types {} · relations {} · features {} · intents {} · specs exactly right {}/{} · overall {:.1}%",
        cases.len(),
        pct(total.resources),
        pct(total.fields),
        pct(total.types),
        pct(total.relations),
        pct(total.features),
        pct(total.intents),
        total.exact.right,
        total.exact.right + total.exact.wrong,
        total.overall() * 100.0
    );
    (out, total)
}

/// Classifies every labelled message, as a first message (no spec yet) when its label is
/// "describe" and the project has a spec otherwise (as when it is said mid-conversation), and
/// returns the report and, per intent, `(label, messages, share right)`.
pub fn intent_report(verbose: bool) -> (String, Vec<(String, usize, f64)>) {
    let messages = intent_messages();
    let labels = [
        "describe", "build", "test", "deploy", "question", "rollback",
    ];
    let mut out = String::new();
    let mut rows = Vec::new();
    let _ = writeln!(out, "{:<10} {:>6} {:>6}  read as", "intent", "right", "of");
    for want in labels {
        let mine: Vec<&(String, String)> = messages.iter().filter(|(l, _)| l == want).collect();
        let mut right = 0;
        let mut confused: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
        for (_, text) in &mine {
            // Every message is tried mid-conversation (a spec exists); describe messages also
            // as a project's first message.
            let mut ok = label(classify(text, true)) == want;
            let got_first = label(classify(text, false));
            if want == "describe" {
                ok &= got_first == want;
            }
            if ok {
                right += 1;
            } else {
                confused
                    .entry(label(classify(text, true)))
                    .or_default()
                    .push(text.as_str());
            }
        }
        let share = if mine.is_empty() {
            0.0
        } else {
            f64::from(right) / mine.len() as f64
        };
        let summary: Vec<String> = confused
            .iter()
            .map(|(k, v)| format!("{k} {}", v.len()))
            .collect();
        let _ = writeln!(
            out,
            "{want:<10} {right:>6} {:>6}  {:.1}%  {}",
            mine.len(),
            share * 100.0,
            summary.join(", ")
        );
        if verbose {
            for (k, v) in &confused {
                for t in v {
                    let _ = writeln!(out, "      as {k}: {t}");
                }
            }
        }
        rows.push((want.to_owned(), mine.len(), share));
    }
    (out, rows)
}

/// Each message of a case with the intent read and the spec after it, for reading a mistake.
pub fn trace(case: &Case) -> String {
    let mut out = format!("== {} ({})\n", case.id, case.style);
    let mut spec: Option<AppSpec> = None;
    let name = case.project.name.trim();
    let mut focus: Option<FieldRef> = None;
    let mut texts = vec![(case.project.description.trim().to_owned(), true)];
    texts.extend(case.messages.iter().map(|m| (m.text.clone(), false)));
    for (text, description) in texts {
        if text.is_empty() {
            continue;
        }
        let intent = if description {
            Intent::Create
        } else {
            classify(&text, spec.is_some())
        };
        let _ = writeln!(out, "> {text}\n  [{}]", label(intent));
        if matches!(intent, Intent::Create | Intent::Refine) {
            let describes_app = intent == Intent::Create;
            match understand_after(spec.as_ref(), name, &text, describes_app, focus.as_ref()) {
                Ok((next, change)) => {
                    focus = change.focus.clone();
                    let _ = writeln!(out, "  {}", next.describe());
                    if !change.notes.is_empty() {
                        let _ = writeln!(out, "  notes: {:?}", change.notes);
                    }
                    spec = Some(next);
                }
                Err(e) => {
                    let _ = writeln!(out, "  refused: {e}");
                }
            }
        }
    }
    out
}
