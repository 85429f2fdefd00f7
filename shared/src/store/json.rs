//! A stored message's JSON, as an answer holds it: text that is known to be one JSON value,
//! because this build wrote it, because it was checked when read, or because the store that
//! kept it refuses any other (SQLite's triggers, `sqlite/schema.rs`).

use crate::model::Message;
use crate::store::{Page, StoreError, StoreResult};

/// One message's JSON text, well-formed: an answer writes it into its body as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageJson(String);

impl MessageJson {
    /// The message written as JSON, for a store that reads messages as records.
    pub fn encode(message: &Message) -> StoreResult<Self> {
        serde_json::to_string(message)
            .map(Self)
            .map_err(|e| StoreError::failed_with("encoding a record", e))
    }

    /// A stored message's text, checked to be one JSON value: for a store that keeps whatever
    /// it is given.
    pub fn checked(text: String) -> StoreResult<Self> {
        serde_json::from_str::<serde::de::IgnoredAny>(&text)
            .map_err(|e| StoreError::corrupt("a stored message", e))?;
        Ok(Self(text))
    }

    /// A stored message's text as a store that keeps nothing but JSON there hands it out: not
    /// parsed again on the way out.
    pub(crate) fn kept(text: String) -> Self {
        Self(text)
    }

    /// A page of messages, each written as JSON.
    pub fn page(page: Page<Message>) -> StoreResult<Page<Self>> {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_json_value_passes_the_check() {
        for good in [r#"{"id":"x","content":"a\nb"}"#, " [1, 2] ", "null"] {
            assert_eq!(MessageJson::checked(good.into()).unwrap().get(), good);
        }
        for bad in [r#"{"id":"#, "{} {}", "{\"a\":\"x\ny\"}", "{'a':1}", ""] {
            let err = MessageJson::checked(bad.into()).unwrap_err();
            assert!(matches!(err, StoreError::Corrupt(_)), "{bad:?}: {err:?}");
        }
    }

    #[test]
    fn a_message_is_encoded_as_serde_writes_it() {
        let m = Message::from_user(crate::model::new_id(), "hi \"there\"\n".into(), None);
        let json = MessageJson::encode(&m).unwrap();
        let back: Message = serde_json::from_str(json.get()).unwrap();
        assert_eq!(back.content, "hi \"there\"\n");
        assert_eq!(back.id, m.id);
    }
}
