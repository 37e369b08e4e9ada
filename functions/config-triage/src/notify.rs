//! What people are told, and its delivery: the Slack messages and the SNS
//! page for one change, and the digest's messages.

use shared::Deadline;
use shared::slack::{Finding, Message, SlackError, build_messages};
use time::OffsetDateTime;

use crate::App;
use crate::change::ComplianceChange;
use crate::error::Error;
use crate::exemption::Exemption;
use crate::plan::{Notice, Transition, human_duration};
use crate::resource::Resource;
use crate::severity::Severity;
use shared::routing::{DEFAULT_ROUTE, Route, Undelivered};

/// Everything a notification says.
#[derive(Debug, Clone)]
pub struct Notification<'a> {
    pub change: &'a ComplianceChange,
    pub notice: Notice,
    pub transition: Transition,
    pub severity: Severity,
    pub resource: &'a Resource,
    pub owner: Option<&'a str>,
    pub since: Option<i64>,
    pub expired_exemption: Option<&'a Exemption>,
    pub now: OffsetDateTime,
}

impl Notification<'_> {
    pub fn title(&self) -> String {
        let c = self.change;
        match self.notice {
            Notice::Violation => format!(
                "{} Config violation: {} on {}",
                self.severity.as_str().to_uppercase(),
                c.rule,
                self.display_name()
            ),
            Notice::Resolution if self.transition == Transition::NotApplicable => {
                format!(
                    "No longer applicable: {} on {}",
                    c.rule,
                    self.display_name()
                )
            }
            Notice::Resolution => format!("Resolved: {} on {}", c.rule, self.display_name()),
        }
    }

    fn display_name(&self) -> String {
        match &self.resource.name {
            Some(name) if name != &self.change.resource_id => {
                format!("{name} ({})", self.change.resource_id)
            }
            _ => self.change.resource_id.clone(),
        }
    }

    fn fields(&self) -> Vec<(String, String)> {
        let c = self.change;
        let mut fields = vec![
            ("Rule".to_owned(), c.rule.clone()),
            ("Severity".to_owned(), self.severity.to_string()),
            (
                "Resource".to_owned(),
                format!("{} {}", c.resource_type, c.resource_id),
            ),
            (
                "Account / region".to_owned(),
                format!("{} / {}", c.account, c.region),
            ),
            ("Status".to_owned(), c.new.to_string()),
        ];
        if let Some(arn) = &self.resource.arn {
            fields.push(("ARN".to_owned(), arn.clone()));
        }
        fields.push((
            "Owner".to_owned(),
            self.owner.unwrap_or("(no owner tag)").to_owned(),
        ));
        if let Some(a) = &c.annotation {
            fields.push(("Why".to_owned(), a.clone()));
        }
        if let Some(since) = self.since {
            let age = (self.now.unix_timestamp() - since).max(0) as u64;
            let label = if self.notice == Notice::Violation {
                "Non-compliant for"
            } else {
                "Was non-compliant for"
            };
            fields.push((label.to_owned(), human_duration(age)));
        }
        if let Some(e) = self.expired_exemption {
            fields.push((
                "Exemption expired".to_owned(),
                format!("{} — it no longer applies", e.describe()),
            ));
        }
        if let Some(error) = &self.resource.lookup_error {
            // Failing closed: announced although an exemption might have
            // silenced it, and the reader is told why.
            fields.push((
                "Tags could not be read".to_owned(),
                format!(
                    "{error}. Tag exemptions could not be checked and the owner is unknown, so this is announced here rather than silenced"
                ),
            ));
        }
        fields.push((
            "Console".to_owned(),
            format!(
                "https://{r}.console.aws.amazon.com/config/home?region={r}#/rules/details?configRuleName={rule}",
                r = c.region,
                rule = c.rule
            ),
        ));
        fields
    }

    pub fn slack(&self) -> Vec<Message> {
        let finding = Finding {
            title: self.title(),
            fields: self.fields(),
            body: None,
        };
        build_messages(&self.title(), None, &[finding])
    }

    /// SNS subjects are limited to 100 characters, ASCII, no newlines.
    pub fn sns_subject(&self) -> String {
        let text: String = self
            .title()
            .chars()
            .map(|c| {
                if c.is_ascii() && !c.is_ascii_control() {
                    c
                } else {
                    ' '
                }
            })
            .collect();
        text.chars().take(100).collect()
    }

    pub fn sns_body(&self) -> String {
        let mut body = self.title();
        body.push('\n');
        for (label, value) in self.fields() {
            body.push_str(&format!("\n{label}: {value}"));
        }
        body
    }
}

/// Delivers one change's notification: the page first when `page`, then
/// Slack on `route`.
pub async fn deliver(
    app: &App,
    n: &Notification<'_>,
    route: &Route<'_>,
    page: bool,
    deadline: &Deadline,
) -> Result<(), Error> {
    let target = n.change.target();
    // Paging first: if Slack then fails, the retry pages again, which is
    // better than a critical violation nobody is paged for.
    if page && let Some(topic) = &app.settings.critical_topic_arn {
        // The client's type is named here so that the sdk-calls check
        // (tests/template-support/sdk-calls.txt) ties `publish` to SNS.
        let sns: &aws_sdk_sns::Client = &app.sns;
        sns.publish()
            .topic_arn(topic)
            .subject(n.sns_subject())
            .message(n.sns_body())
            .send()
            .await
            .map_err(|e| Error::Sns {
                topic: topic.clone(),
                target: target.clone(),
                source: shared::aws::cause(e),
            })?;
    }
    route
        .post(&app.secrets, &app.slack, &n.slack(), deadline)
        .await
        .map_err(|undelivered| match undelivered {
            Undelivered::Webhook(source) => Error::Webhook {
                route: route.name.clone(),
                source,
            },
            Undelivered::Slack(source) => Error::Slack {
                target,
                route: route.name.clone(),
                source,
            },
        })
}

