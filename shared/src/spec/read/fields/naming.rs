//! From a draft to a field: adjectives dropped, a slip of a common field name mended, a
//! reserved name prefixed with the resource's, the choices made identifiers, and the type,
//! `required` and default decided.

use super::types::infer_type;
use super::FieldDraft;
use crate::spec::read::words::one_edit;
use crate::spec::read::{ident, SpecChange};
use crate::spec::{check_identifier, Field, FieldType};

/// Field names common enough that a run of them without commas is a list.
pub(in crate::spec::read) const COMMON_FIELDS: &[&str] = &[
    "name",
    "email",
    "phone",
    "title",
    "date",
    "address",
    "price",
    "description",
    "notes",
    "status",
    "city",
    "country",
    "age",
    "bio",
    "website",
    "url",
    "quantity",
    "amount",
    "total",
    "location",
    "category",
    "type",
    "rating",
    "comment",
    "body",
    "content",
    "time",
    "duration",
    "capacity",
    "position",
    "role",
    "salary",
    "department",
    "company",
    "color",
    "colour",
    "size",
    "weight",
    "height",
    "genre",
    "year",
    "author",
    "isbn",
    "sku",
    "code",
    "priority",
    "level",
    "score",
    "species",
    "breed",
    "gender",
    "summary",
    "slug",
    "image",
    "photo",
    "username",
    "release",
    "instructions",
    "ingredients",
    "servings",
    "description",
];

impl FieldDraft {
    pub(in crate::spec::read) fn into_field(
        self,
        resource: &str,
        change: &mut SpecChange,
    ) -> Option<Field> {
        let mut words: Vec<&str> = self.words.iter().map(String::as_str).collect();
        // "a short bio", "a detailed description": the adjective says nothing of the data.
        while words.len() > 1
            && matches!(
                words[0],
                "short"
                    | "long"
                    | "longer"
                    | "shorter"
                    | "brief"
                    | "detailed"
                    | "little"
                    | "quick"
                    | "small"
                    | "big"
            )
        {
            words.remove(0);
        }
        // "titel", "descripton", "pirce": a word one typo from exactly one common field name is
        // that name (said in the reply).
        let corrected: Vec<String> = words
            .iter()
            .map(|w| {
                if COMMON_FIELDS.contains(w)
                    || w.len() < 4
                    || !w.chars().all(|c| c.is_ascii_lowercase())
                {
                    return (*w).to_owned();
                }
                // A swap, a missing or an extra letter; not another letter, which as often
                // makes another word ("nodes" is not "notes").
                let near: Vec<&&str> = COMMON_FIELDS
                    .iter()
                    .filter(|c| {
                        // "serving" is not a slip of "servings", nor "levels" of "level".
                        let inflected = **c == format!("{w}s") || *w == format!("{c}s");
                        !inflected
                            && one_edit(c, w)
                            && (c.len() != w.len()
                                || c.chars().zip(w.chars()).filter(|(a, b)| a != b).count() == 2)
                    })
                    .collect();
                match near.as_slice() {
                    [one] => {
                        change.notes.push(format!("read `{w}` as `{one}`"));
                        (**one).to_owned()
                    }
                    _ => (*w).to_owned(),
                }
            })
            .collect();
        let mut words: Vec<&str> = corrected.iter().map(String::as_str).collect();
        // "the pet's name" of a pet is its name.
        if words.len() == 2 && words[0] == resource && matches!(words[1], "name" | "title") {
            words.remove(0);
        }
        let mut name = ident(&words)?;
        if name == "id" || name == format!("{resource}_id") {
            return None;
        }
        let ty = if !self.enum_values.is_empty() {
            let mut values = Vec::new();
            for v in &self.enum_values {
                let Some(v) = ident(&[v.as_str()]) else {
                    continue;
                };
                let v = if v.starts_with(|c: char| c.is_ascii_digit()) {
                    format!("v{v}")
                } else {
                    v
                };
                match check_identifier(&v) {
                    Ok(()) if !values.contains(&v) => values.push(v),
                    Ok(()) => {}
                    Err(_) => {
                        let alt = format!("{v}_value");
                        if check_identifier(&alt).is_ok() && !values.contains(&alt) {
                            values.push(alt);
                        } else {
                            change
                                .notes
                                .push(format!("`{v}` can't be a choice of `{name}`"));
                        }
                    }
                }
            }
            if values.is_empty() {
                return None;
            }
            FieldType::Enum { values }
        } else if self.number_of {
            FieldType::Integer
        } else if self.flag {
            FieldType::Boolean
        } else if let Some(t) = self.explicit {
            t
        } else if let Some(t) = self.unit {
            t
        } else {
            infer_type(&name)
        };
        if check_identifier(&name).is_err() {
            let alt = format!("{resource}_{name}");
            match check_identifier(&alt) {
                Ok(()) => {
                    change.notes.push(format!(
                        "`{name}` is a reserved word, so the field is called `{alt}`"
                    ));
                    name = alt;
                }
                Err(e) => {
                    change
                        .notes
                        .push(format!("`{name}` can't be a field name: {e}"));
                    return None;
                }
            }
        }
        let default = matches!(ty, FieldType::Boolean).then(|| serde_json::Value::Bool(false));
        let required = self
            .required
            .unwrap_or(matches!(name.as_str(), "title" | "name") && ty == FieldType::String);
        Some(Field {
            name,
            ty,
            required: required && default.is_none(),
            unique: self.unique,
            default,
        })
    }
}
