//! `bootstrap.zip` per function for the `provided.al2023` runtime, and the
//! application folders `target/sam/` (the product) and `target/sam-hub/`
//! (toilkit-hub) that `sam package` / `sam publish` take as they are.
//!
//! cargo-lambda builds with zig as the linker, pinned to glibc 2.34 (what
//! Amazon Linux 2023 ships), for x86_64 always and arm64 where that Rust
//! target is installed. Each binary's glibc requirement is then read from its
//! ELF version needs and checked.
//!
//! `cargo xtask package [--arch arm64] [function...]`: with `--arch arm64`
//! the packaged template carries the arm64 builds (Graviton) instead of the
//! x86_64 ones.

use std::path::{Path, PathBuf};
use std::process::Command;

use object::read::elf::{ElfFile64, FileHeader};
use object::{Endianness, elf};
use toilkit_tests::{registry, tool};

use crate::Result;
use crate::cmd::{exec, root};

/// The newest glibc symbol version a binary may need (Amazon Linux 2023).
pub const MAX_GLIBC: (u32, u32) = (2, 34);

/// Every function's binary, from the registry (`toilkit_tests::registry`).
pub const FUNCTIONS: [&str; registry::FUNCTIONS.len()] = names(registry::FUNCTIONS);

/// The hub application's functions' binaries.
pub const HUB_FUNCTIONS: [&str; registry::HUB_FUNCTIONS.len()] = names(registry::HUB_FUNCTIONS);

const fn names<const N: usize>(functions: &[registry::Function]) -> [&'static str; N] {
    let mut names = [""; N];
    let mut i = 0;
    while i < N {
        names[i] = functions[i].name;
        i += 1;
    }
    names
}

/// One SAR application: the template it is packaged from and what packaging
/// changes in it.
#[derive(Debug)]
pub struct Application {
    pub name: &'static str,
    /// The source template, from the workspace root.
    pub template: &'static str,
    /// The `CodeUri` of its functions in the source template: the workspace
    /// root, relative to the template, which `sam build` compiles from.
    pub code_uri: &'static str,
    pub functions: &'static [&'static str],
    /// The application folder, from the workspace root.
    pub out: &'static str,
    /// The files the metadata names: its key, the path as the source
    /// template names it (relative to the template), and the file's name in
    /// the application folder, which `sam package` resolves it against.
    pub files: &'static [(&'static str, &'static str, &'static str)],
}

pub const PRODUCT: Application = Application {
    name: "toilkit",
    template: "template.yaml",
    code_uri: ".",
    functions: &FUNCTIONS,
    out: "target/sam",
    files: &[
        ("LicenseUrl", "LICENSE", "LICENSE"),
        ("ReadmeUrl", "README.md", "README.md"),
    ],
};

