//! What the patch-waves tests share: a Region of moto's to themselves (EC2
//! instances are per Region, and other tests share the server), the state
//! table, webhooks stored as secrets, the Slack receiver, and the Systems
//! Manager stand-in in front of moto for what moto lacks.

use aws_sdk_ec2::types::{
    IamInstanceProfileSpecification, InstanceType, ResourceType, Tag, TagSpecification,
};
use patch_waves::{App, Config, Outcome, process};
use serde_json::{Value, json};
use shared::Deadline;
use shared::config::Env;
use shared::output::Output;
use shared::slack::SlackClient;
use time::OffsetDateTime;
use toilkit_tests::Moto;
use toilkit_tests::SlackReceiver;
use toilkit_tests::patch_manager::{Fleet, PatchManager};
use toilkit_tests::settings::Vars;
use toilkit_tests::slack::fast_retries;

/// One of moto's AMIs, present in every Region.
pub const BASE_IMAGE: &str = "ami-12c6146b";
/// The public parameter the function reads the latest AL2023 AMI from.
pub const LATEST: &str = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64";
/// The reports' clock: moto's instances have no patch history of their
/// own, so the stand-in's times are set against this.
pub const NOW: OffsetDateTime = time::macros::datetime!(2026-12-07 06:00 UTC);

pub fn now_secs() -> i64 {
    NOW.unix_timestamp()
}

pub struct Fixture {
    pub moto: &'static Moto,
    /// The SDK as the test uses it, straight to moto.
    pub sdk: aws_types::SdkConfig,
    pub ec2: aws_sdk_ec2::Client,
    pub slack: SlackReceiver,
    pub ssm: PatchManager,
    pub env: Vars,
    pub table: String,
    pub region: String,
}

impl Fixture {
    /// A fixture in `region`, which no other test may use; the default
    /// webhook posts to the receiver's channel `ops`.
    pub async fn new(region: &str) -> Self {
        let moto = Moto::shared();
        let sdk = moto.sdk_config_in(region).await;
        let slack = SlackReceiver::start();
        let mut env = Vars::default();
        let secret = store_secret(&sdk, &slack, "ops").await;
        env.set("SLACK_WEBHOOK_SECRET_ARN", &secret);
        let table = moto.unique("patch-waves-state");
        toilkit_tests::tables::create_pk_table(&aws_sdk_dynamodb::Client::new(&sdk), &table)
            .await
            .expect("state table created");
        env.set("STATE_TABLE", &table);
        let ssm = PatchManager::start(moto, Fleet::default());
        Self {
            moto,
            ec2: aws_sdk_ec2::Client::new(&sdk),
            sdk,
            slack,
            ssm,
            env,
            table,
            region: region.to_owned(),
        }
    }

    pub fn set(&mut self, name: &str, value: &str) {
        self.env.set(name, value);
    }

    /// `ROUTES` sends the owner `team` to the receiver's channel of that
    /// name, through a webhook secret of its own.
    pub async fn route_team(&mut self, team: &str) {
        let secret = store_secret(&self.sdk, &self.slack, team).await;
        self.set("ROUTES", &json!({ team: secret }).to_string());
    }

    pub fn app(&self) -> App {
        let mut env = Env::from_pairs(self.env.clone());
        let config = Config::from_env(&mut env);
        env.finish().expect("the test's configuration is valid");
        App::new(config, &self.ssm.sdk_config(&self.sdk), Output::quiet())
            .with_slack(SlackClient::new(fast_retries(2)))
    }

    /// One report at [`NOW`] plus `days`.
    pub async fn report(&self, app: &App, days: i64) -> Outcome {
        process(
            json!({"action": "report"}),
            app,
            NOW + time::Duration::days(days),
            &Deadline::unbounded(),
        )
        .await
    }

    /// An instance profile of moto's IAM, for instances that have one.
    pub async fn instance_profile(&self) -> String {
        let name = self.moto.unique("ssm-core");
        aws_sdk_iam::Client::new(&self.sdk)
            .create_instance_profile()
            .instance_profile_name(&name)
            .send()
            .await
            .expect("instance profile created");
        name
    }

