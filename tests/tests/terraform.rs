//! The Terraform module and examples, checked offline: formatted, checkov-clean,
//! every template parameter reachable, every constraint enforced at plan, and
//! (with the real AWS provider against moto and a SAR stand-in) a module that
//! converges: apply, plan without changes, toggles and destroy.
//!
//! terraform and the hashicorp/aws provider come from the machine (PATH and
//! /opt/tf-plugins). Without them the tests say NOT RUN and what to install;
//! under CI=true they fail instead.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};
use toilkit_tests::{not_run, tool};

use crate::distribution::*;

mod hub;
mod sar_stand_in;
use sar_stand_in::SarStandIn;

// ---------------------------------------------------------------------------
// Terraform
// ---------------------------------------------------------------------------

fn terraform_dir() -> PathBuf {
    root().join("deploy/terraform")
}

/// terraform from PATH; without it, `test` does not run.
fn terraform(test: &str) -> Option<PathBuf> {
    tool::on_path(
        test,
        "terraform",
        "install Terraform 1.11: https://developer.hashicorp.com/terraform/install",
    )
}

#[test]
fn terraform_is_formatted() {
    let Some(terraform) = terraform("terraform_is_formatted") else {
        return;
    };
    let check = tool::run(
        Command::new(terraform)
            .args(["fmt", "-check", "-recursive", "-diff"])
            .current_dir(terraform_dir())
            .env("TF_CLI_CONFIG_FILE", "/dev/null"),
    );
    if let Err(failure) = check {
        panic!("unformatted files (run `terraform fmt -recursive deploy/terraform`): {failure}");
    }
}

#[test]
fn checkov_passes_on_the_terraform_module() {
    // --soft-fail: failed checks are read from the report below, which names
    // them; an exit status would not.
    let report = tool::json(
        Command::new(tool::venv(".venv-checkov", "checkov"))
            .args(["--directory", "."])
            .args([
                "--framework",
                "terraform",
                "--skip-download",
                "--quiet",
                "--compact",
                "--soft-fail",
            ])
            .args(["--output", "json"])
            .current_dir(terraform_dir())
            .env("BC_SKIP_MAPPING", "TRUE")
            .env("CHECKOV_RUN_SCA_PACKAGE_SCAN_V2", "false"),
        "",
    );
    let summary = &report["summary"];
    let failed: Vec<String> = report["results"]["failed_checks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            format!(
                "{} {} ({}:{})",
                c["check_id"], c["resource"], c["file_path"], c["file_line_range"]
            )
        })
        .collect();
    assert!(
        failed.is_empty() && summary["failed"] == 0,
        "checkov failed checks (fix them, or skip each with `#checkov:skip=ID:why` on the resource):\n  {}",
        failed.join("\n  ")
    );
    assert!(
        summary["passed"].as_u64().unwrap_or(0) > 0,
        "checkov passed no check at all; is it reading deploy/terraform? {summary}"
    );
    // Every skip says why.
    for skipped in report["results"]["skipped_checks"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let why = skipped["check_result"]["suppress_comment"]
            .as_str()
            .unwrap_or_default();
        assert!(
            why.len() >= 10,
            "checkov skip of {} on {} has no reason",
            skipped["check_id"],
            skipped["resource"]
        );
    }
}

#[test]
fn terraform_module_parameters_exist_in_the_template() {
    // The module passes parameters by name; a typo would be rejected by SAR
    // only at deploy time. The template's parameter names are PascalCase,
    // Terraform's own arguments snake_case: every PascalCase key the module
    // assigns must be a template parameter.
    let main = std::fs::read_to_string(terraform_dir().join("modules/toilkit/main.tf"))
        .expect("deploy/terraform/modules/toilkit/main.tf");
    let parameters = template()["Parameters"].as_object().unwrap();
    let named = candidate_parameters(&main);
    for key in &named {
        assert!(
            parameters.contains_key(key),
            "the Terraform module sets {key}, which template.yaml does not declare"
        );
    }
    for (_, stem) in FUNCTIONS {
        assert!(
            named.contains(&format!("Enable{stem}")),
            "the module switches {stem} on and off"
        );
    }
    // Every setting of the template can be reached from Terraform.
    let unreachable: Vec<&String> = parameters.keys().filter(|p| !named.contains(*p)).collect();
    assert!(
        unreachable
            .iter()
            .all(|p| ["RdsAuditLogGroupName"].contains(&p.as_str())),
        "template parameters the Terraform module cannot set: {unreachable:?}"
    );
}

/// The template parameters a module's main.tf sends, by name: the
/// PascalCase keys of its `candidate_parameters` map (the rest of main.tf
/// also has upper-case keys, the variables each parameter sets; Terraform's
/// own arguments are snake_case).
fn candidate_parameters(main: &str) -> BTreeSet<String> {
    let candidates = main
        .split("candidate_parameters = {")
        .nth(1)
        .and_then(|rest| rest.split("\n  }").next())
        .expect("main.tf assigns candidate_parameters");
    candidates
        .lines()
        .filter_map(|line| line.trim().split_once('='))
        .map(|(key, _)| key.trim().to_owned())
        .filter(|key| {
            key.starts_with(|c: char| c.is_ascii_uppercase())
                && key.chars().all(|c| c.is_ascii_alphanumeric())
        })
        .collect()
}

/// A module's `template_defaults` (template_defaults.tf): each parameter's
/// default as the module compares it.
fn known_defaults(text: &str) -> BTreeMap<String, String> {
    let defaults = text
        .split("template_defaults = {")
        .nth(1)
        .and_then(|rest| rest.split("\n  }").next())
        .expect("template_defaults.tf has template_defaults");
    defaults
        .lines()
        .filter_map(|line| line.trim().split_once(" = "))
        .filter(|(key, value)| {
            key.trim().chars().all(|c| c.is_ascii_alphanumeric()) && value.starts_with('"')
        })
        .map(|(key, value)| {
            let value: String = serde_json::from_str(value).expect("a quoted default");
            (key.trim().to_owned(), value)
        })
        .collect()
}

