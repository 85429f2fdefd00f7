//! The project's git repository on the local backend (`repos/{project}`): each version a
//! commit "Version N" on the checked-out branch, tagged `vN`, its files in the work tree.
//!
//! The objects, refs and index are written here, in the formats git documents
//! (gitformat-index, git-hash-object's loose objects, gitrepository-layout), instead of running
//! `git add`, `git commit` and `git tag` for every version: those three processes were most of
//! a build turn. Only a new repository is made by `git init`. The tests read every repository
//! this writes back with git itself (`fsck`, `status`, `log`, `show`, after `gc` too).

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use ring::digest::{digest, SHA1_FOR_LEGACY_USE_ONLY};

/// Who authors and commits every version.
const IDENTITY: &str = "Kiln <kiln@localhost>";

/// Why the repository could not be written.
pub(crate) type RepoError = String;

/// A git object id (SHA-1).
type Oid = [u8; 20];

fn io<'a>(what: &'a str, path: &'a Path) -> impl Fn(std::io::Error) -> RepoError + 'a {
    move |e| format!("{what} {}: {e}", path.display())
}

/// Commits `files` (relative paths, already checked safe) as version `number` in the
/// repository at `repo`, made on first use. The work tree becomes exactly these files. A
/// version whose `vN` tag is there already was committed by an earlier run: nothing is done.
pub(crate) fn commit(
    repo: &Path,
    number: u32,
    files: &[(String, Vec<u8>)],
) -> Result<(), RepoError> {
    std::fs::create_dir_all(repo).map_err(io("making", repo))?;
    let git = repo.join(".git");
    if !git.exists() {
        init(repo)?;
    }
    let tag = format!("refs/tags/v{number}");
    if read_ref(&git, &tag)?.is_some() {
        return Ok(());
    }
    // The objects first: a version that cannot be a tree stops before the work tree changes.
    let mut root = Dir::default();
    let mut blobs = Vec::with_capacity(files.len());
    for (path, bytes) in files {
        let id = write_object(&git, "blob", bytes)?;
        root.insert(path, id)?;
        blobs.push((path.as_str(), id));
    }
    let tree = root.write(&git)?;
    write_work_tree(repo, files)?;

    // HEAD names the branch the commit goes on (or, detached, is the commit itself).
    let head_file = git.join("HEAD");
    let head = std::fs::read_to_string(&head_file).map_err(io("reading", &head_file))?;
    let branch = head.trim().strip_prefix("ref: ").map(str::to_owned);
    let parent = match &branch {
        Some(b) => read_ref(&git, b)?,
        None => Some(head.trim().to_owned()),
    };
    let when = format!(
        "{} +0000",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    );
    let mut body = format!("tree {}\n", hex::encode(tree));
    if let Some(p) = &parent {
        body.push_str(&format!("parent {p}\n"));
    }
    body.push_str(&format!(
        "author {IDENTITY} {when}\ncommitter {IDENTITY} {when}\n\nVersion {number}\n"
    ));
    let commit = hex::encode(write_object(&git, "commit", body.as_bytes())?);

    write_index(repo, &git, &mut blobs)?;
    write_ref(&git, branch.as_deref().unwrap_or("HEAD"), &commit)?;
    write_ref(&git, &tag, &commit)
}

/// `git init` on the main branch, with no system or user configuration read.
fn init(repo: &Path) -> Result<(), RepoError> {
    let out = std::process::Command::new("git")
        .args(["init", "--quiet", "--initial-branch=main"])
        .current_dir(repo)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .map_err(|e| format!("running git: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "git init failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The id a ref names, loose or packed (`git gc` packs them), or `None` when there is none.
fn read_ref(git: &Path, name: &str) -> Result<Option<String>, RepoError> {
    let loose = git.join(name);
    match std::fs::read_to_string(&loose) {
        Ok(id) => return Ok(Some(id.trim().to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io("reading", &loose)(e)),
    }
    let packed = git.join("packed-refs");
    let text = match std::fs::read_to_string(&packed) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io("reading", &packed)(e)),
    };
    Ok(text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with('^'))
        .filter_map(|l| l.split_once(' '))
        .find(|(_, r)| *r == name)
        .map(|(id, _)| id.to_owned()))
}

/// Points `name` at `id`, through a lock file renamed into place as git does.
fn write_ref(git: &Path, name: &str, id: &str) -> Result<(), RepoError> {
    let path = git.join(name);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io("making", dir))?;
    }
    replace(&path, format!("{id}\n").as_bytes())
}

