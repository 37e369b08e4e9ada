//! What the Serverless Application Repository does for a deployer, on top of
//! moto's CloudFormation: `GetApplication` answers with the template's
//! parameter definitions, and `CreateCloudFormationChangeSet` creates the
//! change set of `serverlessrepo-<stackName>` with the (SAM-transformed)
//! template, the parameters, the capabilities and SAR's tags. Everything
//! else the provider calls goes to moto itself. It records the operations it
//! served.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use hyper::Method;
use serde_json::{Value, json};
use toilkit_tests::loopback::{self, Request, Response, Server};

use crate::distribution::{cloudformation, parameter_default, xml_value};

pub struct SarStandIn {
    server: Server,
    calls: Arc<Mutex<Vec<String>>>,
}

impl SarStandIn {
    /// Serves `template` (its parameters) as the application, and
    /// `template_body` (the SAM translation) as what its change sets deploy,
    /// into moto at `moto`.
    pub fn start(moto: String, template_body: String, template: &Value) -> Self {
        let definitions: Vec<Value> = template["Parameters"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(name, p)| {
                json!({
                    "name": name,
                    "defaultValue": parameter_default(p),
                    "type": p["Type"],
                    "referencedByResources": [],
                })
            })
            .collect();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let application = Arc::new(Application {
            moto,
            template_body,
            definitions,
            calls: calls.clone(),
            stacks: Mutex::default(),
            http: shared::https::client_builder()
                .build()
                .expect("an HTTP client"),
        });
        let server = Server::start(move |request| {
            let application = application.clone();
            async move { application.answer(request).await }
        });
        Self { server, calls }
    }

    /// The endpoint to give the provider for `serverlessrepo` and
    /// `cloudformation`.
    pub fn endpoint(&self) -> String {
        self.server.url()
    }

    /// The operations served so far; `unexpected <method> <path>` for a
    /// request it does not model.
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

struct Application {
    moto: String,
    template_body: String,
    definitions: Vec<Value>,
    calls: Arc<Mutex<Vec<String>>>,
    stacks: Mutex<Stacks>,
    http: reqwest::Client,
}

/// What the stand-in remembers of the stacks it created change sets for.
#[derive(Default)]
struct Stacks {
    change_sets: u32,
    /// The capabilities each stack's change set asked for.
    capabilities: BTreeMap<String, Vec<String>>,
    revisions: BTreeMap<String, u32>,
}

impl Application {
    async fn answer(&self, request: Request) -> Response {
        if request.method == Method::POST && request.path == "/" {
            return self.proxy_cloudformation(&request).await;
        }
        let version = request
            .query
            .split('&')
            .find_map(|kv| kv.strip_prefix("semanticVersion="))
            .unwrap_or("0.1.0")
            .to_owned();
        let application = request
            .path
            .trim_start_matches("/applications/")
            .split('/')
            .next()
            .unwrap_or_default()
            .replace("%3A", ":")
            .replace("%2F", "/");
        let changesets = request.path.ends_with("/changesets");
        if request.method == Method::GET && !changesets {
            self.record("serverlessrepo:GetApplication");
            json_response(
                200,
                &json!({
                    "applicationId": application,
                    "name": "toilkit",
                    "author": "toilkit",
                    "description": "toilkit",
                    "version": {
                        "applicationId": application,
                        "semanticVersion": version,
                        "parameterDefinitions": self.definitions,
                        "requiredCapabilities": ["CAPABILITY_IAM", "CAPABILITY_RESOURCE_POLICY"],
                        "resourcesSupported": true,
                        "templateUrl": "https://example.invalid/template.yaml",
                        "creationTime": "2026-01-01T00:00:00.000Z"
                    }
                }),
            )
        } else if request.method == Method::POST && changesets {
            self.record("serverlessrepo:CreateCloudFormationChangeSet");
            self.create_change_set(&application, &request.json())
        } else {
            self.record(&format!("unexpected {} {}", request.method, request.path));
            json_response(
                404,
                &json!({
                    "message": format!("{} {} is not modelled", request.method, request.path),
                    "errorCode": "NotFoundException",
                }),
            )
        }
    }

    fn record(&self, call: &str) {
        self.calls.lock().unwrap().push(call.to_owned());
    }