/// A module's `template_max_lengths` (template_defaults.tf).
fn known_max_lengths(text: &str) -> BTreeMap<String, u64> {
    let block = text
        .split("template_max_lengths = {")
        .nth(1)
        .and_then(|rest| rest.split('}').next())
        .expect("template_defaults.tf has template_max_lengths");
    block
        .lines()
        .filter_map(|line| line.trim().split_once(" = "))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().parse().expect("a number")))
        .collect()
}

/// Every parameter of a template with its default, as SAR lists it.
fn template_defaults(template: &Value) -> BTreeMap<String, String> {
    template["Parameters"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, p)| (name.clone(), parameter_default(p)))
        .collect()
}

/// Every MaxLength of a template.
fn template_max_lengths(template: &Value) -> BTreeMap<String, u64> {
    template["Parameters"]
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(name, p)| Some((name.clone(), p["MaxLength"].as_u64()?)))
        .collect()
}

/// The stack outputs a module's outputs.tf reads
/// (`lookup(...outputs, "<Key>", null)`).
fn outputs_read(text: &str) -> Vec<&str> {
    text.split("outputs, \"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect()
}

/// The variables of an example (`examples/<name>`) that its
/// `terraform.tfvars.example` does not show: a team copies that file and
/// fills it in (step 2 of the README), so it shows every variable.
fn unshown_in_tfvars_example(example: &str) -> Vec<String> {
    let example = terraform_dir().join("examples").join(example);
    let tfvars = std::fs::read_to_string(example.join("terraform.tfvars.example")).unwrap();
    let variables = std::fs::read_to_string(example.join("variables.tf")).unwrap();
    let set: BTreeSet<&str> = tfvars
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim()))
        .collect();
    variables
        .lines()
        .filter_map(|l| l.strip_prefix("variable \""))
        .filter_map(|l| l.split('"').next())
        .filter(|v| !set.contains(v))
        .map(str::to_owned)
        .collect()
}

/// The provider settings that need no credentials and no network (plan
/// only), inside `provider "aws" {}`.
const OFFLINE_PROVIDER: &str = r#"  access_key                  = "offline"
  secret_key                  = "offline"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
"#;

/// An override file that makes an example's provider offline.
fn offline_override() -> String {
    format!("provider \"aws\" {{\n{OFFLINE_PROVIDER}}}\n")
}

/// An override file that points an example's provider at the emulator:
/// each service (`cloudformation`, `sts`...) at its endpoint.
fn emulator_override(endpoints: &[(&str, &str)]) -> String {
    let endpoints: String = endpoints
        .iter()
        .map(|(service, endpoint)| format!("    {service:<14} = \"{endpoint}\"\n"))
        .collect();
    format!(
        r#"provider "aws" {{
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  endpoints {{
{endpoints}  }}
}}
"#
    )
}

/// A module as a root configuration calls it.
struct Module {
    /// The module block's label.
    label: &'static str,
    /// Its folder under deploy/terraform.
    folder: &'static str,
    /// The application it deploys.
    application_id: &'static str,
}

const PRODUCT_MODULE: Module = Module {
    label: "toilkit",
    folder: "modules/toilkit",
    application_id: "arn:aws:serverlessrepo:eu-west-1:111122223333:applications/toilkit",
};

/// Where the machine keeps the AWS provider for offline `terraform init`
/// (`TOILKIT_TF_PLUGIN_MIRROR` overrides it).
fn provider_mirror() -> Option<PathBuf> {
    let mirror = std::env::var_os("TOILKIT_TF_PLUGIN_MIRROR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/tf-plugins"));
    mirror
        .join("registry.terraform.io/hashicorp/aws")
        .is_dir()
        .then_some(mirror)
}

/// A copy of `deploy/terraform` in a temporary directory (so `init` leaves
/// nothing in the repository), with a CLI config that installs the provider
/// from the local mirror only.
struct TerraformSandbox {
    dir: tempfile::TempDir,
    terraform: PathBuf,
}

impl TerraformSandbox {
    fn new(test: &str) -> Option<Self> {
        let terraform = terraform(test)?;
        let Some(mirror) = provider_mirror() else {
            not_run(
                test,
                "no offline copy of the hashicorp/aws provider (install it with \
                 `terraform providers mirror /opt/tf-plugins` in a root requiring hashicorp/aws 5.100.0, \
                 or point TOILKIT_TF_PLUGIN_MIRROR at such a mirror)",
            );
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        copy_tree(&terraform_dir(), &dir.path().join("terraform"));
        std::fs::write(
            dir.path().join("cli.tfrc"),
            format!(
                "provider_installation {{\n  filesystem_mirror {{\n    path = \"{}\"\n    include = [\"registry.terraform.io/hashicorp/*\"]\n  }}\n  direct {{\n    exclude = [\"registry.terraform.io/hashicorp/*\"]\n  }}\n}}\n",
                mirror.display()
            ),
        )
        .unwrap();
        Some(Self { dir, terraform })
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join("terraform").join(relative)
    }

    /// `terraform <args>` in `folder`, offline.
    fn command(&self, folder: &str, args: &[&str]) -> Command {
        let mut command = Command::new(&self.terraform);
        command
            .args(args)
            .arg("-no-color")
            .current_dir(self.path(folder))
            .env("TF_CLI_CONFIG_FILE", self.dir.path().join("cli.tfrc"))
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1");
        command
    }

    /// Runs it, successful or not.
    fn run(&self, folder: &str, args: &[&str]) -> std::process::Output {
        self.command(folder, args)
            .output()
            .expect("terraform starts")
    }

    /// Runs it; it must succeed. Its standard output.
    fn ok(&self, folder: &str, args: &[&str]) -> String {
        let output = tool::succeed(&mut self.command(folder, args));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// A root configuration calling `module` with `module_arguments`, with a
    /// provider that needs no credentials and no network (plan only),
    /// initialised.
    fn root_calling(&self, folder: &str, module: &Module, module_arguments: &str) {
        let dir = self.path(folder);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("main.tf"),
            format!(
                r#"provider "aws" {{
  region                      = "eu-west-1"
{OFFLINE_PROVIDER}}}

module "{label}" {{
  source           = "../{source}"
  application_id   = "{application_id}"
  semantic_version = "0.1.0"
{module_arguments}
}}
"#,
                label = module.label,
                source = module.folder,
                application_id = module.application_id,
            ),
        )
        .unwrap();
        self.ok(folder, &["init", "-backend=false", "-input=false"]);
    }

    /// A root configuration calling the product module.
    fn root_calling_module(&self, folder: &str, module_arguments: &str) {
        self.root_calling(folder, &PRODUCT_MODULE, module_arguments);
    }
}

