//! Fault injection for waf-ip-blocker's IP set writes (aws-smithy-mocks).
//!
//! WAF is replaced by a small model of one IP set with WAF's optimistic
//! locking: `GetIPSet` hands out the content and a lock token, `UpdateIPSet`
//! succeeds only with the current token and rotates it. A competing writer
//! can slip in right before the blocker's write (a lock-token race), and a
//! script of throttling and 5xx answers can be put in front of any call.
//! DynamoDB (the ledger and the window counts) is moto. In every case the
//! test checks what an operator would: no address another writer added is
//! lost, every block the run decided lands or is reported as failed, and a
//! failed write is made good by the next run.

use toilkit_tests::faults;

use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_wafv2::types::IpAddressVersion;
use aws_smithy_mocks::{MockResponseInterceptor, RuleMode, create_mock_http_client, mock};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use faults::{Fault, Script, error, fast_retry, ok};
use ipnet::IpNet;
use serde_json::{Value, json};
use shared::Deadline;
use shared::config::Env;
use shared::output::Output;
use toilkit_tests::Moto;
use toilkit_tests::logs_subscription;
use waf_ip_blocker::App;
use waf_ip_blocker::config::Config;
use waf_ip_blocker::delta::SetDelta;
use waf_ip_blocker::ipset::{self, IpSetRef, WriteGate};

const SET_ARN: &str = "arn:aws:wafv2:us-east-1:123456789012:regional/ipset/blocked-v4/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111";

/// One IPv4 set as WAF keeps it.
#[derive(Debug, Default)]
struct SetState {
    addresses: Vec<String>,
    token: u64,
    /// Addresses other writers add, one right before each of the blocker's
    /// next `UpdateIPSet` calls: the blocker's token is then stale.
    competitors: Vec<String>,
    /// The tokens the blocker's updates carried, and whether each won.
    updates: Vec<(String, bool)>,
    gets: usize,
}

/// An `UpdateIPSet` request: the lock token it carries and the content.
type Update = (String, Vec<String>);

/// The model behind a mocked WAF client. Every answer, success or failure,
/// is a wire response (awsJson 1.1) that the real SDK deserializes and
/// classifies, so its retry policy handles the faults as in production.
#[derive(Clone, Default)]
struct FakeWaf {
    state: Arc<Mutex<SetState>>,
    /// The `UpdateIPSet` request being made (captured before its first
    /// attempt; the SDK's retries resend the same request).
    pending: Arc<Mutex<Option<Update>>>,
    /// Faults in front of `GetIPSet` and `UpdateIPSet` attempts (each
    /// attempt the SDK makes counts).
    get_faults: Script,
    update_faults: Script,
}

impl FakeWaf {
    fn with(addresses: &[&str]) -> Self {
        let waf = Self::default();
        waf.state.lock().unwrap().addresses = addresses.iter().map(|a| a.to_string()).collect();
        waf
    }

    fn get_ip_set(&self) -> HttpResponse {
        if let Some(fault) = self.get_faults.next() {
            return fault.response();
        }
        let mut state = self.state.lock().unwrap();
        state.gets += 1;
        ok(json!({
            "IPSet": {
                "Name": "blocked-v4",
                "Id": "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111",
                "ARN": SET_ARN,
                "Description": "blocked by waf-ip-blocker",
                "IPAddressVersion": "IPV4",
                "Addresses": state.addresses,
            },
            "LockToken": format!("token-{}", state.token),
        }))
    }

    fn update_ip_set(&self) -> HttpResponse {
        if let Some(fault) = self.update_faults.next() {
            return fault.response();
        }
        let (carried, addresses) = self.pending.lock().unwrap().clone().unwrap_or_default();
        let mut state = self.state.lock().unwrap();
        if !state.competitors.is_empty() {
            let other = state.competitors.remove(0);
            state.addresses.push(other);
            state.token += 1;
        }
        if carried != format!("token-{}", state.token) {
            state.updates.push((carried, false));
            return error(
                400,
                "WAFOptimisticLockException",
                "AWS WAF couldn't save your changes because someone changed the resource after you started to edit it. Reapply your changes.",
            );
        }
        state.updates.push((carried, true));
        state.addresses = addresses;
        state.token += 1;
        ok(json!({"NextLockToken": format!("token-{}", state.token)}))
    }

