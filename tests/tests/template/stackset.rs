//! Deploying to an organization: the StackSets template.

use std::process::Command;

use toilkit_tests::tool;

use crate::distribution::*;

#[tokio::test(flavor = "multi_thread")]
async fn the_stackset_template_has_no_transform_lints_and_creates_with_every_function_on() {
    let stackset = run_tool(&["stackset", &template_path().to_string_lossy()], None);
    assert!(
        stackset.get("Transform").is_none(),
        "service-managed StackSets reject transforms"
    );
    for (id, r) in resources(&stackset) {
        assert!(
            !r["Type"].as_str().unwrap().starts_with("AWS::Serverless::"),
            "{id} is still a SAM resource"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stackset.template.json");
    std::fs::write(&path, stackset.to_string()).unwrap();
    tool::succeed(Command::new(require_tool("cfn-lint")).arg(&path));
    // Created in moto's CloudFormation, every function on, code from the
    // bucket of the Region.
    let moto = toilkit_tests::Moto::dedicated();
    let config = moto.sdk_config().await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    s3.create_bucket()
        .bucket("toilkit-code")
        .send()
        .await
        .unwrap();
    for (name, _) in FUNCTIONS {
        s3.put_object()
            .bucket("toilkit-code")
            .key(format!("toilkit/0.1.0/{name}/bootstrap.zip"))
            .body(b"bootstrap".to_vec().into())
            .send()
            .await
            .unwrap();
    }
    let enables: Vec<String> = FUNCTIONS
        .iter()
        .map(|(_, stem)| format!("Enable{stem}"))
        .collect();
    let mut parameters = vec![
        ("CodeS3Bucket", "toilkit-code"),
        ("SlackWebhookParameter", "/toilkit/slack-webhook"),
        ("MaintenanceLoadBalancerNames", "shop-*"),
        (
            "WafIpSetV4Arn",
            "arn:aws:wafv2:us-east-1:123456789012:regional/ipset/blocked-v4/a1b2c3d4",
        ),
    ];
    parameters.extend(enables.iter().map(|enable| (enable.as_str(), "true")));
    let pairs = super::create_stack(
        "toilkit-stackset-instance",
        &stackset.to_string(),
        &parameters,
    );
    let (status, xml) = cloudformation(moto.endpoint(), &pairs);
    assert_eq!(status, 200, "CreateStack: {xml}");
    let (_, described) = cloudformation(
        moto.endpoint(),
        &[
            ("Action", "DescribeStacks"),
            ("StackName", "toilkit-stackset-instance"),
        ],
    );
    assert_eq!(
        xml_value(&described, "StackStatus"),
        Some("CREATE_COMPLETE"),
        "{described}"
    );
    let (_, listed) = cloudformation(
        moto.endpoint(),
        &[
            ("Action", "ListStackResources"),
            ("StackName", "toilkit-stackset-instance"),
        ],
    );
    for (_, stem) in FUNCTIONS {
        let id = format!("<LogicalResourceId>{stem}Function</LogicalResourceId>");
        assert!(listed.contains(&id), "{stem}Function was created");
    }
    assert!(
        listed.contains("<LogicalResourceId>MaintenanceWindowStateMachine</LogicalResourceId>"),
        "the state machine was created from its inline definition"
    );
}
