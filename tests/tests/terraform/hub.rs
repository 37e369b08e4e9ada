//! The toilkit-hub module (deploy/terraform/modules/toilkit-hub) and its
//! example, checked as the product module is: every parameter it sends is
//! one the hub's template declares, its defaults and lengths are the
//! template's, bad settings fail at plan, and the example applies,
//! converges and destroys against moto through the SAR stand-in.

use std::collections::BTreeSet;

use serde_json::Value;
use toilkit_tests::tool;

use super::*;

const MODULE: Module = Module {
    label: "toilkit_hub",
    folder: "modules/toilkit-hub",
    application_id: "arn:aws:serverlessrepo:eu-west-1:111122223333:applications/toilkit-hub",
};
const EXAMPLE: &str = "examples/hub-account";

fn hub_template() -> Value {
    run_tool(
        &[
            "decode",
            &root().join("deploy/hub/template.yaml").to_string_lossy(),
        ],
        None,
    )
}

fn module_file(name: &str) -> String {
    let module = MODULE.folder;
    std::fs::read_to_string(terraform_dir().join(module).join(name))
        .unwrap_or_else(|e| panic!("{module}/{name}: {e}"))
}

/// The module sends parameters by name: each must be one of the hub's
/// template, and every parameter of the template is reachable.
#[test]
fn the_hub_module_sets_exactly_the_hub_template_parameters() {
    let named = candidate_parameters(&module_file("main.tf"));
    let template = hub_template();
    let declared: BTreeSet<String> = template["Parameters"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        named, declared,
        "the module sets every parameter of deploy/hub/template.yaml, and no other"
    );
}

/// template_defaults.tf: the defaults the module leaves out, and the
/// lengths it refuses at plan, are the hub template's.
#[test]
fn the_hub_module_knows_the_hub_template_defaults_and_max_lengths() {
    let text = module_file("template_defaults.tf");
    let template = hub_template();
    assert_eq!(
        known_defaults(&text),
        template_defaults(&template),
        "template_defaults.tf: every default"
    );
    assert_eq!(
        known_max_lengths(&text),
        template_max_lengths(&template),
        "template_max_lengths: every MaxLength"
    );
}

/// Each stack output the module reads is one the hub's template declares.
#[test]
fn the_hub_module_outputs_read_outputs_the_hub_template_declares() {
    let text = module_file("outputs.tf");
    let template = hub_template();
    let declared = template["Outputs"].as_object().unwrap();
    let read = outputs_read(&text);
    assert!(read.contains(&"BusArn"), "{read:?}");
    for key in read {
        assert!(declared.contains_key(key), "outputs.tf reads {key}");
    }
}

/// The example as a central account copies it: every variable is in its
/// `terraform.tfvars.example`, and it validates and plans with it.
#[test]
fn the_hub_example_is_valid_and_plans_with_its_tfvars_example() {
    let unset = unshown_in_tfvars_example("hub-account");
    assert!(
        unset.is_empty(),
        "{EXAMPLE}/terraform.tfvars.example does not show {unset:?}"
    );
    let Some(sandbox) =
        TerraformSandbox::new("the_hub_example_is_valid_and_plans_with_its_tfvars_example")
    else {
        return;
    };
    sandbox.ok(EXAMPLE, &["init", "-backend=false", "-input=false"]);
    sandbox.ok(EXAMPLE, &["validate"]);
    std::fs::copy(
        sandbox.path(EXAMPLE).join("terraform.tfvars.example"),
        sandbox.path(EXAMPLE).join("terraform.tfvars"),
    )
    .unwrap();
    std::fs::write(
        sandbox.path(EXAMPLE).join("offline_override.tf"),
        offline_override(),
    )
    .unwrap();
    let plan = sandbox.ok(
        EXAMPLE,
        &["plan", "-refresh=false", "-input=false", "-lock=false"],
    );
    assert!(
        plan.contains("\"OrganizationId\"") && plan.contains("\"ExpectedIntervals\""),
        "the plan sends the organization and the collector's settings:\n{plan}"
    );
}

