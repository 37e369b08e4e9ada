//! A stand-in for the parts of Systems Manager that moto lacks, in front of
//! moto: a loopback server that answers, in the AWS JSON 1.1 protocol,
//! `DescribeInstanceInformation` (managed nodes and their agents),
//! `DescribeInstancePatchStates` (Patch Manager's per-instance counts) and
//! `GetParameter` of one public `/aws/service/...` parameter (moto's copy
//! names an AMI its EC2 does not have), and forwards every other request,
//! of any service, to moto unchanged.
//!
//! The shapes follow the Systems Manager API reference (`InstanceInformation`,
//! `InstancePatchState`, `Parameter`); timestamps are epoch seconds, as
//! JSON 1.1 sends them. Pages follow the request's `MaxResults` (so a reader
//! has to follow `NextToken`), and `DescribeInstancePatchStates` refuses more
//! than 50 instance ids, as the service does.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use hyper::body::Bytes;
use serde_json::{Value, json};

use crate::Moto;
use crate::loopback::{self, Request, Server};

/// A managed instance's agent, as `DescribeInstanceInformation` lists it.
#[derive(Debug, Clone)]
pub struct Node {
    pub instance_id: String,
    /// `Online`, `ConnectionLost`, `Inactive`.
    pub ping_status: String,
    /// Epoch seconds.
    pub last_ping: i64,
    pub platform_name: String,
    pub platform_version: String,
}

impl Node {
    pub fn online(instance_id: &str, last_ping: i64) -> Self {
        Self {
            instance_id: instance_id.to_owned(),
            ping_status: "Online".to_owned(),
            last_ping,
            platform_name: "Amazon Linux".to_owned(),
            platform_version: "2023".to_owned(),
        }
    }

    pub fn information(&self) -> Value {
        json!({
            "InstanceId": self.instance_id,
            "PingStatus": self.ping_status,
            "LastPingDateTime": self.last_ping,
            "AgentVersion": "3.3.1142.0",
            "IsLatestVersion": true,
            "PlatformType": "Linux",
            "PlatformName": self.platform_name,
            "PlatformVersion": self.platform_version,
            "ResourceType": "EC2Instance",
            "IPAddress": "10.0.1.17",
            "ComputerName": format!("ip-10-0-1-17.{}.internal", self.instance_id),
            "AssociationStatus": "Success",
            "SourceId": self.instance_id,
            "SourceType": "AWS::EC2::Instance"
        })
    }
}

/// One instance's patch state, as `DescribeInstancePatchStates` returns it.
#[derive(Debug, Clone, Default)]
pub struct PatchCounts {
    pub instance_id: String,
    pub patch_group: String,
    pub critical: i64,
    pub security: i64,
    pub missing: i64,
    pub failed: i64,
    pub pending_reboot: i64,
    /// `Scan` or `Install`.
    pub operation: String,
    /// Epoch seconds.
    pub operation_end: i64,
}

impl PatchCounts {
    /// A clean scan that ended at `operation_end`.
    pub fn scanned(instance_id: &str, patch_group: &str, operation_end: i64) -> Self {
        Self {
            instance_id: instance_id.to_owned(),
            patch_group: patch_group.to_owned(),
            operation: "Scan".to_owned(),
            operation_end,
            ..Self::default()
        }
    }

    pub fn state(&self) -> Value {
        json!({
            "InstanceId": self.instance_id,
            "PatchGroup": self.patch_group,
            "BaselineId": "pb-0e392de35e7c563b7",
            "OperationStartTime": self.operation_end - 300,
            "OperationEndTime": self.operation_end,
            "Operation": self.operation,
            "RebootOption": "RebootIfNeeded",
            "InstalledCount": 412,
            "InstalledOtherCount": 3,
            "InstalledPendingRebootCount": self.pending_reboot,
            "InstalledRejectedCount": 0,
            "MissingCount": self.missing,
            "FailedCount": self.failed,
            "UnreportedNotApplicableCount": 0,
            "NotApplicableCount": 1210,
            "CriticalNonCompliantCount": self.critical,
            "SecurityNonCompliantCount": self.security,
            "OtherNonCompliantCount": 0
        })
    }
}

/// What the stand-in answers from; tests change it between invocations.
#[derive(Debug, Clone, Default)]
pub struct Fleet {
    pub nodes: Vec<Node>,
    pub patch_states: Vec<PatchCounts>,
    /// A public parameter's name and the AMI id it holds.
    pub parameter: Option<(String, String)>,
}

/// The running stand-in; it stops when dropped.
pub struct PatchManager {
    server: Server,
    fleet: Arc<Mutex<Fleet>>,
    calls: Arc<Mutex<BTreeMap<String, usize>>>,
}