#[test]
fn the_example_root_configuration_is_valid() {
    let Some(sandbox) = TerraformSandbox::new("the_example_root_configuration_is_valid") else {
        return;
    };
    sandbox.ok(
        "examples/product-account",
        &["init", "-backend=false", "-input=false"],
    );
    sandbox.ok("examples/product-account", &["validate"]);
}

#[test]
fn the_module_passes_parameters_the_template_accepts() {
    let Some(sandbox) = TerraformSandbox::new("the_module_passes_parameters_the_template_accepts")
    else {
        return;
    };
    sandbox.root_calling_module(
        "plan-root",
        r#"
  name            = "shop"
  slack_webhook   = { parameter = "/toilkit/slack-webhook" }
  alarm_topic_arn = "arn:aws:sns:eu-west-1:444455556666:oncall"
  waf_ip_blocker = {
    enabled          = true
    ipset_v4_arn     = "arn:aws:wafv2:eu-west-1:444455556666:regional/ipset/blocked-v4/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"
    log_bucket_name  = "aws-waf-logs-shop-444455556666"
    log_key_prefix   = "AWSLogs/"
    threshold        = 300
    count_actions    = ["BLOCK", "COUNT"]
    uri_rules        = [{ path = "/login", threshold = 20 }, { path = "/static/*", ignore = true }]
    allow_cidrs      = ["203.0.113.0/24", "2001:db8::/32"]
    client_ip_header = "X-Forwarded-For"
    dry_run          = true
  }
  rds_audit_notifier = {
    enabled         = true
    log_group_names = ["/aws/rds/cluster/shop-prod/audit"]
    alert_on        = ["ddl", "account"]
    ignore_users    = ["rdsadmin", "monitor"]
  }
  maintenance_switch = {
    enabled             = true
    load_balancer_names = "shop-*"
    default_status_code = 503
  }
  config_triage = {
    enabled        = true
    severity_rules = [{ rule = "*-public-*", severity = "critical" }]
    exemptions     = [{ tag = { key = "toilkit:exempt" }, reason = "reviewed" }, { rule = "s3-*", expires = "2026-12-31" }]
    routes              = { payments = "toilkit/routes/payments-webhook" }
    route_secret_prefix = "toilkit/routes/"
    renotify_hours = 12
  }
  access_denied_triage = {
    enabled              = true
    trail_log_group_name = "aws-cloudtrail-logs-org"
    rules                = [{ principal = "ci-*", action = "ec2:Describe*", reason = "CI probes regions", expires = "2026-12-31" }]
    own_cidrs            = ["203.0.113.0/24"]
    recon_threshold      = 20
  }
  patch_waves = {
    enabled             = true
    report_schedule     = "cron(0 7 ? * MON-FRI *)"
    scan_stale_days     = 14
    routes              = { payments = "toilkit/routes/payments-webhook" }
    route_secret_prefix = "toilkit/routes/"
  }
  log_retention = {
    enabled                 = true
    retention_days          = 30
    rules                   = [{ prefix = "/aws/lambda/", days = 14 }, { prefix = "/audit/", keep = true }]
    delete_empty_after_days = 90
    s3_prune                = [{ bucket = "app-logs-a", prefix = "app/", days = 90 }, { bucket = "app-logs-b", days = 30 }, { bucket = "app-logs-a", prefix = "web/", days = 7 }]
    regions                 = ["eu-west-1", "us-east-1"]
  }
"#,
    );
    sandbox.ok(
        "plan-root",
        &[
            "plan",
            "-refresh=false",
            "-input=false",
            "-lock=false",
            "-out=plan.bin",
        ],
    );
    let plan: Value =
        serde_json::from_str(&sandbox.ok("plan-root", &["show", "-json", "plan.bin"]))
            .expect("terraform show -json");
    let changes = plan["resource_changes"].as_array().unwrap();
    let stack = changes
        .iter()
        .find(|c| c["type"] == "aws_serverlessapplicationrepository_cloudformation_stack")
        .expect("the module deploys the application")["change"]["after"]
        .clone();
    assert_eq!(stack["name"], "shop");
    assert_eq!(stack["semantic_version"], "0.1.0");
    let capabilities: BTreeSet<&str> = stack["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        capabilities,
        BTreeSet::from(["CAPABILITY_IAM", "CAPABILITY_RESOURCE_POLICY"]),
        "roles without custom names and resource policies, nothing more"
    );
    let parameters = stack["parameters"].as_object().expect("planned parameters");
    let declared = template()["Parameters"].as_object().unwrap();
    for (name, value) in parameters {
        let parameter = declared.get(name).unwrap_or_else(|| {
            panic!("the module sets {name}, which template.yaml does not declare")
        });
        let value = value.as_str().expect("SAR parameters are strings");
        if let Err(why) = accepts(parameter, value) {
            panic!("the module sets {name} = {value:?}, which the template rejects: {why}");
        }
    }
    for (_, stem) in FUNCTIONS {
        assert_eq!(parameters[&format!("Enable{stem}")], "true");
    }
    // A parameter equal to its default is left out: the provider reads the
    // stack back without it, and would plan a change after every apply.
    for (name, value) in parameters {
        let default = parameter_default(&declared[name]);
        assert_ne!(
            value.as_str(),
            Some(default.as_str()),
            "{name} is sent with its default value"
        );
    }
    // Settings arrive in the shapes the functions parse.
    assert_eq!(parameters["NamePrefix"], "shop");
    assert_eq!(parameters["AccessDeniedTriageOwnCidrs"], "203.0.113.0/24");
    assert_eq!(parameters["AccessDeniedTriageReconThreshold"], "20");
    assert_eq!(parameters["PatchWavesScanStaleDays"], "14");
    assert_eq!(
        parameters["PatchWavesReportSchedule"],
        "cron(0 7 ? * MON-FRI *)"
    );
    assert_eq!(
        parameters["AccessDeniedTriageRules"],
        r#"[{"action":"ec2:Describe*","expires":"2026-12-31","principal":"ci-*","reason":"CI probes regions"}]"#
    );
    assert_eq!(parameters["WafCountActions"], "BLOCK,COUNT");
    assert_eq!(parameters["WafAllowCidrs"], "203.0.113.0/24,2001:db8::/32");
    assert_eq!(parameters["WafThreshold"], "300");
    assert_eq!(parameters["WafDryRun"], "true");
    let uri_rules: Value =
        serde_json::from_str(parameters["WafUriRules"].as_str().unwrap()).unwrap();
    assert_eq!(
        uri_rules,
        json!([{"path": "/login", "threshold": 20}, {"path": "/static/*", "ignore": true}]),
        "JSON settings carry no null attributes"
    );
    let rules: Value =
        serde_json::from_str(parameters["LogRetentionRules"].as_str().unwrap()).unwrap();
    assert_eq!(
        rules,
        json!([{"prefix": "/aws/lambda/", "days": 14}, {"prefix": "/audit/", "keep": true}])
    );
    assert_eq!(
        parameters["LogRetentionPruneBuckets"], "app-logs-a,app-logs-b",
        "the function may prune exactly the buckets of s3_prune"
    );
    assert_eq!(parameters["LogRetentionRegions"], "eu-west-1,us-east-1");
    assert_eq!(parameters["RdsIgnoreUsers"], "rdsadmin,monitor");
    // An unset setting is left to the template's default, not passed as "".
    assert!(!parameters.contains_key("WafWindowSeconds"));
    assert!(!parameters.contains_key("ResultEventBus"));
    // One subscription filter per RDS log group.
    let filters: Vec<&Value> = changes
        .iter()
        .filter(|c| c["type"] == "aws_cloudwatch_log_subscription_filter")
        .collect();
    assert_eq!(filters.len(), 1);
    assert_eq!(
        filters[0]["change"]["after"]["log_group_name"],
        "/aws/rds/cluster/shop-prod/audit"
    );
}

