//! Stand-in tools for `kiln serve`: a fake `uv` and system Python that make a virtualenv of the
//! real test Python, log what they were asked, and can make generated tests fail on purpose.

use std::path::Path;

use crate::common::{self, Server};

/// Stand-ins for the tools `kiln serve` makes its virtualenv with: a fake `uv` (optional) and
/// a fake system Python. Either "makes" a virtualenv whose `python` is the real runtime Python
/// of the tests, installs nothing, and notes what it was asked to do in a log. While the
/// sabotage flag exists, that `python` runs pytest with a plugin that fails two generated tests.
pub struct Toolbox {
    dir: tempfile::TempDir,
}

/// The pytest plugin that fails tests on purpose, as a broken app would.
const SABOTAGE_PLUGIN: &str = r#"import pytest

SABOTAGED = {
    "test_health": "sabotaged: /health answered 503",
    "test_get_unknown_is_404": "sabotaged: an unknown id answered 200",
}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item):
    message = SABOTAGED.get(item.name)
    if message is not None:
        raise AssertionError(message)
"#;

impl Toolbox {
    pub async fn new(with_uv: bool) -> Toolbox {
        let real = common::runtime_python().await;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for sub in ["bin", "plugins", "venvs"] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
        }
        std::fs::write(root.join("plugins/kiln_sabotage.py"), SABOTAGE_PLUGIN).unwrap();
        let log = root.join("tools.log").display().to_string();
        let flag = root.join("sabotage").display().to_string();
        let plugins = root.join("plugins").display().to_string();
        let venv_python = format!(
            "#!/bin/sh\n\
             if [ \"$1\" = -m ] && [ \"$2\" = pip ]; then echo \"pip $*\" >> '{log}'; exit 0; fi\n\
             if [ \"$1\" = -m ] && [ \"$2\" = pytest ] && [ -e '{flag}' ]; then\n\
             \x20 shift 2\n\
             \x20 PYTHONPATH='{plugins}' exec '{real}' -m pytest -p kiln_sabotage \"$@\"\n\
             fi\n\
             exec '{real}' \"$@\"\n",
            real = real.display()
        );
        executable(&root.join("venv-python"), &venv_python);
        let make_venv = format!(
            "mkdir -p \"$dir/bin\" && cp '{}' \"$dir/bin/python\"",
            root.join("venv-python").display()
        );
        executable(
            &root.join("python3"),
            &format!(
                "#!/bin/sh\nPATH=/usr/bin:/bin\necho \"python $*\" >> '{log}'\n\
                 if [ \"$1\" = -m ] && [ \"$2\" = venv ]; then dir=\"$3\"; {make_venv}; exit $?; fi\n\
                 exit 1\n"
            ),
        );
        if with_uv {
            executable(
                &root.join("bin/uv"),
                &format!(
                    "#!/bin/sh\nPATH=/usr/bin:/bin\necho \"uv $*\" >> '{log}'\n\
                     case \"$1\" in\n\
                     --version) echo 'uv 0.0.0 (stand-in)';;\n\
                     venv) for a in \"$@\"; do dir=\"$a\"; done; {make_venv};;\n\
                     pip) ;;\n\
                     *) exit 1;;\n\
                     esac\n"
                ),
            );
        }
        let git = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .map(|d| d.join("git"))
            .find(|g| g.is_file())
            .expect("git on PATH");
        std::os::unix::fs::symlink(git, root.join("bin/git")).unwrap();
        Toolbox { dir }
    }

    /// The settings that make a `kiln serve` use these tools and nothing else.
    fn env(&self) -> Vec<(&'static str, String)> {
        let root = self.dir.path();
        vec![
            ("PATH", root.join("bin").display().to_string()),
            ("KILN_PYTHON", root.join("python3").display().to_string()),
            ("KILN_VENV_DIR", root.join("venvs").display().to_string()),
        ]
    }

    /// Makes the generated tests fail from now on.
    pub fn sabotage(&self) {
        std::fs::write(self.dir.path().join("sabotage"), "").unwrap();
    }

    /// What the tools were asked to do, one line per call.
    pub fn log(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("tools.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    pub fn start_server(&self, data_dir: &Path) -> Server {
        let env = self.env();
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Server::start(data_dir, &pairs)
    }
}

fn executable(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}
