//! The project's tools (the venvs' cfn-lint, checkov and
//! `tools/python/template_tool.py`; terraform from the machine) run to
//! completion, and a failure that names what ran, how it ended and what it
//! printed.
//!
//! A tool of the venvs is installed by `cargo xtask setup`, which the test
//! command runs first: missing, it is a failure that says so. A tool of the
//! machine (terraform) may be missing: the check then says NOT RUN, and under
//! `CI=true` fails ([`crate::not_run`]).

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::workspace;

/// A tool run that did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// The program could not be started (most often: not installed).
    Start {
        command: String,
        error: std::io::Error,
    },
    /// It ran and exited unsuccessfully.
    Exit { command: String, output: Output },
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Start { command, error } => write!(
                f,
                "`{command}` could not start: {error} (the venvs' tools come from `cargo xtask setup`)"
            ),
            Self::Exit { command, output } => {
                write!(f, "`{command}` failed ({})", output.status)?;
                for (name, text) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
                    if !text.is_empty() {
                        write!(f, "\n--- {name}\n{}", String::from_utf8_lossy(text))?;
                    }
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Start { error, .. } => Some(error),
            Self::Exit { .. } => None,
        }
    }
}

/// Runs `command` to completion, its output captured and its standard input
/// empty; its output if it exited successfully.
pub fn run(command: &mut Command) -> Result<Output, Failure> {
    run_with_input(command, "")
}

/// [`run`], with `input` on the command's standard input.
pub fn run_with_input(command: &mut Command, input: &str) -> Result<Output, Failure> {
    let described = describe(command);
    let start = |error| Failure::Start {
        command: described.clone(),
        error,
    };
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(start)?;
    let stdin = child.stdin.take();
    // Written from a thread of its own, so a tool that prints much before it
    // reads cannot block on a full pipe; the handle is dropped at the end,
    // which closes the pipe. A tool that exits without reading it all is
    // judged by its exit status alone.
    let output = std::thread::scope(|scope| {
        scope.spawn(move || {
            if let Some(mut stdin) = stdin {
                let _ = stdin.write_all(input.as_bytes());
            }
        });
        child.wait_with_output()
    })
    .map_err(start)?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(Failure::Exit {
            command: described,
            output,
        })
    }
}

/// In a test: the output of `command`, which must succeed.
pub fn succeed(command: &mut Command) -> Output {
    run(command).unwrap_or_else(|failure| panic!("{failure}"))
}

/// In a test: what `command` prints as JSON on its standard output, after it
/// read `input`. It must succeed.
pub fn json(command: &mut Command, input: &str) -> serde_json::Value {
    let output = run_with_input(command, input).unwrap_or_else(|failure| panic!("{failure}"));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "`{}` printed no JSON ({e}):\n{}",
            describe(command),
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// The command line, as a user would type it, and where it ran.
pub fn describe(command: &Command) -> String {
    let mut text = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    if let Some(dir) = command.get_current_dir() {
        text.push_str(&format!(" (in {})", dir.display()));
    }
    text
}

/// `tools/python/template_tool.py <args>` with the venv's Python, from the
/// repository root.
pub fn template_tool() -> Command {
    let root = workspace::root();
    let mut command = Command::new(workspace::venv_bin("python"));
    command.arg(root.join("tools/python/template_tool.py"));
    command.current_dir(root);
    command
}

/// A tool of one of the project's venvs (`.venv`, `.venv-checkov`), which
/// `cargo xtask setup` installs; a failure when it is missing.
pub fn venv(venv: &str, tool: &str) -> PathBuf {
    let path = workspace::root().join(venv).join("bin").join(tool);
    assert!(
        path.exists(),
        "{} is missing: run `cargo xtask setup` (or `cargo xtask test`, which runs it)",
        path.display()
    );
    path
}

/// A tool of the machine, from `PATH`. When it is missing, `test` does not
/// run ([`crate::not_run`], a failure under `CI=true`): `install` says how to
/// get it.
pub fn on_path(test: &str, tool: &str, install: &str) -> Option<PathBuf> {
    let found = which(tool);
    if found.is_none() {
        crate::not_run(test, &format!("no {tool} binary on PATH ({install})"));
    }
    found
}

/// A tool of the machine, from `PATH`, where it is not a test's (setup
/// deciding whether to install it).
pub fn which(tool: &str) -> Option<PathBuf> {
    find_on_path(tool, std::env::var_os("PATH").as_deref())
}

fn find_on_path(tool: &str, paths: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    std::env::split_paths(paths?)
        .map(|dir| dir.join(tool))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_names_the_command_its_exit_and_both_outputs() {
        let mut command = Command::new("sh");
        command
            .args(["-c", "echo planned; echo refused >&2; exit 3"])
            .current_dir("/");
        let failure = run(&mut command).unwrap_err().to_string();
        assert!(
            failure.starts_with("`sh -c echo planned; echo refused >&2; exit 3 (in /)` failed"),
            "{failure}"
        );
        assert!(failure.contains("exit status: 3"), "{failure}");
        assert!(failure.contains("--- stdout\nplanned\n"), "{failure}");
        assert!(failure.contains("--- stderr\nrefused\n"), "{failure}");
    }

    #[test]
    fn a_missing_program_says_it_could_not_start() {
        let failure = run(&mut Command::new("/nonexistent/toilkit-tool"))
            .unwrap_err()
            .to_string();
        assert!(
            failure.starts_with("`/nonexistent/toilkit-tool` could not start"),
            "{failure}"
        );
        assert!(failure.contains("cargo xtask setup"), "{failure}");
    }

    #[test]
    fn the_input_reaches_the_tool_and_its_output_comes_back() {
        let value = json(&mut Command::new("cat"), r#"{"ok": true}"#);
        assert_eq!(value, serde_json::json!({"ok": true}));
    }

    #[test]
    fn a_tool_is_found_on_path_only_when_executable() {
        let dir = tempfile::tempdir().unwrap();
        let tool = dir.path().join("terraform");
        std::fs::write(&tool, "#!/bin/sh\n").unwrap();
        let paths = std::env::join_paths([Path::new("/nonexistent"), dir.path()]).unwrap();
        assert_eq!(find_on_path("terraform", Some(&paths)), None);
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(find_on_path("terraform", Some(&paths)), Some(tool));
        assert_eq!(find_on_path("terraform", None), None);
    }
}