/// Posts the digest's `messages`, in order, to the default route. When
/// Slack refuses a part after earlier parts went out, the error is
/// [`Error::DigestPartlyPosted`], naming the parts that were not delivered.
pub async fn post_digest(
    app: &App,
    messages: &[Message],
    deadline: &Deadline,
) -> Result<(), Error> {
    let webhook = app
        .secrets
        .get(&app.settings.routes.default)
        .await
        .map_err(|source| Error::Webhook {
            route: DEFAULT_ROUTE.into(),
            source,
        })?;
    app.slack
        .send_all(&webhook, messages, deadline)
        .await
        .map_err(|source| digest_error(source, messages.len()))
}

fn digest_error(source: SlackError, parts: usize) -> Error {
    let delivered = source.delivered();
    if delivered == 0 {
        return Error::Slack {
            target: "digest".into(),
            route: DEFAULT_ROUTE.into(),
            source,
        };
    }
    let missing = if delivered + 1 == parts {
        format!("part {parts}/{parts}")
    } else {
        format!("parts {}/{parts} to {parts}/{parts}", delivered + 1)
    };
    Error::DigestPartlyPosted {
        route: DEFAULT_ROUTE.into(),
        delivered,
        parts,
        missing,
        claimed: false,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::Compliance;
    use crate::exemption::Exemptions;
    use time::macros::datetime;

    #[test]
    fn a_digest_cut_short_names_the_parts_people_did_not_get() {
        let refused = |index| SlackError::Rejected {
            index,
            status: 404,
            body: "no_service".into(),
        };
        let text = digest_error(refused(1), 3).to_string();
        assert!(
            text.contains("1 of 3 part(s) delivered, parts 2/3 to 3/3 NOT delivered"),
            "{text}"
        );
        let text = digest_error(refused(2), 3).to_string();
        assert!(text.contains("part 3/3 NOT delivered"), "{text}");
        assert!(
            matches!(digest_error(refused(0), 3), Error::Slack { .. }),
            "nothing delivered: the plain Slack failure, and the claim is given back"
        );
    }

    /// Only a held claim keeps a retry from posting the digest again; a
    /// manual run or a failed claim write holds none, and the message must
    /// not promise otherwise.
    #[test]
    fn a_digest_cut_short_says_whether_a_retry_posts_it_again() {
        let mut error = digest_error(
            SlackError::Rejected {
                index: 1,
                status: 404,
                body: "no_service".into(),
            },
            2,
        );
        let unclaimed = error.to_string();
        assert!(
            unclaimed.contains("a retry posts it whole again")
                && !unclaimed.contains("not posted again"),
            "{unclaimed}"
        );
        if let Error::DigestPartlyPosted { claimed, .. } = &mut error {
            *claimed = true;
        }
        let claimed = error.to_string();
        assert!(claimed.contains("it is not posted again"), "{claimed}");
    }

    #[test]
    fn a_violation_says_what_where_whose_how_long_and_why() {
        let change = ComplianceChange {
            account: "123456789012".into(),
            region: "eu-west-1".into(),
            rule: "restricted-ssh".into(),
            resource_type: "AWS::EC2::SecurityGroup".into(),
            resource_id: "sg-0abc".into(),
            new: Compliance::NonCompliant,
            old: Some(Compliance::Compliant),
            annotation: Some("Port 22 is open to 0.0.0.0/0 <all>".into()),
            at: datetime!(2026-03-01 10:00 UTC),
        };
        let resource = Resource {
            arn: Some("arn:aws:ec2:eu-west-1:123456789012:security-group/sg-0abc".into()),
            name: Some("web-ingress".into()),
            ..Resource::default()
        };
        let exemptions = Exemptions::parse(
            r#"[{"rule": "restricted-ssh", "expires": "2026-02-01", "reason": "bastion"}]"#,
        )
        .unwrap();
        let n = Notification {
            change: &change,
            notice: Notice::Violation,
            transition: Transition::NewViolation,
            severity: Severity::Critical,
            resource: &resource,
            owner: Some("payments"),
            since: Some(datetime!(2026-03-01 10:00 UTC).unix_timestamp()),
            expired_exemption: exemptions.0.first(),
            now: datetime!(2026-03-01 13:20 UTC),
        };
        assert_eq!(
            n.title(),
            "CRITICAL Config violation: restricted-ssh on web-ingress (sg-0abc)"
        );
        let text = serde_json::to_string(&n.slack()).unwrap();
        for expected in [
            "*Owner:* payments",
            "*Non-compliant for:* 3h 20m",
            "*Account / region:* 123456789012 / eu-west-1",
            "Port 22 is open to 0.0.0.0/0 &lt;all&gt;",
            "*Exemption expired:* rule restricted-ssh (bastion), expires 2026-02-01",
            "configRuleName=restricted-ssh",
        ] {
            assert!(text.contains(expected), "{expected} missing from {text}");
        }
        let subject = n.sns_subject();
        assert!(subject.len() <= 100 && subject.is_ascii(), "{subject}");
        assert!(n.sns_body().contains("Owner: payments"));
    }
}