#[test]
fn the_module_rejects_bad_settings_before_anything_is_deployed() {
    let Some(sandbox) =
        TerraformSandbox::new("the_module_rejects_bad_settings_before_anything_is_deployed")
    else {
        return;
    };
    sandbox.root_calling_module(
        "bad-root",
        r#"
  log_retention  = { enabled = true, retention_days = 45 }
  waf_ip_blocker = { enabled = true }
"#,
    );
    let output = sandbox.run(
        "bad-root",
        &["plan", "-refresh=false", "-input=false", "-lock=false"],
    );
    // Terraform wraps its messages; compare them as one line.
    let text = String::from_utf8_lossy(&output.stderr)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        !output.status.success(),
        "a plan with bad settings must fail"
    );
    assert!(
        text.contains("must be CloudWatch Logs retention values"),
        "retention_days = 45 is named: {text}"
    );
    assert!(
        text.contains("waf_ip_blocker needs IP sets"),
        "missing IP sets are named: {text}"
    );
}

/// `modules/toilkit/template_defaults.tf`: the module leaves out a parameter
/// equal to its default, so the map must be the template's defaults exactly.
#[test]
fn the_module_knows_every_default_of_the_template() {
    let text =
        std::fs::read_to_string(terraform_dir().join("modules/toilkit/template_defaults.tf"))
            .expect("modules/toilkit/template_defaults.tf");
    let known = known_defaults(&text);
    let expected = template_defaults(template());
    assert_eq!(
        known, expected,
        "template_defaults.tf must list every parameter of template.yaml with its default"
    );
}

/// `template_max_lengths` in `modules/toilkit/template_defaults.tf`: the
/// module refuses at plan exactly what the template's MaxLength refuses.
#[test]
fn the_module_knows_every_max_length_of_the_template() {
    let text =
        std::fs::read_to_string(terraform_dir().join("modules/toilkit/template_defaults.tf"))
            .expect("modules/toilkit/template_defaults.tf");
    let known = known_max_lengths(&text);
    let expected = template_max_lengths(template());
    assert_eq!(
        known, expected,
        "template_max_lengths must list every MaxLength of template.yaml"
    );
}

/// One root for many plans: each module input is a root variable, and each
/// case is a `-var-file`.
const CASE_ROOT: &str = r#"provider "aws" {
  region                      = "eu-west-1"
  access_key                  = "offline"
  secret_key                  = "offline"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
}

variable "slack_webhook" {
  type    = any
  default = {}
}
variable "kms_key_arn" {
  type    = any
  default = null
}
variable "waf_ip_blocker" {
  type    = any
  default = {}
}
variable "rds_audit_notifier" {
  type    = any
  default = {}
}
variable "maintenance_switch" {
  type    = any
  default = {}
}
variable "config_triage" {
  type    = any
  default = {}
}
variable "log_retention" {
  type    = any
  default = {}
}

module "toilkit" {
  source             = "../modules/toilkit"
  application_id     = "arn:aws:serverlessrepo:eu-west-1:111122223333:applications/toilkit"
  semantic_version   = "0.1.0"
  slack_webhook      = var.slack_webhook
  kms_key_arn        = var.kms_key_arn
  waf_ip_blocker     = var.waf_ip_blocker
  rds_audit_notifier = var.rds_audit_notifier
  maintenance_switch = var.maintenance_switch
  config_triage      = var.config_triage
  log_retention      = var.log_retention
}
"#;

