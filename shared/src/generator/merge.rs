//! Three-way merges of text, line by line: what Kiln generated before (the base), the user's
//! file (ours) and what Kiln generates now (theirs).
//!
//! Each side's changes are read against the base as hunks (a range of base lines and what
//! the side wrote in their place). Hunks of the two sides that overlap or touch are taken
//! together: when only one side changed there, its lines are taken; when both wrote the same,
//! once; otherwise it is a conflict, and the base, ours and theirs of that stretch are kept
//! for the user to choose. As in git, changes on adjacent lines conflict: which order they go
//! in is a guess.

use std::ops::Range;

use similar::{capture_diff_slices, Algorithm, DiffTag};

/// What stood where the two sides disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The first base line of the stretch, from 1 (for an insertion, the line it goes before).
    pub line: usize,
    /// The base's lines of the stretch.
    pub base: String,
    /// The user's lines.
    pub ours: String,
    /// The generated lines.
    pub theirs: String,
}

/// A merged text: with conflict markers where the sides disagree, and those stretches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextMerge {
    /// The merge; each conflict between `<<<<<<< yours`, `=======` and `>>>>>>> generated`.
    pub text: String,
    /// The stretches where both sides changed the same lines differently, in order.
    pub conflicts: Vec<Conflict>,
}

/// The marker lines of a conflict in [`TextMerge::text`].
pub const MARKERS: [&str; 3] = ["<<<<<<< yours\n", "=======\n", ">>>>>>> generated\n"];

/// One side's change: base lines `base` replaced by the side's lines `lines`.
#[derive(Debug, Clone)]
struct Hunk {
    base: Range<usize>,
    lines: Range<usize>,
    ours: bool,
}

