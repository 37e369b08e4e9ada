//! A stand-in for the parts of Systems Manager that moto lacks, in front of
//! moto: a loopback server that answers, in the AWS JSON 1.1 protocol,
//! `DescribeInstanceInformation` (managed nodes and their agents),
//! `DescribeInstancePatchStates` (Patch Manager's per-instance counts) and
//! `GetParameter` of one public `/aws/service/...` parameter (moto's copy
//! names an AMI its EC2 does not have), and `ListCommandInvocations` (moto
//! has none) for the commands sent through it, and forwards every other
//! request, of any service, to moto unchanged: `SendCommand` goes to moto
//! (so `ListCommands` finds it) and the stand-in notes what was sent. Given
//! a fleet of its own (`Fleet::instances`, for the benchmark's thousands),
//! it answers EC2's `DescribeInstances` too, in EC2's XML.
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
    /// How an instance's run of a patch command goes, by instance id;
    /// an instance not listed succeeds.
    pub runs: BTreeMap<String, CommandRun>,
    /// When not empty, EC2's `DescribeInstances` is answered from these
    /// (running instances, paged by instance as EC2 pages) instead of by
    /// moto: for fleets of thousands, which moto launches too slowly and
    /// pages by reservation.
    pub instances: Vec<Ec2Instance>,
}

/// A running EC2 instance, as `DescribeInstances` lists it.
#[derive(Debug, Clone)]
pub struct Ec2Instance {
    pub instance_id: String,
    pub image_id: String,
    /// The instance profile's ARN, if it has one.
    pub profile: Option<String>,
    pub vpc_id: String,
    pub subnet_id: String,
    pub tags: Vec<(String, String)>,
}

impl Ec2Instance {
    /// Its `item` of a reservation's `instancesSet`, in EC2's XML (the
    /// fields the function reads, and the ones every instance has).
    fn xml(&self) -> String {
        let escape = |s: &str| {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
        };
        let profile = self.profile.as_deref().map_or_else(String::new, |arn| {
            format!(
                "<iamInstanceProfile><arn>{}</arn><id>AIPAEXAMPLE</id></iamInstanceProfile>",
                escape(arn)
            )
        });
        let tags: String = self
            .tags
            .iter()
            .map(|(k, v)| {
                format!(
                    "<item><key>{}</key><value>{}</value></item>",
                    escape(k),
                    escape(v)
                )
            })
            .collect();
        format!(
            "<item><instanceId>{}</instanceId><imageId>{}</imageId>\
             <instanceState><code>16</code><name>running</name></instanceState>\
             <instanceType>t3.micro</instanceType><launchTime>2026-11-01T00:00:00.000Z</launchTime>\
             <vpcId>{}</vpcId><subnetId>{}</subnetId>{profile}<tagSet>{tags}</tagSet></item>",
            self.instance_id, self.image_id, self.vpc_id, self.subnet_id
        )
    }
}

/// One instance's run of a command, as `ListCommandInvocations` tells it.
#[derive(Debug, Clone)]
pub struct CommandRun {
    /// `Pending`, `InProgress`, `Success`, `Failed`, `TimedOut`...
    pub status: String,
    /// The plugin's output (the API keeps its first 2,500 characters).
    pub output: String,
}

impl CommandRun {
    pub fn failed(output: &str) -> Self {
        Self {
            status: "Failed".to_owned(),
            output: output.to_owned(),
        }
    }

    pub fn in_progress() -> Self {
        Self {
            status: "InProgress".to_owned(),
            output: String::new(),
        }
    }
}

/// A command sent through the stand-in, as moto accepted it.
#[derive(Debug, Clone)]
pub struct Sent {
    pub command_id: String,
    pub instance_ids: Vec<String>,
    pub document: String,
    pub comment: String,
    pub parameters: Value,
    pub max_concurrency: String,
    pub max_errors: String,
    /// The delivery timeout, in seconds.
    pub timeout_seconds: Option<u64>,
}

