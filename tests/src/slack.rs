//! A real HTTP receiver standing in for Slack's incoming webhooks.
//!
//! It records every POST and answers from a script (429 with `Retry-After`,
//! 5xx, 404...) before falling back to Slack's `200 ok`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::Moto;
use crate::loopback::{self, Server};
use crate::settings::Vars;

/// What a function that posts to Slack is tested against: the emulator,
/// the SDK configuration pointed at it, a receiver, and the function's
/// environment, which names the receiver's webhook (stored as a secret, as
/// an operator stores it) in `SLACK_WEBHOOK_SECRET_ARN`.
pub struct Setup {
    pub moto: &'static Moto,
    pub sdk: aws_types::SdkConfig,
    pub slack: SlackReceiver,
    pub env: Vars,
    /// The ARN of the secret holding the webhook.
    pub secret: String,
}

impl Setup {
    /// The set-up whose webhook posts to `channel`.
    pub async fn new(channel: &str) -> Self {
        let moto = Moto::shared();
        let sdk = moto.sdk_config().await;
        let slack = SlackReceiver::start();
        let secret = slack.webhook_secret(&sdk, channel).await;
        let mut env = Vars::default();
        env.set("SLACK_WEBHOOK_SECRET_ARN", &secret);
        Self {
            moto,
            sdk,
            slack,
            env,
            secret,
        }
    }
}

impl Setup {
    /// An SNS topic whose messages reach the receiver's `pager` channel over
    /// HTTP, as a page reaches the on-call tool; its ARN.
    pub async fn pager_topic(&self) -> String {
        let sns = aws_sdk_sns::Client::new(&self.sdk);
        let topic = sns
            .create_topic()
            .name(self.moto.unique("pager"))
            .send()
            .await
            .expect("topic created")
            .topic_arn
            .expect("a topic ARN");
        sns.subscribe()
            .topic_arn(&topic)
            .protocol("http")
            .endpoint(self.slack.webhook_url("pager"))
            .send()
            .await
            .expect("the receiver subscribed");
        topic
    }
}

/// Slack retries as production makes them, with waits shortened so a test
/// of a failing or rate-limiting Slack takes milliseconds: `attempts` tries
/// a message, and as many 429s tolerated.
pub fn fast_retries(attempts: u32) -> shared::slack::RetryPolicy {
    shared::slack::RetryPolicy {
        max_attempts: attempts,
        max_rate_limited: attempts,
        base_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(20),
        spacing: Duration::from_millis(1),
        request_timeout: Duration::from_secs(5),
    }
}

/// Asserts that `text`, a message as the receiver got it, shows each of
/// `shown` (the escaped form of what a test planted in the function's
/// input: `&lt;!channel&gt;`, `&lt;https://evil.example|click here&gt;`)
/// and none of that markup raw: Slack would otherwise notify the channel or
/// render a disguised link.
pub fn assert_markup_escaped(text: &str, shown: &[&str]) {
    for escaped in shown {
        assert!(text.contains(escaped), "{escaped} not shown in {text}");
    }
    assert!(
        !text.contains("<!channel>") && !text.contains("<https://evil"),
        "raw markup reached Slack: {text}"
    );
}

/// A scripted answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Ok,
    /// 429 with `Retry-After: secs`.
    RateLimited {
        retry_after_secs: u64,
    },
    /// Any other status, with Slack-like text.
    Status(u16),
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub body: serde_json::Value,
    pub status: u16,
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    script: VecDeque<Reply>,
}

/// The receiver; it stops when dropped.
pub struct SlackReceiver {
    server: Server,
    state: Arc<Mutex<State>>,
}

impl SlackReceiver {
    pub fn start() -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let server_state = state.clone();
        let server = Server::start(move |req| {
            let reply = answer(&server_state, &req);
            async move { reply }
        });
        Self { server, state }
    }

    /// A webhook URL on this receiver; the last path part looks like the
    /// secret token real webhooks carry, so tests can search logs for it.
    pub fn webhook_url(&self, channel: &str) -> String {
        format!(
            "{}/services/T0TOILKIT/B0{channel}/xoxSECRETtoken{channel}",
            self.server.url()
        )
    }

    /// Stores the webhook URL of `channel` as the Secrets Manager secret
    /// `name`, as an operator would, and returns the secret's ARN: functions
    /// under test then fetch it through the real secret path.
    pub async fn store_webhook_secret(
        &self,
        sdk: &aws_types::SdkConfig,
        name: &str,
        channel: &str,
    ) -> String {
        aws_sdk_secretsmanager::Client::new(sdk)
            .create_secret()
            .name(name)
            .secret_string(self.webhook_url(channel))
            .send()
            .await
            .unwrap_or_else(|e| panic!("secret {name} not created: {e}"))
            .arn
            .expect("a created secret has an ARN")
    }

    /// [`store_webhook_secret`](Self::store_webhook_secret) under a name
    /// no other test uses (`slack-<channel>-…`); the secret's ARN.
    pub async fn webhook_secret(&self, sdk: &aws_types::SdkConfig, channel: &str) -> String {
        let name = Moto::shared().unique(&format!("slack-{channel}"));
        self.store_webhook_secret(sdk, &name, channel).await
    }

    /// Stores the webhook URL of `channel` as an SSM SecureString under a
    /// name no other test uses, as an operator may instead of a secret, and
    /// returns the parameter's name.
    pub async fn webhook_parameter(&self, sdk: &aws_types::SdkConfig, channel: &str) -> String {
        let name = format!("/toilkit/{}", Moto::shared().unique("slack"));
        aws_sdk_ssm::Client::new(sdk)
            .put_parameter()
            .name(&name)
            .value(self.webhook_url(channel))
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .send()
            .await
            .unwrap_or_else(|e| panic!("parameter {name} not stored: {e}"));
        name
    }

    /// Answers the next requests with `replies`, then `200 ok` again.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.lock().unwrap().script.extend(replies);
    }

    /// Every request, answered or refused.
    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// The bodies answered with 200: what a channel would show.
    pub fn delivered(&self) -> Vec<serde_json::Value> {
        self.received()
            .into_iter()
            .filter(|r| r.status == 200)
            .map(|r| r.body)
            .collect()
    }

    /// Delivered bodies for one webhook channel.
    pub fn delivered_to(&self, channel: &str) -> Vec<serde_json::Value> {
        let marker = format!("/B0{channel}/");
        self.received()
            .into_iter()
            .filter(|r| r.status == 200 && r.path.contains(&marker))
            .map(|r| r.body)
            .collect()
    }
}

/// Records `req` and answers it from the script, else with Slack's `200 ok`.
fn answer(state: &Mutex<State>, req: &loopback::Request) -> loopback::Response {
    let mut state = state.lock().unwrap();
    let reply = state.script.pop_front().unwrap_or(Reply::Ok);
    let retry_after;
    let mut headers = Vec::new();
    let (status, text) = match reply {
        Reply::Ok => (200, "ok"),
        Reply::RateLimited { retry_after_secs } => {
            retry_after = retry_after_secs.to_string();
            headers.push(("Retry-After", retry_after.as_str()));
            (429, "rate_limited")
        }
        Reply::Status(404) => (404, "no_service"),
        Reply::Status(400) => (400, "invalid_payload"),
        Reply::Status(code) => (code, "server_error"),
    };
    state.received.push(Received {
        path: req.path.clone(),
        body: req.json(),
        status,
    });
    loopback::response(status, &headers, text)
}
