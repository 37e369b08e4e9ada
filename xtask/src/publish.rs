//! `cargo xtask publish --regions eu-west-1,us-east-1 --bucket-prefix toilkit-sar-111122223333 [--app toilkit|toilkit-hub]`:
//! publishes the application folders that `cargo xtask package` wrote
//! (`target/sam/`, the product, and `target/sam-hub/`, toilkit-hub; `--app`
//! picks one) as one version each to the Serverless Application Repository
//! of each Region, and prints each application ARN.
//!
//! A SAR application is regional and reads its code from a bucket of its own
//! Region, so each Region has its bucket, `<bucket-prefix>-<region>`, with the
//! policy of the README's step 2. `sam` must be on PATH, with credentials of
//! the publishing account.

use std::process::Command;

use crate::Result;
use crate::cmd::{describe, root};
use crate::package::{Application, HUB, PRODUCT};

/// The applications `cargo xtask package` writes, in the order they are
/// published: the product first, as the hub's README points at it.
const APPLICATIONS: [&Application; 2] = [&PRODUCT, &HUB];

/// What to publish where.
#[derive(Debug)]
pub struct Publish {
    pub regions: Vec<String>,
    pub bucket_prefix: String,
    pub apps: Vec<&'static Application>,
}

impl Publish {
    pub fn parse(args: &[String]) -> Result<Self> {
        let mut regions = Vec::new();
        let mut bucket_prefix = None;
        let mut apps: Vec<&'static Application> = Vec::new();
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            match arg.as_str() {
                "--regions" => {
                    let list = rest
                        .next()
                        .ok_or("--regions takes a list, e.g. eu-west-1,us-east-1")?;
                    regions.extend(
                        list.split(',')
                            .map(str::trim)
                            .filter(|r| !r.is_empty())
                            .map(str::to_owned),
                    );
                }
                "--bucket-prefix" => {
                    bucket_prefix = Some(
                        rest.next()
                            .ok_or("--bucket-prefix takes a bucket name prefix")?
                            .clone(),
                    );
                }
                "--app" => {
                    let name = rest.next().map_or("nothing", String::as_str);
                    let app = APPLICATIONS
                        .into_iter()
                        .find(|a| a.name == name)
                        .ok_or_else(|| {
                            format!("--app takes toilkit or toilkit-hub, not {name:?}")
                        })?;
                    apps.push(app);
                }
                other => return Err(format!("unknown argument {other:?}").into()),
            }
        }
        if regions.is_empty() {
            return Err("--regions is required, e.g. --regions eu-west-1,us-east-1".into());
        }
        for region in &regions {
            let valid = region.split('-').count() >= 3
                && region
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && region.ends_with(|c: char| c.is_ascii_digit());
            if !valid {
                return Err(format!("{region:?} is not a Region name such as eu-west-1").into());
            }
        }
        let bucket_prefix = bucket_prefix
            .ok_or("--bucket-prefix is required (each Region uses <prefix>-<region>)")?;
        // In APPLICATIONS' order, each once, whatever order they were named in.
        let apps = APPLICATIONS
            .into_iter()
            .filter(|a| apps.is_empty() || apps.iter().any(|n| n.name == a.name))
            .collect();
        Ok(Self {
            regions,
            bucket_prefix,
            apps,
        })
    }

    pub fn bucket(&self, region: &str) -> String {
        format!("{}-{region}", self.bucket_prefix)
    }
}

/// The application ARN that `sam publish` prints for `region`.
pub fn application_arn(output: &str, region: &str) -> Option<String> {
    let marker = format!(":serverlessrepo:{region}:");
    output.split_whitespace().find_map(|word| {
        let word = word.trim_matches(|c: char| !(c.is_ascii_alphanumeric() || ":/-_".contains(c)));
        (word.starts_with("arn:aws") && word.contains(&marker) && word.contains(":applications/"))
            .then(|| word.to_owned())
    })
}

pub fn run(args: &[String]) -> Result {
    let publish = Publish::parse(args)?;
    // Every folder is checked before anything is uploaded: a missing hub
    // must not leave the product published in some Regions and not others.
    for app in &publish.apps {
        check_folder(&root(), app, &root().join(app.out))?;
    }
    let mut published = Vec::new();
    let mut outcome = Ok(());
    'apps: for app in &publish.apps {
        for region in &publish.regions {
            match publish_one(&root().join(app.out), &publish.bucket(region), region) {
                Ok(arn) => published.push((app.name, region.clone(), arn)),
                Err(e) => {
                    outcome = Err(format!("{} in {region}: {e}", app.name).into());
                    break 'apps;
                }
            }
        }
    }
    // What did publish is printed even when a later step failed: those
    // versions exist now, and publishing one again is refused.
    if !published.is_empty() {
        println!("published:");
        for (app, region, arn) in &published {
            println!("  {app:<12} {region:<15} {arn}");
        }
    }
    outcome
}

/// Refuses a folder that lacks a file, or whose template is not what
/// packaging writes from the source template now (a folder packaged before
/// the template changed would publish the old application).
fn check_folder(root: &std::path::Path, app: &Application, folder: &std::path::Path) -> Result {
    let missing = missing_files(folder, app);
    if !missing.is_empty() {
        return Err(format!(
            "{}/ lacks {}: run `cargo xtask package` (without function names) first",
            app.out,
            missing.join(", ")
        )
        .into());
    }
    if !crate::package::is_current(root, app, folder)? {
        return Err(format!(
            "{}/template.yaml is not what {} packages to now (packaged before it changed?): run `cargo xtask package` (without function names) again",
            app.out, app.template
        )
        .into());
    }
    Ok(())
}

