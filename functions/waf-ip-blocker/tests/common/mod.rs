//! A blocker wired to moto: its own ledger table, IP sets and bucket.
use std::io::Write;

use aws_sdk_wafv2::types::{IpAddressVersion, Scope};
use aws_types::SdkConfig;
use flate2::Compression;
use flate2::write::GzEncoder;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use shared::config::Env;
use shared::output::Output;
use shared::report::Report;
use toilkit_tests::Moto;
use waf_ip_blocker::App;
use waf_ip_blocker::config::Config;
pub use waf_ip_blocker::tally::window_counter;

pub struct Fixture {
    pub sdk: SdkConfig,
    pub table: String,
    pub bucket: String,
    pub v4_arn: String,
    pub v6_arn: String,
    pub waf: aws_sdk_wafv2::Client,
    pub ddb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
}

impl Fixture {
    pub async fn new() -> Self {
        let moto = Moto::shared();
        let sdk = moto.sdk_config().await;
        let ddb = aws_sdk_dynamodb::Client::new(&sdk);
        let waf = aws_sdk_wafv2::Client::new(&sdk);
        let s3 = shared::aws::s3_client(&sdk);
        let table = moto.unique("waf-ledger");
        create_table(&ddb, &table).await;
        let bucket = moto.unique("aws-waf-logs-test");
        s3.create_bucket().bucket(&bucket).send().await.unwrap();
        let mut arns = Vec::new();
        for version in [IpAddressVersion::Ipv4, IpAddressVersion::Ipv6] {
            let out = waf
                .create_ip_set()
                .name(moto.unique("blocked"))
                .scope(Scope::Regional)
                .ip_address_version(version)
                .set_addresses(Some(vec![]))
                .description("blocked by waf-ip-blocker")
                .send()
                .await
                .unwrap();
            arns.push(out.summary.unwrap().arn.unwrap());
        }
        Self {
            sdk,
            table,
            bucket,
            v4_arn: arns[0].clone(),
            v6_arn: arns[1].clone(),
            waf,
            ddb,
            s3,
        }
    }

    /// The base variables plus `extra`.
    pub fn env(&self, extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut vars: Vec<(String, String)> = vec![
            ("LEDGER_TABLE".into(), self.table.clone()),
            ("IPSET_V4_ARN".into(), self.v4_arn.clone()),
            ("IPSET_V6_ARN".into(), self.v6_arn.clone()),
        ];
        vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        vars
    }

    pub fn config(&self, extra: &[(&str, &str)]) -> Config {
        let mut env = Env::from_pairs(self.env(extra));
        let config = Config::from_env(&mut env);
        env.finish().expect("test configuration is valid");
        config
    }

    pub fn app(&self, extra: &[(&str, &str)]) -> App {
        App::new(self.config(extra), &self.sdk, Output::default())
    }

    pub async fn put_log(&self, key: &str, lines: &[String], gzip: bool) {
        let mut body = lines.join("\n").into_bytes();
        body.push(b'\n');
        if gzip {
            let mut enc = GzEncoder::new(Vec::new(), Compression::default());
            enc.write_all(&body).unwrap();
            body = enc.finish().unwrap();
        }
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(body.into())
            .send()
            .await
            .unwrap();
    }

    /// The S3 notification form, with the key URL-encoded as S3 sends it.
    pub fn notification(&self, key: &str) -> Value {
        let mut event: Value = serde_json::from_str(&toilkit_tests::workspace::sample(
            "s3-object-created.notification.json",
        ))
        .unwrap();
        let record = &mut event["Records"][0]["s3"];
        record["bucket"]["name"] = json!(self.bucket);
        record["object"]["key"] = json!(key.replace(' ', "+"));
        record["object"]["eTag"] = json!(format!("etag-{key}"));
        event
    }

    /// The EventBridge "Object Created" form.
    pub fn object_created(&self, key: &str) -> Value {
        let mut event: Value = serde_json::from_str(&toilkit_tests::workspace::sample(
            "s3-object-created.eventbridge.json",
        ))
        .unwrap();
        event["detail"]["bucket"]["name"] = json!(self.bucket);
        event["detail"]["object"]["key"] = json!(key);
        event["detail"]["object"]["etag"] = json!(format!("etag-{key}"));
        event
    }

    pub async fn set(&self, arn: &str) -> (Vec<String>, String) {
        let (name, id) = name_and_id(arn);
        let out = self
            .waf
            .get_ip_set()
            .name(name)
            .id(id)
            .scope(Scope::Regional)
            .send()
            .await
            .unwrap();
        let mut addresses = out.ip_set.unwrap().addresses;
        addresses.sort();
        (addresses, out.lock_token.unwrap())
    }