/// Writes `bytes` to `path` through `path.lock`, renamed over it.
fn replace(path: &Path, bytes: &[u8]) -> Result<(), RepoError> {
    let mut lock = path.as_os_str().to_owned();
    lock.push(".lock");
    let lock = PathBuf::from(lock);
    std::fs::write(&lock, bytes).map_err(io("writing", &lock))?;
    std::fs::rename(&lock, path).map_err(io("renaming", &lock))
}

/// Stores an object (`blob`, `tree` or `commit`) as a zlib-deflated loose object, unless it is
/// there already; answers its id.
fn write_object(git: &Path, kind: &str, data: &[u8]) -> Result<Oid, RepoError> {
    let mut raw = format!("{kind} {}\0", data.len()).into_bytes();
    raw.extend_from_slice(data);
    let id: Oid = digest(&SHA1_FOR_LEGACY_USE_ONLY, &raw)
        .as_ref()
        .try_into()
        .map_err(|_| "a SHA-1 is 20 bytes".to_owned())?;
    let name = hex::encode(id);
    let dir = git.join("objects").join(&name[..2]);
    let path = dir.join(&name[2..]);
    if path.exists() {
        return Ok(id);
    }
    std::fs::create_dir_all(&dir).map_err(io("making", &dir))?;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(&raw).map_err(io("compressing", &path))?;
    let packed = z.finish().map_err(io("compressing", &path))?;
    // A temporary name in the same directory, renamed: a reader never sees half an object.
    let tmp = dir.join(format!("tmp_{}_{}", std::process::id(), &name[2..]));
    std::fs::write(&tmp, packed).map_err(io("writing", &tmp))?;
    std::fs::rename(&tmp, &path).map_err(io("renaming", &tmp))?;
    Ok(id)
}

/// A directory of the version, to be written as a tree.
#[derive(Default)]
struct Dir {
    files: BTreeMap<String, Oid>,
    dirs: BTreeMap<String, Dir>,
}

impl Dir {
    fn insert(&mut self, path: &str, id: Oid) -> Result<(), RepoError> {
        match path.split_once('/') {
            Some((dir, rest)) => {
                if self.files.contains_key(dir) {
                    return Err(format!("{dir:?} is both a file and a directory"));
                }
                self.dirs
                    .entry(dir.to_owned())
                    .or_default()
                    .insert(rest, id)
            }
            None if self.dirs.contains_key(path) => {
                Err(format!("{path:?} is both a file and a directory"))
            }
            None => {
                self.files.insert(path.to_owned(), id);
                Ok(())
            }
        }
    }

    /// Writes this directory's tree (and its subdirectories' first); answers its id.
    fn write(&self, git: &Path) -> Result<Oid, RepoError> {
        // Git orders a tree's entries by name, a directory's name as if it ended in '/'.
        let mut entries: Vec<(Vec<u8>, &str, &str, Oid)> = Vec::new();
        for (name, id) in &self.files {
            entries.push((name.as_bytes().to_vec(), "100644", name, *id));
        }
        for (name, dir) in &self.dirs {
            let mut key = name.as_bytes().to_vec();
            key.push(b'/');
            entries.push((key, "40000", name, dir.write(git)?));
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut data = Vec::new();
        for (_, mode, name, id) in entries {
            data.extend_from_slice(format!("{mode} {name}\0").as_bytes());
            data.extend_from_slice(&id);
        }
        write_object(git, "tree", &data)
    }
}

/// Makes the work tree exactly `files`: what is not among them is removed (then any directory
/// left empty), and a file is written only when its bytes differ.
fn write_work_tree(repo: &Path, files: &[(String, Vec<u8>)]) -> Result<(), RepoError> {
    let keep: HashSet<PathBuf> = files.iter().map(|(p, _)| repo.join(p)).collect();
    prune(repo, &keep, true)?;
    for (path, bytes) in files {
        let target = repo.join(path);
        if std::fs::read(&target).is_ok_and(|old| old == *bytes) {
            continue;
        }
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir).map_err(io("making", dir))?;
        }
        std::fs::write(&target, bytes).map_err(io("writing", &target))?;
    }
    Ok(())
}

