//! What invoked the function: log objects to count, log events to count, or
//! only expiry and reconciliation; and the deliveries each is counted by.
//!
//! The events are read as the types `aws_lambda_events` gives them
//! (`S3Event`, `EventBridgeEvent`, the Logs subscription's `LogData`); an
//! event of any other shape, or a known one lacking what AWS always sends,
//! is refused with an error naming what arrived or what is missing.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::s3::{S3Entity, S3Event};
use percent_encoding::percent_decode_str;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shared::input::{EventKind, classify, decode_logs_subscription, is_control_message};

use crate::error::Error;

/// A WAF log object in S3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub bucket: String,
    pub key: String,
    /// ETag or sequencer: a rewritten object is counted again.
    pub version: String,
}

impl Object {
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    /// The ledger key recording that this object was counted.
    pub fn marker(&self) -> String {
        format!("obj#{}/{}#{}", self.bucket, self.key, self.version)
    }

    pub fn delivery(&self) -> Delivery {
        let marker = self.marker();
        Delivery {
            id: digest(&[marker.as_bytes()]),
            marker,
            label: self.url(),
        }
    }
}

/// One unit of input that is counted exactly once: a log object, or one
/// CloudWatch Logs subscription batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The ledger key marking it counted (`obj#...`, `logs#...`).
    pub marker: String,
    /// A short stable id, recorded in the window counts it added to.
    pub id: String,
    /// How the report names it.
    pub label: String,
}

impl Delivery {
    /// A Logs batch is named by its log group, stream and event ids:
    /// CloudWatch Logs gives every event a unique id, and a retried batch
    /// carries the same ones.
    fn logs(group: &str, stream: &str, ids: &[&str]) -> Self {
        let mut parts: Vec<&[u8]> = vec![group.as_bytes(), stream.as_bytes()];
        parts.extend(ids.iter().map(|id| id.as_bytes()));
        let id = digest(&parts);
        Self {
            marker: format!("logs#{id}"),
            id,
            label: format!("logs:{group}/{stream}"),
        }
    }
}

/// The id of a run that counts `deliveries`: a retry of the same event that
/// counts the same ones gets the same id.
pub fn run_id(deliveries: &[Delivery]) -> String {
    match deliveries {
        [] => String::new(),
        [one] => one.id.clone(),
        many => {
            let mut ids: Vec<&[u8]> = many.iter().map(|d| d.id.as_bytes()).collect();
            ids.sort();
            digest(&ids)
        }
    }
}

/// FNV-1a (128 bits) over the parts, each followed by a 0 byte so that
/// moving a boundary changes the result; stable across processes and
/// versions, unlike the standard hashers.
fn digest(parts: &[&[u8]]) -> String {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    let mut hash = OFFSET;
    for part in parts {
        for &b in part.iter().chain(std::iter::once(&0)) {
            hash ^= u128::from(b);
            hash = hash.wrapping_mul(PRIME);
        }
    }
    format!("{hash:032x}")
}

/// What invoked the function.
#[derive(Debug)]
pub enum Trigger {
    Objects(Vec<Object>),
    /// A CloudWatch Logs subscription delivery: each message is one record.
    Logs {
        group: String,
        delivery: Delivery,
        /// CloudWatch Logs' reachability check, which carries no records.
        control: bool,
        messages: Vec<String>,
    },
    /// Expire blocks and reconcile the sets with the ledger.
    Reconcile,
    /// One batch of a backfill execution's Distributed Map: objects listed
    /// under a prefix, counted like delivered ones, decided into the ledger
    /// (or, in a dry run, into the execution's scratch items) but never
    /// written to the IP sets: one step at the end does that once.
    Backfill {
        backfill: Backfill,
        objects: Vec<Object>,
    },
    /// The backfill's last step: writes the IP sets once from the ledger,
    /// or, in a dry run, reports who would have been blocked and when.
    BackfillFinish(Backfill),
}