    async fn client(&self) -> aws_sdk_wafv2::Client {
        let get = {
            let waf = self.clone();
            mock!(aws_sdk_wafv2::Client::get_ip_set)
                .sequence()
                .http_response(move || waf.get_ip_set())
                .repeatedly()
                .build()
        };
        let update = {
            let capture = self.clone();
            let waf = self.clone();
            mock!(aws_sdk_wafv2::Client::update_ip_set)
                .match_requests(move |req| {
                    *capture.pending.lock().unwrap() = Some((
                        req.lock_token().unwrap_or_default().to_owned(),
                        req.addresses().to_vec(),
                    ));
                    true
                })
                .sequence()
                .http_response(move || waf.update_ip_set())
                .repeatedly()
                .build()
        };
        let interceptor = MockResponseInterceptor::new()
            .rule_mode(RuleMode::MatchAny)
            .with_rule(&get)
            .with_rule(&update);
        let config = aws_sdk_wafv2::config::Builder::from(&faults::sdk_config().await)
            .http_client(create_mock_http_client())
            .interceptor(interceptor)
            .retry_config(fast_retry())
            .build();
        aws_sdk_wafv2::Client::from_conf(config)
    }

    fn addresses(&self) -> Vec<String> {
        let mut out = self.state.lock().unwrap().addresses.clone();
        out.sort();
        out
    }
}

fn set_ref() -> IpSetRef {
    SET_ARN.parse().unwrap()
}

fn delta(add: &[&str], remove: &[&str]) -> SetDelta {
    let nets = |v: &[&str]| -> Vec<IpNet> { v.iter().map(|a| a.parse().unwrap()).collect() };
    SetDelta {
        add: nets(add),
        remove: nets(remove).into_iter().collect(),
    }
}

#[tokio::test]
async fn a_lock_token_race_storm_keeps_every_address_other_writers_added() {
    let waf = FakeWaf::with(&["192.0.2.1/32", "198.51.100.7/32"]);
    // Three other writers win the lock, one after each of our reads.
    waf.state.lock().unwrap().competitors = vec![
        "203.0.113.1/32".into(),
        "203.0.113.2/32".into(),
        "203.0.113.3/32".into(),
    ];
    let client = waf.client().await;
    let current = ipset::read(&client, &set_ref(), IpAddressVersion::Ipv4)
        .await
        .unwrap();

    let written = ipset::write(
        &client,
        &set_ref(),
        IpAddressVersion::Ipv4,
        current,
        &delta(&["100.64.0.9/32", "100.64.0.10/32"], &["198.51.100.7/32"]),
        10_000,
        &WriteGate::default(),
    )
    .await
    .expect("the update lands once the races stop");

    assert_eq!(written.conflicts, 3);
    assert_eq!(written.writes, 1);
    assert_eq!(
        waf.addresses(),
        [
            "100.64.0.10/32",
            "100.64.0.9/32",
            "192.0.2.1/32",
            "203.0.113.1/32",
            "203.0.113.2/32",
            "203.0.113.3/32",
        ],
        "our additions and every other writer's address, without the removed one"
    );
    let state = waf.state.lock().unwrap();
    // Each retry re-read the set and carried the token it was given.
    assert_eq!(state.gets, 4, "one read, then one per conflict");
    let tokens: Vec<&str> = state.updates.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(tokens, ["token-0", "token-1", "token-2", "token-3"]);
    assert_eq!(state.updates.iter().filter(|(_, won)| *won).count(), 1);
}

#[tokio::test]
async fn a_race_that_never_ends_is_an_error_naming_the_set_and_nothing_is_half_written() {
    let waf = FakeWaf::with(&["192.0.2.1/32"]);
    waf.state.lock().unwrap().competitors = (0..20).map(|i| format!("203.0.113.{i}/32")).collect();
    let client = waf.client().await;
    let current = ipset::read(&client, &set_ref(), IpAddressVersion::Ipv4)
        .await
        .unwrap();

    let err = ipset::write(
        &client,
        &set_ref(),
        IpAddressVersion::Ipv4,
        current,
        &delta(&["100.64.0.9/32"], &[]),
        10_000,
        &WriteGate::default(),
    )
    .await
    .expect_err("the blocker gives up after its bounded attempts");

    let text = err.to_string();
    assert!(text.contains(SET_ARN), "{text}");
    assert!(text.contains("UpdateIPSet"), "{text}");
    let state = waf.state.lock().unwrap();
    assert_eq!(state.updates.len(), ipset::MAX_ATTEMPTS as usize);
    assert!(state.updates.iter().all(|(_, won)| !won));
    assert!(
        !state.addresses.contains(&"100.64.0.9/32".to_owned()),
        "no write of ours landed"
    );
    assert_eq!(
        state.addresses.len(),
        1 + ipset::MAX_ATTEMPTS as usize,
        "other writers kept"
    );
}