fn lines(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

/// The hunks turning `base` into `side`, touching ones joined.
fn hunks(base: &[&str], side: &[&str], ours: bool) -> Vec<Hunk> {
    let mut out: Vec<Hunk> = Vec::new();
    for op in capture_diff_slices(Algorithm::Myers, base, side) {
        let (tag, old, new) = op.as_tag_tuple();
        if tag == DiffTag::Equal {
            continue;
        }
        match out.last_mut() {
            Some(last) if last.base.end == old.start && last.lines.end == new.start => {
                last.base.end = old.end;
                last.lines.end = new.end;
            }
            _ => out.push(Hunk {
                base: old,
                lines: new,
                ours,
            }),
        }
    }
    out
}

/// What one side wrote for the base lines `range`, given its hunks inside it (sorted).
fn side_of(range: &Range<usize>, hunks: &[&Hunk], base: &[&str], side: &[&str]) -> String {
    let mut out = String::new();
    let mut at = range.start;
    for h in hunks {
        out.extend(base[at..h.base.start].iter().copied());
        out.extend(side[h.lines.clone()].iter().copied());
        at = h.base.end;
    }
    out.extend(base[at..range.end].iter().copied());
    out
}

/// Ends `text` with a line break unless it is empty, so markers stay on lines of their own.
fn ending_line(text: &str) -> String {
    if text.is_empty() || text.ends_with('\n') {
        text.to_owned()
    } else {
        format!("{text}\n")
    }
}

/// Merges `ours` and `theirs`, both changed from `base`.
pub fn merge_text(base: &str, ours: &str, theirs: &str) -> TextMerge {
    if ours == theirs || theirs == base {
        return TextMerge {
            text: ours.to_owned(),
            conflicts: Vec::new(),
        };
    }
    if ours == base {
        return TextMerge {
            text: theirs.to_owned(),
            conflicts: Vec::new(),
        };
    }
    let (b, o, t) = (lines(base), lines(ours), lines(theirs));
    let mut all = hunks(&b, &o, true);
    all.extend(hunks(&b, &t, false));
    all.sort_by_key(|h| (h.base.start, h.base.end));
    let mut text = String::new();
    let mut conflicts = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while i < all.len() {
        // A group: every hunk that overlaps or touches the ones before it.
        let mut range = all[i].base.clone();
        let mut j = i + 1;
        while j < all.len() && all[j].base.start <= range.end {
            range.end = range.end.max(all[j].base.end);
            j += 1;
        }
        let group = &all[i..j];
        let of = |ours: bool| -> Vec<&Hunk> { group.iter().filter(|h| h.ours == ours).collect() };
        let (mine, generated) = (of(true), of(false));
        text.extend(b[at..range.start].iter().copied());
        let ours_text = side_of(&range, &mine, &b, &o);
        let theirs_text = side_of(&range, &generated, &b, &t);
        if generated.is_empty() || ours_text == theirs_text {
            text.push_str(&ours_text);
        } else if mine.is_empty() {
            text.push_str(&theirs_text);
        } else {
            let base_text: String = b[range.clone()].concat();
            text.push_str(MARKERS[0]);
            text.push_str(&ending_line(&ours_text));
            text.push_str(MARKERS[1]);
            text.push_str(&ending_line(&theirs_text));
            text.push_str(MARKERS[2]);
            conflicts.push(Conflict {
                line: range.start + 1,
                base: base_text,
                ours: ours_text,
                theirs: theirs_text,
            });
        }
        at = range.end;
        i = j;
    }
    text.extend(b[at..].iter().copied());
    TextMerge { text, conflicts }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str =
        "import os\n\ndef a():\n    return 1\n\ndef b():\n    return 2\n\ndef c():\n    return 3\n";

    #[test]
    fn changes_in_different_places_both_land() {
        let ours = BASE.replace("return 1", "return 10");
        let theirs = BASE.replace("return 3", "return 30");
        let m = merge_text(BASE, &ours, &theirs);
        assert!(m.conflicts.is_empty(), "{m:?}");
        assert_eq!(
            m.text,
            "import os\n\ndef a():\n    return 10\n\ndef b():\n    return 2\n\ndef c():\n    return 30\n"
        );
    }

    #[test]
    fn an_added_function_and_a_generated_change_both_land() {
        let ours = format!("{BASE}\ndef mine():\n    return 'mine'\n");
        let theirs = BASE.replace("import os\n", "import os\nimport sys\n");
        let m = merge_text(BASE, &ours, &theirs);
        assert!(m.conflicts.is_empty(), "{m:?}");
        assert_eq!(
            m.text,
            "import os\nimport sys\n\ndef a():\n    return 1\n\ndef b():\n    return 2\n\ndef c():\n    return 3\n\ndef mine():\n    return 'mine'\n"
        );
    }

    #[test]
    fn lines_one_side_deleted_stay_deleted() {
        let ours = BASE.replace("def b():\n    return 2\n\n", "");
        let theirs = BASE.replace("return 1", "return 'one'");
        let m = merge_text(BASE, &ours, &theirs);
        assert!(m.conflicts.is_empty(), "{m:?}");
        assert_eq!(
            m.text,
            "import os\n\ndef a():\n    return 'one'\n\ndef c():\n    return 3\n"
        );
    }

    #[test]
    fn the_same_change_on_both_sides_is_taken_once() {
        let both = BASE.replace("return 2", "return 22");
        let ours = both.replace("return 1", "return 11");
        let m = merge_text(BASE, &ours, &both);
        assert!(m.conflicts.is_empty(), "{m:?}");
        assert_eq!(m.text, ours);
    }

    #[test]
    fn different_changes_to_one_line_conflict_with_both_sides_kept() {
        let ours = BASE.replace("return 2", "return 'user'");
        let theirs = BASE.replace("return 2", "return 'generated'");
        let m = merge_text(BASE, &ours, &theirs);
        assert_eq!(
            m.conflicts,
            vec![Conflict {
                line: 7,
                base: "    return 2\n".into(),
                ours: "    return 'user'\n".into(),
                theirs: "    return 'generated'\n".into(),
            }]
        );
        assert_eq!(
            m.text,
            "import os\n\ndef a():\n    return 1\n\ndef b():\n<<<<<<< yours\n    return 'user'\n=======\n    return 'generated'\n>>>>>>> generated\n\ndef c():\n    return 3\n"
        );
    }

    #[test]
    fn both_adding_at_the_end_conflicts() {
        let ours = format!("{BASE}# mine\n");
        let theirs = format!("{BASE}# generated\n");
        let m = merge_text(BASE, &ours, &theirs);
        assert_eq!(m.conflicts.len(), 1, "{m:?}");
        assert_eq!(m.conflicts[0].line, 11);
        assert_eq!(m.conflicts[0].base, "");
        assert_eq!(m.conflicts[0].ours, "# mine\n");
        assert_eq!(m.conflicts[0].theirs, "# generated\n");
    }

    #[test]
    fn changes_on_adjacent_lines_conflict() {
        let ours = BASE.replace("def b():", "def bee():");
        let theirs = BASE.replace("return 2", "return 'two'");
        let m = merge_text(BASE, &ours, &theirs);
        assert_eq!(m.conflicts.len(), 1, "{m:?}");
        assert_eq!(m.conflicts[0].base, "def b():\n    return 2\n");
        assert_eq!(m.conflicts[0].ours, "def bee():\n    return 2\n");
        assert_eq!(m.conflicts[0].theirs, "def b():\n    return 'two'\n");
    }

    #[test]
    fn a_last_line_without_a_break_is_kept_as_it_is() {
        let base = "a\nb\nc";
        let m = merge_text(base, "A\nb\nc", "a\nb\nC");
        assert!(m.conflicts.is_empty(), "{m:?}");
        assert_eq!(m.text, "A\nb\nC");
        // In a conflict the markers stay on lines of their own.
        let m = merge_text(base, "a\nb\nx", "a\nb\ny");
        assert_eq!(
            m.text,
            "a\nb\n<<<<<<< yours\nx\n=======\ny\n>>>>>>> generated\n"
        );
    }

    #[test]
    fn one_side_unchanged_takes_the_other() {
        let changed = BASE.replace("os", "sys");
        assert_eq!(merge_text(BASE, BASE, &changed).text, changed);
        assert_eq!(merge_text(BASE, &changed, BASE).text, changed);
        assert!(merge_text(BASE, BASE, &changed).conflicts.is_empty());
    }

    #[test]
    fn two_files_added_without_a_base_conflict_where_they_differ() {
        let m = merge_text("", "same\nmine\n", "same\ntheirs\n");
        assert_eq!(m.conflicts.len(), 1, "{m:?}");
        assert_eq!(m.conflicts[0].ours, "same\nmine\n");
        assert_eq!(m.conflicts[0].theirs, "same\ntheirs\n");
    }
}
