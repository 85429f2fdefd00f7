//! A replayed conversation scored against its case: resources, fields, types, relations,
//! features and intents counted right or wrong, with a note per mistake.

use std::collections::BTreeSet;

use kiln::spec::{AuthFeature, DatabaseFeature, FieldType, RelationKind};

use super::{Case, ExpectedField, ExpectedResource, Outcome};

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

fn type_matches(got: &FieldType, want: &ExpectedField) -> bool {
    match got {
        // A case that lists no choices asks for a fixed set and leaves which to the reader
        // (no enum can have none, so an empty list could match nothing).
        FieldType::Enum { values } => {
            want.ty == "enum"
                && (want.values.is_empty()
                    || values.iter().collect::<BTreeSet<_>>()
                        == want.values.iter().collect::<BTreeSet<_>>())
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