/// Plans every case (a few at a time: each is a terraform and a provider
/// process) and returns, per case, whether it succeeded, its messages on one
/// line, and the planned stack parameters when it did.
fn plan_cases(sandbox: &TerraformSandbox, cases: &[Value]) -> Vec<(bool, String, Value)> {
    let dir = sandbox.path("cases");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("main.tf"), CASE_ROOT).unwrap();
    sandbox.ok("cases", &["init", "-backend=false", "-input=false"]);
    for (i, case) in cases.iter().enumerate() {
        std::fs::write(dir.join(format!("case-{i}.tfvars.json")), case.to_string()).unwrap();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new(vec![None; cases.len()]);
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if i >= cases.len() {
                        break;
                    }
                    let output = sandbox.run(
                        "cases",
                        &[
                            "plan",
                            "-refresh=false",
                            "-input=false",
                            "-lock=false",
                            &format!("-var-file=case-{i}.tfvars.json"),
                            &format!("-out=case-{i}.plan"),
                        ],
                    );
                    let text = String::from_utf8_lossy(&output.stderr)
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ");
                    let parameters = if output.status.success() {
                        let shown =
                            sandbox.ok("cases", &["show", "-json", &format!("case-{i}.plan")]);
                        let plan: Value = serde_json::from_str(&shown).unwrap();
                        plan["resource_changes"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .find(|c| {
                                c["type"]
                                    == "aws_serverlessapplicationrepository_cloudformation_stack"
                            })
                            .map(|c| c["change"]["after"]["parameters"].clone())
                            .unwrap_or(Value::Null)
                    } else {
                        Value::Null
                    };
                    results.lock().unwrap()[i] = Some((output.status.success(), text, parameters));
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(Option::unwrap)
        .collect()
}

const IPSET: &str = "arn:aws:wafv2:eu-west-1:444455556666:regional/ipset/blocked-v4/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111";

fn waf(settings: Value) -> Value {
    let mut waf = json!({"enabled": true, "ipset_v4_arn": IPSET});
    waf.as_object_mut()
        .unwrap()
        .extend(settings.as_object().unwrap().clone());
    json!({ "waf_ip_blocker": waf })
}

fn with_slack(mut case: Value) -> Value {
    case["slack_webhook"] = json!({"parameter": "/toilkit/slack-webhook"});
    case
}

#[test]
fn every_setting_the_template_or_a_function_refuses_fails_at_plan() {
    let Some(sandbox) =
        TerraformSandbox::new("every_setting_the_template_or_a_function_refuses_fails_at_plan")
    else {
        return;
    };
    let logs = |settings: Value| {
        let mut l = json!({"enabled": true, "retention_days": 30});
        l.as_object_mut()
            .unwrap()
            .extend(settings.as_object().unwrap().clone());
        json!({ "log_retention": l })
    };
    let rds = |settings: Value| {
        let mut r = json!({"enabled": true, "log_group_names": ["/aws/rds/cluster/shop/audit"]});
        r.as_object_mut()
            .unwrap()
            .extend(settings.as_object().unwrap().clone());
        with_slack(json!({ "rds_audit_notifier": r }))
    };
    let config = |settings: Value| {
        let mut c = json!({"enabled": true});
        c.as_object_mut()
            .unwrap()
            .extend(settings.as_object().unwrap().clone());
        with_slack(json!({ "config_triage": c }))
    };
    // (what is tried, the settings, a fragment of the message that names it)
    let big_exemptions: Vec<Value> = (0..60)
        .map(|i| json!({"rule": format!("rule-number-{i:03}-with-a-long-name"), "reason": "reviewed by the security team"}))
        .collect();
    let refused: Vec<(&str, Value, &str)> = vec![
        (
            "client_ip_hop = 40",
            waf(json!({"client_ip_hop": 40})),
            "client_ip_hop must be",
        ),
        (
            "client_ip_hop = 0",
            waf(json!({"client_ip_hop": 0})),
            "client_ip_hop must be",
        ),
        (
            "aggregate_v4_prefix = 24.5",
            waf(json!({"aggregate_v4_prefix": 24.5})),
            "aggregate_v4_prefix must be",
        ),
        (
            "aggregate_v4_prefix = 7",
            waf(json!({"aggregate_v4_prefix": 7})),
            "aggregate_v4_prefix must be",
        ),
        (
            "threshold = 1.5",
            waf(json!({"threshold": 1.5})),
            "threshold must be",
        ),
        (
            "threshold = 0",
            waf(json!({"threshold": 0})),
            "threshold must be",
        ),
        (
            "window_seconds = 59",
            waf(json!({"window_seconds": 59})),
            "window_seconds must be",
        ),
        (
            "window_seconds = 90.5",
            waf(json!({"window_seconds": 90.5})),
            "window_seconds must be",
        ),
        (
            "block_minutes = 0",
            waf(json!({"block_minutes": 0})),
            "block_minutes must be",
        ),
        (
            "block_minutes = 6000000",
            waf(json!({"block_minutes": 6000000})),
            "block_minutes must be",
        ),
        (
            "aggregate_min = 1",
            waf(json!({"aggregate_min": 1})),
            "aggregate_min must be",
        ),
        (
            "max_new_blocks_per_run = 0",
            waf(json!({"max_new_blocks_per_run": 0})),
            "max_new_blocks_per_run must be",
        ),
        (
            "a WAF log group with a space",
            waf(json!({"log_group_name": "aws-waf-logs-my group"})),
            "log_group_name must be",
        ),
        (
            "a WAF log group not aws-waf-logs-",
            waf(json!({"log_group_name": "waf"})),
            "log_group_name must be",
        ),
        (
            "a bad bucket name",
            waf(json!({"log_bucket_name": "Bad_Bucket"})),
            "log_bucket_name must be",
        ),
        (
            "a key prefix with a space",
            waf(json!({"log_key_prefix": "AWS Logs/"})),
            "log_key_prefix must be",
        ),
        (
            "a URI rule with threshold 0",
            waf(json!({"uri_rules": [{"path": "/login", "threshold": 0}]})),
            "uri_rules: each rule",
        ),
        (
            "a URI rule without threshold",
            waf(json!({"uri_rules": [{"path": "/login"}]})),
            "uri_rules: each rule",
        ),
        (
            "a label with a comma",
            waf(json!({"count_labels": ["a,b"]})),
            "count_labels, count_rules",
        ),
        (
            "a header with a space",
            waf(json!({"client_ip_header": "X Forwarded"})),
            "client_ip_header must be",
        ),
        (
            "allow_cidrs not an address",
            waf(json!({"allow_cidrs": ["nonsense"]})),
            "allow_cidrs must be",
        ),
        (
            "a bad schedule",
            waf(json!({"schedule": "every 5 minutes"})),
            "schedule must be",
        ),
        (
            "an unknown count action",
            waf(json!({"count_actions": ["DROP"]})),
            "count_actions must be",
        ),
        (
            "CLOUDFRONT IP sets outside us-east-1",
            json!({"waf_ip_blocker": {"enabled": true, "create_ip_sets": true, "ip_set_scope": "CLOUDFRONT"}}),
            "needs the provider in us-east-1",
        ),
        (
            "delete_empty_after_days = 100000",
            logs(json!({"delete_empty_after_days": 100000})),
            "delete_empty_after_days must be",
        ),
        (
            "delete_empty_after_days = 1.5",
            logs(json!({"delete_empty_after_days": 1.5})),
            "delete_empty_after_days must be",
        ),
        (
            "fractional S3 prune days",
            logs(json!({"s3_prune": [{"bucket": "app-logs", "days": 1.5}]})),
            "s3_prune: each entry",
        ),
        (
            "retention_days = 45",
            logs(json!({"retention_days": 45})),
            "must be CloudWatch Logs retention values",
        ),
        (
            "max_api_rps = 0",
            logs(json!({"max_api_rps": 0})),
            "max_api_rps must be",
        ),
        (
            "max_group_deletions_per_run = 2.5",
            logs(json!({"max_group_deletions_per_run": 2.5})),
            "max_group_deletions_per_run must be",
        ),
        (
            "an exempt tag key with a comma",
            logs(json!({"exempt_tag_key": "a,b"})),
            "exempt_tag_key must be",
        ),
        (
            "a bad Region",
            logs(json!({"regions": ["Europe"]})),
            "regions must be",
        ),
        (
            "rds-audit-notifier with no Slack webhook",
            json!({"rds_audit_notifier": {"enabled": true, "log_group_names": ["/aws/rds/cluster/shop/audit"]}}),
            "post to Slack",
        ),
        (
            "config-triage with no Slack webhook",
            json!({"config_triage": {"enabled": true}}),
            "post to Slack",
        ),
        (
            "alert_on = []",
            rds(json!({"alert_on": []})),
            "alert_on must name",
        ),
        (
            "watch_users without watched_user",
            rds(json!({"watch_users": ["admin"]})),
            "watched_user",
        ),
        (
            "watch_users, alert_on without watched_user",
            rds(json!({"watch_users": ["admin"], "alert_on": ["ddl"]})),
            "watched_user",
        ),
        (
            "a match_regex that does not compile",
            rds(json!({"match_regex": "(unclosed"})),
            "match_regex must be",
        ),
        (
            "a tab in match_regex (the template's pattern is one printable line)",
            rds(json!({"match_regex": "drop\ttable"})),
            "match_regex must be printable ASCII on one line",
        ),
        (
            "a line break in an ignore_users item",
            rds(json!({"ignore_users": ["admin\nroot"]})),
            "ignore_users must be printable ASCII on one line",
        ),
        (
            "maintenance-switch with no load balancer names",
            json!({"maintenance_switch": {"enabled": true}}),
            "load_balancer_names is required",
        ),
        (
            "a notify topic that is no ARN",
            json!({"maintenance_switch": {"enabled": true, "load_balancer_names": "shop-*", "notify_topic_arn": "oncall"}}),
            "notify_topic_arn must be",
        ),
        (
            "routes without route_secret_prefix",
            config(json!({"routes": {"payments": "toilkit/routes/payments"}})),
            "routes needs route_secret_prefix",
        ),
        (
            "a route outside route_secret_prefix",
            config(
                json!({"routes": {"payments": "other/payments"}, "route_secret_prefix": "toilkit/routes/"}),
            ),
            "must sit under route_secret_prefix",
        ),
        (
            "renotify_hours = 1.5",
            config(json!({"renotify_hours": 1.5})),
            "renotify_hours must be",
        ),
        (
            "an owner tag key with a comma",
            config(json!({"owner_tag_key": "a,b"})),
            "owner_tag_key must be",
        ),
        (
            "a KMS alias instead of a key ARN",
            json!({"kms_key_arn": "alias/toilkit"}),
            "kms_key_arn must be",
        ),
        (
            "a Slack parameter without /",
            json!({"slack_webhook": {"parameter": "toilkit/slack"}}),
            "slack_webhook.parameter must be",
        ),
        (
            "exemptions longer than the template's MaxLength (896)",
            config(json!({"exemptions": big_exemptions})),
            "ConfigTriageExemptions (",
        ),
        (
            "allow_cidrs longer than the template's MaxLength (1024)",
            waf(
                json!({"allow_cidrs": (0..80).map(|i| format!("198.51.{i}.0/24")).collect::<Vec<_>>()}),
            ),
            "allow_cidrs must be at most 1024 characters",
        ),
        (
            "severity_rules longer than the template's MaxLength (512)",
            config(
                json!({"severity_rules": (0..20).map(|i| json!({"rule": format!("rule-number-{i:03}-with-a-long-name"), "severity": "high"})).collect::<Vec<_>>()}),
            ),
            "ConfigTriageSeverityRules (",
        ),
        (
            "a default_body longer than 1024 characters",
            json!({"maintenance_switch": {"enabled": true, "load_balancer_names": "shop-*", "default_body": "x".repeat(1025)}}),
            "default_body",
        ),
        (
            "an exemption reason outside ASCII",
            config(
                json!({"exemptions": [{"rule": "s3-bucket-logging-enabled", "reason": "gepr\u{fc}ft"}]}),
            ),
            "outside printable ASCII",
        ),
    ];
    // What the functions accept must pass.
    let accepted: Vec<(&str, Value)> = vec![
        ("everything off", json!({})),
        (
            "no schedules",
            with_slack(json!({
                "waf_ip_blocker": {"enabled": true, "ipset_v4_arn": IPSET, "schedule": ""},
                "config_triage": {"enabled": true, "digest_schedule": ""},
                "log_retention": {"enabled": true, "retention_days": 30, "schedule": ""},
            })),
        ),
        (
            "bare addresses in allow_cidrs",
            waf(json!({"allow_cidrs": ["192.0.2.10", "2001:db8::1", "10.0.0.0/8"]})),
        ),
        (
            "routes under their prefix",
            config(
                json!({"routes": {"payments": "toilkit/routes/payments"}, "route_secret_prefix": "toilkit/routes/"}),
            ),
        ),
        (
            "watch_users with watched_user",
            rds(json!({"watch_users": ["admin"], "alert_on": ["ddl", "watched_user"]})),
        ),
    ];
    let mut cases: Vec<Value> = refused.iter().map(|(_, c, _)| c.clone()).collect();
    cases.extend(accepted.iter().map(|(_, c)| c.clone()));
    let results = plan_cases(&sandbox, &cases);
    let mut problems = Vec::new();
    for ((what, _, message), (ok, text, _)) in refused.iter().zip(&results) {
        if *ok {
            problems.push(format!("{what}: the plan passed"));
        } else if !text.contains(message) {
            problems.push(format!(
                "{what}: the plan failed without {message:?}: {text}"
            ));
        }
    }
    let defaults = template()["Parameters"].as_object().unwrap();
    for ((what, _), (ok, text, parameters)) in accepted.iter().zip(&results[refused.len()..]) {
        if !ok {
            problems.push(format!("{what}: the plan failed: {text}"));
            continue;
        }
        for (name, value) in parameters.as_object().into_iter().flatten() {
            let value = value.as_str().unwrap_or_default();
            if let Err(why) = accepts(&defaults[name], value) {
                problems.push(format!(
                    "{what}: {name} = {value:?} is refused by the template: {why}"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "\n  - {}", problems.join("\n  - "));
    // Off is the template's default: nothing to send, so nothing the provider
    // could read back differently.
    assert!(
        results[refused.len()]
            .2
            .as_object()
            .is_none_or(|p| p.is_empty()),
        "everything off sends no parameter: {}",
        results[refused.len()].2
    );
    let no_schedules = &results[refused.len() + 1].2;
    assert_eq!(no_schedules["WafSchedule"], "");
    assert_eq!(no_schedules["ConfigTriageDigestSchedule"], "");
    assert_eq!(no_schedules["LogRetentionSchedule"], "");
    assert_eq!(
        results[refused.len() + 2].2["WafAllowCidrs"],
        "192.0.2.10,2001:db8::1,10.0.0.0/8"
    );
}

/// What the provider's `aws_serverlessapplicationrepository_cloudformation_stack`
/// calls: SAR creates the change set (as the caller), the provider waits for
/// it, executes it, reads the stack, and deletes it on destroy.
const PROVIDER_CALLS: [&str; 7] = [
    "serverlessrepo:GetApplication",
    "serverlessrepo:CreateCloudFormationChangeSet",
    "cloudformation:CreateChangeSet",
    "cloudformation:DescribeChangeSet",
    "cloudformation:ExecuteChangeSet",
    "cloudformation:DescribeStacks",
    "cloudformation:DeleteStack",
];

#[test]
fn the_readme_grants_the_deployer_what_the_provider_calls() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let deploy = readme
        .split("\n## ")
        .find(|s| s.starts_with("Deploy"))
        .expect("a Deploy section");
    let missing: Vec<_> = PROVIDER_CALLS
        .iter()
        .filter(|a| !deploy.contains(&format!("`{a}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "the README's deploy permissions lack {missing:?}"
    );
    for wrong in [
        "serverlessrepo:CreateCloudFormationTemplate",
        "serverlessrepo:GetCloudFormationTemplate",
    ] {
        assert!(
            !deploy.contains(wrong),
            "{wrong} is not what the provider calls; a role built from it is denied"
        );
    }
}

/// The example as a team copies it: every variable of the example is in
/// `terraform.tfvars.example` (step 2 of the README fills them in), and the
/// example plans with it (offline: the provider skips credentials).
#[test]
fn the_example_plans_with_its_tfvars_example() {
    let unset = unshown_in_tfvars_example("product-account");
    assert!(
        unset.is_empty(),
        "terraform.tfvars.example does not show {unset:?}"
    );
    let Some(sandbox) = TerraformSandbox::new("the_example_plans_with_its_tfvars_example") else {
        return;
    };
    let folder = "examples/product-account";
    std::fs::copy(
        sandbox.path(folder).join("terraform.tfvars.example"),
        sandbox.path(folder).join("terraform.tfvars"),
    )
    .unwrap();
    std::fs::write(
        sandbox.path(folder).join("offline_override.tf"),
        offline_override(),
    )
    .unwrap();
    sandbox.ok(folder, &["init", "-backend=false", "-input=false"]);
    sandbox.ok(
        folder,
        &["plan", "-refresh=false", "-input=false", "-lock=false"],
    );
}

// ---------------------------------------------------------------------------
// The example applied: real provider, moto, and a SAR stand-in
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn the_example_applies_converges_toggles_and_destroys_against_the_emulator() {
    let Some(sandbox) = TerraformSandbox::new(
        "the_example_applies_converges_toggles_and_destroys_against_the_emulator",
    ) else {
        return;
    };
    let moto = toilkit_tests::moto::Moto::dedicated();
    let config = moto.sdk_config().await;
    // What the SAM transform gives, with the functions' code where
    // `sam package` would have put it.
    let translated = run_tool(
        &["translate", &template_path().to_string_lossy(), "{}"],
        None,
    );
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket()
        .bucket("toilkit-offline-translation")
        .send()
        .await
        .unwrap();
    for (_, stem) in FUNCTIONS {
        s3.put_object()
            .bucket("toilkit-offline-translation")
            .key(format!("{stem}Function.zip"))
            .body(b"bootstrap".to_vec().into())
            .send()
            .await
            .unwrap();
    }
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    logs.create_log_group()
        .log_group_name("/aws/rds/cluster/shop-prod/audit")
        .send()
        .await
        .unwrap();
    let sar = SarStandIn::start(
        moto.endpoint().to_owned(),
        translated.to_string(),
        template(),
    );

    let folder = "examples/product-account";
    let region = toilkit_tests::moto::REGION;
    std::fs::write(
        sandbox.path(folder).join("terraform.tfvars"),
        format!(
            r#"region                  = "{region}"
toilkit_application_id  = "arn:aws:serverlessrepo:{region}:111122223333:applications/toilkit"
toilkit_version         = "0.1.0"
slack_webhook_parameter = "/toilkit/slack-webhook"
rds_audit_log_groups    = ["/aws/rds/cluster/shop-prod/audit"]
"#
        ),
    )
    .unwrap();
    let (moto_endpoint, sar_endpoint) = (moto.endpoint().to_owned(), sar.endpoint());
    std::fs::write(
        sandbox.path(folder).join("emulator_override.tf"),
        emulator_override(&[
            ("cloudformation", &sar_endpoint),
            ("logs", &moto_endpoint),
            ("wafv2", &moto_endpoint),
            ("lambda", &moto_endpoint),
            ("sts", &moto_endpoint),
            ("serverlessrepo", &sar_endpoint),
        ]),
    )
    .unwrap();
    let tf = |args: &[&str]| sandbox.ok(folder, args);
    let no_changes = |extra: &[&str], when: &str| {
        let mut args = vec!["plan", "-input=false", "-detailed-exitcode"];
        args.extend_from_slice(extra);
        // -detailed-exitcode: 0 is no changes, 2 is changes.
        if let Err(failure) = tool::run(&mut sandbox.command(folder, &args)) {
            panic!("a plan {when} must show no changes: {failure}");
        }
    };
    tf(&["init", "-input=false"]);
    tf(&["apply", "-input=false", "-auto-approve"]);
    no_changes(&[], "right after the first apply");
    let again = tf(&["apply", "-input=false", "-auto-approve"]);
    assert!(
        again.contains("0 added, 0 changed, 0 destroyed"),
        "a second apply changes nothing:\n{again}"
    );
    // rds-audit-notifier off, then on again.
    let off = ["-var", "rds_audit_log_groups=[]"];
    let mut args = vec!["apply", "-input=false", "-auto-approve"];
    args.extend_from_slice(&off);
    tf(&args);
    no_changes(&off, "after switching rds-audit-notifier off");
    tf(&["apply", "-input=false", "-auto-approve"]);
    no_changes(&[], "after switching rds-audit-notifier on again");
    let filters = logs
        .describe_subscription_filters()
        .log_group_name("/aws/rds/cluster/shop-prod/audit")
        .send()
        .await
        .unwrap();
    assert_eq!(
        filters.subscription_filters().len(),
        1,
        "the RDS log group is subscribed again"
    );
    tf(&["destroy", "-input=false", "-auto-approve"]);
    let (status, body) = cloudformation(
        moto.endpoint(),
        &[
            ("Action", "DescribeStacks"),
            ("StackName", "serverlessrepo-toilkit"),
        ],
    );
    assert!(
        status == 400 && body.contains("does not exist"),
        "destroy deletes the stack: {status} {body}"
    );
    let calls = sar.calls();
    let unexpected: Vec<_> = calls
        .iter()
        .filter(|c| c.starts_with("unexpected"))
        .collect();
    assert!(unexpected.is_empty(), "the provider called {unexpected:?}");
    for call in &calls {
        assert!(
            PROVIDER_CALLS.contains(&call.as_str()),
            "{call} is not in the README's deploy permissions"
        );
    }
}

/// Each stack output the module reads (`lookup(...outputs, "<Key>", null)`)
/// is one the template declares: a misspelt key would be null for ever.
#[test]
fn the_module_outputs_read_outputs_the_template_declares() {
    let text = std::fs::read_to_string(terraform_dir().join("modules/toilkit/outputs.tf")).unwrap();
    let declared = template()["Outputs"].as_object().expect("template Outputs");
    let read = outputs_read(&text);
    assert!(
        read.contains(&"LogRetentionSweepStateMachineArn"),
        "the sweep state machine is exposed: {read:?}"
    );
    for key in read {
        assert!(
            declared.contains_key(key),
            "outputs.tf reads {key}, which template.yaml does not declare"
        );
    }
}

/// `examples/organization`: many accounts and Regions through provider
/// aliases, and the StackSet route, valid against the real provider.
#[test]
fn the_organization_example_is_valid() {
    let example = terraform_dir().join("examples/organization");
    let tfvars = std::fs::read_to_string(example.join("terraform.tfvars.example")).unwrap();
    let variables = std::fs::read_to_string(example.join("variables.tf")).unwrap();
    let main = std::fs::read_to_string(example.join("main.tf")).unwrap();
    for variable in variables
        .lines()
        .filter_map(|l| l.strip_prefix("variable \""))
        .filter_map(|l| l.split('"').next())
    {
        assert!(
            tfvars
                .lines()
                .any(|l| l.split('=').next().map(str::trim) == Some(variable)),
            "terraform.tfvars.example does not show {variable}"
        );
    }
    assert!(
        main.contains("assume_role"),
        "each alias assumes a role in its account"
    );
    assert!(main.contains("permission_model = \"SERVICE_MANAGED\""));
    assert!(
        main.contains("auto_deployment"),
        "accounts created later get toilkit too"
    );
    let Some(sandbox) = TerraformSandbox::new("the_organization_example_is_valid") else {
        return;
    };
    sandbox.ok(
        "examples/organization",
        &["init", "-backend=false", "-input=false"],
    );
    sandbox.ok("examples/organization", &["validate"]);
}

/// The README's Deploy section, step by step where a test can follow it:
/// every `cargo xtask` task it names exists, and every repository path it
/// names is there.
#[test]
fn the_readme_deploy_steps_name_commands_and_files_that_exist() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let deploy = readme
        .split("\n## ")
        .find(|s| s.starts_with("Deploy"))
        .expect("a Deploy section");
    let xtask = std::fs::read_to_string(root().join("xtask/src/main.rs")).unwrap();
    let mut problems = Vec::new();
    for task in deploy
        .split("cargo xtask ")
        .skip(1)
        .filter_map(|rest| rest.split(|c: char| !c.is_ascii_alphanumeric()).next())
    {
        if !xtask.contains(&format!("\"{task}\" =>")) {
            problems.push(format!(
                "`cargo xtask {task}` is not a task of xtask/src/main.rs"
            ));
        }
    }
    for path in deploy
        .split('`')
        .filter(|s| s.starts_with("deploy/terraform/") && !s.contains(' ') && !s.contains('<'))
    {
        if !root().join(path.trim_end_matches('/')).exists() {
            problems.push(format!("{path} does not exist"));
        }
    }
    assert!(problems.is_empty(), "\n  - {}", problems.join("\n  - "));
}
