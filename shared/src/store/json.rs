//! A stored record's JSON (a message's, a project's), as an answer holds it: text that is
//! known to be one JSON value, because this build wrote it, because it was checked when read,
//! or because the store that kept it refuses any other (SQLite's triggers, `sqlite/schema.rs`).

use serde::Serialize;

use crate::store::{Page, StoreError, StoreResult};

/// One record's JSON text, well-formed: an answer writes it into its body as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredJson(String);

/// A stored message's JSON, as a page of the conversation holds it.
pub type MessageJson = StoredJson;

/// A stored project's JSON, as `GET /projects/{id}` answers it.
pub type ProjectJson = StoredJson;

impl StoredJson {
    /// The record written as JSON, for a store that reads records as such.
    pub fn encode<T: Serialize>(record: &T) -> StoreResult<Self> {
        serde_json::to_string(record)
            .map(Self)
            .map_err(|e| StoreError::failed_with("encoding a record", e))
    }

    /// A stored record's text (`what` it is), checked to be one JSON value: for a store that
    /// keeps whatever it is given.
    pub fn checked(text: String, what: &'static str) -> StoreResult<Self> {
        serde_json::from_str::<serde::de::IgnoredAny>(&text)
            .map_err(|e| StoreError::corrupt(what, e))?;
        Ok(Self(text))
    }

    /// A stored record's text as a store that keeps nothing but JSON there hands it out: not
    /// parsed again on the way out.
    pub(crate) fn kept(text: String) -> Self {
        Self(text)
    }

    /// A page of records, each written as JSON.
    pub fn page<T: Serialize>(page: Page<T>) -> StoreResult<Page<Self>> {
        Ok(Page {
            items: page
                .items
                .iter()
                .map(Self::encode)
                .collect::<StoreResult<_>>()?,
            next_cursor: page.next_cursor,
        })
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        &self.0
    }

    /// The JSON text, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// A page of records written as JSON values (a page of projects' summaries, which its answer
/// serializes), for a store that reads them as records.
pub(crate) fn raw_page<T: Serialize>(
    page: Page<T>,
) -> StoreResult<Page<Box<serde_json::value::RawValue>>> {
    let json = |r: &T| {
        serde_json::value::to_raw_value(r)
            .map_err(|e| StoreError::failed_with("encoding a record", e))
    };
    Ok(Page {
        items: page.items.iter().map(json).collect::<StoreResult<_>>()?,
        next_cursor: page.next_cursor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_json_value_passes_the_check() {
        for good in [r#"{"id":"x","content":"a\nb"}"#, " [1, 2] ", "null"] {
            assert_eq!(StoredJson::checked(good.into(), "x").unwrap().get(), good);
        }
        for bad in [r#"{"id":"#, "{} {}", "{\"a\":\"x\ny\"}", "{'a':1}", ""] {
            let err = StoredJson::checked(bad.into(), "x").unwrap_err();
            assert!(matches!(err, StoreError::Corrupt(_)), "{bad:?}: {err:?}");
        }
    }

    #[test]
    fn a_record_is_encoded_as_serde_writes_it() {
        let m =
            crate::model::Message::from_user(crate::model::new_id(), "hi \"there\"\n".into(), None);
        let json = StoredJson::encode(&m).unwrap();
        let back: crate::model::Message = serde_json::from_str(json.get()).unwrap();
        assert_eq!(back.content, "hi \"there\"\n");
        assert_eq!(back.id, m.id);
    }
}
