//! A deploy message that gives the confirmation a deploy waits for ("yes, deploy to prod",
//! "confirm the deploy", "go ahead and deploy"), as opposed to one that asks again, hesitates
//! or refuses ("deploy to prod", "yes but wait", "no, don't deploy").

use super::sentences::normalize;

/// Words that say yes.
const YES: &[&str] = &[
    "yes",
    "yep",
    "yeah",
    "yup",
    "ya",
    "y",
    "sure",
    "ok",
    "okay",
    "confirm",
    "confirmed",
    "confirming",
    "approve",
    "approved",
    "affirmative",
    "absolutely",
    "definitely",
];
/// Phrases that say yes.
const YES_PHRASES: &[&str] = &[
    "go ahead",
    "do it",
    "i confirm",
    "fine by me",
    "sounds good",
];
/// Words that take the yes back.
const NOT: &[&str] = &[
    "no", "not", "don't", "dont", "never", "cancel", "stop", "wait", "hold", "nope", "nah",
    "abort", "later",
];

/// Whether `text` confirms a deploy it asks for.
pub fn confirms(text: &str) -> bool {
    let words = normalize(text);
    let joined = format!(" {} ", words.join(" "));
    let yes = words.iter().any(|w| YES.contains(&w.as_str()))
        || YES_PHRASES
            .iter()
            .any(|p| joined.contains(&format!(" {p} ")));
    let not = words.iter().any(|w| NOT.contains(&w.as_str()));
    yes && !not
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yes_confirms_and_anything_hesitant_does_not() {
        for yes in [
            "yes, deploy to prod",
            "Yes deploy",
            "confirm the deploy to production",
            "ok go ahead and deploy",
            "yep, ship it to prod",
            "I confirm, deploy it",
        ] {
            assert!(confirms(yes), "{yes}");
        }
        for no in [
            "deploy to prod",
            "deploy it",
            "no, don't deploy",
            "yes but wait until tomorrow",
            "cancel the deploy",
            "not yet",
        ] {
            assert!(!confirms(no), "{no}");
        }
    }
}