pub const HUB: Application = Application {
    name: "toilkit-hub",
    template: "deploy/hub/template.yaml",
    code_uri: "../..",
    functions: &HUB_FUNCTIONS,
    out: "target/sam-hub",
    files: &[
        ("LicenseUrl", "../../LICENSE", "LICENSE"),
        (
            "ReadmeUrl",
            "../../functions/hub-collector/README.md",
            "README.md",
        ),
    ],
};

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
    let mut packaged_arch = "x86_64";
    let mut names = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--arch" => {
                packaged_arch = match rest.next().map(String::as_str) {
                    Some("x86_64") => "x86_64",
                    Some("arm64") => "arm64",
                    other => {
                        return Err(format!("--arch takes x86_64 or arm64, not {other:?}").into());
                    }
                }
            }
            name => names.push(name),
        }
    }
    let functions: Vec<&str> = if names.is_empty() {
        FUNCTIONS.iter().chain(&HUB_FUNCTIONS).copied().collect()
    } else {
        names
    };
    let installed = installed_targets();
    can_package(packaged_arch, &installed)?;
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
            // cargo-lambda's zip output leaves no bare binary beside the zip;
            // the check reads the `bootstrap` that is deployed, from the zip.
            let glibc = max_glibc_of(&bootstrap_in_zip(&zip)?)?;
            if glibc > MAX_GLIBC {
                return Err(format!(
                    "{} needs glibc {}.{}, newer than {}.{}",
                    zip.display(),
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
    let lambda_dir = root.join(if packaged_arch == "x86_64" {
        "target/lambda"
    } else {
        "target/lambda-arm64"
    });
    for app in [&PRODUCT, &HUB] {
        let out = root.join(app.out);
        if !app.functions.iter().all(|f| functions.contains(f)) {
            eprintln!(
                "{}/ not written: it needs {} (run without function names)",
                app.out,
                if app.functions.len() == 1 {
                    app.functions[0]
                } else {
                    "every function"
                }
            );
            continue;
        }
        let template = write_application(&root, app, &lambda_dir, packaged_arch, &out)?;
        println!(
            "{} application ({packaged_arch}): {}\n  publish: cd {} && sam package --s3-bucket <bucket> --output-template-file packaged.yaml && sam publish --template packaged.yaml",
            app.name,
            template.display(),
            out.display()
        );
        if app.name == PRODUCT.name {
            let stackset = write_stackset_template(&template, &out)?;
            println!(
                "StackSets template: {}\n  upload functions/<function>/bootstrap.zip to s3://<bucket-in-each-region>/toilkit/<version>/<function>/bootstrap.zip (see README, \"Deploy to an organization\")",
                stackset.display()
            );
        }
    }
    Ok(())
}

/// Whether the architecture to package is one this machine builds: a
/// skipped one would leave the application carrying whatever an earlier
/// build left in its folder.
fn can_package(arch: &str, installed: &[String]) -> Result {
    match ARCHES.iter().find(|a| a.name == arch) {
        Some(a) if a.name == "x86_64" || installed.iter().any(|t| t == a.triple) => Ok(()),
        Some(a) => Err(format!(
            "--arch {arch} needs Rust target {} (rustup target add {})",
            a.triple, a.triple
        )
        .into()),
        None => Err(format!("no architecture {arch}").into()),
    }
}

/// Writes the application folder `out`: `template.yaml` with each
/// function's `CodeUri` pointing at its built zip (copied to
/// `functions/<name>/bootstrap.zip`), the state machine definitions inlined,
/// the files the template names (LICENSE, README.md), and the architecture of
/// the zips. `sam package` uploads each of them and rewrites the template with
/// their S3 locations; `sam publish` takes that result as it is.
pub fn write_application(
    root: &Path,
    app: &Application,
    lambda_dir: &Path,
    arch: &str,
    out: &Path,
) -> Result<PathBuf> {
    let source_path = root.join(app.template);
    // What the template names is relative to the template's own folder.
    let template_dir = source_path.parent().unwrap_or(root);
    let template = application_template(root, app, arch)?;
    if out.exists() {
        std::fs::remove_dir_all(out)?;
    }
    std::fs::create_dir_all(out.join("functions"))?;
    for function in app.functions {
        let zip = lambda_dir.join(function).join("bootstrap.zip");
        let dest = out.join("functions").join(function);
        std::fs::create_dir_all(&dest)?;
        std::fs::copy(&zip, dest.join("bootstrap.zip"))
            .map_err(|e| format!("{}: {e} (build it first)", zip.display()))?;
    }
    for (_, named, file) in app.files {
        std::fs::copy(template_dir.join(named), out.join(file))
            .map_err(|e| format!("{named}: {e}"))?;
    }
    let path = out.join("template.yaml");
    std::fs::write(&path, template)?;
    Ok(path)
}

/// The template an application folder holds for `arch`, from the source
/// template under `root` as it is now.
pub fn application_template(root: &Path, app: &Application, arch: &str) -> Result<String> {
    let source_path = root.join(app.template);
    let template_dir = source_path.parent().unwrap_or(root);
    let source = std::fs::read_to_string(&source_path)
        .map_err(|e| format!("{}: {e}", source_path.display()))?;
    inline_definitions(&packaged_template(&source, app, arch)?, template_dir)
}

/// Whether the application folder's template is what packaging writes from
/// the source template as it is now, for either architecture.
pub fn is_current(root: &Path, app: &Application, folder: &Path) -> Result<bool> {
    let written = std::fs::read_to_string(folder.join("template.yaml"))
        .map_err(|e| format!("{}: {e}", folder.display()))?;
    for arch in ARCHES {
        if application_template(root, app, arch.name)? == written {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The source template with every function's `CodeUri` (the workspace, for
/// `sam build`) replaced by its zip, the Globals architecture set to the
/// zips' one, and the metadata's files named as the application folder holds
/// them. Text in, text out, so the template keeps its comments and
/// short-form intrinsics; every function must be found exactly once.
pub fn packaged_template(source: &str, app: &Application, arch: &str) -> Result<String> {
    let name = app.template;
    // Which binary each resource builds (its Metadata names it).
    let mut binary_of = std::collections::HashMap::new();
    let mut resource = None;
    for line in source.lines() {
        if let Some(id) = resource_id(line) {
            resource = Some(id);
        } else if let Some(binary) = line.trim().strip_prefix("Binary: ")
            && let Some(id) = resource
        {
            binary_of.insert(id, binary.trim());
        }
    }
    let code_uri = format!("CodeUri: {}", app.code_uri);
    let mut replaced = Vec::new();
    let mut architectures = 0;
    let mut files = vec![0; app.files.len()];
    let mut out = String::with_capacity(source.len());
    let mut resource = None;
    for line in source.lines() {
        if let Some(id) = resource_id(line) {
            resource = Some(id);
        }
        let indent = &line[..line.len() - line.trim_start().len()];
        let file = app
            .files
            .iter()
            .position(|(key, named, _)| line.trim() == format!("{key}: {named}"));
        if line.trim() == code_uri {
            let binary = resource.and_then(|id| binary_of.get(id)).ok_or_else(|| {
                format!("CodeUri of {resource:?} names no BuildProperties.Binary")
            })?;
            if !app.functions.contains(binary) {
                return Err(format!("{binary} is not a function of {}", app.name).into());
            }
            replaced.push(*binary);
            out.push_str(&format!(
                "{indent}CodeUri: functions/{binary}/bootstrap.zip\n"
            ));
        } else if line.trim() == "Architectures: [x86_64]" {
            architectures += 1;
            out.push_str(&format!("{indent}Architectures: [{arch}]\n"));
        } else if let Some(i) = file {
            files[i] += 1;
            let (key, _, file) = app.files[i];
            out.push_str(&format!("{indent}{key}: {file}\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    replaced.sort_unstable();
    let mut expected = app.functions.to_vec();
    expected.sort_unstable();
    if replaced != expected {
        return Err(format!(
            "{name}: expected one `{code_uri}` for each of {expected:?}, found {replaced:?}"
        )
        .into());
    }
    if architectures != 1 {
        return Err(format!("{name}: expected `Architectures: [x86_64]` once, in Globals").into());
    }
    for ((key, named, _), found) in app.files.iter().zip(files) {
        if found != 1 {
            return Err(format!("{name}: expected `{key}: {named}` once, found {found}").into());
        }
    }
    Ok(out)
}

/// Writes `stackset.template.json` beside the application: the SAM
/// translation of `template` (service-managed StackSets reject transforms),
/// with each function's code read from the `CodeS3Bucket`/`CodeS3KeyPrefix`
/// parameters (see `stackset` in tools/python/template_tool.py).
pub fn write_stackset_template(template: &Path, out: &Path) -> Result<PathBuf> {
    let output = tool::run(tool::template_tool().arg("stackset").arg(template))?;
    let path = out.join("stackset.template.json");
    std::fs::write(&path, &output.stdout)?;
    Ok(path)
}

/// The template with each state machine's `DefinitionUri: <file>` replaced by
/// the definition itself (`Definition:`, JSON being YAML). `sam package`
/// would upload the file to the publisher's bucket and point `DefinitionUri`
/// there; SAR does not copy it, and a product account cannot read that bucket,
/// so the stack would roll back. `DefinitionSubstitutions` stay as they are:
/// the SAM transform applies them to an inline definition too.
pub fn inline_definitions(template: &str, root: &Path) -> Result<String> {
    let mut out = String::with_capacity(template.len());
    for line in template.lines() {
        let Some(file) = line.trim().strip_prefix("DefinitionUri: ") else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let path = root.join(file.trim());
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let definition: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let indent = &line[..line.len() - line.trim_start().len()];
        out.push_str(&format!("{indent}Definition:\n"));
        for json_line in serde_json::to_string_pretty(&definition)?.lines() {
            out.push_str(&format!("{indent}  {json_line}\n"));
        }
    }
    Ok(out)
}

/// The logical id of a resource declared on this line (two-space indent
/// under `Resources:`).
fn resource_id(line: &str) -> Option<&str> {
    let id = line.strip_prefix("  ")?.strip_suffix(':')?;
    (!id.starts_with(' ') && id.chars().all(|c| c.is_ascii_alphanumeric())).then_some(id)
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

/// The `bootstrap` executable inside a function's zip.
pub fn bootstrap_in_zip(zip: &Path) -> Result<Vec<u8>> {
    let file = std::fs::File::open(zip).map_err(|e| format!("{}: {e}", zip.display()))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| format!("{}: {e}", zip.display()))?;
    let mut entry = archive
        .by_name("bootstrap")
        .map_err(|e| format!("{}: no bootstrap inside ({e})", zip.display()))?;
    let mut data = Vec::with_capacity(entry.size() as usize);
    std::io::Read::read_to_end(&mut entry, &mut data)?;
    Ok(data)
}

/// The newest `GLIBC_x.y` version an executable's dynamic symbols need.
pub fn max_glibc_of(data: &[u8]) -> Result<(u32, u32)> {
    let file = ElfFile64::<Endianness>::parse(data)?;
    let endian = file.endian();
    let sections = file.elf_header().sections(endian, data)?;
    let mut newest = (0, 0);
    if let Some((mut needs, link)) = sections.gnu_verneed(endian, data)? {
        let strings = sections.strings(endian, data, link)?;
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
    fn an_architecture_this_machine_does_not_build_is_not_packaged() {
        let none: Vec<String> = Vec::new();
        assert!(can_package("x86_64", &none).is_ok());
        let error = can_package("arm64", &none).unwrap_err().to_string();
        assert!(
            error.contains("rustup target add aarch64-unknown-linux-gnu"),
            "{error}"
        );
        assert!(can_package("arm64", &["aarch64-unknown-linux-gnu".to_owned()]).is_ok());
    }
    use toilkit_tests::cloudformation::{call as cloudformation, xml_value};
    use toilkit_tests::workspace::require_tool;

    /// What `template_tool.py <task> <template> [<parameters>]` prints.
    fn template_tool(task: &str, template: &Path, parameters: Option<&str>) -> serde_json::Value {
        require_tool("python");
        let mut command = tool::template_tool();
        command.arg(task).arg(template).args(parameters);
        tool::json(&mut command, "")
    }

    /// The SAM transform of `template` with `parameters` (JSON).
    fn translate(template: &Path, parameters: &str) -> serde_json::Value {
        template_tool("translate", template, Some(parameters))
    }

    #[test]
    fn glibc_versions_parse() {
        assert_eq!(parse_glibc(b"GLIBC_2.34"), Some((2, 34)));
        assert_eq!(parse_glibc(b"GLIBC_2.2.5"), Some((2, 2)));
        assert_eq!(parse_glibc(b"GLIBC_PRIVATE"), None);
    }

    #[test]
    fn the_packaged_template_points_every_function_at_its_zip() {
        let source = std::fs::read_to_string(root().join("template.yaml")).unwrap();
        let packaged = packaged_template(&source, &PRODUCT, "arm64").unwrap();
        for function in FUNCTIONS {
            let line = format!("CodeUri: functions/{function}/bootstrap.zip");
            assert_eq!(packaged.matches(&line).count(), 1, "{line}");
        }
        assert!(!packaged.contains("CodeUri: .\n"));
        assert!(packaged.contains("Architectures: [arm64]"));
        // Only the architecture: a setting's default may name x86_64 (the
        // public AL2023 parameter patch-waves reads).
        assert!(!packaged.contains("Architectures: [x86_64]"));
        // Nothing else changed.
        assert_eq!(packaged.lines().count(), source.lines().count());
    }

    #[test]
    fn a_template_missing_a_function_is_refused() {
        let source = std::fs::read_to_string(root().join("template.yaml")).unwrap();
        let broken = source.replacen("Binary: log-retention", "Binary: something-else", 1);
        let error = packaged_template(&broken, &PRODUCT, "x86_64")
            .unwrap_err()
            .to_string();
        assert!(error.contains("something-else"), "{error}");
    }

    #[test]
    fn the_packaged_hub_template_points_its_function_at_its_zip() {
        let source = std::fs::read_to_string(root().join(HUB.template)).unwrap();
        let packaged = packaged_template(&source, &HUB, "arm64").unwrap();
        for function in HUB_FUNCTIONS {
            let line = format!("CodeUri: functions/{function}/bootstrap.zip");
            assert_eq!(packaged.matches(&line).count(), 1, "{line}");
        }
        assert!(!packaged.contains("CodeUri: ../.."));
        assert!(packaged.contains("Architectures: [arm64]"));
        assert!(!packaged.contains("Architectures: [x86_64]"));
        // `sam package` resolves them in the application folder, which holds
        // no `../..`.
        assert!(packaged.contains("\n    LicenseUrl: LICENSE\n"));
        assert!(packaged.contains("\n    ReadmeUrl: README.md\n"));
        assert!(
            !packaged.contains("../"),
            "nothing points outside the folder"
        );
        assert_eq!(packaged.lines().count(), source.lines().count());
        let parsed: serde_json::Value = {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("template.yaml");
            std::fs::write(&path, &packaged).unwrap();
            template_tool("decode", &path, None)
        };
        for function in registry::HUB_FUNCTIONS {
            assert_eq!(
                parsed["Resources"][format!("{}Function", function.stem)]["Properties"]["CodeUri"],
                format!("functions/{}/bootstrap.zip", function.name)
            );
        }
    }

    #[test]
    fn the_product_template_keeps_its_metadata_urls() {
        let source = std::fs::read_to_string(root().join(PRODUCT.template)).unwrap();
        let packaged = packaged_template(&source, &PRODUCT, "x86_64").unwrap();
        // Only the CodeUri lines differ from the source.
        let changed: Vec<_> = source
            .lines()
            .zip(packaged.lines())
            .filter(|(a, b)| a != b)
            .collect();
        assert_eq!(changed.len(), FUNCTIONS.len(), "{changed:?}");
        assert!(changed.iter().all(|(a, _)| a.trim() == "CodeUri: ."));
    }

    #[test]
    fn a_hub_template_naming_a_product_function_is_refused() {
        let source = std::fs::read_to_string(root().join(HUB.template)).unwrap();
        let broken = source.replacen("Binary: hub-collector", "Binary: log-retention", 1);
        let error = packaged_template(&broken, &HUB, "x86_64")
            .unwrap_err()
            .to_string();
        assert!(error.contains("log-retention"), "{error}");
    }

    /// The hub's folder holds its zip, LICENSE and the collector's README,
    /// and its template lints.
    #[test]
    fn the_hub_application_folder_is_complete() {
        let root = root();
        let lambda = tempfile::tempdir().unwrap();
        for function in HUB_FUNCTIONS {
            std::fs::create_dir_all(lambda.path().join(function)).unwrap();
            std::fs::write(lambda.path().join(function).join("bootstrap.zip"), function).unwrap();
        }
        let out = tempfile::tempdir().unwrap();
        let app = out.path().join("sam-hub");
        let template = write_application(&root, &HUB, lambda.path(), "x86_64", &app).unwrap();
        for function in HUB_FUNCTIONS {
            let zip = app.join("functions").join(function).join("bootstrap.zip");
            assert_eq!(std::fs::read_to_string(zip).unwrap(), function);
        }
        assert_eq!(
            std::fs::read(app.join("LICENSE")).unwrap(),
            std::fs::read(root.join("LICENSE")).unwrap()
        );
        assert_eq!(
            std::fs::read(app.join("README.md")).unwrap(),
            std::fs::read(root.join("functions/hub-collector/README.md")).unwrap()
        );
        tool::succeed(Command::new(require_tool("cfn-lint")).arg(&template));
    }

    /// The application folder `cargo xtask package` writes, from zips that
    /// hold only their function's name; the folders live as long as the
    /// returned guards.
    fn fake_application(root: &Path) -> ((tempfile::TempDir, tempfile::TempDir), PathBuf, PathBuf) {
        let lambda = tempfile::tempdir().unwrap();
        for function in FUNCTIONS {
            std::fs::create_dir_all(lambda.path().join(function)).unwrap();
            std::fs::write(lambda.path().join(function).join("bootstrap.zip"), function).unwrap();
        }
        let out = tempfile::tempdir().unwrap();
        let app = out.path().join("sam");
        let template = write_application(root, &PRODUCT, lambda.path(), "x86_64", &app).unwrap();
        ((lambda, out), app, template)
    }

    /// The folder `sam package` takes: every file the template names is in
    /// it, and the template still lints and transforms.
    #[test]
    fn the_application_folder_is_complete_and_transforms() {
        let root = root();
        let (_dirs, app, template) = fake_application(&root);
        let text = std::fs::read_to_string(&template).unwrap();
        for function in FUNCTIONS {
            let zip = app.join("functions").join(function).join("bootstrap.zip");
            assert_eq!(std::fs::read_to_string(zip).unwrap(), *function);
        }
        for named in ["LICENSE", "README.md"] {
            assert!(
                app.join(named).is_file(),
                "{named} is in the application folder"
            );
            assert!(
                text.contains(named.rsplit('/').next().unwrap()),
                "the template names {named}"
            );
        }
        // The tools are the project's own (`cargo xtask setup`); a missing
        // one is a failure, never a silent pass.
        tool::succeed(Command::new(require_tool("cfn-lint")).arg(&template));
        let out = translate(&template, "{}");
        assert_eq!(
            out["Resources"]["LogRetentionFunction"]["Type"],
            "AWS::Lambda::Function"
        );
    }

    /// The StackSets template from the application folder: no transform,
    /// no SAM resource, code from the parameters, lints clean.
    #[test]
    fn the_stackset_template_has_no_transform_and_lints() {
        let root = root();
        let (_dirs, app, template) = fake_application(&root);
        let path = write_stackset_template(&template, &app).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let t: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(t.get("Transform").is_none());
        for (id, r) in t["Resources"].as_object().unwrap() {
            let kind = r["Type"].as_str().unwrap();
            assert!(!kind.starts_with("AWS::Serverless::"), "{id} is {kind}");
            if kind == "AWS::Lambda::Function" {
                assert_eq!(
                    r["Properties"]["Code"]["S3Bucket"],
                    serde_json::json!({"Ref": "CodeS3Bucket"}),
                    "{id}"
                );
            }
        }
        tool::succeed(Command::new(require_tool("cfn-lint")).arg(&path));
    }

    /// What SAR receives names no file of the publisher's bucket but the
    /// code: the state machine's definition is inline, with its
    /// substitutions, and the transform turns it into the machine.
    #[test]
    fn the_packaged_template_carries_the_state_machine_definition_inline() {
        let root = root();
        let source = std::fs::read_to_string(root.join("template.yaml")).unwrap();
        let packaged = inline_definitions(
            &packaged_template(&source, &PRODUCT, "x86_64").unwrap(),
            &root,
        )
        .unwrap();
        assert!(
            !packaged.contains("DefinitionUri"),
            "a DefinitionUri would point into the publisher's bucket after `sam package`"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("template.yaml");
        std::fs::write(&path, &packaged).unwrap();
        let out = translate(&path, r#"{"EnableMaintenanceSwitch": "true"}"#);
        let machine = &out["Resources"]["MaintenanceWindowStateMachine"]["Properties"];
        assert!(machine["DefinitionS3Location"].is_null(), "{machine}");
        let definition = serde_json::to_string(&machine["DefinitionString"]).unwrap();
        let file = std::fs::read_to_string(root.join("statemachines/maintenance-window.asl.json"))
            .unwrap();
        let asl: serde_json::Value = serde_json::from_str(&file).unwrap();
        for state in asl["States"].as_object().unwrap().keys() {
            assert!(
                definition.contains(state.as_str()),
                "state {state} is inline"
            );
        }
        assert!(definition.contains("${MaintenanceSwitchFunctionArn}"));
        assert_eq!(
            machine["DefinitionSubstitutions"]["MaintenanceSwitchFunctionArn"],
            serde_json::json!({"Fn::GetAtt": ["MaintenanceSwitchFunction", "Arn"]})
        );
    }

    /// What SAR receives, as `sam package` leaves it (code in the
    /// publisher's bucket), creates in CloudFormation with every function
    /// on, and the state machine comes from the inline definition rather
    /// than a file of that bucket, which a consumer account cannot read.
    #[tokio::test(flavor = "multi_thread")]
    async fn the_packaged_template_creates_with_every_function_on() {
        let root = root();
        let source = std::fs::read_to_string(root.join("template.yaml")).unwrap();
        let packaged = inline_definitions(
            &packaged_template(&source, &PRODUCT, "x86_64").unwrap(),
            &root,
        )
        .unwrap();
        // `sam package`: every local file the resources name (a function's
        // CodeUri, a state machine's DefinitionUri) uploaded to the
        // publisher's bucket and replaced by its S3 location.
        let publisher = "toilkit-publisher-artifacts";
        let uploaded = packaged
            .replace(
                "CodeUri: functions/",
                &format!("CodeUri: s3://{publisher}/functions/"),
            )
            .replace(
                "DefinitionUri: ",
                &format!("DefinitionUri: s3://{publisher}/"),
            );
        assert_eq!(
            uploaded.matches(&format!("s3://{publisher}/")).count(),
            FUNCTIONS.len(),
            "only the functions' zips go to the publisher's bucket (a consumer account cannot read it):\n{}",
            uploaded
                .lines()
                .filter(|l| l.contains(publisher))
                .collect::<Vec<_>>()
                .join("\n")
        );

        let moto = toilkit_tests::Moto::dedicated();
        let config = moto.sdk_config().await;
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&config)
                .force_path_style(true)
                .build(),
        );
        s3.create_bucket().bucket(publisher).send().await.unwrap();
        for function in FUNCTIONS {
            s3.put_object()
                .bucket(publisher)
                .key(format!("functions/{function}/bootstrap.zip"))
                .body(b"bootstrap".to_vec().into())
                .send()
                .await
                .unwrap();
        }

        // Every switch on, and what the switches then require.
        let decoded: serde_json::Value = {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("template.yaml");
            std::fs::write(&path, &uploaded).unwrap();
            template_tool("decode", &path, None)
        };
        let mut parameters = serde_json::Map::new();
        for name in decoded["Parameters"].as_object().unwrap().keys() {
            if name.starts_with("Enable")
                && decoded["Parameters"][name]["AllowedValues"]
                    == serde_json::json!(["true", "false"])
            {
                parameters.insert(name.clone(), "true".into());
            }
        }
        assert!(
            parameters.len() >= FUNCTIONS.len(),
            "an Enable* switch per function: {parameters:?}"
        );
        for (name, value) in [
            ("SlackWebhookParameter", "/toilkit/slack-webhook"),
            ("MaintenanceLoadBalancerNames", "shop-*"),
            (
                "WafIpSetV4Arn",
                "arn:aws:wafv2:us-east-1:123456789012:regional/ipset/blocked-v4/a1b2c3d4",
            ),
        ] {
            parameters.insert(name.into(), value.into());
        }
        let parameters = serde_json::Value::Object(parameters);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("template.yaml");
        std::fs::write(&path, &uploaded).unwrap();
        let out = translate(&path, &parameters.to_string());
        let body = out.to_string();
        for (id, resource) in out["Resources"].as_object().unwrap() {
            let code = &resource["Properties"]["Code"];
            if resource["Type"] == "AWS::Lambda::Function" {
                assert_eq!(
                    code["S3Bucket"], publisher,
                    "{id}: code from the uploaded zip"
                );
            }
        }
        assert!(
            !body.contains("DefinitionS3Location"),
            "no state machine definition is read from a bucket"
        );
        let machine = &out["Resources"]["MaintenanceWindowStateMachine"];
        assert_eq!(
            machine["Type"], "AWS::StepFunctions::StateMachine",
            "the packaged template has the maintenance window state machine"
        );
        assert!(
            machine["Properties"]["DefinitionString"].is_object()
                || machine["Properties"]["DefinitionString"].is_string(),
            "the state machine's definition is inline: {machine}"
        );

        let stack = "toilkit-from-sar";
        let mut pairs: Vec<(String, String)> = vec![
            ("Action".into(), "CreateStack".into()),
            ("StackName".into(), stack.into()),
            ("TemplateBody".into(), body.clone()),
            ("Capabilities.member.1".into(), "CAPABILITY_IAM".into()),
        ];
        for (i, (k, v)) in parameters.as_object().unwrap().iter().enumerate() {
            pairs.push((
                format!("Parameters.member.{}.ParameterKey", i + 1),
                k.clone(),
            ));
            pairs.push((
                format!("Parameters.member.{}.ParameterValue", i + 1),
                v.as_str().unwrap().to_owned(),
            ));
        }
        let borrowed: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let (status, xml) = cloudformation(moto.endpoint(), &borrowed);
        assert_eq!(status, 200, "CreateStack of the packaged template: {xml}");

        let mut described = String::new();
        for _ in 0..60 {
            described = cloudformation(
                moto.endpoint(),
                &[("Action", "DescribeStacks"), ("StackName", stack)],
            )
            .1;
            if !xml_value(&described, "StackStatus").is_some_and(|s| s.ends_with("IN_PROGRESS")) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        assert_eq!(
            xml_value(&described, "StackStatus"),
            Some("CREATE_COMPLETE"),
            "the stack of the packaged template: {described}"
        );

        let (_, listed) = cloudformation(
            moto.endpoint(),
            &[("Action", "ListStackResources"), ("StackName", stack)],
        );
        let resources: Vec<(&str, &str, &str)> = listed
            .split("<member>")
            .skip(1)
            .filter_map(|m| {
                Some((
                    xml_value(m, "LogicalResourceId")?,
                    xml_value(m, "ResourceType")?,
                    xml_value(m, "PhysicalResourceId").unwrap_or_default(),
                ))
            })
            .collect();
        let functions: Vec<&str> = resources
            .iter()
            .filter(|(_, kind, _)| *kind == "AWS::Lambda::Function")
            .map(|(id, _, _)| *id)
            .collect();
        assert_eq!(
            functions.len(),
            FUNCTIONS.len(),
            "one Lambda function per toilkit function was created: {functions:?}"
        );
        let machine_arn = resources
            .iter()
            .find(|(id, _, _)| *id == "MaintenanceWindowStateMachine")
            .map(|(_, _, arn)| *arn)
            .unwrap_or_else(|| panic!("the state machine was created: {listed}"));
        let sfn = aws_sdk_sfn::Client::new(&config);
        let created = sfn
            .describe_state_machine()
            .state_machine_arn(machine_arn)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{machine_arn}: {e:?}"));
        let definition: serde_json::Value = serde_json::from_str(created.definition()).unwrap();
        let file = std::fs::read_to_string(root.join("statemachines/maintenance-window.asl.json"))
            .unwrap();
        let asl: serde_json::Value = serde_json::from_str(&file).unwrap();
        let states = |v: &serde_json::Value| {
            v["States"]
                .as_object()
                .map(|s| s.keys().cloned().collect::<std::collections::BTreeSet<_>>())
        };
        assert_eq!(
            states(&definition),
            states(&asl),
            "the created machine has the states of statemachines/maintenance-window.asl.json"
        );
        // moto does not apply DefinitionSubstitutions (CloudFormation does):
        // what they name must be in the stack.
        assert_eq!(
            machine["Properties"]["DefinitionSubstitutions"]["MaintenanceSwitchFunctionArn"],
            serde_json::json!({"Fn::GetAtt": ["MaintenanceSwitchFunction", "Arn"]}),
            "the definition invokes the stack's maintenance-switch function"
        );
        assert!(
            functions.contains(&"MaintenanceSwitchFunction"),
            "the function the state machine invokes was created: {functions:?}"
        );
    }

    #[test]
    fn the_glibc_check_reads_the_bootstrap_inside_the_zip() {
        let exe = std::env::current_exe().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let zip_path = dir.path().join("bootstrap.zip");
        let mut writer = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
        writer
            .start_file("bootstrap", zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut writer, &std::fs::read(&exe).unwrap()).unwrap();
        writer.finish().unwrap();
        let from_zip = max_glibc_of(&bootstrap_in_zip(&zip_path).unwrap()).unwrap();
        assert_eq!(
            from_zip,
            max_glibc_of(&std::fs::read(&exe).unwrap()).unwrap()
        );
    }

    #[test]
    fn this_machine_binary_reports_a_glibc_version() {
        let exe = std::env::current_exe().unwrap();
        let (major, minor) = max_glibc_of(&std::fs::read(&exe).unwrap()).unwrap();
        assert_eq!(major, 2);
        assert!(minor >= 2);
    }
}
