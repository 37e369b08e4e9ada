//! The words people read: Slack messages and the SNS page for one change.

use shared::slack::{Finding, Message, build_messages};
use time::OffsetDateTime;

use crate::change::ComplianceChange;
use crate::exemption::Exemption;
use crate::plan::{Notice, Transition, human_duration};
use crate::resource::Resource;
use crate::severity::Severity;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::Compliance;
    use crate::exemption::Exemptions;
    use time::macros::datetime;

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