/// What `sam package` needs in an application folder and does not find:
/// the template, the files its metadata names and each function's zip.
fn missing_files(folder: &std::path::Path, app: &Application) -> Vec<String> {
    let functions = app
        .functions
        .iter()
        .map(|f| format!("functions/{f}/bootstrap.zip"));
    std::iter::once("template.yaml".to_owned())
        .chain(app.files.iter().map(|(_, _, name)| (*name).to_owned()))
        .chain(functions)
        .filter(|file| !folder.join(file).is_file())
        .collect()
}

/// `sam package` then `sam publish` of one application folder in one
/// Region; the application's ARN.
fn publish_one(app: &std::path::Path, bucket: &str, region: &str) -> Result<String> {
    let packaged = format!("packaged-{region}.yaml");
    let mut package = Command::new("sam");
    package
        .args(["package", "--template-file", "template.yaml", "--s3-bucket"])
        .arg(bucket)
        .args(["--output-template-file", &packaged, "--region", region])
        .current_dir(app);
    crate::cmd::exec(package)?;
    let mut command = Command::new("sam");
    command
        .args(["publish", "--template", &packaged, "--region", region])
        .current_dir(app);
    eprintln!("$ {}", describe(&command));
    let output = command
        .output()
        .map_err(|e| format!("sam: {e} (install the AWS SAM CLI)"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprint!("{text}");
    if !output.status.success() {
        return Err(format!("sam publish in {region} failed").into());
    }
    // It did publish: listed either way, since publishing it again is refused.
    Ok(application_arn(&text, region)
        .unwrap_or_else(|| "(published; sam printed no application ARN)".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn regions_and_buckets_come_from_the_arguments() {
        let p = Publish::parse(&args(
            "--regions eu-west-1,us-east-1 --bucket-prefix toilkit-sar-111122223333",
        ))
        .unwrap();
        assert_eq!(p.regions, ["eu-west-1", "us-east-1"]);
        assert_eq!(p.bucket("us-east-1"), "toilkit-sar-111122223333-us-east-1");
    }

    fn names(p: &Publish) -> Vec<&str> {
        p.apps.iter().map(|a| a.name).collect()
    }

    #[test]
    fn a_folder_without_its_zip_or_readme_is_named_before_anything_is_uploaded() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("template.yaml"), "").unwrap();
        std::fs::write(dir.path().join("LICENSE"), "").unwrap();
        assert_eq!(
            missing_files(dir.path(), &HUB),
            ["README.md", "functions/hub-collector/bootstrap.zip"]
        );
    }

    /// A folder packaged before the template changed is refused before
    /// anything is uploaded; one packaged from the template as it is passes.
    #[test]
    fn a_folder_packaged_from_an_older_template_is_refused_before_anything_is_uploaded() {
        let dir = tempfile::tempdir().unwrap();
        for file in ["LICENSE", "README.md"] {
            std::fs::write(dir.path().join(file), "").unwrap();
        }
        let zip = dir.path().join("functions/hub-collector");
        std::fs::create_dir_all(&zip).unwrap();
        std::fs::write(zip.join("bootstrap.zip"), "").unwrap();
        let current = crate::package::application_template(&root(), &HUB, "x86_64").unwrap();
        std::fs::write(dir.path().join("template.yaml"), &current).unwrap();
        check_folder(&root(), &HUB, dir.path()).expect("a current folder passes");
        let older = current.replacen("EventBusPolicy", "EventBus", 1);
        std::fs::write(dir.path().join("template.yaml"), older).unwrap();
        let error = check_folder(&root(), &HUB, dir.path())
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("package` (without function names) again"),
            "{error}"
        );
    }

    #[test]
    fn both_applications_are_published_unless_one_is_named() {
        let both = Publish::parse(&args("--regions eu-west-1 --bucket-prefix b")).unwrap();
        assert_eq!(names(&both), ["toilkit", "toilkit-hub"]);
        assert_eq!(both.apps[1].out, "target/sam-hub");
        let hub = Publish::parse(&args(
            "--regions eu-west-1 --bucket-prefix b --app toilkit-hub",
        ))
        .unwrap();
        assert_eq!(names(&hub), ["toilkit-hub"]);
        let reversed = Publish::parse(&args(
            "--regions eu-west-1 --bucket-prefix b --app toilkit-hub --app toilkit --app toilkit",
        ))
        .unwrap();
        assert_eq!(names(&reversed), ["toilkit", "toilkit-hub"]);
        let error = Publish::parse(&args("--regions eu-west-1 --bucket-prefix b --app hub"))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("toilkit-hub") && error.contains("\"hub\""),
            "{error}"
        );
    }

    #[test]
    fn bad_arguments_are_named() {
        let error = Publish::parse(&args("--regions Europe --bucket-prefix b"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("\"Europe\""), "{error}");
        let error = Publish::parse(&args("--bucket-prefix b"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("--regions"), "{error}");
        let error = Publish::parse(&args("--regions eu-west-1"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("--bucket-prefix"), "{error}");
    }

    #[test]
    fn the_application_arn_is_read_from_sam_publish() {
        let output = "Publish Succeeded\nCreated new application with the following metadata:\n{\n  \"Name\": \"toilkit\",\n}\nClick the link below to view your application in AWS console:\nhttps://console.aws.amazon.com/serverlessrepo/home?region=eu-west-1#/published-applications/arn:aws:serverlessrepo:eu-west-1:111122223333:applications~toilkit\n\"ApplicationId\": \"arn:aws:serverlessrepo:eu-west-1:111122223333:applications/toilkit\"";
        assert_eq!(
            application_arn(output, "eu-west-1").as_deref(),
            Some("arn:aws:serverlessrepo:eu-west-1:111122223333:applications/toilkit")
        );
        assert_eq!(application_arn(output, "us-east-1"), None);
    }
}
