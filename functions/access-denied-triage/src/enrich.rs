//! What the records do not say: the denied principal's tags (its owner, for
//! routing) and the account's alias, from IAM.
//!
//! Bounded and cached per invocation: each principal is looked up once, at
//! most [`MAX_LOOKUPS`] of them, each call within [`CALL_TIMEOUT`]. A lookup
//! that fails, times out or is skipped never blocks an alert: it is recorded
//! as unknown, with why, and the message says so.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_iam::Client;
use aws_sdk_iam::error::ProvideErrorMetadata;
use serde::Serialize;

use crate::record::{Kind, Who};

/// Distinct principals whose tags one invocation reads; a delivery naming
/// more (a burst from many roles) routes the rest by default.
pub const MAX_LOOKUPS: usize = 20;
/// One IAM call; IAM is a global service with a low request rate, and an
/// alert is worth more than its owner tag.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(3);

/// What was learnt about the principals of one delivery.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Context {
    /// The account's alias, when it has one and it could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_alias: Option<String>,
    /// Tags by principal (the IAM user or role ARN).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, BTreeMap<String, String>>,
    /// Why something could not be learnt: by principal, or `account alias`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub unknown: BTreeMap<String, String>,
}

/// The key of [`Context::unknown`] for the alias.
pub const ACCOUNT_ALIAS: &str = "account alias";

impl Context {
    pub fn tags_of(&self, principal: &str) -> Option<&BTreeMap<String, String>> {
        self.tags.get(principal)
    }
}

#[derive(Debug, Clone)]
pub struct Enricher {
    iam: Client,
}

impl Enricher {
    pub fn new(iam: Client) -> Self {
        Self { iam }
    }

    /// Looks up `principals` (deduplicated, in order) and the alias of
    /// `home_account`, the account the function runs in: IAM answers only
    /// for it, so a principal of another account (an organization trail's)
    /// is unknown without a call.
    pub async fn context<'a>(
        &self,
        principals: impl IntoIterator<Item = &'a Who>,
        home_account: Option<&str>,
    ) -> Context {
        let mut context = Context::default();
        match timed(self.iam.list_account_aliases().send()).await {
            Ok(output) => context.account_alias = output.account_aliases.into_iter().next(),
            Err(why) => {
                context.unknown.insert(ACCOUNT_ALIAS.to_owned(), why);
            }
        }
        let mut looked_up = 0;
        for who in principals {
            if context.tags.contains_key(&who.principal)
                || context.unknown.contains_key(&who.principal)
            {
                continue;
            }
            let Some(name) = who.name.as_deref() else {
                continue;
            };
            if !matches!(who.kind, Kind::IamUser | Kind::AssumedRole) {
                continue;
            }
            if who.account.as_deref() != home_account || home_account.is_none() {
                context.unknown.insert(
                    who.principal.clone(),
                    format!(
                        "its tags are in account {}, not this one",
                        who.account.as_deref().unwrap_or("?")
                    ),
                );
                continue;
            }
            if looked_up == MAX_LOOKUPS {
                context.unknown.insert(
                    who.principal.clone(),
                    format!("not looked up: more than {MAX_LOOKUPS} principals in one delivery"),
                );
                continue;
            }
            looked_up += 1;
            let tags = if who.kind == Kind::IamUser {
                timed(self.iam.list_user_tags().user_name(name).send())
                    .await
                    .map(|o| pairs(o.tags.into_iter().map(|t| (t.key, t.value))))
            } else {
                timed(self.iam.list_role_tags().role_name(name).send())
                    .await
                    .map(|o| pairs(o.tags.into_iter().map(|t| (t.key, t.value))))
            };
            match tags {
                Ok(tags) => {
                    context.tags.insert(who.principal.clone(), tags);
                }
                Err(why) => {
                    context.unknown.insert(who.principal.clone(), why);
                }
            }
        }
        context
    }
}

fn pairs(tags: impl Iterator<Item = (String, String)>) -> BTreeMap<String, String> {
    tags.collect()
}

/// One call within [`CALL_TIMEOUT`]; the error as the sentence a message
/// shows.
async fn timed<T, E>(call: impl Future<Output = Result<T, E>>) -> Result<T, String>
where
    E: ProvideErrorMetadata,
{
    match tokio::time::timeout(CALL_TIMEOUT, call).await {
        Ok(Ok(output)) => Ok(output),
        // The code and AWS's sentence: what a reader can act on, without
        // the request's dump.
        Ok(Err(e)) => Err(format!(
            "IAM said {}: {}",
            e.code().unwrap_or("an error"),
            e.message().unwrap_or("no message")
        )),
        Err(_) => Err(format!(
            "IAM did not answer within {} s",
            CALL_TIMEOUT.as_secs()
        )),
    }
}
