//! What the hub's tests share: the state table and the two buckets in moto,
//! a webhook stored as a secret, the Slack receiver, and result events as
//! the hub's bus delivers them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use hub_collector::{App, Config};
use serde_json::{Value, json};
use shared::Deadline;
use shared::config::Env;
use shared::output::Output;
use shared::report::Report;
use toilkit_tests::settings::Vars;
use toilkit_tests::{Moto, SlackReceiver};

pub const ACCOUNT_A: &str = "111111111111";
pub const ACCOUNT_B: &str = "222222222222";

pub struct Fixture {
    pub moto: &'static Moto,
    pub sdk: aws_types::SdkConfig,
    pub s3: aws_sdk_s3::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub slack: SlackReceiver,
    pub env: Vars,
    pub table: String,
    pub history: String,
    pub dashboard: String,
}

impl Fixture {
    pub async fn new() -> Self {
        let moto = Moto::shared();
        let sdk = moto.sdk_config().await;
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(true)
                .build(),
        );
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        let table = moto.unique("hub-state");
        toilkit_tests::tables::create_pk_sk_table(&dynamodb, &table)
            .await
            .expect("state table created");
        let history = moto.unique("hub-history");
        let dashboard = moto.unique("hub-dashboard");
        for bucket in [&history, &dashboard] {
            s3.create_bucket()
                .bucket(bucket)
                .send()
                .await
                .expect("bucket created");
        }
        let slack = SlackReceiver::start();
        let mut env = Vars::default();
        env.set("STATE_TABLE", &table);
        env.set("HISTORY_BUCKET", &history);
        env.set("DASHBOARD_BUCKET", &dashboard);
        env.set(
            "SLACK_WEBHOOK_SECRET_ARN",
            &slack.webhook_secret(&sdk, "ops").await,
        );
        Self {
            moto,
            sdk,
            s3,
            dynamodb,
            slack,
            env,
            table,
            history,
            dashboard,
        }
    }

    pub fn set(&mut self, name: &str, value: &str) {
        self.env.set(name, value);
    }

    pub fn app(&self) -> App {
        self.app_on(&self.sdk)
    }

    /// The collector on `sdk`: moto behind a transport that injects faults.
    pub fn app_on(&self, sdk: &aws_types::SdkConfig) -> App {
        let mut env = Env::from_pairs(self.env.clone());
        let config = Config::from_env(&mut env);
        env.finish().expect("the test's configuration is valid");
        App::new(config, sdk, Output::quiet())
            .with_clock_offset(clock_offset())
            .with_slack(shared::slack::SlackClient::new(
                toilkit_tests::slack::fast_retries(2),
            ))
    }

    /// The collector on moto, except that DynamoDB answers 500 to each
    /// `operation` (`PutItem`, `UpdateItem`...) whose request body holds
    /// `marker`, for as long as the switch returned is on.
    pub fn app_failing(&self, operation: &str, marker: &str) -> (App, Arc<AtomicBool>) {
        use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorFuture};
        use toilkit_tests::faults;

        let armed = Arc::new(AtomicBool::new(true));
        let trip = armed.clone();
        let target = format!(".{operation}");
        let marker = marker.to_owned();
        let moto_http = self.sdk.http_client().expect("moto's client");
        let failing = faults::transport([moto_http], move |request, [inner]| {
            let hit = request
                .headers()
                .get("x-amz-target")
                .is_some_and(|t| t.ends_with(&target))
                && request
                    .body()
                    .bytes()
                    .is_some_and(|b| String::from_utf8_lossy(b).contains(&marker));
            if hit && trip.load(Ordering::SeqCst) {
                return HttpConnectorFuture::ready(Ok(faults::Fault::Internal.response()));
            }
            inner.call(request)
        });
        let sdk = self
            .sdk
            .to_builder()
            .http_client(failing)
            .retry_config(faults::fast_retry())
            .build();
        (self.app_on(&sdk), armed)
    }

    /// The keys under `prefix` in the history bucket.
    pub async fn history_keys(&self, prefix: &str) -> Vec<String> {
        keys(&self.s3, &self.history, prefix).await
    }

    pub async fn object(&self, bucket: &str, key: &str) -> String {
        let out = self
            .s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{bucket}/{key}: {e:?}"));
        let bytes = out.body.collect().await.expect("body read").into_bytes();
        String::from_utf8(bytes.to_vec()).expect("utf-8")
    }

    pub async fn dashboard_page(&self) -> String {
        self.object(&self.dashboard, hub_collector::DASHBOARD_KEY)
            .await
    }

    /// The texts of every message delivered to `channel`.
    pub fn texts(&self, channel: &str) -> Vec<String> {
        self.slack
            .delivered_to(channel)
            .iter()
            .map(|m| m.to_string())
            .collect()
    }
}

