//! Paths the harness needs.

use std::path::{Path, PathBuf};

/// The repository root (the workspace's `Cargo.toml`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace root")
        .to_path_buf()
}

/// A tool installed into the project's venv by `cargo xtask setup`.
pub fn venv_bin(tool: &str) -> PathBuf {
    root().join(".venv").join("bin").join(tool)
}

/// The sample inputs in the formats AWS really emits (`tests/fixtures`).
/// `TOILKIT_SAMPLES` overrides it.
pub fn samples_dir() -> PathBuf {
    std::env::var_os("TOILKIT_SAMPLES")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("tests").join("fixtures"))
}

/// The text of one sample.
pub fn sample(name: &str) -> String {
    let path = samples_dir().join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("sample {} unreadable: {e}", path.display()))
}

/// Fails with a message that says how to install a missing tool.
pub fn require_tool(tool: &str) -> PathBuf {
    crate::tool::venv(".venv", tool)
}