#[tokio::test]
async fn throttling_storms_and_5xx_on_reads_and_writes_are_retried_and_the_update_lands() {
    let waf = FakeWaf::with(&["192.0.2.1/32"]);
    waf.state.lock().unwrap().competitors = vec!["203.0.113.1/32".into()];
    // Below the SDK's retry budget (MAX_ATTEMPTS per call): each call
    // succeeds on its last attempt.
    let retries = shared::aws::MAX_ATTEMPTS as usize - 1;
    waf.get_faults.push(Fault::Throttled, retries);
    waf.update_faults.push(Fault::Throttled, retries);
    let client = waf.client().await;
    let current = ipset::read(&client, &set_ref(), IpAddressVersion::Ipv4)
        .await
        .unwrap();
    // The conflict makes the blocker read again, through 5xx this time.
    waf.get_faults.push(Fault::Unavailable, 2);
    waf.get_faults.push(Fault::Internal, 1);

    let written = ipset::write(
        &client,
        &set_ref(),
        IpAddressVersion::Ipv4,
        current,
        &delta(&["100.64.0.9/32"], &[]),
        10_000,
        &WriteGate::default(),
    )
    .await
    .expect("retries absorb the storm");

    assert_eq!((written.writes, written.conflicts), (1, 1));
    assert_eq!(
        waf.addresses(),
        ["100.64.0.9/32", "192.0.2.1/32", "203.0.113.1/32"]
    );
    assert_eq!(
        waf.get_faults.left() + waf.update_faults.left(),
        0,
        "every fault was met"
    );
}

// The whole handler, through a storm longer than the retry budget.

struct Fixture {
    sdk: aws_types::SdkConfig,
    table: String,
}

impl Fixture {
    async fn new() -> Self {
        let moto = Moto::shared();
        let sdk = moto.sdk_config().await;
        let table = moto.unique("faults-waf-ledger");
        toilkit_tests::tables::create_pk_table(&aws_sdk_dynamodb::Client::new(&sdk), &table)
            .await
            .unwrap();
        Self { sdk, table }
    }

    /// The blocker with its ledger in moto and its one IP set in `waf`.
    async fn app(&self, waf: &FakeWaf) -> App {
        self.app_with(waf, &[]).await
    }

    /// [`Fixture::app`] with more variables.
    async fn app_with(&self, waf: &FakeWaf, extra: &[(&str, &str)]) -> App {
        let mut vars = vec![
            ("LEDGER_TABLE", self.table.as_str()),
            ("IPSET_V4_ARN", SET_ARN),
            ("THRESHOLD", "20"),
        ];
        vars.extend_from_slice(extra);
        let mut env = Env::from_pairs(vars);
        let config = Config::from_env(&mut env);
        env.finish().unwrap();
        let mut app = App::new(config, &self.sdk, Output::default());
        app.sets[0].client = waf.client().await;
        app
    }
}

/// A CloudWatch Logs subscription from a WAF log group carrying `n`
/// requests from each of `ips`, inside the current window.
fn flood(ips: &[&str], n: usize) -> Value {
    let now_ms = waf_ip_blocker::now() * 1000;
    let window_start = now_ms - now_ms.rem_euclid(300_000) + 1_000;
    let mut events = Vec::new();
    for ip in ips {
        for i in 0..n {
            let record = json!({
                "timestamp": window_start + i as i64,
                "action": "ALLOW",
                "terminatingRuleId": "Default_Action",
                "httpRequest": {"clientIp": ip, "uri": "/login", "headers": []},
            });
            events.push(json!({"id": format!("{ip}-{i}"), "timestamp": window_start, "message": record.to_string()}));
        }
    }
    logs_subscription::event(&logs_subscription::document(
        "aws-waf-logs-shop",
        "us-east-1_shop_0",
        events,
    ))
}

fn scheduled() -> Value {
    serde_json::from_str(&toilkit_tests::workspace::sample("scheduled-event.json")).unwrap()
}