/// The running stand-in; it stops when dropped.
pub struct PatchManager {
    server: Server,
    fleet: Arc<Mutex<Fleet>>,
    calls: Arc<Mutex<BTreeMap<String, usize>>>,
    sent: Arc<Mutex<Vec<Sent>>>,
}

impl PatchManager {
    /// Answers from `fleet`, forwarding the rest to `moto`.
    pub fn start(moto: &Moto, fleet: Fleet) -> Self {
        let fleet = Arc::new(Mutex::new(fleet));
        let calls = Arc::new(Mutex::new(BTreeMap::new()));
        let sent = Arc::new(Mutex::new(Vec::new()));
        let (answering, counted, sending) = (fleet.clone(), calls.clone(), sent.clone());
        let moto = moto.endpoint().to_owned();
        let server = Server::start(move |req| {
            let operation = req
                .header("x-amz-target")
                .filter(|t| t.starts_with("AmazonSSM."))
                .and_then(|t| t.rsplit('.').next())
                .unwrap_or_default()
                .to_owned();
            let ec2_page = (String::from_utf8_lossy(&req.body)
                .starts_with("Action=DescribeInstances&")
                && !answering.lock().unwrap().instances.is_empty())
            .then(|| {
                *counted
                    .lock()
                    .unwrap()
                    .entry("DescribeInstances".to_owned())
                    .or_insert(0) += 1;
                describe_instances(&answering.lock().unwrap(), &req.body)
            });
            let answer = answer(
                &answering.lock().unwrap(),
                &sending.lock().unwrap(),
                &operation,
                &req.json(),
            );
            if answer.is_some() || operation == "SendCommand" {
                *counted
                    .lock()
                    .unwrap()
                    .entry(operation.clone())
                    .or_insert(0) += 1;
            }
            let (moto, sending) = (moto.clone(), sending.clone());
            async move {
                if let Some(page) = ec2_page {
                    return loopback::response(
                        200,
                        &[("Content-Type", "text/xml;charset=UTF-8")],
                        page,
                    );
                }
                match answer {
                    Some((status, body)) => loopback::response(
                        status,
                        &[("Content-Type", "application/x-amz-json-1.1")],
                        body.to_string(),
                    ),
                    None if operation == "SendCommand" => {
                        let request = req.json();
                        let (status, content_type, body) = forward_raw(&moto, req).await;
                        if status == 200 {
                            note_sent(&sending, &request, &body);
                        }
                        loopback::response(status, &[("Content-Type", &content_type)], body)
                    }
                    None => forward(&moto, req).await,
                }
            }
        });
        Self {
            server,
            fleet,
            calls,
            sent,
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

    /// The commands sent through it, in order.
    pub fn sent(&self) -> Vec<Sent> {
        self.sent.lock().unwrap().clone()
    }

    /// How many requests of `operation` it answered itself (and, for
    /// `SendCommand`, passed on to moto).
    pub fn calls(&self, operation: &str) -> usize {
        self.calls
            .lock()
            .unwrap()
            .get(operation)
            .copied()
            .unwrap_or(0)
    }
}

/// A page of `DescribeInstances` from the fleet's instances: one reservation
/// an instance, `MaxResults` instances a page, `NextToken` the offset.
fn describe_instances(fleet: &Fleet, body: &[u8]) -> String {
    let form: BTreeMap<String, String> = String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            Some((k.to_owned(), v.to_owned()))
        })
        .collect();
    let size: usize = form
        .get("MaxResults")
        .and_then(|m| m.parse().ok())
        .unwrap_or(1000);
    let start: usize = form
        .get("NextToken")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let end = (start + size).min(fleet.instances.len());
    let reservations: String = fleet.instances[start.min(end)..end]
        .iter()
        .enumerate()
        .map(|(i, instance)| {
            format!(
                "<item><reservationId>r-{:017x}</reservationId><ownerId>123456789012</ownerId>\
                 <groupSet/><instancesSet>{}</instancesSet></item>",
                start + i,
                instance.xml()
            )
        })
        .collect();
    let next = if end < fleet.instances.len() {
        format!("<nextToken>{end}</nextToken>")
    } else {
        String::new()
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\
         <requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId>\
         <reservationSet>{reservations}</reservationSet>{next}</DescribeInstancesResponse>"
    )
}