/// A backfill execution, as its state machine names it to every batch and
/// to its last step.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backfill {
    /// The bucket the objects were listed from.
    pub bucket: String,
    /// The execution's name: a dry run's scratch items are its own.
    pub run: String,
    /// Required, not defaulted: writing blocks from old logs must be asked
    /// for, never assumed.
    pub dry_run: bool,
}

/// The input of a Distributed Map's batch (`ItemBatcher`): its `BatchInput`
/// under `backfill`, and the listed objects.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BackfillBatch {
    backfill: Backfill,
    #[serde(rename = "Items")]
    items: Vec<ListedObject>,
}

/// An object as the Distributed Map's S3 reader lists it. Step Functions
/// spells the field `Etag` (and gives `LastModified` as epoch seconds),
/// where `ListObjectsV2` and moto's executor say `ETag`: both are read. Its
/// other fields (`Size`, `LastModified`, `StorageClass`, checksums) are S3's
/// to add to; only the two read here must be there.
#[derive(Debug, Deserialize)]
struct ListedObject {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "Etag", alias = "ETag")]
    etag: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BackfillFinish {
    backfill_finish: Backfill,
}

/// Reads a backfill's batch or its last step; `None` when the event is
/// neither.
fn backfill(event: &Value) -> Option<Result<Trigger, Error>> {
    let read = |what: &str, e: serde_json::Error| {
        Error::UnsupportedEvent(format!("{what} that could not be read: {e}"))
    };
    if event.get("backfill").is_some() {
        return Some(
            BackfillBatch::deserialize(event)
                .map_err(|e| {
                    read(
                        "a backfill batch ({\"backfill\": {...}, \"Items\": [...]})",
                        e,
                    )
                })
                .and_then(|batch| {
                    let objects = batch
                        .items
                        .into_iter()
                        .map(|item| Object {
                            bucket: batch.backfill.bucket.clone(),
                            key: item.key,
                            // Listed quoted, notified bare: the same object
                            // must have one marker, so a backfill never counts
                            // what a notification counted, nor the reverse.
                            version: item.etag.trim_matches('"').to_owned(),
                        })
                        .collect();
                    if batch.backfill.bucket.is_empty() || batch.backfill.run.is_empty() {
                        return Err(Error::UnsupportedEvent(
                            "a backfill batch with an empty backfill.bucket or backfill.run"
                                .to_owned(),
                        ));
                    }
                    Ok(Trigger::Backfill {
                        backfill: batch.backfill,
                        objects,
                    })
                }),
        );
    }
    if event.get("backfill_finish").is_some() {
        return Some(
            BackfillFinish::deserialize(event)
                .map_err(|e| read("a backfill's last step ({\"backfill_finish\": {...}})", e))
                .and_then(|finish| {
                    if finish.backfill_finish.run.is_empty() {
                        return Err(Error::UnsupportedEvent(
                            "a backfill's last step with an empty backfill_finish.run".to_owned(),
                        ));
                    }
                    Ok(Trigger::BackfillFinish(finish.backfill_finish))
                }),
        );
    }
    None
}