    /// Launches `count` running instances of `image` with `tags`, an
    /// instance profile when `profile` names one, in `subnet` if given.
    pub async fn launch(
        &self,
        count: i32,
        image: &str,
        tags: &[(&str, &str)],
        profile: Option<&str>,
        subnet: Option<&str>,
    ) -> Vec<String> {
        let mut spec = TagSpecification::builder().resource_type(ResourceType::Instance);
        for (k, v) in tags {
            spec = spec.tags(Tag::builder().key(*k).value(*v).build());
        }
        let out = self
            .ec2
            .run_instances()
            .image_id(image)
            .instance_type(InstanceType::T3Micro)
            .min_count(count)
            .max_count(count)
            .set_tag_specifications((!tags.is_empty()).then(|| vec![spec.build()]))
            .set_iam_instance_profile(
                profile.map(|p| IamInstanceProfileSpecification::builder().name(p).build()),
            )
            .set_subnet_id(subnet.map(str::to_owned))
            .send()
            .await
            .expect("instances launched");
        out.instances()
            .iter()
            .filter_map(|i| i.instance_id().map(str::to_owned))
            .collect()
    }

    /// An AMI named as Amazon publishes AL2023 release `version`
    /// (`2023.6.20241212.0`), made from a throwaway instance.
    pub async fn al2023_image(&self, version: &str) -> String {
        let seed = self.launch(1, BASE_IMAGE, &[], None, None).await;
        let image = self
            .ec2
            .create_image()
            .instance_id(&seed[0])
            .name(format!("al2023-ami-{version}-kernel-6.1-x86_64"))
            .send()
            .await
            .expect("image created")
            .image_id
            .expect("an image id");
        self.ec2
            .terminate_instances()
            .instance_ids(&seed[0])
            .send()
            .await
            .expect("seed terminated");
        image
    }

    /// A VPC with one subnet whose route table has no default route, and
    /// no endpoint: an instance there cannot reach Systems Manager.
    pub async fn private_subnet(&self) -> (String, String) {
        let vpc = self
            .ec2
            .create_vpc()
            .cidr_block("10.42.0.0/16")
            .send()
            .await
            .expect("VPC created")
            .vpc
            .and_then(|v| v.vpc_id)
            .expect("a VPC id");
        let subnet = self
            .ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block("10.42.1.0/24")
            .send()
            .await
            .expect("subnet created")
            .subnet
            .and_then(|s| s.subnet_id)
            .expect("a subnet id");
        (vpc, subnet)
    }

    pub async fn start(&self, instance: &str) {
        self.ec2
            .start_instances()
            .instance_ids(instance)
            .send()
            .await
            .expect("instance started");
    }

    pub async fn terminate(&self, instance: &str) {
        self.ec2
            .terminate_instances()
            .instance_ids(instance)
            .send()
            .await
            .expect("instance terminated");
    }

    pub async fn stop(&self, instance: &str) {
        self.ec2
            .stop_instances()
            .instance_ids(instance)
            .send()
            .await
            .expect("instance stopped");
    }

    /// The Block Kit messages each channel received, as text.
    pub fn texts(&self, channel: &str) -> Vec<String> {
        self.slack
            .delivered_to(channel)
            .iter()
            .map(Value::to_string)
            .collect()
    }

    /// The state table's records, by `pk`.
    pub async fn records(&self) -> Vec<String> {
        let out = aws_sdk_dynamodb::Client::new(&self.sdk)
            .scan()
            .table_name(&self.table)
            .send()
            .await
            .expect("scan");
        let mut keys: Vec<String> = out
            .items()
            .iter()
            .filter_map(|i| i.get("pk").and_then(|v| v.as_s().ok()).cloned())
            .collect();
        keys.sort();
        keys
    }
}

async fn store_secret(sdk: &aws_types::SdkConfig, slack: &SlackReceiver, channel: &str) -> String {
    let name = Moto::shared().unique(&format!("slack-{channel}"));
    slack.store_webhook_secret(sdk, &name, channel).await
}

/// The report's result event items, as JSON.
pub fn items(outcome: &Outcome) -> Vec<Value> {
    outcome
        .report
        .items
        .iter()
        .map(|i| serde_json::to_value(i).unwrap())
        .collect()
}

/// The item of `key`, if the report has it.
pub fn item(outcome: &Outcome, key: &str) -> Option<Value> {
    items(outcome).into_iter().find(|i| i["key"] == key)
}