/// Notes the command moto accepted, from its answer.
fn note_sent(sent: &Mutex<Vec<Sent>>, request: &Value, answer: &[u8]) {
    let Ok(answer) = serde_json::from_slice::<Value>(answer) else {
        return;
    };
    let command = &answer["Command"];
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    sent.lock().unwrap().push(Sent {
        command_id: text(&command["CommandId"]),
        instance_ids: request["InstanceIds"]
            .as_array()
            .map(|a| a.iter().map(text).collect())
            .unwrap_or_default(),
        document: text(&request["DocumentName"]),
        comment: text(&request["Comment"]),
        parameters: request["Parameters"].clone(),
        max_concurrency: text(&request["MaxConcurrency"]),
        max_errors: text(&request["MaxErrors"]),
        timeout_seconds: request["TimeoutSeconds"].as_u64(),
    });
}

/// `ListCommandInvocations` of a command sent through the stand-in, each
/// instance's run as the fleet scripts it (shapes from the API reference's
/// `CommandInvocation` and `CommandPlugin`).
fn invocations(fleet: &Fleet, sent: &[Sent], request: &Value) -> (u16, Value) {
    let Some(command) = sent
        .iter()
        .find(|c| request["CommandId"] == c.command_id.as_str())
    else {
        return refuse("InvalidCommandId", "Invalid command id.");
    };
    let details = request["Details"].as_bool().unwrap_or(false);
    let entries: Vec<Value> = command
        .instance_ids
        .iter()
        .map(|id| {
            let run = fleet.runs.get(id).cloned().unwrap_or(CommandRun {
                status: "Success".to_owned(),
                output: "Installed 12 patches; no reboot needed.".to_owned(),
            });
            let mut invocation = json!({
                "CommandId": command.command_id, "InstanceId": id,
                "InstanceName": format!("ip-10-0-1-17.{id}.internal"),
                "Comment": command.comment, "DocumentName": command.document,
                "DocumentVersion": "$DEFAULT", "RequestedDateTime": 1_796_000_000,
                "Status": run.status, "StatusDetails": run.status,
                "StandardOutputUrl": "", "StandardErrorUrl": "",
                "ServiceRole": "", "CommandPlugins": []
            });
            if details {
                invocation["CommandPlugins"] = json!([{
                    "Name": "PatchLinux", "Status": run.status, "StatusDetails": run.status,
                    "ResponseCode": if run.status == "Success" { 0 } else { 1 },
                    "ResponseStartDateTime": 1_796_000_005,
                    "ResponseFinishDateTime": 1_796_000_300,
                    "Output": run.output,
                    "StandardOutputUrl": "", "StandardErrorUrl": "",
                    "OutputS3Region": "us-east-1", "OutputS3BucketName": "", "OutputS3KeyPrefix": ""
                }]);
            }
            invocation
        })
        .collect();
    let start: usize = request["NextToken"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let size = request["MaxResults"].as_u64().map_or(50, |m| m as usize);
    (200, page("CommandInvocations", entries, start, size))
}

fn answer(fleet: &Fleet, sent: &[Sent], operation: &str, request: &Value) -> Option<(u16, Value)> {
    if operation == "ListCommandInvocations" {
        return Some(invocations(fleet, sent, request));
    }
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
    let (status, content_type, body) = forward_raw(moto, req).await;
    loopback::response(status, &[("Content-Type", &content_type)], body)
}

/// As [`forward`], with the answer's status, content type and body apart.
async fn forward_raw(moto: &str, req: Request) -> (u16, String, Bytes) {
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
            (status, content_type, body)
        }
        Err(e) => (
            502,
            "text/plain".to_owned(),
            Bytes::from(format!("the stand-in could not reach moto: {e}")),
        ),
    }
}
