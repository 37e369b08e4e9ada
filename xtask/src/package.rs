//! `bootstrap.zip` per function for the `provided.al2023` runtime.
//!
//! cargo-lambda builds with zig as the linker, pinned to glibc 2.34 (what
//! Amazon Linux 2023 ships), for x86_64 always and arm64 where that Rust
//! target is installed. Each binary's glibc requirement is then read from its
//! ELF version needs and checked.

use std::path::Path;
use std::process::Command;

use object::read::elf::{ElfFile64, FileHeader};
use object::{Endianness, elf};

use crate::Result;
use crate::cmd::{exec, root};

/// The newest glibc symbol version a binary may need (Amazon Linux 2023).
pub const MAX_GLIBC: (u32, u32) = (2, 34);

pub const FUNCTIONS: &[&str] = &[
    "waf-ip-blocker",
    "rds-audit-notifier",
    "maintenance-switch",
    "config-triage",
    "log-retention",
];

/// One built target: the Rust target and cargo-lambda's output folder.
struct Arch {
    name: &'static str,
    triple: &'static str,
}

const ARCHES: &[Arch] = &[
    Arch {
        name: "x86_64",
        triple: "x86_64-unknown-linux-gnu",
    },
    Arch {
        name: "arm64",
        triple: "aarch64-unknown-linux-gnu",
    },
];

pub fn run(args: &[String]) -> Result {
    crate::setup::run()?;
    let root = root();
    let functions: Vec<&str> = if args.is_empty() {
        FUNCTIONS.to_vec()
    } else {
        args.iter().map(String::as_str).collect()
    };
    let installed = installed_targets();
    for arch in ARCHES {
        if arch.name != "x86_64" && !installed.iter().any(|t| t == arch.triple) {
            eprintln!(
                "skipping {}: Rust target {} is not installed (rustup target add {})",
                arch.name, arch.triple, arch.triple
            );
            continue;
        }
        let out_dir = if arch.name == "x86_64" {
            root.join("target/lambda")
        } else {
            root.join("target/lambda-arm64")
        };
        let mut command = Command::new(root.join(".venv/bin/cargo-lambda"));
        command
            .args([
                "lambda",
                "build",
                "--release",
                "--output-format",
                "zip",
                "--lambda-dir",
            ])
            .arg(&out_dir)
            .arg("--target")
            .arg(format!("{}.{}.{}", arch.triple, MAX_GLIBC.0, MAX_GLIBC.1))
            .current_dir(&root)
            .env("PATH", venv_path(&root));
        for function in &functions {
            command.args(["--bin", function]);
        }
        exec(command)?;
        for function in &functions {
            let zip = out_dir.join(function).join("bootstrap.zip");
            let binary = out_dir.join(function).join("bootstrap");
            let glibc = max_glibc(&binary)?;
            if glibc > MAX_GLIBC {
                return Err(format!(
                    "{} needs glibc {}.{}, newer than {}.{}",
                    binary.display(),
                    glibc.0,
                    glibc.1,
                    MAX_GLIBC.0,
                    MAX_GLIBC.1
                )
                .into());
            }
            let size = std::fs::metadata(&zip)
                .map_err(|e| format!("{}: {e}", zip.display()))?
                .len();
            println!(
                "{:<20} {:<7} {} ({:.2} MB), needs glibc {}.{}",
                function,
                arch.name,
                zip.strip_prefix(&root).unwrap_or(&zip).display(),
                size as f64 / 1_048_576.0,
                glibc.0,
                glibc.1
            );
        }
    }
    Ok(())
}

/// PATH with the venv first, so cargo-lambda finds the pinned zig.
fn venv_path(root: &Path) -> std::ffi::OsString {
    let mut paths = vec![root.join(".venv/bin")];
    if let Some(existing) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&existing));
    }
    std::env::join_paths(paths).expect("PATH entries are valid")
}

fn installed_targets() -> Vec<String> {
    Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The newest `GLIBC_x.y` version the binary's dynamic symbols need.
pub fn max_glibc(binary: &Path) -> Result<(u32, u32)> {
    let data = std::fs::read(binary).map_err(|e| format!("{}: {e}", binary.display()))?;
    let file = ElfFile64::<Endianness>::parse(&*data)?;
    let endian = file.endian();
    let sections = file.elf_header().sections(endian, &*data)?;
    let mut newest = (0, 0);
    if let Some((mut needs, link)) = sections.gnu_verneed(endian, &*data)? {
        let strings = sections.strings(endian, &*data, link)?;
        while let Some((_need, mut aux)) = needs.next()? {
            while let Some(entry) = aux.next()? {
                let name = entry.name(endian, strings)?;
                if let Some(version) = parse_glibc(name) {
                    newest = newest.max(version);
                }
            }
        }
    }
    let _ = elf::SHT_GNU_VERNEED;
    Ok(newest)
}

fn parse_glibc(name: &[u8]) -> Option<(u32, u32)> {
    let text = std::str::from_utf8(name).ok()?.strip_prefix("GLIBC_")?;
    let mut parts = text.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glibc_versions_parse() {
        assert_eq!(parse_glibc(b"GLIBC_2.34"), Some((2, 34)));
        assert_eq!(parse_glibc(b"GLIBC_2.2.5"), Some((2, 2)));
        assert_eq!(parse_glibc(b"GLIBC_PRIVATE"), None);
    }

    #[test]
    fn this_machine_binary_reports_a_glibc_version() {
        let exe = std::env::current_exe().unwrap();
        let (major, minor) = max_glibc(&exe).unwrap();
        assert_eq!(major, 2);
        assert!(minor >= 2);
    }
}
