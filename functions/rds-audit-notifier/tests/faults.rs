//! Fault injection for rds-audit-notifier's idempotency ledger
//! (aws-smithy-mocks).
//!
//! DynamoDB is replaced by a small model of the ledger table: `GetItem`
//! answers whether a message part was recorded, `PutItem` records it and
//! honours a condition that the part is not recorded yet. A script of
//! throttling and 5xx answers, in DynamoDB's wire format (awsJson 1.0), can
//! be put in front of every call, and another invocation can record a part
//! right before this one does (two deliveries of one batch at once). The
//! webhook secret is in moto and Slack is a local receiver. The operator's
//! checks: every alert reaches Slack, a part that could not be posted fails
//! the invocation and is posted by the retry, no part is posted twice
//! without the report saying so, and the ledger ends up holding every part.

use toilkit_tests::faults;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::config::retry::RetryPartition;
use aws_smithy_mocks::{MockResponseInterceptor, RuleMode, create_mock_http_client, mock};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use faults::{error, ok, on_virtual_clock};
use rds_audit_notifier::apply;
use rds_audit_notifier::ledger::Ledger;
use rds_audit_notifier::notify::Notifier;
use rds_audit_notifier::plan::{self, Plan};
use rds_audit_notifier::{Config, Error};
use serde_json::json;
use shared::Deadline;
use shared::config::Env;
use shared::report::Report;
use shared::secret::SecretStore;
use shared::slack::RetryPolicy;
use toilkit_tests::slack::Setup;
use toilkit_tests::{Moto, Reply, SlackReceiver};

const TABLE: &str = "toilkit-idempotency";
const ATTEMPTS: usize = shared::aws::MAX_ATTEMPTS as usize;
const GROUP: &str = "/aws/rds/cluster/aurora-prod/audit";

/// DynamoDB's answers to a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ddb {
    Throttled,
    ThroughputExceeded,
    Internal,
    Unavailable,
}

impl Ddb {
    fn response(self) -> HttpResponse {
        let (status, kind, message) = match self {
            Ddb::Throttled => (
                400,
                "ThrottlingException",
                "Rate of requests exceeds the allowed throughput.",
            ),
            Ddb::ThroughputExceeded => (
                400,
                "ProvisionedThroughputExceededException",
                "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.",
            ),
            Ddb::Internal => (500, "InternalServerError", "Internal server error"),
            Ddb::Unavailable => (503, "ServiceUnavailable", "Service unavailable"),
        };
        error(
            status,
            &format!("com.amazonaws.dynamodb.v20120810#{kind}"),
            message,
        )
    }
}

/// What the calls of one operation meet.
#[derive(Debug, Default)]
struct Op {
    /// Answers a call meets before it gets through ...
    storm: Vec<Ddb>,
    /// ... for this many of the next calls.
    storm_calls: usize,
    /// Every attempt of a call whose key is here fails so (a fault that
    /// outlasts the SDK's retries).
    for_good: BTreeMap<String, Ddb>,
    /// What is left for the call being made.
    left: VecDeque<Ddb>,
    failing: Option<Ddb>,
    attempts: usize,
}

impl Op {
    fn begin(&mut self, key: &str) {
        self.left = if self.storm_calls > 0 {
            self.storm_calls -= 1;
            self.storm.iter().copied().collect()
        } else {
            VecDeque::new()
        };
        self.failing = self.for_good.get(key).copied();
    }

    fn fault(&mut self) -> Option<Ddb> {
        self.attempts += 1;
        self.left.pop_front().or(self.failing)
    }
}

#[derive(Debug, Default)]
struct Table {
    /// pk -> expires_at
    items: BTreeMap<String, u64>,
    /// Parts another invocation records right before this one's `PutItem`
    /// of the same part lands.
    competitors: Vec<String>,
    get: Op,
    put: Op,
    /// The key of the `GetItem` being made; the key and whether the
    /// `PutItem` being made is conditional.
    reading: String,
    writing: (String, bool),
}

/// The model behind the mocked DynamoDB client. Every answer is a wire
/// response the real SDK deserializes and classifies.
#[derive(Clone, Default)]
struct FakeLedger(Arc<Mutex<Table>>);

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

impl FakeLedger {
    fn get_item(&self) -> HttpResponse {
        let mut t = self.0.lock().unwrap();
        if let Some(fault) = t.get.fault() {
            return fault.response();
        }
        match t.items.get(&t.reading) {
            Some(expires) => ok(json!({"Item": {
                "pk": {"S": t.reading},
                "expires_at": {"N": expires.to_string()},
            }})),
            None => ok(json!({})),
        }
    }

