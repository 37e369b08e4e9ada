//! Why a call was denied: the policy type, as AWS names it in `errorMessage`.
//!
//! AWS writes `... is not authorized to perform: <action> on resource: <arn>
//! with an explicit deny in a <type> policy` for an explicit deny, and
//! `... because no <type> policy allows the <action> action` for an implicit
//! one (IAM user guide, "Troubleshoot access denied error messages"). Since
//! 2025 the message may end with the denying policy's ARN (same account or
//! organization only). Services that use another wording, and EC2's encoded
//! messages, are `Unknown`: a valid answer, said as such.

use std::fmt;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyType {
    IdentityBased,
    ServiceControl,
    ResourceControl,
    PermissionsBoundary,
    Session,
    ResourceBased,
    VpcEndpoint,
    Unknown,
}

impl PolicyType {
    /// The short label used in group keys and reports.
    pub fn label(self) -> &'static str {
        match self {
            Self::IdentityBased => "identity-based policy",
            Self::ServiceControl => "SCP",
            Self::ResourceControl => "RCP",
            Self::PermissionsBoundary => "permissions boundary",
            Self::Session => "session policy",
            Self::ResourceBased => "resource-based policy",
            Self::VpcEndpoint => "VPC endpoint policy",
            Self::Unknown => "unknown",
        }
    }
}

impl PolicyType {
    /// "an SCP", "a session policy": as the label is read aloud.
    fn article(self) -> &'static str {
        match self {
            Self::IdentityBased | Self::ServiceControl | Self::ResourceControl => "an",
            _ => "a",
        }
    }
}

impl fmt::Display for PolicyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// What the message says about the denial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Denial {
    pub policy: PolicyType,
    /// `Some(true)`: a `Deny` statement; `Some(false)`: no `Allow`; `None`:
    /// the message does not say.
    pub explicit: Option<bool>,
    /// The denying policy, when AWS names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_arn: Option<String>,
}

impl Denial {
    pub const UNKNOWN: Self = Self {
        policy: PolicyType::Unknown,
        explicit: None,
        policy_arn: None,
    };

    /// In words: "explicit deny in an SCP", "no identity-based policy allows it".
    pub fn describe(&self) -> String {
        let mut text = match (self.explicit, self.policy) {
            (_, PolicyType::Unknown) => "the message does not name the policy type".to_owned(),
            (Some(true), policy) => format!("explicit deny in {} {policy}", policy.article()),
            (_, policy) => format!("no {policy} allows it"),
        };
        if let Some(arn) = &self.policy_arn {
            text.push_str(&format!(" ({arn})"));
        }
        text
    }
}

/// The phrases AWS uses for each type, as they follow "deny in a(n) " or
/// "because no ". "permissions boundary" has no "policy" after it.
const TYPES: &[(&str, PolicyType)] = &[
    ("identity-based policy", PolicyType::IdentityBased),
    ("service control policy", PolicyType::ServiceControl),
    ("resource control policy", PolicyType::ResourceControl),
    ("permissions boundary", PolicyType::PermissionsBoundary),
    ("session policy", PolicyType::Session),
    ("resource-based policy", PolicyType::ResourceBased),
    ("vpc endpoint policy", PolicyType::VpcEndpoint),
];

pub fn classify(message: Option<&str>) -> Denial {
    let Some(message) = message else {
        return Denial::UNKNOWN;
    };
    let lower = message.to_ascii_lowercase();
    // The context comes after the resource ARN, which is the caller's text
    // (a bucket may be called "because-no-..."): the last occurrence is AWS's.
    let (explicit, context_at) = match (
        lower.rfind("with an explicit deny in "),
        lower.rfind("because no "),
    ) {
        (Some(e), Some(i)) if i > e => (false, i + "because no ".len()),
        (Some(e), _) => (true, e + "with an explicit deny in ".len()),
        (None, Some(i)) => (false, i + "because no ".len()),
        (None, None) => return Denial::UNKNOWN,
    };
    let context = &lower[context_at..];
    let context = context
        .strip_prefix("an ")
        .or_else(|| context.strip_prefix("a "))
        .unwrap_or(context);
    let Some(&(phrase, policy)) = TYPES.iter().find(|(p, _)| context.starts_with(p)) else {
        return Denial::UNKNOWN;
    };
    let after = &message[message.len() - context.len() + phrase.len()..];
    let policy_arn = after
        .strip_prefix(':')
        .map(str::trim_start)
        .filter(|rest| rest.starts_with("arn:"))
        .and_then(|rest| rest.split_whitespace().next())
        .map(|arn| arn.trim_end_matches(['.', ',']).to_owned());
    Denial {
        policy,
        explicit: Some(explicit),
        policy_arn,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests::fixture;

    fn of(name: &str) -> Denial {
        classify(fixture(name).error_message.as_deref())
    }

    #[test]
    fn each_policy_type_is_named_from_the_records_message() {
        for (name, policy, explicit) in [
            (
                "iam-user-no-identity-policy",
                PolicyType::IdentityBased,
                false,
            ),
            ("assumed-role-sso", PolicyType::IdentityBased, true),
            ("assumed-role-ci", PolicyType::ServiceControl, true),
            ("root", PolicyType::ResourceControl, true),
            (
                "iam-user-permissions-boundary",
                PolicyType::PermissionsBoundary,
                false,
            ),
            ("federated-user", PolicyType::Session, false),
            ("aws-account", PolicyType::ResourceBased, true),
            ("vpc-endpoint", PolicyType::VpcEndpoint, false),
        ] {
            let denial = of(name);
            assert_eq!(denial.policy, policy, "{name}");
            assert_eq!(denial.explicit, Some(explicit), "{name}");
        }
    }

    #[test]
    fn the_denying_policy_arn_is_kept_when_aws_gives_it() {
        let denial = of("assumed-role-ci");
        assert_eq!(
            denial.policy_arn.as_deref(),
            Some(
                "arn:aws:organizations::999988887777:policy/o-a1b2c3d4e5/service_control_policy/p-examp1e"
            )
        );
        assert_eq!(
            denial.describe(),
            "explicit deny in an SCP (arn:aws:organizations::999988887777:policy/o-a1b2c3d4e5/service_control_policy/p-examp1e)"
        );
        assert_eq!(of("iam-user-no-identity-policy").policy_arn, None);
        assert_eq!(
            of("iam-user-no-identity-policy").describe(),
            "no identity-based policy allows it"
        );
    }

    #[test]
    fn an_encoded_or_unfamiliar_message_is_unknown() {
        assert_eq!(of("ec2-encoded"), Denial::UNKNOWN);
        assert_eq!(classify(None), Denial::UNKNOWN);
        assert_eq!(classify(Some("Access Denied")), Denial::UNKNOWN);
        assert_eq!(
            classify(Some(
                "User: x is not authorized because no mystery policy allows it"
            )),
            Denial::UNKNOWN
        );
    }

    #[test]
    fn a_resource_named_like_the_context_does_not_fool_it() {
        let message = "User: arn:aws:iam::111122223333:user/bob is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::reports/with an explicit deny in a service control policy.txt because no identity-based policy allows the s3:GetObject action";
        let denial = classify(Some(message));
        assert_eq!(denial.policy, PolicyType::IdentityBased);
        assert_eq!(denial.explicit, Some(false));
    }
}