    /// `CreateCloudFormationChangeSet`: the change set SAR creates in the
    /// caller's account.
    fn create_change_set(&self, application: &str, request: &Value) -> Response {
        let stack = format!(
            "serverlessrepo-{}",
            request["stackName"].as_str().unwrap_or_default()
        );
        let version = request["semanticVersion"].as_str().unwrap_or("0.1.0");
        let (status, xml) = cloudformation(
            &self.moto,
            &[("Action", "DescribeStacks"), ("StackName", stack.as_str())],
        );
        let exists =
            status == 200 && xml_value(&xml, "StackStatus").is_some_and(|s| s != "DELETE_COMPLETE");
        let overrides: Vec<(String, String)> = request["parameterOverrides"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| (text(&p["name"]), text(&p["value"])))
            .collect();
        let mut requested: BTreeMap<String, String> = self
            .definitions
            .iter()
            .map(|d| (text(&d["name"]), text(&d["defaultValue"])))
            .collect();
        requested.extend(overrides.iter().cloned());
        let asked: Vec<String> = request["capabilities"]
            .as_array()
            .into_iter()
            .flatten()
            .map(text)
            .collect();
        let mut stacks = self.stacks.lock().unwrap();
        // moto finds changes in resources only (and adds or removes none
        // when a condition changes); CloudFormation counts a changed
        // parameter as a change. A revision resource that changes with the
        // parameters lets such an update execute, and an update that changes
        // nothing still fails as it does in AWS.
        let revision = stacks.revisions.entry(stack.clone()).or_insert(0);
        if !exists || stack_parameters(&xml) != requested {
            *revision += 1;
        }
        let mut body: Value = serde_json::from_str(&self.template_body).unwrap();
        body["Resources"]["StandInRevision"] = json!({
            "Type": "AWS::SSM::Parameter",
            "Properties": {
                "Name": format!("/sar-stand-in/{stack}"),
                "Type": "String",
                "Value": format!("revision-{revision}"),
            }
        });
        stacks.change_sets += 1;
        let mut pairs: Vec<(String, String)> = vec![
            ("Action".into(), "CreateChangeSet".into()),
            ("StackName".into(), stack.clone()),
            (
                "ChangeSetName".into(),
                format!("sar-{}", stacks.change_sets),
            ),
            (
                "ChangeSetType".into(),
                if exists { "UPDATE" } else { "CREATE" }.into(),
            ),
            ("TemplateBody".into(), body.to_string()),
        ];
        pairs.extend(members(
            "Parameters",
            &overrides,
            "ParameterKey",
            "ParameterValue",
        ));
        for (i, c) in asked.iter().enumerate() {
            pairs.push((format!("Capabilities.member.{}", i + 1), c.clone()));
        }
        stacks.capabilities.insert(stack.clone(), asked);
        drop(stacks);
        let mut tags = vec![
            (
                "serverlessrepo:applicationId".to_owned(),
                application.to_owned(),
            ),
            (
                "serverlessrepo:semanticVersion".to_owned(),
                version.to_owned(),
            ),
        ];
        tags.extend(
            request["tags"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| (text(&t["key"]), text(&t["value"]))),
        );
        pairs.extend(members("Tags", &tags, "Key", "Value"));
        let (status, xml) = cloudformation(&self.moto, &pairs);
        if status != 200 {
            return json_response(
                400,
                &json!({"message": xml, "errorCode": "BadRequestException"}),
            );
        }
        json_response(
            201,
            &json!({
                "applicationId": application,
                "changeSetId": xml_value(&xml, "Id"),
                "semanticVersion": version,
                "stackId": xml_value(&xml, "StackId"),
            }),
        )
    }

    /// Forwards a CloudFormation call to moto as it is. moto's
    /// DescribeStacks leaves out the stack's capabilities, which
    /// CloudFormation returns (and the provider compares with its
    /// configuration): they are put back from the change set that created
    /// the stack.
    async fn proxy_cloudformation(&self, request: &Request) -> Response {
        let mut headers = request.headers.clone();
        for hop in ["host", "connection", "content-length", "accept-encoding"] {
            headers.remove(hop);
        }
        let answer = self
            .http
            .post(format!("{}/", self.moto))
            .headers(headers)
            .body(request.body.clone())
            .send()
            .await
            .expect("moto answers");
        let status = answer.status().as_u16();
        let mut xml = answer.text().await.expect("moto's answer is text");
        if String::from_utf8_lossy(&request.body).contains("Action=DescribeStacks")
            && !xml.contains("<Capabilities>")
        {
            for (stack, asked) in &self.stacks.lock().unwrap().capabilities {
                let marker = format!("<StackName>{stack}</StackName>");
                let members: String = asked
                    .iter()
                    .map(|c| format!("<member>{c}</member>"))
                    .collect();
                xml = xml.replace(
                    &marker,
                    &format!("{marker}<Capabilities>{members}</Capabilities>"),
                );
            }
        }
        loopback::response(status, &[("Content-Type", "text/xml")], xml)
    }
}

fn json_response(status: u16, body: &Value) -> Response {
    loopback::response(
        status,
        &[("Content-Type", "application/json")],
        body.to_string(),
    )
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

/// `<list>.member.<n>.<key>` and `.<value>` form fields, from 1.
fn members(
    list: &str,
    entries: &[(String, String)],
    key: &str,
    value: &str,
) -> Vec<(String, String)> {
    entries
        .iter()
        .enumerate()
        .flat_map(|(i, (k, v))| {
            let n = i + 1;
            [
                (format!("{list}.member.{n}.{key}"), k.clone()),
                (format!("{list}.member.{n}.{value}"), v.clone()),
            ]
        })
        .collect()
}

/// The parameters of the stack in a DescribeStacks response.
fn stack_parameters(xml: &str) -> BTreeMap<String, String> {
    let mut found = BTreeMap::new();
    let mut rest = xml;
    while let Some(key) = xml_value(rest, "ParameterKey") {
        let after = &rest[rest.find("</ParameterKey>").unwrap() + 15..];
        let value = xml_value(after, "ParameterValue").unwrap_or_default();
        found.insert(key.to_owned(), value.to_owned());
        rest = after;
    }
    found
}
