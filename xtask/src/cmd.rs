//! Running commands from the repository root, loudly.

use std::path::PathBuf;
use std::process::Command;

use crate::Result;

pub fn root() -> PathBuf {
    toilkit_tests::workspace::root()
}

/// `cargo`, as the one running this task.
pub fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(root());
    command
}

/// Runs `command`, echoing it first; fails if it fails.
pub fn exec(mut command: Command) -> Result {
    eprintln!("$ {}", describe(&command));
    let status = command
        .status()
        .map_err(|e| format!("{}: {e}", describe(&command)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed ({status})", describe(&command)).into())
    }
}

pub fn describe(command: &Command) -> String {
    let mut text = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}