/// What the template would refuse at deploy, and what the collector would
/// refuse at start, fails the plan naming the variable.
#[test]
fn the_hub_module_rejects_bad_settings_at_plan() {
    let Some(sandbox) = TerraformSandbox::new("the_hub_module_rejects_bad_settings_at_plan") else {
        return;
    };
    let cases = [
        ("no-sender", "", "organization_id, source_accounts, or both"),
        (
            "bad-accounts",
            "source_accounts = [\"12345\"]",
            "source_accounts must be at most 100 12-digit account ids",
        ),
        (
            "bad-collector",
            "organization_id = \"o-a1b2c3d4e5\"\n  hub_collector = { failures_alert = 0 }",
            "hub_collector.failures_alert must be a whole number from 1 to 100",
        ),
        (
            "bad-intervals",
            "organization_id = \"o-a1b2c3d4e5\"\n  hub_collector = { expected_intervals = { \"Bad Name\" = 5 } }",
            "hub_collector.expected_intervals must map function names",
        ),
    ];
    for (folder, arguments, message) in cases {
        sandbox.root_calling(folder, &MODULE, &format!("  {arguments}"));
        let output = sandbox.run(
            folder,
            &["plan", "-refresh=false", "-input=false", "-lock=false"],
        );
        let text = String::from_utf8_lossy(&output.stderr)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(!output.status.success(), "{folder}: the plan must fail");
        assert!(text.contains(message), "{folder}: {message:?} in: {text}");
    }
}

/// The example as a central account runs it: the real provider, the SAR
/// stand-in creating the hub's (SAM-transformed) stack in moto, a plan
/// without changes after the apply, and a destroy that deletes the stack.
#[tokio::test(flavor = "multi_thread")]
async fn the_hub_example_applies_converges_and_destroys_against_the_emulator() {
    let Some(sandbox) = TerraformSandbox::new(
        "the_hub_example_applies_converges_and_destroys_against_the_emulator",
    ) else {
        return;
    };
    let moto = toilkit_tests::moto::Moto::dedicated();
    let config = moto.sdk_config().await;
    let path = root().join("deploy/hub/template.yaml");
    let translated = run_tool(&["translate", &path.to_string_lossy(), "{}"], None);
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
    s3.put_object()
        .bucket("toilkit-offline-translation")
        .key("HubCollectorFunction.zip")
        .body(b"bootstrap".to_vec().into())
        .send()
        .await
        .unwrap();
    let template = hub_template();
    let sar = SarStandIn::start(
        moto.endpoint().to_owned(),
        translated.to_string(),
        &template,
    );

    let region = toilkit_tests::moto::REGION;
    std::fs::write(
        sandbox.path(EXAMPLE).join("terraform.tfvars"),
        format!(
            r#"region             = "{region}"
hub_application_id = "arn:aws:serverlessrepo:{region}:111122223333:applications/toilkit-hub"
organization_id    = "o-a1b2c3d4e5"
source_accounts    = ["777788889999"]
"#
        ),
    )
    .unwrap();
    let (moto_endpoint, sar_endpoint) = (moto.endpoint().to_owned(), sar.endpoint());
    std::fs::write(
        sandbox.path(EXAMPLE).join("emulator_override.tf"),
        emulator_override(&[
            ("cloudformation", &sar_endpoint),
            ("sts", &moto_endpoint),
            ("serverlessrepo", &sar_endpoint),
        ]),
    )
    .unwrap();
    let tf = |args: &[&str]| sandbox.ok(EXAMPLE, args);
    tf(&["init", "-input=false"]);
    tf(&["apply", "-input=false", "-auto-approve"]);
    if let Err(failure) =
        tool::run(&mut sandbox.command(EXAMPLE, &["plan", "-input=false", "-detailed-exitcode"]))
    {
        panic!("a plan right after the apply must show no changes: {failure}");
    }
    // The result rule is on the account's default bus, where the product
    // accounts' forwarding rules deliver (moto's executed change sets carry
    // no outputs to read BusArn from).
    let events = aws_sdk_eventbridge::Client::new(&config);
    let rules = events
        .list_rules()
        .event_bus_name("default")
        .send()
        .await
        .unwrap();
    assert!(
        rules
            .rules()
            .iter()
            .any(|r| r.name() == Some("toilkit-hub-collector-results")),
        "the result rule is on the default bus: {rules:?}"
    );
    tf(&["destroy", "-input=false", "-auto-approve"]);
    let (status, body) = cloudformation(
        moto.endpoint(),
        &[
            ("Action", "DescribeStacks"),
            ("StackName", "serverlessrepo-toilkit-hub"),
        ],
    );
    assert!(
        status == 400 && body.contains("does not exist"),
        "destroy deletes the stack: {status} {body}"
    );
    let unexpected: Vec<_> = sar
        .calls()
        .into_iter()
        .filter(|c| c.starts_with("unexpected"))
        .collect();
    assert!(unexpected.is_empty(), "the provider called {unexpected:?}");
}
