//! maintenance-switch in the demo: a shop's ALB whose priority 1 is taken,
//! a window scheduled and cancelled through Step Functions, maintenance
//! switched on (what an outside user and the team each get), and switched
//! off again, with the listener compared to how it was.

use std::net::IpAddr;

use aws_sdk_elasticloadbalancingv2::Client as Elb;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, FixedResponseActionConfig, HostHeaderConditionConfig, ProtocolEnum,
    Rule, RuleCondition, TargetTypeEnum,
};
use aws_sdk_sfn::Client as Sfn;
use lambda_runtime::{Context, LambdaEvent};
use maintenance_switch::evaluate::{HttpRequest, describe_actions, describe_conditions, evaluate};
use maintenance_switch::{App, Config, handle, listener};
use serde_json::{Value, json};

use super::Ctx;
use crate::Result;

const WINDOW: &str = "release-2026-12-01";
const SECRET: &str = "team-bypass-7f3a9c";

pub async fn run(ctx: &Ctx) -> Result {
    let elb = Elb::new(&ctx.sdk);
    let sfn = Sfn::new(&ctx.sdk);
    let listener = seed(ctx, &elb).await?;
    let machine = state_machine(&sfn).await?;
    let app = App::new(
        Config {
            state_machine_arn: Some(machine),
            ..Config::default()
        },
        &ctx.sdk,
        ctx.output.clone(),
    );
    let before = elb.describe_rules().listener_arn(&listener).send().await?;
    println!("\nThe shop's listener (HTTP:80) before maintenance:");
    print_rules(&elb, &listener).await?;

    let window = json!({
        "window_id": WINDOW, "listener_arns": [listener],
        "mode": "fixed-response", "status_code": 503, "content_type": "text/html",
        "body": "<h1>Down for maintenance until 23:00 UTC</h1>",
        "bypass_cidrs": ["203.0.113.0/24", "198.51.100.7", "192.0.2.0/28", "10.20.0.0/16",
                         "10.21.0.0/16", "10.22.0.0/16", "2001:db8:cafe::/48"],
        "bypass_header": {"name": "X-Maintenance-Bypass", "values": [SECRET]},
    });

    println!("\n1. Schedule the window through Step Functions, list windows, cancel it:");
    let mut schedule = window.clone();
    schedule["action"] = json!("schedule");
    schedule["start_at"] = json!("2031-12-01T22:00:00Z");
    schedule["end_at"] = json!("2031-12-01T23:00:00Z");
    invoke(&app, schedule).await?;
    let again = invoke_raw(&app, {
        let mut s = window.clone();
        s["action"] = json!("schedule");
        s["start_at"] = json!("2031-12-02T22:00:00Z");
        s["end_at"] = json!("2031-12-02T23:00:00Z");
        s
    })
    .await;
    if let Err(e) = again {
        println!("   scheduling {WINDOW} again is refused: {e}");
    }
    let windows = invoke(&app, json!({"action": "windows"})).await?;
    for w in windows["details"]["windows"]
        .as_array()
        .into_iter()
        .flatten()
    {
        println!(
            "   window {} is {}: {} → {}",
            w["window_id"].as_str().unwrap_or("?"),
            w["phase"].as_str().unwrap_or("?"),
            w["start_at"].as_str().unwrap_or("?"),
            w["end_at"].as_str().unwrap_or("?")
        );
    }
    invoke(&app, json!({"action": "cancel", "window_id": WINDOW})).await?;
    println!("   cancelled: the execution is stopped; nothing had been switched yet");

    println!("\n2. Enable maintenance now (what the state machine does at start_at):");
    let mut enable = window.clone();
    enable["action"] = json!("enable");
    let report = invoke(&app, enable).await?;
    for step in report["applied"].as_array().into_iter().flatten() {
        let d = &step["detail"];
        match step["action"].as_str() {
            Some("move_rule") => println!("   moved an existing rule {} → {}", d["from"], d["to"]),
            Some("create_rule") => println!(
                "   added {} rule at priority {}",
                d["role"].as_str().unwrap_or("?"),
                d["priority"]
            ),
            _ => {}
        }
    }
    println!("\nThe listener during maintenance:");
    print_rules(&elb, &listener).await?;

    println!("\n3. What requests get now (the listener's rules evaluated):");
    let defaults = listener::describe_listeners(&elb, std::slice::from_ref(&listener)).await?;
    let state = listener::load(&elb, &listener, defaults[&listener].clone()).await?;
    let ip = |s: &str| s.parse::<IpAddr>().expect("demo address");
    let requests = [
        (
            "a customer",
            HttpRequest::get(ip("198.51.100.23"), "shop.example.com", "/api/cart"),
        ),
        (
            "the office (203.0.113.0/24)",
            HttpRequest::get(ip("203.0.113.10"), "shop.example.com", "/"),
        ),
        (
            "a developer on IPv6",
            HttpRequest::get(ip("2001:db8:cafe::42"), "shop.example.com", "/"),
        ),
        (
            "a tester with the bypass header",
            HttpRequest::get(ip("198.51.100.99"), "shop.example.com", "/")
                .with_header("X-Maintenance-Bypass", SECRET),
        ),
    ];
    for (who, request) in &requests {
        let outcome = evaluate(&state, request);
        let by = outcome
            .rule
            .map(|r| format!("rule {}", r.priority))
            .unwrap_or_else(|| "the default action".into());
        println!(
            "   {who:<34} {} {}{:<14} → {} (by {by})",
            request.method,
            request.host,
            request.path,
            describe_actions(outcome.actions)
        );
    }
    let status = invoke(
        &app,
        json!({"action": "status", "listener_arns": [listener]}),
    )
    .await?;
    let s = &status["details"]["listeners"][0];
    println!(
        "   status: maintenance {} for window {} since {}",
        if s["maintenance"] == json!(true) {
            "ON"
        } else {
            "off"
        },
        s["window_id"].as_str().unwrap_or("-"),
        s["since"].as_str().unwrap_or("-")
    );

    println!("\n4. Disable maintenance (what the state machine does at end_at):");
    invoke(
        &app,
        json!({"action": "disable", "window_id": WINDOW, "listener_arns": [listener]}),
    )
    .await?;
    print_rules(&elb, &listener).await?;
    let after = elb.describe_rules().listener_arn(&listener).send().await?;
    let same = before.rules() == after.rules();
    println!(
        "\n   DescribeRules before and after: {}",
        if same {
            "identical (same rules, priorities, conditions and actions)"
        } else {
            "DIFFERENT"
        }
    );
    if !same {
        return Err("the listener was not restored exactly".into());
    }
    println!(
        "   (the bypass secret was in no report: reports show only how many values there are)"
    );
    Ok(())
}

