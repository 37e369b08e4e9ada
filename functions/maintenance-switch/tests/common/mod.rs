//! What the integration tests share: an ALB seeded in moto, the function's
//! App pointed at it, and the layout of a listener's rules (the snapshots
//! themselves are `toilkit_tests::elbv2`).
use aws_sdk_elasticloadbalancingv2::Client;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, FixedResponseActionConfig, ProtocolEnum, RedirectActionConfig,
    RedirectActionStatusCodeEnum, RuleCondition, Tag, TargetTypeEnum,
};
use aws_types::SdkConfig;
use lambda_runtime::{Context, LambdaEvent};
use maintenance_switch::{App, Config};
use serde_json::Value;
use shared::output::Output;
use toilkit_tests::Moto;
use toilkit_tests::ec2::default_subnets;
use toilkit_tests::elbv2::Snapshot;

pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:maintenance-switch";

/// A load balancer with target groups for the site, its API and a
/// maintenance page.
pub struct Alb {
    pub arn: String,
    pub web: String,
    pub api: String,
    pub maintenance: String,
}

pub async fn alb(moto: &Moto, elb: &Client) -> Alb {
    let subnets = default_subnets(moto).await.expect("moto's default subnets");
    let name = moto.unique("shop");
    let arn = elb
        .create_load_balancer()
        .name(&name)
        .set_subnets(Some(subnets))
        .send()
        .await
        .expect("create ALB")
        .load_balancers()[0]
        .load_balancer_arn()
        .unwrap()
        .to_owned();
    let tg = |role: &'static str| {
        let name = moto.unique(role);
        let elb = elb.clone();
        async move {
            elb.create_target_group()
                .name(name)
                .target_type(TargetTypeEnum::Lambda)
                .send()
                .await
                .expect("create target group")
                .target_groups()[0]
                .target_group_arn()
                .unwrap()
                .to_owned()
        }
    };
    let web = tg("web").await;
    let api = tg("api").await;
    let maintenance = tg("maint").await;
    Alb {
        arn,
        web,
        api,
        maintenance,
    }
}

pub fn forward(tg: &str) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .target_group_arn(tg)
        .build()
}

pub fn redirect_to_https() -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::Redirect)
        .redirect_config(
            RedirectActionConfig::builder()
                .protocol("HTTPS")
                .port("443")
                .status_code(RedirectActionStatusCodeEnum::Http301)
                .build(),
        )
        .build()
}

pub fn fixed(status: &str) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::FixedResponse)
        .fixed_response_config(
            FixedResponseActionConfig::builder()
                .status_code(status)
                .content_type("text/plain")
                .message_body("gone")
                .build(),
        )
        .build()
}

pub fn path(p: &str) -> RuleCondition {
    RuleCondition::builder()
        .field("path-pattern")
        .values(p)
        .build()
}

/// A listener on `port` forwarding to the site by default.
pub async fn listener(elb: &Client, alb: &Alb, port: i32) -> String {
    listener_with(elb, alb, port, forward(&alb.web)).await
}

pub async fn listener_with(elb: &Client, alb: &Alb, port: i32, default: Action) -> String {
    elb.create_listener()
        .load_balancer_arn(&alb.arn)
        .protocol(ProtocolEnum::Http)
        .port(port)
        .default_actions(default)
        .send()
        .await
        .expect("create listener")
        .listeners()[0]
        .listener_arn()
        .unwrap()
        .to_owned()
}

/// Adds a product rule at `priority`, tagged like a team would tag it.
pub async fn rule(
    elb: &Client,
    listener: &str,
    priority: i32,
    condition: RuleCondition,
    action: Action,
) -> String {
    elb.create_rule()
        .listener_arn(listener)
        .priority(priority)
        .conditions(condition)
        .actions(action)
        .tags(Tag::builder().key("team").value("shop").build())
        .send()
        .await
        .expect("create rule")
        .rules()[0]
        .rule_arn()
        .unwrap()
        .to_owned()
}

/// (priority, first action type, first path value or field) per rule, in priority order.
pub fn layout(s: &Snapshot) -> Vec<(String, String)> {
    let mut rows: Vec<(u32, String, String)> = s
        .rules
        .iter()
        .filter(|r| r.is_default() != Some(true))
        .map(|r| {
            let prio: u32 = r.priority().unwrap().parse().unwrap();
            let cond = r.conditions()[0].field().unwrap_or("").to_owned();
            let action = r.actions()[0]
                .r#type()
                .map(|t| t.as_str().to_owned())
                .unwrap_or_default();
            (prio, cond, action)
        })
        .collect();
    rows.sort();
    rows.into_iter()
        .map(|(p, c, a)| (p.to_string(), format!("{c}->{a}")))
        .collect()
}

pub fn app(sdk: &SdkConfig, state_machine_arn: Option<String>) -> App {
    App::new(
        Config {
            state_machine_arn,
            ..Config::default()
        },
        sdk,
        Output::default(),
    )
}

pub fn event(payload: Value) -> LambdaEvent<Value> {
    LambdaEvent::new(payload, Context::default())
}

/// The payload the window state machine sends to the function from
/// `state`, rendered from the definition itself: `.$` keys taken from the
/// context object (`$$.Execution.Input`, `$$.Execution.Id`).
pub fn state_machine_payload(state: &str, input: &Value, execution_arn: &str) -> Value {
    let path = toilkit_tests::workspace::root().join("statemachines/maintenance-window.asl.json");
    let asl: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let template = asl["States"][state]["Parameters"]["Payload"]
        .as_object()
        .unwrap_or_else(|| panic!("state {state} has no Payload"));
    let mut out = serde_json::Map::new();
    for (key, value) in template {
        match key.strip_suffix(".$") {
            None => {
                out.insert(key.clone(), value.clone());
            }
            Some(name) => {
                let rendered = match value.as_str() {
                    Some("$$.Execution.Input") => input.clone(),
                    Some("$$.Execution.Id") => Value::from(execution_arn),
                    other => panic!("{state}: {key} = {other:?} is not rendered by the tests"),
                };
                out.insert(name.to_owned(), rendered);
            }
        }
    }
    Value::Object(out)
}