/// The `detail` of EventBridge's S3 `Object Created` event, for which
/// `aws_lambda_events` has no type: the fields this function reads, as
/// EventBridge documents them (`bucket.name`, `object.key`, `object.etag`,
/// `object.sequencer`), in the crate's `EventBridgeEvent` envelope.
#[derive(Debug, Default, Serialize, Deserialize)]
struct ObjectCreated {
    #[serde(default)]
    bucket: Option<Named>,
    #[serde(default)]
    object: Option<CreatedObject>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Named {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct CreatedObject {
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    etag: Option<String>,
    #[serde(default)]
    sequencer: Option<String>,
}

/// Reads the event. S3 notification keys are URL-encoded (`+` for a space);
/// EventBridge keys are not.
pub fn parse(event: Value) -> Result<Trigger, Error> {
    if let Some(trigger) = backfill(&event) {
        return trigger;
    }
    match classify(&event) {
        EventKind::LogsSubscription => {
            let data = decode_logs_subscription(event)?;
            let ids: Vec<&str> = data.log_events.iter().map(|e| e.id.as_str()).collect();
            let delivery = Delivery::logs(&data.log_group, &data.log_stream, &ids);
            Ok(Trigger::Logs {
                delivery,
                control: is_control_message(&data),
                group: data.log_group,
                messages: data.log_events.into_iter().map(|e| e.message).collect(),
            })
        }
        EventKind::S3Notification => {
            let notification: S3Event = typed(event, "an S3 notification")?;
            let mut objects = Vec::new();
            for record in notification.records {
                let name = record.event_name.as_deref().unwrap_or_default();
                if !name.starts_with("ObjectCreated") {
                    continue;
                }
                let S3Entity { bucket, object, .. } = record.s3;
                let (Some(bucket), Some(key)) = (bucket.name, object.key) else {
                    return Err(Error::UnsupportedEvent(
                        "an S3 record lacks s3.bucket.name or s3.object.key".to_owned(),
                    ));
                };
                let plus_decoded = key.replace('+', " ");
                objects.push(Object {
                    bucket,
                    key: percent_decode_str(&plus_decoded)
                        .decode_utf8_lossy()
                        .into_owned(),
                    version: version(object.e_tag, object.sequencer),
                });
            }
            Ok(Trigger::Objects(objects))
        }
        EventKind::EventBridge {
            source,
            detail_type,
        } if source == "aws.s3" && detail_type == "Object Created" => {
            let event: EventBridgeEvent<ObjectCreated> =
                typed(event, "an S3 Object Created event")?;
            let detail = event.detail;
            let (Some(bucket), Some(object)) = (detail.bucket.and_then(|b| b.name), detail.object)
            else {
                return Err(lacks_bucket_or_key());
            };
            let Some(key) = object.key else {
                return Err(lacks_bucket_or_key());
            };
            Ok(Trigger::Objects(vec![Object {
                bucket,
                key,
                version: version(object.etag, object.sequencer),
            }]))
        }
        kind if kind.is_schedule() => Ok(Trigger::Reconcile),
        EventKind::Manual if event.get("action").and_then(Value::as_str) == Some("reconcile") => {
            Ok(Trigger::Reconcile)
        }
        EventKind::EventBridge {
            source,
            detail_type,
        } => Err(Error::UnsupportedEvent(format!(
            "EventBridge event {source:?} / {detail_type:?}; expected S3 \"Object Created\" or \"Scheduled Event\""
        ))),
        other => Err(Error::UnsupportedEvent(format!(
            "{other:?}; expected an S3 notification, an S3 Object Created event, a CloudWatch Logs subscription, a schedule, {{\"action\": \"reconcile\"}} or a backfill batch"
        ))),
    }
}

/// Reads `event` as the type its shape announced, naming what it was
/// taken for when it is not.
fn typed<T: DeserializeOwned>(event: Value, what: &str) -> Result<T, Error> {
    serde_json::from_value(event)
        .map_err(|e| Error::UnsupportedEvent(format!("{what} that could not be read: {e}")))
}

fn lacks_bucket_or_key() -> Error {
    Error::UnsupportedEvent(
        "an Object Created event lacks detail.bucket.name or detail.object.key".to_owned(),
    )
}

/// The ETag, else the sequencer: what changes when the object is rewritten.
fn version(etag: Option<String>, sequencer: Option<String>) -> String {
    etag.or(sequencer).unwrap_or_else(|| "-".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use toilkit_tests::workspace::sample;

    const KEY: &str = "AWSLogs/111122223333/WAFLogs/ap-northeast-1/product-web/2023/11/14/22/35/111122223333_waflogs_ap-northeast-1_product-web_20231114T2235Z_3f2e1d0c.log.gz";

    #[test]
    fn both_s3_forms_name_the_same_object() {
        for name in [
            "s3-object-created.notification.json",
            "s3-object-created.eventbridge.json",
        ] {
            let event: Value = serde_json::from_str(&sample(name)).unwrap();
            let Trigger::Objects(objects) = parse(event).unwrap() else {
                panic!("{name}")
            };
            assert_eq!(objects.len(), 1, "{name}");
            assert_eq!(objects[0].bucket, "aws-waf-logs-product-web");
            assert_eq!(objects[0].key, KEY);
            assert_eq!(objects[0].version, "0123456789abcdef0123456789abcdef");
        }
    }

    #[test]
    fn a_known_shape_that_cannot_be_read_is_refused_saying_what_is_missing() {
        let mut without_s3: Value =
            serde_json::from_str(&sample("s3-object-created.notification.json")).unwrap();
        without_s3["Records"][0]
            .as_object_mut()
            .unwrap()
            .remove("s3");
        let err = parse(without_s3).unwrap_err().to_string();
        assert!(
            err.contains("an S3 notification that could not be read") && err.contains("`s3`"),
            "{err}"
        );
        let mut without_time: Value =
            serde_json::from_str(&sample("s3-object-created.notification.json")).unwrap();
        without_time["Records"][0]
            .as_object_mut()
            .unwrap()
            .remove("eventTime");
        let err = parse(without_time).unwrap_err().to_string();
        assert!(err.contains("`eventTime`"), "{err}");
        let err = parse(
            serde_json::json!({"source": "aws.s3", "detail-type": "Object Created",
            "detail": {"bucket": {"name": "b"}}}),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("lacks detail.bucket.name or detail.object.key"),
            "{err}"
        );
    }

    #[test]
    fn a_logs_batch_is_named_by_its_events_not_its_encoding() {
        let a = Delivery::logs("g", "s", &["1", "2"]);
        assert_eq!(a, Delivery::logs("g", "s", &["1", "2"]));
        assert_ne!(a.id, Delivery::logs("g", "s", &["1"]).id);
        assert_ne!(a.id, Delivery::logs("g", "s", &["12"]).id);
        assert_ne!(a.id, Delivery::logs("g", "s2", &["1", "2"]).id);
        assert_eq!(a.marker, format!("logs#{}", a.id));
        assert_eq!(a.id.len(), 32);
    }

    #[test]
    fn notification_keys_are_url_decoded() {
        let mut event: Value =
            serde_json::from_str(&sample("s3-object-created.notification.json")).unwrap();
        event["Records"][0]["s3"]["object"]["key"] = serde_json::json!("a+b%2Bc/d%3Dx.gz");
        let Trigger::Objects(objects) = parse(event).unwrap() else {
            panic!()
        };
        assert_eq!(objects[0].key, "a b+c/d=x.gz");
    }

    #[test]
    fn schedules_reconcile_and_strangers_are_refused() {
        let event: Value = serde_json::from_str(&sample("scheduled-event.json")).unwrap();
        assert!(matches!(parse(event).unwrap(), Trigger::Reconcile));
        let err = parse(serde_json::json!({"source": "aws.config", "detail-type": "Config Rules Compliance Change"}))
            .unwrap_err();
        assert!(err.to_string().contains("aws.config"), "{err}");
        assert!(parse(serde_json::json!({"hello": 1})).is_err());
    }

    fn batch() -> Value {
        serde_json::json!({
            "backfill": {"bucket": "aws-waf-logs-shop", "run": "nov-incident", "dry_run": false},
            "Items": [
                {"Key": "AWSLogs/1/WAFLogs/eu-west-1/shop/2026/11/01/00/00/a.log.gz",
                 "ETag": "\"0123abcd\"", "Size": 1024, "LastModified": "2026-11-01T00:05:00Z",
                 "StorageClass": "STANDARD"},
                {"Key": "AWSLogs/1/WAFLogs/eu-west-1/shop/2026/11/01/00/05/b.log.gz",
                 "ETag": "\"4567ef01\"", "Size": 2048, "LastModified": "2026-11-01T00:10:00Z",
                 "StorageClass": "STANDARD"}
            ]
        })
    }

    #[test]
    fn a_backfill_batch_names_its_objects_as_a_notification_would() {
        let Trigger::Backfill { backfill, objects } = parse(batch()).unwrap() else {
            panic!("not a backfill batch")
        };
        assert_eq!(
            backfill,
            Backfill {
                bucket: "aws-waf-logs-shop".into(),
                run: "nov-incident".into(),
                dry_run: false
            }
        );
        assert_eq!(objects.len(), 2);
        assert_eq!(
            objects[1].key,
            "AWSLogs/1/WAFLogs/eu-west-1/shop/2026/11/01/00/05/b.log.gz"
        );
        // Listed ETags are quoted, notified ones are not: one object, one
        // marker, whichever way it came.
        let mut notified: Value =
            serde_json::from_str(&sample("s3-object-created.notification.json")).unwrap();
        notified["Records"][0]["s3"]["bucket"]["name"] = serde_json::json!("aws-waf-logs-shop");
        notified["Records"][0]["s3"]["object"]["key"] = serde_json::json!(objects[0].key);
        notified["Records"][0]["s3"]["object"]["eTag"] = serde_json::json!("0123abcd");
        let Trigger::Objects(same) = parse(notified).unwrap() else {
            panic!()
        };
        assert_eq!(same[0].marker(), objects[0].marker());
    }

    /// The item shape Step Functions documents for an S3 object listing.
    #[test]
    fn a_batch_as_step_functions_lists_objects_is_read() {
        let batch = serde_json::json!({
            "backfill": {"bucket": "aws-waf-logs-shop", "run": "nov-incident", "dry_run": true},
            "Items": [{"Etag": "\"05704fbdccb224cb01c59005bebbad28\"",
                       "Key": "AWSLogs/1/WAFLogs/eu-west-1/shop/2026/11/01/00/00/a.log.gz",
                       "LastModified": 1668699881, "Size": 34910, "StorageClass": "STANDARD"}]
        });
        let Trigger::Backfill { objects, .. } = parse(batch).unwrap() else {
            panic!("not a backfill batch")
        };
        assert_eq!(objects.len(), 1);
        assert!(
            objects[0]
                .marker()
                .contains("05704fbdccb224cb01c59005bebbad28")
        );
    }

    #[test]
    fn a_backfill_batch_or_finish_that_cannot_be_read_says_what_is_wrong() {
        let refused = |event: Value| parse(event).unwrap_err().to_string();
        let mut no_dry_run = batch();
        no_dry_run["backfill"]
            .as_object_mut()
            .unwrap()
            .remove("dry_run");
        let err = refused(no_dry_run);
        assert!(
            err.contains("backfill batch") && err.contains("`dry_run`"),
            "{err}"
        );
        let mut no_etag = batch();
        no_etag["Items"][1].as_object_mut().unwrap().remove("ETag");
        assert!(refused(no_etag).contains("`Etag`"));
        let mut stranger = batch();
        stranger["backfill"]["prefix"] = serde_json::json!("AWSLogs/");
        assert!(refused(stranger).contains("`prefix`"));
        let mut extra = batch();
        extra["BatchInput"] = serde_json::json!({});
        assert!(refused(extra).contains("`BatchInput`"));
        let mut no_run = batch();
        no_run["backfill"]["run"] = serde_json::json!("");
        assert!(refused(no_run).contains("empty backfill.bucket or backfill.run"));
        let err = refused(serde_json::json!({"backfill_finish": {"bucket": "b", "run": "r"}}));
        assert!(
            err.contains("last step") && err.contains("`dry_run`"),
            "{err}"
        );
        let finish = parse(serde_json::json!({"backfill_finish":
            {"bucket": "b", "run": "r", "dry_run": true}}))
        .unwrap();
        assert!(matches!(
            finish,
            Trigger::BackfillFinish(Backfill { dry_run: true, .. })
        ));
    }
}