#[tokio::test]
async fn a_5xx_storm_past_the_retry_budget_is_reported_and_the_next_run_makes_it_good() {
    let fixture = Fixture::new().await;
    let waf = FakeWaf::with(&["192.0.2.1/32"]);
    waf.update_faults.push(Fault::Unavailable, 1_000);
    let app = fixture.app(&waf).await;

    let report = waf_ip_blocker::run(
        flood(&["100.64.0.9", "100.64.0.10"], 25),
        &app,
        &Deadline::after(Duration::from_secs(60)),
        waf_ip_blocker::now(),
    )
    .await
    .expect("the run itself completes and reports");

    // Decided, recorded in the ledger, and the failed write named.
    let planned: Vec<&str> = report
        .planned
        .iter()
        .filter(|a| a.action == "block_ip")
        .map(|a| a.target.as_str())
        .collect();
    assert_eq!(planned.len(), 2, "{report:?}");
    assert_eq!(report.counter("ledger_items_written"), 2, "{report:?}");
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert_eq!(report.failed[0].target, SET_ARN);
    assert!(
        report.failed[0].error.contains("UpdateIPSet"),
        "{:?}",
        report.failed[0]
    );
    assert!(
        !report.applied.iter().any(|a| a.action == "block_ip"),
        "no block may be reported as applied: {:?}",
        report.applied
    );
    assert!(!report.succeeded());
    assert_eq!(
        waf.addresses(),
        ["192.0.2.1/32"],
        "the set was not half written"
    );

    // WAF recovers; the scheduled reconcile writes what the ledger holds.
    let healed = FakeWaf::with(
        &waf.addresses()
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let app = fixture.app(&healed).await;
    let report = waf_ip_blocker::run(
        scheduled(),
        &app,
        &Deadline::after(Duration::from_secs(60)),
        waf_ip_blocker::now(),
    )
    .await
    .unwrap();
    assert!(report.failed.is_empty(), "{report:?}");
    assert_eq!(
        healed.addresses(),
        ["100.64.0.10/32", "100.64.0.9/32", "192.0.2.1/32"],
        "the blocks decided during the storm reached the set"
    );
}

#[tokio::test]
async fn a_deadline_that_comes_before_the_write_stops_cleanly_and_says_where() {
    let fixture = Fixture::new().await;
    let waf = FakeWaf::with(&["192.0.2.1/32"]);
    let app = fixture.app(&waf).await;

    // The budget is gone before anything could be written.
    let report = waf_ip_blocker::run(
        flood(&["100.64.0.11"], 25),
        &app,
        &Deadline::after(Duration::ZERO),
        waf_ip_blocker::now(),
    )
    .await
    .expect("a deadline stop is a report, not an error");

    assert!(report.stopped_early, "{report:?}");
    let reason = report.stop_reason.clone().unwrap_or_default();
    assert!(reason.contains("deadline"), "{reason}");
    assert!(
        waf.state.lock().unwrap().updates.is_empty(),
        "nothing written after the deadline"
    );
    assert!(
        !report.applied.iter().any(|a| a.action == "block_ip"),
        "no block may be reported as applied: {:?}",
        report.applied
    );
    assert_eq!(waf.addresses(), ["192.0.2.1/32"]);
}

// Faults after the log was read: the attackers must not be lost, and a
// retry must count nothing twice.

/// A WAF log object in moto with `n` requests from `ip`, and the S3
/// notification for it.
async fn log_object(sdk: &aws_types::SdkConfig, ip: &str, n: usize) -> Value {
    let s3 = shared::aws::s3_client(sdk);
    let bucket = Moto::shared().unique("aws-waf-logs-faults");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let now_ms = waf_ip_blocker::now() * 1000;
    let window_start = now_ms - now_ms.rem_euclid(300_000) + 1_000;
    let mut body = Vec::new();
    for i in 0..n {
        let record = json!({
            "timestamp": window_start + i as i64,
            "action": "BLOCK",
            "terminatingRuleId": "Default_Action",
            "httpRequest": {"clientIp": ip, "uri": "/", "headers": []},
        });
        writeln!(body, "{record}").unwrap();
    }
    s3.put_object()
        .bucket(&bucket)
        .key("waf.log")
        .body(body.into())
        .send()
        .await
        .unwrap();
    // An S3 notification in the shape S3 sends it.
    json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-01-01T00:00:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AROAEXAMPLE:delivery"},
        "requestParameters": {"sourceIPAddress": "10.0.0.1"},
        "responseElements": {"x-amz-request-id": "EXAMPLE123456789", "x-amz-id-2": "EXAMPLE123/abcdefghijklmn"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "waf-logs",
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": "EXAMPLE"}, "arn": format!("arn:aws:s3:::{bucket}")},
            "object": {"key": "waf.log", "size": 1024, "eTag": "etag-1", "sequencer": "0055AED6DCD90281E5"}}}]})
}