/// Removes from `dir` everything not in `keep`, and the directories that end up empty.
/// Answers whether `dir` is empty now.
fn prune(dir: &Path, keep: &HashSet<PathBuf>, top: bool) -> Result<bool, RepoError> {
    let mut empty = true;
    for entry in std::fs::read_dir(dir).map_err(io("reading", dir))? {
        let path = entry.map_err(io("reading", dir))?.path();
        if top && path.file_name().is_some_and(|n| n == ".git") {
            empty = false;
            continue;
        }
        let meta = std::fs::symlink_metadata(&path).map_err(io("reading", &path))?;
        if meta.is_dir() {
            if prune(&path, keep, false)? {
                std::fs::remove_dir(&path).map_err(io("removing", &path))?;
            } else {
                empty = false;
            }
        } else if keep.contains(&path) {
            empty = false;
        } else {
            std::fs::remove_file(&path).map_err(io("removing", &path))?;
        }
    }
    Ok(empty)
}

/// Writes `.git/index` (version 2) for the work tree just written: one entry per file with its
/// blob and the file's stat data, so `git status` finds the tree clean without reading a file.
fn write_index(repo: &Path, git: &Path, blobs: &mut [(&str, Oid)]) -> Result<(), RepoError> {
    blobs.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut out = Vec::with_capacity(64 + blobs.len() * 100);
    out.extend_from_slice(b"DIRC");
    out.extend_from_slice(&2u32.to_be_bytes());
    out.extend_from_slice(&(blobs.len() as u32).to_be_bytes());
    for (path, id) in blobs.iter() {
        let file = repo.join(path);
        let m = std::fs::symlink_metadata(&file).map_err(io("reading", &file))?;
        let start = out.len();
        for field in [
            m.ctime() as u32,
            m.ctime_nsec() as u32,
            m.mtime() as u32,
            m.mtime_nsec() as u32,
            m.dev() as u32,
            m.ino() as u32,
            0o100644,
            m.uid(),
            m.gid(),
            m.size() as u32,
        ] {
            out.extend_from_slice(&field.to_be_bytes());
        }
        out.extend_from_slice(id);
        // Flags: stage 0, the name's length (0xFFF for longer names).
        out.extend_from_slice(&(path.len().min(0xFFF) as u16).to_be_bytes());
        out.extend_from_slice(path.as_bytes());
        // One to eight NULs, to a multiple of eight bytes.
        let len = out.len() - start;
        out.resize(start + (len + 8) / 8 * 8, 0);
    }
    let sum = digest(&SHA1_FOR_LEGACY_USE_ONLY, &out);
    out.extend_from_slice(sum.as_ref());
    replace(&git.join("index"), &out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn git(repo: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(args)
            .current_dir(repo)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn files(list: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        list.iter()
            .map(|(p, b)| (p.to_string(), b.as_bytes().to_vec()))
            .collect()
    }

    /// What git itself says about the repository after a version: sound, clean, the commit on
    /// the branch and the tag, holding exactly these files.
    fn check(repo: &Path, number: u32, list: &[(&str, &str)]) {
        git(repo, &["fsck", "--strict", "--no-dangling"]);
        assert_eq!(
            git(repo, &["status", "--porcelain", "--untracked-files=all"]),
            ""
        );
        assert_eq!(
            git(repo, &["rev-parse", "HEAD"]),
            git(repo, &["rev-parse", &format!("v{number}^{{commit}}")])
        );
        assert_eq!(
            git(repo, &["log", "-1", "--format=%s|%an <%ae>"]),
            format!("Version {number}|Kiln <kiln@localhost>\n")
        );
        let mut want: Vec<&str> = list.iter().map(|(p, _)| *p).collect();
        want.sort();
        let listed = git(
            repo,
            &["ls-tree", "-r", "--name-only", &format!("v{number}")],
        );
        assert_eq!(listed.lines().collect::<Vec<_>>(), want);
        for (path, body) in list {
            assert_eq!(git(repo, &["show", &format!("v{number}:{path}")]), *body);
            assert_eq!(std::fs::read_to_string(repo.join(path)).unwrap(), *body);
        }
        // The index holds exactly the commit's files and blobs.
        assert_eq!(git(repo, &["diff-index", "--cached", "HEAD"]), "");
        assert_eq!(
            git(repo, &["ls-files", "--stage"]).lines().count(),
            list.len()
        );
    }

    #[test]
    fn versions_are_commits_git_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("p");
        // Names that git orders differently from a plain sort: "a.py" < "a/" < "a0".
        let v1 = [
            ("a.py", "print(1)\n"),
            ("a/b.py", "x = 1\n"),
            ("a0", "zero\n"),
            ("app/main.py", "app = 1\n"),
            ("app/routers/tasks.py", "router = 1\n"),
            (".github/workflows/ci.yml", "on: push\n"),
            ("README.md", "# P\n"),
        ];
        commit(&repo, 1, &files(&v1)).unwrap();
        check(&repo, 1, &v1);

        // Changed, removed (a whole directory with it), added, and a file where a directory was.
        let v2 = [
            ("a.py", "print(2)\n"),
            ("a0", "zero\n"),
            ("app/main.py", "app = 1\n"),
            ("app/routers", "now a file\n"),
            ("README.md", "# P\n"),
            ("tests/test_api.py", "def test(): pass\n"),
        ];
        // Something the user left in the work tree goes too, as it is not in the version.
        std::fs::write(repo.join("app/stray.txt"), "x").unwrap();
        commit(&repo, 2, &files(&v2)).unwrap();
        check(&repo, 2, &v2);
        assert!(!repo.join("a").exists(), "an emptied directory is removed");
        assert!(!repo.join(".github").exists());
        assert_eq!(
            git(&repo, &["log", "--format=%s"]),
            "Version 2\nVersion 1\n"
        );
        assert_eq!(
            git(&repo, &["show", "v1:a/b.py"]),
            "x = 1\n",
            "v1 still holds its files"
        );

        // After git packs the refs and objects, the next version still finds its parent.
        git(&repo, &["gc", "--quiet"]);
        assert!(
            !repo.join(".git/refs/tags/v1").exists(),
            "gc packed the tags"
        );
        let v3 = [("README.md", "# P v3\n")];
        commit(&repo, 3, &files(&v3)).unwrap();
        check(&repo, 3, &v3);
        assert_eq!(git(&repo, &["rev-list", "--count", "HEAD"]), "3\n");
    }

    #[test]
    fn a_version_already_tagged_is_not_committed_again() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("p");
        let v1 = [("main.py", "1\n")];
        commit(&repo, 1, &files(&v1)).unwrap();
        git(&repo, &["gc", "--quiet"]);
        // A retried release of version 1 (tag packed) and of version 2.
        commit(&repo, 1, &files(&[("main.py", "other\n")])).unwrap();
        check(&repo, 1, &v1);
        let v2 = [("main.py", "2\n")];
        commit(&repo, 2, &files(&v2)).unwrap();
        let head = git(&repo, &["rev-parse", "HEAD"]);
        commit(&repo, 2, &files(&v2)).unwrap();
        assert_eq!(git(&repo, &["rev-parse", "HEAD"]), head);
        assert_eq!(git(&repo, &["rev-list", "--count", "HEAD"]), "2\n");
    }

    #[test]
    fn a_path_that_is_a_file_and_a_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = commit(
            &dir.path().join("p"),
            1,
            &files(&[("app", "1"), ("app/main.py", "2")]),
        )
        .unwrap_err();
        assert!(err.contains("both a file and a directory"), "{err}");
    }

    #[test]
    fn a_long_path_is_indexed() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("p");
        let long = format!("{}/x.py", "d".repeat(200));
        let list = [(long.as_str(), "1\n"), ("b", "2\n")];
        commit(&repo, 1, &files(&list)).unwrap();
        check(&repo, 1, &list);
    }
}