    fn put_item(&self) -> HttpResponse {
        let mut t = self.0.lock().unwrap();
        if let Some(fault) = t.put.fault() {
            return fault.response();
        }
        let (key, conditional) = t.writing.clone();
        if let Some(i) = t.competitors.iter().position(|k| *k == key) {
            t.competitors.remove(i);
            t.items.insert(key.clone(), now() + 7 * 24 * 3600);
        }
        if conditional && t.items.get(&key).is_some_and(|at| *at > now()) {
            return error(
                400,
                "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
                "The conditional request failed",
            );
        }
        t.items.insert(key, now() + 7 * 24 * 3600);
        ok(json!({}))
    }

    async fn client(&self) -> aws_sdk_dynamodb::Client {
        let get = {
            let (capture, answer) = (self.clone(), self.clone());
            mock!(aws_sdk_dynamodb::Client::get_item)
                .match_requests(move |req| {
                    let key = req
                        .key()
                        .and_then(|k| k.get("pk"))
                        .and_then(|v| v.as_s().ok())
                        .cloned()
                        .unwrap_or_default();
                    let mut t = capture.0.lock().unwrap();
                    t.get.begin(&key);
                    t.reading = key;
                    true
                })
                .sequence()
                .http_response(move || answer.get_item())
                .repeatedly()
                .build()
        };
        let put = {
            let (capture, answer) = (self.clone(), self.clone());
            mock!(aws_sdk_dynamodb::Client::put_item)
                .match_requests(move |req| {
                    let key = req
                        .item()
                        .and_then(|i| i.get("pk"))
                        .and_then(|v| v.as_s().ok())
                        .cloned()
                        .unwrap_or_default();
                    let mut t = capture.0.lock().unwrap();
                    t.put.begin(&key);
                    t.writing = (key, req.condition_expression().is_some());
                    true
                })
                .sequence()
                .http_response(move || answer.put_item())
                .repeatedly()
                .build()
        };
        let config =
            aws_sdk_dynamodb::config::Builder::from(&on_virtual_clock(&faults::sdk_config().await))
                .http_client(create_mock_http_client())
                .interceptor(
                    MockResponseInterceptor::new()
                        .rule_mode(RuleMode::MatchAny)
                        .with_rule(&get)
                        .with_rule(&put),
                )
                // Retry quota and adaptive rate are shared per partition: one
                // per client keeps one test's storm from starving another's.
                .retry_partition(RetryPartition::new(Moto::shared().unique("faults-ddb")))
                .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }

    fn recorded(&self) -> Vec<String> {
        self.0.lock().unwrap().items.keys().cloned().collect()
    }
}

struct Fixture {
    sdk: aws_types::SdkConfig,
    slack: SlackReceiver,
    config: Config,
    ledger: FakeLedger,
}

impl Fixture {
    async fn new() -> Self {
        let Setup {
            sdk,
            slack,
            mut env,
            ..
        } = Setup::new("audit").await;
        env.set("IDEMPOTENCY_TABLE", TABLE);
        let mut env = Env::from_pairs(env);
        let config = Config::from_env(&mut env);
        env.finish().unwrap();
        Self {
            sdk,
            slack,
            config,
            ledger: FakeLedger::default(),
        }
    }

    /// A Lambda sandbox's notifier and ledger (each has its own clients and
    /// cache), with the ledger in the model and Slack messages `spacing` apart.
    async fn notifier(&self, spacing: Duration) -> (Notifier, Ledger) {
        let notifier = Notifier::new(
            RetryPolicy {
                spacing,
                ..toilkit_tests::slack::fast_retries(2)
            },
            SecretStore::new(&self.sdk),
            self.config.webhook.clone(),
        );
        (notifier, Ledger::new(self.ledger.client().await, TABLE))
    }

    /// One batch with a `DROP TABLE` on each of three instances of a
    /// cluster: one message part per instance.
    fn plan(&self) -> Plan {
        let lines = [
            "1700000000123456,aurora-prod-instance-1,admin,10.0.3.44,47,1,QUERY,appdb,'DROP TABLE a',0",
            "1700000000223456,aurora-prod-instance-2,admin,10.0.3.44,48,2,QUERY,appdb,'DROP TABLE b',0",
            "1700000000323456,aurora-prod-instance-3,admin,10.0.3.44,49,3,QUERY,appdb,'DROP TABLE c',0",
        ];
        let document = toilkit_tests::logs_subscription::log_data(
            GROUP,
            "stream-1",
            1_700_000_000_000,
            &lines,
        );
        let event = toilkit_tests::logs_subscription::event(&document);
        let data = shared::input::decode_logs_subscription(event).unwrap();
        let plan = plan::plan(&data, &self.config.rules);
        assert_eq!(plan.deliveries.len(), 3, "one part per instance");
        plan
    }

