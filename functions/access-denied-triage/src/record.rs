//! One CloudTrail record, and who made the call.
//!
//! The same record arrives as an EventBridge event's `detail` and as the
//! message of a CloudWatch Logs event, so one type reads both. Only the
//! fields the triage uses are read; everything else (`requestParameters`
//! but the target role, `responseElements`, `additionalEventData`) is skipped
//! unparsed, which keeps the Logs path's decode cheap. A record without
//! `eventTime`, `eventSource`, `eventName` or `userIdentity` is malformed.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    #[serde(with = "time::serde::rfc3339")]
    pub event_time: OffsetDateTime,
    pub event_source: String,
    pub event_name: String,
    pub user_identity: UserIdentity,
    #[serde(default)]
    pub aws_region: Option<String>,
    #[serde(rename = "sourceIPAddress", default)]
    pub source_ip_address: Option<String>,
    #[serde(default)]
    pub user_agent: Option<String>,
    #[serde(default)]
    pub error_code: Option<String>,
    #[serde(default)]
    pub error_message: Option<String>,
    #[serde(default)]
    pub read_only: Option<bool>,
    #[serde(default)]
    pub management_event: Option<bool>,
    #[serde(default)]
    pub recipient_account_id: Option<String>,
    #[serde(rename = "eventID", default)]
    pub event_id: Option<String>,
    #[serde(default)]
    pub resources: Option<Vec<Resource>>,
    #[serde(default)]
    pub request_parameters: Option<RequestParameters>,
    #[serde(default)]
    pub vpc_endpoint_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Resource {
    #[serde(rename = "ARN", default)]
    pub arn: Option<String>,
}

/// The one request parameter the triage reads: the role an `AssumeRole`
/// call asked for, which decides whether the denial touched a privileged role.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestParameters {
    #[serde(default)]
    pub role_arn: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub principal_id: Option<String>,
    #[serde(default)]
    pub arn: Option<String>,
    #[serde(default)]
    pub account_id: Option<String>,
    #[serde(default)]
    pub access_key_id: Option<String>,
    #[serde(default)]
    pub user_name: Option<String>,
    #[serde(default)]
    pub invoked_by: Option<String>,
    #[serde(default)]
    pub identity_provider: Option<String>,
    #[serde(default)]
    pub session_context: Option<SessionContext>,
    #[serde(default)]
    pub on_behalf_of: Option<OnBehalfOf>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionContext {
    #[serde(default)]
    pub session_issuer: Option<SessionIssuer>,
    /// Set by the caller at `AssumeRole` (`SourceIdentity`) and kept across
    /// role chaining: the most reliable name of the person.
    #[serde(default)]
    pub source_identity: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionIssuer {
    #[serde(default)]
    pub arn: Option<String>,
    #[serde(default)]
    pub user_name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnBehalfOf {
    #[serde(default)]
    pub user_id: Option<String>,
}

/// The kind of principal, from `userIdentity.type`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    IamUser,
    AssumedRole,
    Root,
    FederatedUser,
    AwsService,
    AwsAccount,
    IdentityCenterUser,
    SamlUser,
    WebIdentityUser,
    /// `Unknown`, `Directory`, a type added after this was written, or none.
    Other(String),
}

impl Kind {
    fn of(text: Option<&str>) -> Self {
        match text.unwrap_or("Unknown") {
            "IAMUser" => Self::IamUser,
            "AssumedRole" => Self::AssumedRole,
            "Root" => Self::Root,
            "FederatedUser" => Self::FederatedUser,
            "AWSService" => Self::AwsService,
            "AWSAccount" => Self::AwsAccount,
            "IdentityCenterUser" => Self::IdentityCenterUser,
            "SAMLUser" => Self::SamlUser,
            "WebIdentityUser" => Self::WebIdentityUser,
            other => Self::Other(other.to_owned()),
        }
    }
}

/// Who made the call, normalised: the same role is the same principal
/// whichever session used it, and the person behind the session is kept
/// beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Who {
    pub kind: Kind,
    /// What denials are grouped by: a user's or role's IAM ARN, the root
    /// ARN, a federated user's ARN, `account:<id>`, a service's name.
    pub principal: String,
    /// The role's or user's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// The person behind a role session, when the session says who it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoked_by: Option<String>,
}