impl PatchManager {
    /// Answers from `fleet`, forwarding the rest to `moto`.
    pub fn start(moto: &Moto, fleet: Fleet) -> Self {
        let fleet = Arc::new(Mutex::new(fleet));
        let calls = Arc::new(Mutex::new(BTreeMap::new()));
        let (answering, counted) = (fleet.clone(), calls.clone());
        let moto = moto.endpoint().to_owned();
        let server = Server::start(move |req| {
            let operation = req
                .header("x-amz-target")
                .filter(|t| t.starts_with("AmazonSSM."))
                .and_then(|t| t.rsplit('.').next())
                .unwrap_or_default()
                .to_owned();
            let answer = answer(&answering.lock().unwrap(), &operation, &req.json());
            if answer.is_some() {
                *counted.lock().unwrap().entry(operation).or_insert(0) += 1;
            }
            let moto = moto.clone();
            async move {
                match answer {
                    Some((status, body)) => loopback::response(
                        status,
                        &[("Content-Type", "application/x-amz-json-1.1")],
                        body.to_string(),
                    ),
                    None => forward(&moto, req).await,
                }
            }
        });
        Self {
            server,
            fleet,
            calls,
        }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// `sdk` pointed at the stand-in (and through it at moto).
    pub fn sdk_config(&self, sdk: &aws_types::SdkConfig) -> aws_types::SdkConfig {
        sdk.to_builder().endpoint_url(self.server.url()).build()
    }

    /// Changes what it answers from.
    pub fn update(&self, change: impl FnOnce(&mut Fleet)) {
        change(&mut self.fleet.lock().unwrap());
    }

    /// How many requests of `operation` it answered itself.
    pub fn calls(&self, operation: &str) -> usize {
        self.calls
            .lock()
            .unwrap()
            .get(operation)
            .copied()
            .unwrap_or(0)
    }
}

fn answer(fleet: &Fleet, operation: &str, request: &Value) -> Option<(u16, Value)> {
    let start: usize = request["NextToken"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let max = |default: usize| {
        request["MaxResults"]
            .as_u64()
            .map_or(default, |m| m as usize)
    };
    match operation {
        "DescribeInstanceInformation" => {
            let size = max(10);
            if !(5..=50).contains(&size) {
                return Some(refuse(
                    "ValidationException",
                    "MaxResults must be between 5 and 50",
                ));
            }
            let entries: Vec<Value> = fleet.nodes.iter().map(Node::information).collect();
            Some((200, page("InstanceInformationList", entries, start, size)))
        }
        "DescribeInstancePatchStates" => {
            let ids: Vec<&str> = request["InstanceIds"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if ids.len() > 50 {
                return Some(refuse(
                    "ValidationException",
                    "1 validation error detected: Value at 'instanceIds' failed to satisfy constraint: Member must have length less than or equal to 50",
                ));
            }
            let size = max(10);
            if !(10..=100).contains(&size) {
                return Some(refuse(
                    "ValidationException",
                    "MaxResults must be between 10 and 100",
                ));
            }
            let states: Vec<Value> = fleet
                .patch_states
                .iter()
                .filter(|s| ids.contains(&s.instance_id.as_str()))
                .map(PatchCounts::state)
                .collect();
            Some((200, page("InstancePatchStates", states, start, size)))
        }
        "GetParameter" => {
            let (name, value) = fleet.parameter.as_ref()?;
            if request["Name"] != name.as_str() {
                return None;
            }
            Some((
                200,
                json!({"Parameter": {
                    "Name": name, "Type": "String", "Value": value, "Version": 182,
                    "LastModifiedDate": 1_796_000_000, "DataType": "text",
                    "ARN": format!("arn:aws:ssm:us-east-1::parameter{name}")
                }}),
            ))
        }
        _ => None,
    }
}

fn page(list: &str, entries: Vec<Value>, start: usize, size: usize) -> Value {
    let end = (start + size).min(entries.len());
    let mut body = json!({ list: entries[start.min(end)..end] });
    if end < entries.len() {
        body["NextToken"] = json!(end.to_string());
    }
    body
}

fn refuse(kind: &str, message: &str) -> (u16, Value) {
    (400, json!({"__type": kind, "message": message}))
}

/// Sends `req` to moto as it came and returns moto's answer.
async fn forward(moto: &str, req: Request) -> loopback::Response {
    let client = shared::https::client_builder()
        .build()
        .expect("an HTTP client with default settings builds");
    let url = if req.query.is_empty() {
        format!("{moto}{}", req.path)
    } else {
        format!("{moto}{}?{}", req.path, req.query)
    };
    let mut outgoing = client.request(req.method.clone(), url);
    for (name, value) in &req.headers {
        if name != "host" && name != "content-length" {
            outgoing = outgoing.header(name, value);
        }
    }
    match outgoing.body(req.body.clone()).send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let content_type = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/octet-stream")
                .to_owned();
            let body: Bytes = response.bytes().await.unwrap_or_default();
            loopback::response(status, &[("Content-Type", &content_type)], body)
        }
        Err(e) => loopback::response(502, &[], format!("the stand-in could not reach moto: {e}")),
    }
}