#[tokio::test]
async fn a_get_ip_set_failure_after_the_read_leaves_the_object_to_the_retry() {
    let fixture = Fixture::new().await;
    let event = log_object(&fixture.sdk, "100.64.0.20", 25).await;
    let broken = FakeWaf::with(&[]);
    broken.get_faults.push(Fault::Unavailable, 1_000);
    let app = fixture.app(&broken).await;
    let err = waf_ip_blocker::run(
        event.clone(),
        &app,
        &Deadline::after(Duration::from_secs(60)),
        waf_ip_blocker::now(),
    )
    .await
    .expect_err("GetIPSet failed: the invocation fails and Lambda retries");
    assert!(err.to_string().contains("GetIPSet"), "{err}");

    // WAF recovers and Lambda retries the same event.
    let healed = FakeWaf::with(&[]);
    let app = fixture.app(&healed).await;
    let report = waf_ip_blocker::run(
        event,
        &app,
        &Deadline::after(Duration::from_secs(60)),
        waf_ip_blocker::now(),
    )
    .await
    .unwrap();
    assert_eq!(report.counter("requests_counted"), 25, "{report:?}");
    assert_eq!(healed.addresses(), ["100.64.0.20/32"], "{report:?}");
}

#[tokio::test]
async fn a_logs_delivery_retried_after_a_failure_halfway_counts_once() {
    let fixture = Fixture::new().await;
    // 15 requests, under the threshold of 20: its window count is stored,
    // then GetIPSet fails.
    let delivery = flood(&["100.64.0.21"], 15);
    let broken = FakeWaf::with(&[]);
    broken.get_faults.push(Fault::Unavailable, 1_000);
    let app = fixture.app(&broken).await;
    let deadline = Deadline::after(Duration::from_secs(60));
    waf_ip_blocker::run(delivery.clone(), &app, &deadline, waf_ip_blocker::now())
        .await
        .expect_err("GetIPSet failed");

    let healed = FakeWaf::with(&[]);
    let app = fixture.app(&healed).await;
    let retry = waf_ip_blocker::run(delivery, &app, &deadline, waf_ip_blocker::now())
        .await
        .unwrap();
    assert!(
        healed.addresses().is_empty(),
        "15 requests counted twice would be 30 and a block: {retry:?}"
    );
    // They were counted once: 5 more in another delivery reach 20.
    let more = flood(&["100.64.0.21", "100.64.0.22"], 5);
    waf_ip_blocker::run(more, &app, &deadline, waf_ip_blocker::now())
        .await
        .unwrap();
    assert_eq!(healed.addresses(), ["100.64.0.21/32"]);
}

#[tokio::test]
async fn slack_names_the_failed_ip_set_write_and_claims_no_block() {
    let fixture = Fixture::new().await;
    let slack = toilkit_tests::SlackReceiver::start();
    let arn = slack.webhook_secret(&fixture.sdk, "sec").await;
    let waf = FakeWaf::with(&["192.0.2.1/32"]);
    waf.update_faults.push(Fault::Unavailable, 1_000);
    let app = fixture
        .app_with(&waf, &[("SLACK_WEBHOOK_SECRET_ARN", &arn)])
        .await;

    let report = waf_ip_blocker::run(
        flood(&["100.64.0.31"], 25),
        &app,
        &Deadline::after(Duration::from_secs(60)),
        waf_ip_blocker::now(),
    )
    .await
    .unwrap();
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert_eq!(waf.addresses(), ["192.0.2.1/32"]);

    let delivered = slack.delivered_to("sec");
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    let text = delivered[0].to_string();
    assert!(
        !text.contains("100.64.0.31 blocked"),
        "the block never reached the IP set: {text}"
    );
    assert!(
        text.contains("UpdateIPSet") && text.contains("blocked-v4"),
        "the message names what failed: {text}"
    );
    assert!(
        text.contains("100.64.0.31"),
        "and what it left undone: {text}"
    );
}