pub async fn keys(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Vec<String> {
    let out = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .expect("listed");
    let mut keys: Vec<String> = out
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    keys.sort();
    keys
}

/// Runs one invocation as Lambda would hand it the payload.
pub async fn run(app: &App, payload: Value) -> Result<Report, hub_collector::Error> {
    hub_collector::run(payload, app, &Deadline::unbounded()).await
}

/// A result event as the hub's bus delivers it: what
/// `shared::envelope::Envelope` writes, around EventBridge's own fields.
pub struct Event {
    pub id: String,
    pub account: String,
    pub function: String,
    pub run_id: String,
    pub ended_at: String,
    pub outcome: &'static str,
    pub label: Option<String>,
    pub items: Vec<Value>,
    pub counters: Value,
}

impl Event {
    pub fn new(account: &str, function: &str, run: u32, ended_at: &str) -> Self {
        Self {
            id: format!("evt-{account}-{function}-{run}"),
            account: account.to_owned(),
            function: function.to_owned(),
            run_id: format!("run-{function}-{run}"),
            ended_at: ended_at.to_owned(),
            outcome: "ok",
            label: Some(format!("shop-{}", &account[..3])),
            items: Vec::new(),
            counters: json!({}),
        }
    }

    pub fn outcome(mut self, outcome: &'static str) -> Self {
        self.outcome = outcome;
        self
    }

    pub fn open(mut self, kind: &str, key: &str, fields: Value) -> Self {
        self.items
            .push(json!({"kind": kind, "key": key, "state": "open", "fields": fields}));
        self
    }

    pub fn closed(mut self, kind: &str, key: &str) -> Self {
        self.items
            .push(json!({"kind": kind, "key": key, "state": "closed"}));
        self
    }

    pub fn counters(mut self, counters: Value) -> Self {
        self.counters = counters;
        self
    }

    pub fn json(&self) -> Value {
        json!({
            "version": "0",
            "id": self.id,
            "detail-type": format!("{} report", self.function),
            "source": "toilkit",
            "account": self.account,
            "time": self.ended_at,
            "region": "eu-west-1",
            "resources": [],
            "detail": {
                "schema_version": 1,
                "toilkit_version": "0.1.0",
                "function": self.function,
                "account": self.account,
                "region": "eu-west-1",
                "label": self.label,
                "run_id": self.run_id,
                "started_at": self.ended_at,
                "ended_at": self.ended_at,
                "outcome": self.outcome,
                "dry_run": false,
                "counters": self.counters,
                "items": self.items,
                "items_total": self.items.len(),
                "items_omitted": 0
            }
        })
    }
}

/// How far the tests' clock, and the collector's under test, run ahead of
/// the wall clock: the suite's day starts at noon, so a report of minutes
/// ago and the day the test looks it up under are one date whenever it runs
/// (at 00:10 UTC, `ago(30)` was yesterday's).
fn clock_offset() -> time::Duration {
    static OFFSET: std::sync::OnceLock<time::Duration> = std::sync::OnceLock::new();
    *OFFSET.get_or_init(|| {
        let wall = time::OffsetDateTime::now_utc();
        wall.replace_time(time::Time::from_hms(12, 0, 0).expect("noon")) - wall
    })
}

/// Now, on the tests' clock.
pub fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc() + clock_offset()
}

/// Today, on the tests' clock.
pub fn today() -> time::Date {
    now().date()
}

/// A time `minutes` before now, as an event writes it.
pub fn ago(minutes: i64) -> String {
    let at = now() - time::Duration::minutes(minutes);
    at.format(&time::format_description::well_known::Rfc3339)
        .expect("formats")
}

/// The hub's state, read as the dashboard reads it.
pub fn state(f: &Fixture) -> hub_collector::state::State {
    hub_collector::state::State::new(f.dynamodb.clone(), &f.table)
}