    /// Writes the set directly, as a person or another tool would.
    pub async fn put_set(&self, arn: &str, addresses: &[&str]) {
        let (name, id) = name_and_id(arn);
        let (_, token) = self.set(arn).await;
        self.waf
            .update_ip_set()
            .name(name)
            .id(id)
            .scope(Scope::Regional)
            .set_addresses(Some(addresses.iter().map(|a| a.to_string()).collect()))
            .lock_token(token)
            .send()
            .await
            .unwrap();
    }

    /// The fixture's window salt (from its IP sets), as the function has it.
    pub fn salt(&self) -> u64 {
        self.config(&[]).window_salt()
    }

    /// Breaks the window item `ip`'s counts live in (five-minute windows, the
    /// general threshold): its `counts` is not a set, so every `ADD` to it
    /// fails. Returns the item's key, to mend it by deleting the item.
    pub async fn break_window_item(&self, window: i64, ip: &str) -> String {
        let (pk, _) = window_counter(self.salt(), window, 300, "*", ip.parse().unwrap());
        self.ddb
            .put_item()
            .table_name(&self.table)
            .item("pk", aws_sdk_dynamodb::types::AttributeValue::S(pk.clone()))
            .item(
                "counts",
                aws_sdk_dynamodb::types::AttributeValue::S("not a set".into()),
            )
            .send()
            .await
            .unwrap();
        pk
    }

    /// The stored window count of `ip` under the general threshold, read as
    /// an operator would: the sum of its elements in the item's `counts`.
    pub async fn window_count(&self, window: i64, ip: &str) -> Option<u64> {
        let (pk, address) = window_counter(self.salt(), window, 300, "*", ip.parse().unwrap());
        let item = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(pk))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item?;
        let counts: Vec<u64> = item
            .get("counts")?
            .as_ss()
            .ok()?
            .iter()
            .filter_map(|e| {
                let mut fields = e.split(' ');
                (fields.next() == Some(address.as_str())).then_some(())?;
                fields.next()?.parse().ok()
            })
            .collect();
        (!counts.is_empty()).then(|| counts.iter().sum())
    }

    /// Every item of the ledger table, by `pk`.
    pub async fn items(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .ddb
                .scan()
                .table_name(&self.table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            out.extend(page.items().iter().map(|i| i["pk"].as_s().unwrap().clone()));
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        out.sort();
        out
    }
}

/// A ledger table as the template creates it: key `pk` (string).
pub async fn create_table(ddb: &aws_sdk_dynamodb::Client, table: &str) {
    toilkit_tests::tables::create_pk_table(ddb, table)
        .await
        .unwrap();
}

fn name_and_id(arn: &str) -> (String, String) {
    let parts: Vec<&str> = arn.rsplitn(3, '/').collect();
    (parts[1].to_owned(), parts[0].to_owned())
}

/// Runs the real handler.
pub async fn invoke(app: &App, event: Value) -> Result<Report, String> {
    waf_ip_blocker::handle(LambdaEvent::new(event, Context::default()), app)
        .await
        .map_err(|e| e.to_string())
}

/// The start of the current UTC window plus a few seconds, in ms, so a
/// test's requests all fall in one window.
pub fn window_ms(window_seconds: i64) -> i64 {
    let now = waf_ip_blocker::now();
    (now - now.rem_euclid(window_seconds) + 5) * 1000
}

/// A WAF record as WAF writes it (ALB source, headers, labels).
pub fn record(ts_ms: i64, ip: &str, action: &str, uri: &str) -> String {
    json!({
        "timestamp": ts_ms,
        "formatVersion": 1,
        "webaclId": "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/product-web/a1b2c3d4",
        "terminatingRuleId": "Default_Action",
        "terminatingRuleType": "REGULAR",
        "action": action,
        "terminatingRuleMatchDetails": [],
        "httpSourceName": "ALB",
        "httpSourceId": "123456789012-app/product-alb/0123456789abcdef",
        "ruleGroupList": [],
        "rateBasedRuleList": [],
        "nonTerminatingMatchingRules": [],
        "httpRequest": {
            "clientIp": ip,
            "country": "NL",
            "headers": [
                {"name": "host", "value": "www.example.com"},
                {"name": "user-agent", "value": "Mozilla/5.0 (X11; Linux x86_64)"},
                {"name": "x-forwarded-for", "value": "198.51.100.250"}
            ],
            "uri": uri,
            "args": "q=1",
            "httpVersion": "HTTP/1.1",
            "httpMethod": "GET",
            "requestId": "1-65a1b2c3-0123456789abcdef01234567"
        },
        "labels": [{"name": "awswaf:clientip:geo:country:NL"}]
    })
    .to_string()
}

/// `n` requests from `ip`, one per 10 ms from `ts_ms`.
pub fn flood(ts_ms: i64, ip: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| record(ts_ms + i as i64 * 10, ip, "ALLOW", "/"))
        .collect()
}

pub use toilkit_tests::report::targets;