    /// How many times Slack showed each table's drop, for tables a, b, c.
    fn posted(&self) -> [usize; 3] {
        let texts: Vec<String> = self
            .slack
            .delivered_to("audit")
            .iter()
            .map(|m| m.to_string())
            .collect();
        ["DROP TABLE a", "DROP TABLE b", "DROP TABLE c"]
            .map(|drop| texts.iter().filter(|t| t.contains(drop)).count())
    }
}

/// One delivery attempt of the batch, as the handler makes it.
async fn deliver(
    (notifier, ledger): &(Notifier, Ledger),
    plan: &Plan,
    deadline: Deadline,
) -> (Result<(), Error>, Report) {
    let mut report = Report::new(rds_audit_notifier::FUNCTION, false);
    let result = apply::deliver(plan, notifier, Some(ledger), &deadline, &mut report).await;
    (result, report)
}

/// How the report names the `i`th message part.
fn target(plan: &Plan, i: usize) -> String {
    let d = &plan.deliveries[i];
    format!("{} (part {}/{})", d.instance, d.part, d.parts)
}

fn keys(plan: &Plan) -> Vec<String> {
    let mut keys: Vec<String> = plan.deliveries.iter().map(|d| d.key.clone()).collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn a_throttling_storm_on_the_ledger_is_retried_and_each_part_is_posted_and_recorded_once() {
    let fx = Fixture::new().await;
    let plan = fx.plan();
    // Every read and every write meets the longest storm the SDK's
    // retries get through.
    {
        let mut t = fx.ledger.0.lock().unwrap();
        t.get.storm = vec![
            Ddb::Throttled,
            Ddb::ThroughputExceeded,
            Ddb::Throttled,
            Ddb::Throttled,
        ];
        t.get.storm_calls = usize::MAX;
        t.put.storm = vec![Ddb::ThroughputExceeded; ATTEMPTS - 1];
        t.put.storm_calls = usize::MAX;
    }
    let notifier = fx.notifier(Duration::from_millis(1)).await;

    let (result, report) = deliver(&notifier, &plan, Deadline::unbounded()).await;
    result.expect("the storm stays within the SDK's retries");
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(report.counter("messages_delivered"), 3);
    assert_eq!(fx.posted(), [1, 1, 1]);
    assert_eq!(fx.ledger.recorded(), keys(&plan), "every part recorded");
    {
        let t = fx.ledger.0.lock().unwrap();
        assert_eq!(t.get.attempts, 3 * ATTEMPTS, "every read met the storm");
        assert_eq!(t.put.attempts, 3 * ATTEMPTS, "every write met the storm");
    }

    // The same batch delivered again (Lambda's at-least-once delivery),
    // through the storm: nothing is posted twice.
    let (result, report) = deliver(&notifier, &plan, Deadline::unbounded()).await;
    result.unwrap();
    assert_eq!(
        report.counter("messages_already_delivered"),
        3,
        "{report:?}"
    );
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(fx.posted(), [1, 1, 1]);
}

#[tokio::test]
async fn a_slack_part_that_fails_for_good_fails_the_invocation_and_the_retry_posts_only_the_rest() {
    let fx = Fixture::new().await;
    let plan = fx.plan();
    // The ledger is in a 5xx storm the SDK's retries get through.
    {
        let mut t = fx.ledger.0.lock().unwrap();
        t.get.storm = vec![Ddb::Unavailable, Ddb::Internal];
        t.get.storm_calls = 3;
        t.put.storm = vec![Ddb::Internal; ATTEMPTS - 1];
        t.put.storm_calls = 3;
    }
    // Part 1 goes through; part 2 meets a 500 on every try.
    fx.slack
        .script([Reply::Ok, Reply::Status(500), Reply::Status(500)]);
    let notifier = fx.notifier(Duration::from_millis(1)).await;

    let (result, report) = deliver(&notifier, &plan, Deadline::unbounded()).await;
    let text = result
        .expect_err("a part that could not be posted fails the invocation")
        .to_string();
    assert!(text.contains("1 of 3 pending part(s) delivered"), "{text}");
    assert_eq!(report.failed.len(), 1, "{:?}", report.failed);
    assert_eq!(report.failed[0].action, "post_slack_message");
    assert_eq!(report.failed[0].target, target(&plan, 1));
    assert_eq!(report.applied.len(), 1, "{:?}", report.applied);
    assert_eq!(fx.posted(), [1, 0, 0]);
    assert_eq!(
        fx.ledger.recorded(),
        [plan.deliveries[0].key.clone()],
        "only the posted part is recorded"
    );

    // Lambda retries the event (a new attempt may land in another sandbox).
    let retry = fx.notifier(Duration::from_millis(1)).await;
    let (result, report) = deliver(&retry, &plan, Deadline::unbounded()).await;
    result.expect("the retry delivers the rest");
    assert_eq!(report.counter("messages_already_delivered"), 1);
    assert_eq!(report.counter("messages_delivered"), 2);
    assert_eq!(fx.posted(), [1, 1, 1], "each alert exactly once");
    assert_eq!(fx.ledger.recorded(), keys(&plan));
}

#[tokio::test]
async fn a_ledger_write_that_fails_for_good_is_reported_and_only_that_part_can_repeat() {
    let fx = Fixture::new().await;
    let plan = fx.plan();
    let unrecorded = plan.deliveries[0].key.clone();
    fx.ledger
        .0
        .lock()
        .unwrap()
        .put
        .for_good
        .insert(unrecorded.clone(), Ddb::Internal);
    let notifier = fx.notifier(Duration::from_millis(1)).await;

    let (result, report) = deliver(&notifier, &plan, Deadline::unbounded()).await;
    // The alert is out; losing it to a bookkeeping failure would be worse
    // than posting it twice, so the invocation does not fail.
    result.expect("delivered");
    assert_eq!(fx.posted(), [1, 1, 1]);
    assert_eq!(report.failed.len(), 1, "{:?}", report.failed);
    let failure = &report.failed[0];
    assert_eq!(failure.action, "record_delivery");
    assert!(failure.error.contains(TABLE), "{failure:?}");
    assert!(failure.error.contains(&unrecorded), "{failure:?}");
    assert!(failure.error.contains("InternalServerError"), "{failure:?}");
    assert!(!report.succeeded());
    assert_eq!(
        fx.ledger.0.lock().unwrap().put.attempts,
        ATTEMPTS + 2,
        "the SDK retried the failing write to its budget"
    );

    // Should the batch come again, only the part the report flagged is
    // posted again, and then it is recorded.
    fx.ledger.0.lock().unwrap().put.for_good.clear();
    let (result, report) = deliver(&notifier, &plan, Deadline::unbounded()).await;
    result.unwrap();
    assert_eq!(report.counter("messages_already_delivered"), 2);
    assert_eq!(fx.posted(), [2, 1, 1]);
    assert_eq!(fx.ledger.recorded(), keys(&plan));
}

#[tokio::test]
async fn running_out_of_time_between_parts_fails_with_how_far_it_got_and_the_retry_resumes() {
    let fx = Fixture::new().await;
    let plan = fx.plan();
    // Slack's one message per second per webhook, and little time left:
    // the second part's turn comes after the deadline.
    let notifier = fx.notifier(Duration::from_millis(2_000)).await;

    let (result, report) = deliver(
        &notifier,
        &plan,
        Deadline::after(Duration::from_millis(1_500)),
    )
    .await;
    let text = result.expect_err("out of time").to_string();
    assert!(text.contains("1 of 3 pending part(s) delivered"), "{text}");
    assert!(text.contains("no time left"), "{text}");
    assert_eq!(report.applied.len(), 1);
    assert_eq!(report.failed.len(), 1, "{:?}", report.failed);
    assert_eq!(report.failed[0].target, target(&plan, 1));
    assert_eq!(fx.posted(), [1, 0, 0]);
    assert_eq!(fx.ledger.recorded(), [plan.deliveries[0].key.clone()]);

    let retry = fx.notifier(Duration::from_millis(1)).await;
    let (result, report) = deliver(&retry, &plan, Deadline::after(Duration::from_secs(60))).await;
    result.expect("with time, the rest is delivered");
    assert_eq!(report.counter("messages_already_delivered"), 1);
    assert_eq!(fx.posted(), [1, 1, 1]);
}

#[tokio::test]
async fn a_part_another_invocation_delivered_at_the_same_time_is_reported_as_posted_twice() {
    let fx = Fixture::new().await;
    let plan = fx.plan();
    // The same batch is being delivered by a second invocation: it posts
    // and records part 2 between this invocation's read and its write.
    let raced = plan.deliveries[1].key.clone();
    fx.ledger.0.lock().unwrap().competitors = vec![raced.clone()];
    let notifier = fx.notifier(Duration::from_millis(1)).await;

    let (result, report) = deliver(&notifier, &plan, Deadline::unbounded()).await;
    result.expect("every part was delivered");
    assert_eq!(fx.posted(), [1, 1, 1], "this invocation's posts");
    assert_eq!(report.failed.len(), 1, "{:?}", report.failed);
    assert_eq!(report.failed[0].action, "record_delivery");
    assert!(
        report.failed[0].error.contains("posted twice"),
        "{:?}",
        report.failed[0]
    );
    assert!(report.failed[0].error.contains(&raced));
    assert_eq!(fx.ledger.recorded(), keys(&plan));

    // Any later delivery posts nothing.
    let (result, report) = deliver(&notifier, &plan, Deadline::unbounded()).await;
    result.unwrap();
    assert_eq!(report.counter("messages_already_delivered"), 3);
    assert_eq!(fx.posted(), [1, 1, 1]);
}