/// Invokes the real handler; the report (also printed as the function's
/// JSON log line) comes back as JSON.
async fn invoke(app: &App, payload: Value) -> Result<Value> {
    Ok(invoke_raw(app, payload).await?)
}

async fn invoke_raw(
    app: &App,
    payload: Value,
) -> std::result::Result<Value, maintenance_switch::Error> {
    let report = handle(LambdaEvent::new(payload, Context::default()), app).await?;
    let value = serde_json::to_value(report).expect("a report serializes");
    // What the last line of the demo claims, checked on every report.
    assert!(
        !value.to_string().contains(SECRET),
        "the bypass secret reached a report"
    );
    Ok(value)
}

async fn print_rules(elb: &Elb, listener: &str) -> Result {
    let out = elb.describe_rules().listener_arn(listener).send().await?;
    let mut rules: Vec<&Rule> = out.rules().iter().collect();
    rules.sort_by_key(|r| {
        r.priority()
            .and_then(|p| p.parse::<u32>().ok())
            .unwrap_or(u32::MAX)
    });
    println!("   {:>8}  {:<60} action", "priority", "when");
    for r in rules {
        let when = if r.is_default() == Some(true) {
            "anything else".to_owned()
        } else {
            describe_conditions(r.conditions())
        };
        println!(
            "   {:>8}  {:<60} {}",
            r.priority().unwrap_or("?"),
            when,
            describe_actions(r.actions())
        );
    }
    Ok(())
}

/// An ALB with a web, an API and an admin target group, and the shop's
/// rules, priority 1 included.
async fn seed(ctx: &Ctx, elb: &Elb) -> Result<String> {
    let subnets = toilkit_tests::ec2::default_subnets(&ctx.moto).await?;
    let alb = elb
        .create_load_balancer()
        .name("shop-prod")
        .set_subnets(Some(subnets))
        .send()
        .await?;
    let alb_arn = alb.load_balancers()[0]
        .load_balancer_arn()
        .unwrap_or_default()
        .to_owned();
    let mut groups = Vec::new();
    for name in ["shop-web", "shop-api", "shop-admin"] {
        let tg = elb
            .create_target_group()
            .name(name)
            .target_type(TargetTypeEnum::Lambda)
            .send()
            .await?;
        groups.push(
            tg.target_groups()[0]
                .target_group_arn()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    let forward = |tg: &str| {
        Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn(tg)
            .build()
    };
    let listener = elb
        .create_listener()
        .load_balancer_arn(&alb_arn)
        .protocol(ProtocolEnum::Http)
        .port(80)
        .default_actions(forward(&groups[0]))
        .send()
        .await?
        .listeners()[0]
        .listener_arn()
        .unwrap_or_default()
        .to_owned();
    let path = |p: &str| {
        RuleCondition::builder()
            .field("path-pattern")
            .values(p)
            .build()
    };
    let gone = Action::builder()
        .r#type(ActionTypeEnum::FixedResponse)
        .fixed_response_config(
            FixedResponseActionConfig::builder()
                .status_code("410")
                .content_type("text/plain")
                .message_body("gone")
                .build(),
        )
        .build();
    let host = RuleCondition::builder()
        .field("host-header")
        .host_header_config(
            HostHeaderConditionConfig::builder()
                .values("admin.example.com")
                .build(),
        )
        .build();
    for (priority, condition, action) in [
        (1, path("/api/*"), forward(&groups[1])),
        (2, path("/legacy/*"), gone),
        (10, host, forward(&groups[2])),
    ] {
        elb.create_rule()
            .listener_arn(&listener)
            .priority(priority)
            .conditions(condition)
            .actions(action)
            .send()
            .await?;
    }
    Ok(listener)
}

async fn state_machine(sfn: &Sfn) -> Result<String> {
    let definition = std::fs::read_to_string(
        crate::cmd::root().join("statemachines/maintenance-window.asl.json"),
    )?
    .replace(
        "${MaintenanceSwitchFunctionArn}",
        "arn:aws:lambda:us-east-1:123456789012:function:maintenance-switch",
    );
    Ok(sfn
        .create_state_machine()
        .name("maintenance-window")
        .definition(definition)
        .role_arn("arn:aws:iam::123456789012:role/maintenance-window")
        .send()
        .await?
        .state_machine_arn()
        .to_owned())
}
