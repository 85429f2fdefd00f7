//! Requirements files: every requirement pinned to one version (`name==version`), so that a
//! build installs what was tested and pip-audit can tell whether it is vulnerable.

use std::sync::LazyLock;

use regex::Regex;

use crate::model::{Finding, Severity};

/// `name[extras]==version`, then environment markers or hashes.
static PINNED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^[A-Za-z0-9][A-Za-z0-9._-]*(?:\[[A-Za-z0-9._,\s-]+\])?\s*===?\s*[A-Za-z0-9][A-Za-z0-9.+!_-]*\s*(?:;.*)?$",
    )
    .expect("pattern")
});

/// Options a requirements file may hold that are not requirements (`-r other.txt`, an index).
const OPTIONS: &[&str] = &[
    "-r",
    "--requirement",
    "-c",
    "--constraint",
    "-i",
    "--index-url",
    "--extra-index-url",
    "--no-index",
    "-f",
    "--find-links",
    "--only-binary",
    "--no-binary",
    "--prefer-binary",
    "--require-hashes",
    "--pre",
    "--trusted-host",
];

/// Lines of a requirements file that do not pin one version.
pub(super) fn unpinned(path: &str, text: &str) -> Vec<Finding> {
    let mut found = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((n, raw)) = lines.next() {
        // A requirement may go on over lines ending in `\` (hashes, mostly).
        let mut line = raw.to_owned();
        while line.trim_end().ends_with('\\') {
            line = line.trim_end().trim_end_matches('\\').to_owned();
            match lines.next() {
                Some((_, more)) => line.push_str(more),
                None => break,
            }
        }
        let requirement = line
            .split(" #")
            .next()
            .unwrap_or("")
            .split("--hash")
            .next()
            .unwrap_or("")
            .trim();
        if requirement.is_empty() || requirement.starts_with('#') {
            continue;
        }
        let first = requirement.split([' ', '=']).next().unwrap_or("");
        if OPTIONS.contains(&first) {
            continue;
        }
        if PINNED.is_match(requirement) {
            continue;
        }
        found.push(Finding::new(
            path,
            n as u32 + 1,
            "kiln/unpinned-requirement",
            Severity::Medium,
            format!("`{requirement}` does not pin one version"),
            "pin the version that was tested, as name==version, so every build installs the \
             same code and pip-audit can check it",
        ));
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_exact_pins_pass() {
        let text = "# runtime\nfastapi==0.165.0\npsycopg[binary]==3.3.9  # driver\n\
                    uvicorn[standard] == 0.54.0 ; python_version >= '3.11'\n\
                    -r requirements.txt\n--index-url https://example.org/simple\n\n\
                    pyjwt==2.15.1 \\\n    --hash=sha256:abc\n\
                    requests\nhttpx>=0.27\nrich~=13.0\nflask==2.*\n\
                    -e git+https://example.org/x.git#egg=x\nhttps://example.org/pkg.whl\n";
        let found: Vec<u32> = unpinned("requirements.txt", text)
            .iter()
            .map(|f| f.line)
            .collect();
        assert_eq!(found, [10, 11, 12, 13, 14, 15]);
    }

    #[test]
    fn a_pinned_file_is_clean() {
        let text = "fastapi==0.165.0\nSQLAlchemy==2.1.9\nalembic===1.20.1\n";
        assert!(unpinned("requirements.txt", text).is_empty());
    }
}
