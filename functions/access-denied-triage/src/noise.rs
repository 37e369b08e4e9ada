//! The denials nobody needs to be told about, recognised before anything is
//! sent: each is dropped and counted by its reason, so the report shows how
//! much noise there was and where it came from.
//!
//! The operator's own rules are the last filter and live in [`crate::rules`];
//! the plan applies them after these.

use serde::Serialize;

use crate::record::{Kind, Record, Who, role_name};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Noise {
    /// The call succeeded, or failed for another reason (Logs path only:
    /// the trail's log group has every call).
    NotDenied,
    /// An AWS service's own principal (`userIdentity.type` `AWSService`).
    ServicePrincipal,
    /// A service called on the principal's behalf (`invokedBy`): the
    /// service's permissions, not the person's, were short.
    InvokedByService,
    /// The console's own fan-out calls (`aws-internal/*` user agents): a
    /// page that shows a bucket asks for every setting, allowed or not.
    ConsoleInternal,
    /// A read-only scanner's service-linked role or agent.
    Scanner,
    /// The operator's rule expects it.
    OperatorRule,
}

impl Noise {
    /// The report's counter for this reason.
    pub fn counter(self) -> &'static str {
        match self {
            Self::NotDenied => "dropped_not_denied",
            Self::ServicePrincipal => "dropped_service_principal",
            Self::InvokedByService => "dropped_invoked_by_service",
            Self::ConsoleInternal => "dropped_console_internal",
            Self::Scanner => "dropped_scanner",
            Self::OperatorRule => "dropped_operator_rule",
        }
    }
}

/// Read-only scanners: their service-linked role names (prefixes) and the
/// service names CloudTrail writes as the source of their calls. Access Analyzer, Config,
/// Trusted Advisor, Security Hub, Inspector and Support read every resource
/// they may, and are denied by every resource policy that does not name them.
const SCANNER_ROLES: &[&str] = &[
    "AWSServiceRoleForAccessAnalyzer",
    "AWSServiceRoleForConfig",
    "AWSServiceRoleForConfigConforms",
    "AWSServiceRoleForTrustedAdvisor",
    "AWSServiceRoleForSecurityHub",
    "AWSServiceRoleForAmazonInspector",
    "AWSServiceRoleForSupport",
];

const SCANNER_AGENTS: &[&str] = &[
    "access-analyzer.amazonaws.com",
    "config.amazonaws.com",
    "trustedadvisor.amazonaws.com",
    "securityhub.amazonaws.com",
    "inspector.amazonaws.com",
    "inspector2.amazonaws.com",
    "support.amazonaws.com",
];

/// Why this record is noise, by the built-in filters; `None` when it may matter.
pub fn classify(record: &Record, who: &Who) -> Option<Noise> {
    if !record.is_denied() {
        return Some(Noise::NotDenied);
    }
    if who.kind == Kind::AwsService {
        return Some(Noise::ServicePrincipal);
    }
    if who.invoked_by.is_some() {
        return Some(Noise::InvokedByService);
    }
    // The user agent is whatever the caller sends: alone it proves
    // nothing, or an attacker would set `aws-internal/3` and vanish. The
    // console's fan-out also comes from `AWS Internal`, which only AWS
    // writes in `sourceIPAddress`.
    let agent = record.user_agent.as_deref().unwrap_or_default();
    let source = record.source_ip_address.as_deref().unwrap_or_default();
    if source == AWS_INTERNAL
        && agent
            .get(..13)
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case("aws-internal/"))
    {
        return Some(Noise::ConsoleInternal);
    }
    // A scanner is its service-linked role (only AWS creates roles under
    // `aws-service-role/`), or a call whose source AWS wrote as the
    // scanner's service name; a role merely named like one is not.
    let service_linked = who.principal.contains(":role/aws-service-role/");
    let role = who
        .name
        .as_deref()
        .filter(|_| who.kind == Kind::AssumedRole)
        .or_else(|| role_name(&who.principal));
    let scanner_role =
        service_linked && role.is_some_and(|r| SCANNER_ROLES.iter().any(|s| r.starts_with(s)));
    let scanner_source = SCANNER_AGENTS.contains(&source);
    (scanner_role || scanner_source).then_some(Noise::Scanner)
}

/// What CloudTrail writes as the source of calls AWS makes itself.
const AWS_INTERNAL: &str = "AWS Internal";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests::fixture;

    fn noise(name: &str) -> Option<Noise> {
        let record = fixture(name);
        classify(&record, &record.who())
    }

    #[test]
    fn each_kind_of_noise_is_recognised() {
        assert_eq!(noise("not-denied"), Some(Noise::NotDenied));
        assert_eq!(noise("aws-service"), Some(Noise::ServicePrincipal));
        assert_eq!(
            noise("invoked-by-cloudformation"),
            Some(Noise::InvokedByService)
        );
        assert_eq!(noise("console-internal"), Some(Noise::ConsoleInternal));
        assert_eq!(noise("scanner-access-analyzer"), Some(Noise::Scanner));
    }

    #[test]
    fn people_and_workloads_are_not_noise() {
        for name in [
            "iam-user-no-identity-policy",
            "assumed-role-ci",
            "assumed-role-sso",
            "root",
            "federated-user",
            "aws-account",
            "leaked-key",
            "vpc-endpoint",
            "ec2-encoded",
        ] {
            assert_eq!(noise(name), None, "{name}");
        }
    }

    #[test]
    fn a_caller_cannot_pass_for_noise_by_its_user_agent_or_role_name() {
        for agent in [
            "aws-internal/3 aws-sdk-java",
            "access-analyzer.amazonaws.com",
        ] {
            let mut record = fixture("leaked-key");
            record.user_agent = Some(agent.into());
            assert_eq!(classify(&record, &record.who()), None, "{agent}");
        }
        // A role of one's own named like a scanner's service-linked role.
        let mut record = fixture("assumed-role-ci");
        record.user_identity.arn =
            Some("arn:aws:sts::111122223333:assumed-role/AWSServiceRoleForConfigX/s".into());
        if let Some(issuer) = record
            .user_identity
            .session_context
            .as_mut()
            .and_then(|c| c.session_issuer.as_mut())
        {
            issuer.arn = Some("arn:aws:iam::111122223333:role/AWSServiceRoleForConfigX".into());
            issuer.user_name = Some("AWSServiceRoleForConfigX".into());
        }
        assert_eq!(classify(&record, &record.who()), None);
    }

    #[test]
    fn a_person_browsing_the_console_is_not_its_internal_fan_out() {
        // The same SSO session as the console noise, calling with a browser.
        assert_eq!(noise("assumed-role-sso"), None);
        let mut record = fixture("console-internal");
        record.user_agent = Some("AWS-Internal/3 aws-sdk-java".into());
        assert_eq!(
            classify(&record, &record.who()),
            Some(Noise::ConsoleInternal)
        );
    }
}