impl Who {
    /// Every name a rule's principal pattern may be written against. Not
    /// the bare session name: whoever assumes a role chooses it, and a rule
    /// for `ci-*` must not silence any role assumed as `ci-anything`.
    pub fn names(&self) -> Vec<&str> {
        [
            Some(self.principal.as_str()),
            self.name.as_deref(),
            self.person.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// A long-term access key (`AKIA…`, an IAM user's or root's). Session
    /// keys (`ASIA…`) are new at every session, so "never seen before" only
    /// means something for these.
    pub fn long_term_key(&self) -> Option<&str> {
        self.access_key.as_deref().filter(|k| k.starts_with("AKIA"))
    }

    /// How a person reads it: `role ci-deploy (session alice@example.com)`.
    pub fn describe(&self) -> String {
        let name = self.name.as_deref().unwrap_or(&self.principal);
        let mut text = match &self.kind {
            Kind::IamUser => format!("IAM user {name}"),
            Kind::AssumedRole => format!("role {name}"),
            Kind::Root => format!("root user of {}", self.account.as_deref().unwrap_or("?")),
            Kind::FederatedUser => format!("federated user {name}"),
            Kind::AwsService => format!("service {}", self.principal),
            Kind::AwsAccount => format!("account {}", self.account.as_deref().unwrap_or("?")),
            Kind::IdentityCenterUser => format!("Identity Center user {}", self.principal),
            Kind::SamlUser | Kind::WebIdentityUser => {
                format!("federated identity {}", self.principal)
            }
            Kind::Other(kind) => format!("{kind} {}", self.principal),
        };
        match (&self.person, &self.session) {
            (Some(person), _) => text.push_str(&format!(" ({person})")),
            (None, Some(session)) => text.push_str(&format!(" (session {session})")),
            (None, None) => {}
        }
        text
    }
}

impl Record {
    /// What tells this record from every other: its `eventID`, or, in a
    /// record without one, its time, principal and action.
    pub fn identity(&self) -> String {
        match &self.event_id {
            Some(id) => id.clone(),
            None => format!(
                "{}|{}|{}",
                self.event_time.unix_timestamp(),
                self.user_identity.arn.as_deref().unwrap_or("?"),
                self.action()
            ),
        }
    }

    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The service's prefix, from its endpoint name (`iam.amazonaws.com` is
    /// `iam`), which is the IAM action prefix for nearly every service.
    pub fn service(&self) -> &str {
        self.event_source
            .split_once('.')
            .map_or(self.event_source.as_str(), |(service, _)| service)
    }

    /// The action: the service and the API called, `iam:CreateUser`.
    /// Lambda's event names carry the API version (`CreateFunction20150331`,
    /// `UpdateFunctionCode20150331v2`), which is dropped so that a rule's
    /// action reads as the IAM action does. Other services' API names can
    /// differ from the IAM action (S3 `ListObjects` is `s3:ListBucket` in a
    /// policy); rules match the API name, which is what the record says.
    pub fn action(&self) -> String {
        format!("{}:{}", self.service(), api_name(&self.event_name))
    }

    /// The call was refused for lack of permission (not throttled, not
    /// invalid): the error codes the template's rule also matches.
    pub fn is_denied(&self) -> bool {
        self.error_code.as_deref().is_some_and(is_denial_code)
    }

    /// A read (`readOnly`, or a `Get`/`List`/`Describe`/`Head` call when the
    /// record does not say).
    pub fn is_read(&self) -> bool {
        self.read_only.unwrap_or_else(|| {
            ["Get", "List", "Describe", "Head"]
                .iter()
                .any(|p| self.event_name.starts_with(p))
        })
    }

    /// The caller's IP; `None` when a service called (its DNS name is in
    /// `sourceIPAddress` then) or the record has none.
    pub fn source_ip(&self) -> Option<IpAddr> {
        self.source_ip_address.as_deref()?.parse().ok()
    }

    /// The resource denied, when the record names one: the role an
    /// `AssumeRole` asked for, else the first of `resources`.
    pub fn resource(&self) -> Option<&str> {
        self.request_parameters
            .as_ref()
            .and_then(|p| p.role_arn.as_deref())
            .or_else(|| {
                self.resources
                    .as_deref()?
                    .iter()
                    .find_map(|r| r.arn.as_deref())
            })
    }

    pub fn who(&self) -> Who {
        let id = &self.user_identity;
        let kind = Kind::of(id.kind.as_deref());
        let account = id
            .account_id
            .clone()
            .or_else(|| id.arn.as_deref().and_then(account_of));
        let access_key = id.access_key_id.clone().filter(|k| !k.is_empty());
        let invoked_by = id.invoked_by.clone().filter(|s| !s.is_empty());
        let mut who = Who {
            principal: String::new(),
            name: None,
            session: None,
            person: None,
            account,
            access_key,
            invoked_by,
            kind,
        };
        let issuer = id
            .session_context
            .as_ref()
            .and_then(|c| c.session_issuer.as_ref());
        match &who.kind {
            Kind::AssumedRole => {
                let arn = id.arn.as_deref().unwrap_or_default();
                let issuer_arn = issuer.and_then(|i| i.arn.clone());
                who.name = issuer
                    .and_then(|i| i.user_name.clone())
                    .or_else(|| role_name(arn).map(str::to_owned));
                who.principal = issuer_arn
                    .or_else(|| role_arn_of_session(arn))
                    .unwrap_or_else(|| arn.to_owned());
                who.session = session_name(arn).map(str::to_owned);
                let source_identity = id
                    .session_context
                    .as_ref()
                    .and_then(|c| c.source_identity.clone())
                    .filter(|s| !s.is_empty());
                who.person = source_identity.or_else(|| {
                    let session = who.session.as_deref()?;
                    let sso = who
                        .name
                        .as_deref()
                        .is_some_and(|n| n.starts_with("AWSReservedSSO_"));
                    (sso || session.contains('@')).then(|| session.to_owned())
                });
            }
            Kind::IamUser | Kind::FederatedUser => {
                who.principal = id.arn.clone().unwrap_or_default();
                who.name = id
                    .user_name
                    .clone()
                    .or_else(|| id.arn.as_deref().and_then(last_segment).map(str::to_owned));
            }
            Kind::Root => {
                who.principal = id.arn.clone().unwrap_or_else(|| {
                    format!(
                        "arn:aws:iam::{}:root",
                        who.account.as_deref().unwrap_or_default()
                    )
                });
            }
            Kind::AwsService => {
                who.principal = who
                    .invoked_by
                    .clone()
                    .unwrap_or_else(|| "AWS service".into());
            }
            Kind::AwsAccount => {
                who.principal = format!("account:{}", who.account.as_deref().unwrap_or_default());
            }
            Kind::IdentityCenterUser => {
                let user = id.on_behalf_of.as_ref().and_then(|o| o.user_id.as_deref());
                who.principal = format!("identitycenter:{}", user.unwrap_or_default());
            }
            Kind::SamlUser | Kind::WebIdentityUser => {
                let user = id.user_name.as_deref().unwrap_or_default();
                who.principal = match id.identity_provider.as_deref() {
                    Some(provider) => format!("{provider}/{user}"),
                    None => user.to_owned(),
                };
                who.name = id.user_name.clone();
            }
            Kind::Other(_) => {
                who.principal = id
                    .arn
                    .clone()
                    .or_else(|| id.principal_id.clone())
                    .or_else(|| id.user_name.clone())
                    .unwrap_or_default();
                who.name = id.user_name.clone();
            }
        }
        if who.principal.is_empty() {
            who.principal = id.principal_id.clone().unwrap_or_else(|| "unknown".into());
        }
        who
    }
}

/// The event name without a trailing API version (`20150331`, `20150331v2`).
fn api_name(event: &str) -> &str {
    let bytes = event.as_bytes();
    let mut end = bytes.len();
    if let Some(v) = event.rfind('v')
        && v + 1 < end
        && bytes[v + 1..].iter().all(u8::is_ascii_digit)
    {
        end = v;
    }
    // A name of digits only is not a versioned name.
    if end > 8 && bytes[end - 8..end].iter().all(u8::is_ascii_digit) {
        return &event[..end - 8];
    }
    event
}

/// `AccessDenied`, `AccessDeniedException`, `Client.UnauthorizedOperation`,
/// `UnauthorizedOperation`, and the `*Unauthorized*` family.
pub fn is_denial_code(code: &str) -> bool {
    code.starts_with("AccessDenied")
        || code.ends_with("UnauthorizedOperation")
        || code.contains("Unauthorized")
}

/// The role's name from a role ARN (`arn:aws:iam::1:role/path/name`) or an
/// assumed-role session ARN (`arn:aws:sts::1:assumed-role/name/session`),
/// with no call to IAM.
pub fn role_name(arn: &str) -> Option<&str> {
    let resource = arn.splitn(6, ':').nth(5)?;
    if let Some(rest) = resource.strip_prefix("assumed-role/") {
        return rest.split('/').next().filter(|n| !n.is_empty());
    }
    resource
        .strip_prefix("role/")
        .and_then(|rest| rest.rsplit('/').next())
        .filter(|n| !n.is_empty())
}

/// The permission set behind an IAM Identity Center role
/// (`AWSReservedSSO_<permission set>_<hash>`).
pub fn permission_set(role: &str) -> Option<&str> {
    let rest = role.strip_prefix("AWSReservedSSO_")?;
    rest.rsplit_once('_')
        .map(|(set, _)| set)
        .filter(|s| !s.is_empty())
}

fn session_name(arn: &str) -> Option<&str> {
    let resource = arn.splitn(6, ':').nth(5)?;
    let rest = resource.strip_prefix("assumed-role/")?;
    rest.split_once('/')
        .map(|(_, session)| session)
        .filter(|s| !s.is_empty())
}

/// The role's IAM ARN when the record has no session issuer; the session
/// ARN drops the role's path, so this one has none either.
fn role_arn_of_session(arn: &str) -> Option<String> {
    let mut parts = arn.splitn(6, ':');
    let (_, partition, _, _, account) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let role = role_name(arn)?;
    Some(format!("arn:{partition}:iam::{account}:role/{role}"))
}

fn account_of(arn: &str) -> Option<String> {
    arn.split(':')
        .nth(4)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
}

fn last_segment(arn: &str) -> Option<&str> {
    arn.rsplit(['/', ':']).next().filter(|s| !s.is_empty())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A fixture: a CloudTrail record in the format AWS writes it.
    pub(crate) fn fixture(name: &str) -> Record {
        let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        Record::parse(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    pub(crate) fn who_of(name: &str) -> Who {
        fixture(name).who()
    }

    #[test]
    fn an_iam_user_is_its_arn_with_its_name_and_long_term_key() {
        let who = who_of("iam-user-no-identity-policy");
        assert_eq!(who.kind, Kind::IamUser);
        assert_eq!(who.principal, "arn:aws:iam::111122223333:user/dev/bob");
        assert_eq!(who.name.as_deref(), Some("bob"));
        assert_eq!(who.long_term_key(), Some("AKIAIOSFODNN7EXAMPLE"));
        assert_eq!(who.account.as_deref(), Some("111122223333"));
        assert_eq!(who.describe(), "IAM user bob");
    }

    #[test]
    fn an_assumed_role_is_the_role_whatever_the_session_and_keeps_the_path() {
        let who = who_of("assumed-role-ci");
        assert_eq!(who.kind, Kind::AssumedRole);
        assert_eq!(who.principal, "arn:aws:iam::111122223333:role/ci/ci-deploy");
        assert_eq!(who.name.as_deref(), Some("ci-deploy"));
        assert_eq!(who.session.as_deref(), Some("GitHubActions-42"));
        assert_eq!(who.person, None, "a CI session name is not a person");
        assert_eq!(
            who.long_term_key(),
            None,
            "a session key is not a long-term key"
        );
        assert_eq!(who.describe(), "role ci-deploy (session GitHubActions-42)");
    }

    #[test]
    fn the_person_behind_an_identity_center_session_is_its_session_name() {
        let who = who_of("assumed-role-sso");
        assert_eq!(
            who.name.as_deref(),
            Some("AWSReservedSSO_Developer_0123456789abcdef")
        );
        assert_eq!(
            permission_set(who.name.as_deref().unwrap()),
            Some("Developer")
        );
        assert_eq!(who.person.as_deref(), Some("alice@example.com"));
        assert_eq!(
            who.describe(),
            "role AWSReservedSSO_Developer_0123456789abcdef (alice@example.com)"
        );
    }

    #[test]
    fn a_source_identity_names_the_person_across_role_chaining() {
        let who = who_of("assumed-role-source-identity");
        assert_eq!(who.session.as_deref(), Some("chained"));
        assert_eq!(who.person.as_deref(), Some("carol"));
    }

    #[test]
    fn without_a_session_issuer_the_role_comes_from_the_session_arn() {
        assert_eq!(
            role_arn_of_session("arn:aws-cn:sts::111122223333:assumed-role/app/i-0abc"),
            Some("arn:aws-cn:iam::111122223333:role/app".into())
        );
        assert_eq!(
            role_name("arn:aws:iam::111122223333:role/a/b/deep"),
            Some("deep")
        );
        assert_eq!(role_name("arn:aws:iam::111122223333:user/bob"), None);
        assert_eq!(role_name("not an arn"), None);
        assert_eq!(
            permission_set("AWSReservedSSO_Admin_Access_1a2b"),
            Some("Admin_Access")
        );
        assert_eq!(permission_set("ci-deploy"), None);
    }

    #[test]
    fn every_other_identity_type_has_a_principal() {
        for (fixture, kind, principal) in [
            ("root", Kind::Root, "arn:aws:iam::111122223333:root"),
            (
                "federated-user",
                Kind::FederatedUser,
                "arn:aws:sts::111122223333:federated-user/dana",
            ),
            ("aws-service", Kind::AwsService, "config.amazonaws.com"),
            ("aws-account", Kind::AwsAccount, "account:444455556666"),
            (
                "identity-center-user",
                Kind::IdentityCenterUser,
                "identitycenter:906724a2d3-2d37f7b2-8c5c-4c8b-9f0e-example",
            ),
            (
                "saml-user",
                Kind::SamlUser,
                "arn:aws:iam::111122223333:saml-provider/Okta/erin@example.com",
            ),
            (
                "web-identity-user",
                Kind::WebIdentityUser,
                "token.actions.githubusercontent.com/repo:example/app:ref:refs/heads/main",
            ),
        ] {
            let who = who_of(fixture);
            assert_eq!(who.kind, kind, "{fixture}");
            assert_eq!(who.principal, principal, "{fixture}");
        }
        assert_eq!(who_of("root").describe(), "root user of 111122223333");
    }

    #[test]
    fn the_record_names_the_action_its_resource_and_where_it_came_from() {
        let record = fixture("assumed-role-into-admin");
        assert_eq!(record.action(), "sts:AssumeRole");
        assert_eq!(
            record.resource(),
            Some("arn:aws:iam::111122223333:role/OrgAdmin")
        );
        assert!(!record.is_read());
        let record = fixture("iam-user-no-identity-policy");
        assert_eq!(record.action(), "s3:ListObjects");
        assert_eq!(record.resource(), Some("arn:aws:s3:::example-reports"));
        assert_eq!(record.source_ip(), Some("198.51.100.7".parse().unwrap()));
        assert!(record.is_read());
        assert_eq!(
            fixture("aws-service").source_ip(),
            None,
            "a service's DNS name is no IP"
        );
    }

    #[test]
    fn lambda_api_versions_are_dropped_from_the_action() {
        let record = fixture("assumed-role-ci");
        assert_eq!(record.event_name, "CreateFunction20150331");
        assert_eq!(record.action(), "lambda:CreateFunction");
        assert_eq!(
            api_name("UpdateFunctionCode20150331v2"),
            "UpdateFunctionCode"
        );
        assert_eq!(api_name("ListBuckets"), "ListBuckets");
        assert_eq!(api_name("GetObjectV2"), "GetObjectV2");
        assert_eq!(api_name("20150331"), "20150331");
    }

    #[test]
    fn the_denial_codes_are_the_ones_aws_uses_for_missing_permission() {
        for code in [
            "AccessDenied",
            "AccessDeniedException",
            "Client.UnauthorizedOperation",
            "UnauthorizedOperation",
            "UnauthorizedException",
            "UnauthorizedAccess",
        ] {
            assert!(is_denial_code(code), "{code}");
        }
        for code in [
            "ThrottlingException",
            "NoSuchBucket",
            "ValidationException",
            "",
        ] {
            assert!(!is_denial_code(code), "{code}");
        }
    }

    #[test]
    fn hostile_text_in_any_identity_field_is_read_without_a_panic() {
        let hostile = [
            "",
            ":",
            "arn:",
            "arn:aws:sts::1:assumed-role/",
            "arn:aws:sts::1:assumed-role//",
            "arn:aws:iam::1:role/",
            "AWSReservedSSO_",
            "AWSReservedSSO__",
            "é:ü/ß:💥/assumed-role/ä/ö",
            "with an explicit deny in a ",
            "because no permissions boundary: arn:",
            "because no service control policy: arn:aws:organizations::1:policy/p ",
            "Lambda20150331v",
            "20150331v2",
        ];
        for name in [
            "assumed-role-sso",
            "iam-user-no-identity-policy",
            "saml-user",
            "root",
        ] {
            for text in hostile {
                let mut record = fixture(name);
                record.user_identity.arn = Some(text.into());
                record.user_identity.user_name = Some(text.into());
                record.event_name = text.into();
                record.event_source = text.into();
                record.error_message = Some(text.into());
                record.user_agent = Some(text.into());
                record.source_ip_address = Some(text.into());
                if let Some(issuer) = record
                    .user_identity
                    .session_context
                    .as_mut()
                    .and_then(|c| c.session_issuer.as_mut())
                {
                    issuer.arn = Some(text.into());
                    issuer.user_name = Some(text.into());
                }
                let who = record.who();
                let _ = (
                    who.describe(),
                    who.names(),
                    record.action(),
                    record.resource(),
                );
                let _ = crate::reason::classify(record.error_message.as_deref()).describe();
                let _ = crate::noise::classify(&record, &who);
                let _ = (role_name(text), permission_set(text), api_name(text));
            }
        }
    }

    #[test]
    fn a_record_without_its_required_fields_is_malformed() {
        for text in [
            r#"{"eventSource": "s3.amazonaws.com", "eventName": "GetObject", "userIdentity": {}}"#,
            r#"{"eventTime": "yesterday", "eventSource": "s3.amazonaws.com", "eventName": "GetObject", "userIdentity": {}}"#,
            r#"{"eventTime": "2026-12-06T09:00:00Z", "eventName": "GetObject", "userIdentity": {}}"#,
            r#"{"eventTime": "2026-12-06T09:00:00Z", "eventSource": "s3.amazonaws.com", "eventName": "GetObject"}"#,
            "not json",
            "[]",
        ] {
            assert!(Record::parse(text).is_err(), "{text}");
        }
        let minimal = Record::parse(
            r#"{"eventTime": "2026-12-06T09:00:00Z", "eventSource": "s3.amazonaws.com", "eventName": "GetObject", "userIdentity": {}}"#,
        )
        .unwrap();
        assert_eq!(minimal.who().principal, "unknown");
    }
}
