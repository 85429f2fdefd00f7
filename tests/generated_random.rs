//! Property test of the generator: random valid specs (every field type, enums, relation
//! shapes, feature combinations, text search and filters) each generate a project whose own
//! pytest suite passes. A fixed number of specs per run, from a seed that is printed
//! (`KILN_PROPERTY_SEED` replays one); every spec in `tests/generated_specs/` runs every time,
//! and a failing random spec is printed as JSON to be saved there as a regular case.

use std::path::Path;

use kiln::generator::generate_code;
use kiln::spec::{
    AppSpec, AuthFeature, DatabaseFeature, Features, Field, FieldType, Relation, RelationKind,
    Resource,
};
use kiln_integration_tests::{python, run_in, show, write_files};

/// Specs generated per run; each costs a pytest run of a few seconds.
const PER_RUN: usize = 4;

/// A small deterministic generator (SplitMix64), so that a seed replays a run exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

const NOUNS: &[(&str, &str)] = &[
    ("ticket", "tickets"),
    ("project", "projects"),
    ("invoice", "invoices"),
    ("member", "members"),
    ("room", "rooms"),
    ("order_line", "order_lines"),
    ("category", "categories"),
    ("person", "people"),
];
const FIELD_WORDS: &[&str] = &[
    "title",
    "label",
    "summary",
    "score",
    "starts_on",
    "amount",
    "state",
    "active",
    "website",
    "contact",
    "opened_at",
    "count",
    "notes",
    "level",
    "kind_of_thing",
    "weight",
];

fn random_type(rng: &mut Rng) -> FieldType {
    match rng.below(10) {
        0 => FieldType::String,
        1 => FieldType::Text,
        2 => FieldType::Integer,
        3 => FieldType::Number,
        4 => FieldType::Boolean,
        5 => FieldType::Date,
        6 => FieldType::Datetime,
        7 => FieldType::Email,
        8 => FieldType::Url,
        _ => {
            let all = ["draft", "open", "in_progress", "done", "v2", "on_hold"];
            let n = 1 + rng.below(4);
            let start = rng.below(all.len() - n + 1);
            FieldType::Enum {
                values: all[start..start + n]
                    .iter()
                    .map(|v| (*v).to_owned())
                    .collect(),
            }
        }
    }
}

fn random_spec(rng: &mut Rng) -> AppSpec {
    let n = 1 + rng.below(3);
    let mut nouns: Vec<(&str, &str)> = NOUNS.to_vec();
    let mut resources: Vec<Resource> = Vec::new();
    for i in 0..n {
        let (name, plural) = nouns.remove(rng.below(nouns.len()));
        let mut fields: Vec<Field> = Vec::new();
        for _ in 0..1 + rng.below(5) {
            let fname = FIELD_WORDS[rng.below(FIELD_WORDS.len())];
            if fields.iter().any(|f| f.name == fname) {
                continue;
            }
            let ty = random_type(rng);
            let boolean = ty == FieldType::Boolean;
            fields.push(Field {
                name: fname.to_owned(),
                required: !boolean && rng.chance(40),
                unique: matches!(ty, FieldType::String | FieldType::Email) && rng.chance(25),
                default: boolean.then_some(serde_json::Value::Bool(false)),
                ty,
            });
        }
        // Belongs-to links only to earlier resources, so they never loop.
        let mut relations = Vec::new();
        for parent in resources.iter().take(i) {
            if rng.chance(50) {
                relations.push(Relation {
                    kind: RelationKind::BelongsTo,
                    target: parent.name.clone(),
                });
            }
        }
        resources.push(Resource {
            name: name.to_owned(),
            plural: plural.to_owned(),
            fields,
            relations,
        });
    }
    // The other side of each link.
    let links: Vec<(String, String)> = resources
        .iter()
        .flat_map(|r| {
            r.relations
                .iter()
                .map(|rel| (rel.target.clone(), r.name.clone()))
        })
        .collect();
    for (parent, child) in links {
        if let Some(p) = resources.iter_mut().find(|r| r.name == parent) {
            p.relations.push(Relation {
                kind: RelationKind::HasMany,
                target: child,
            });
        }
    }
    let search: Vec<String> = resources
        .iter()
        .flat_map(|r| {
            r.fields
                .iter()
                .map(move |f| format!("{}.{}", r.name, f.name))
        })
        .filter(|_| rng.chance(30))
        .collect();
    AppSpec {
        name: format!("Random app {}", rng.below(1000)),
        summary: "A spec made up by the property test.".into(),
        resources,
        features: Features {
            auth: if rng.chance(50) {
                AuthFeature::Jwt
            } else {
                AuthFeature::None
            },
            database: if rng.chance(50) {
                DatabaseFeature::Sqlite
            } else {
                DatabaseFeature::None
            },
            pagination: rng.chance(50),
            search,
            timestamps: rng.chance(50),
            soft_delete: rng.chance(50),
            cors: rng.chance(30),
            rate_limit: rng.chance(20),
        },
    }
}

fn pytest_passes(spec: &AppSpec, dir: &Path) -> Result<(), String> {
    spec.validate().map_err(|e| format!("invalid spec: {e}"))?;
    let files = generate_code(spec).map_err(|e| e.to_string())?;
    write_files(dir, &files);
    let out = run_in(
        dir,
        &python(),
        &["-m", "pytest", "-p", "no:cacheprovider", "-x", "-q"],
    );
    if out.status.success() {
        Ok(())
    } else {
        Err(show(&out))
    }
}

#[test]
fn random_specs_generate_projects_whose_tests_pass() {
    let seed = std::env::var("KILN_PROPERTY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    println!("seed {seed} (KILN_PROPERTY_SEED={seed} replays this run)");
    let mut rng = Rng(seed);
    let root = tempfile::tempdir().unwrap();
    let mut specs: Vec<(String, AppSpec)> = Vec::new();
    let kept = Path::new(env!("CARGO_MANIFEST_DIR")).join("generated_specs");
    let mut files: Vec<_> = std::fs::read_dir(&kept)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    for p in files {
        let spec: AppSpec = serde_json::from_str(&std::fs::read_to_string(&p).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        specs.push((p.file_name().unwrap().to_string_lossy().into_owned(), spec));
    }
    for i in 0..PER_RUN {
        specs.push((format!("random #{i}"), random_spec(&mut rng)));
    }
    let mut failures = Vec::new();
    for (i, (name, spec)) in specs.iter().enumerate() {
        let dir = root.path().join(format!("p{i}"));
        match pytest_passes(spec, &dir) {
            Ok(()) => println!("{name:<28} {}", spec.describe()),
            Err(e) => failures.push(format!(
                "{name} failed: {}\nsave this spec as tests/generated_specs/<name>.json to keep it:\n{}\n{e}",
                spec.describe(),
                serde_json::to_string_pretty(spec).unwrap()
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
