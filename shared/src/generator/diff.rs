//! Unified diffs between two versions of a file.

use similar::TextDiff;

/// The unified diff (3 lines of context) turning `old` into `new`; empty when they are equal.
/// `None` stands for a file that does not exist on that side.
pub fn unified_diff(path: &str, old: Option<&str>, new: Option<&str>) -> String {
    let (a, b) = (old.unwrap_or(""), new.unwrap_or(""));
    if old == new {
        return String::new();
    }
    let from = if old.is_some() {
        format!("a/{path}")
    } else {
        "/dev/null".to_owned()
    };
    let to = if new.is_some() {
        format!("b/{path}")
    } else {
        "/dev/null".to_owned()
    };
    TextDiff::from_lines(a, b)
        .unified_diff()
        .context_radius(3)
        .header(&from, &to)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diffs_read_like_git() {
        let d = unified_diff("app/main.py", Some("a\nb\nc\n"), Some("a\nB\nc\n"));
        assert!(
            d.starts_with("--- a/app/main.py\n+++ b/app/main.py\n"),
            "{d}"
        );
        assert!(d.contains("-b\n+B\n"));
        assert_eq!(unified_diff("x", Some("same"), Some("same")), "");
        assert!(
            unified_diff("new.py", None, Some("x\n")).starts_with("--- /dev/null\n+++ b/new.py")
        );
        assert!(unified_diff("old.py", Some("x\n"), None).contains("+++ /dev/null"));
    }
}
