//! Where a notification goes: the owner team's webhook (`ROUTES`, keyed by
//! the value of the `OWNER_TAG_KEY` tag), else the default webhook.
//!
//! config-triage routes by the tags of the non-compliant resource,
//! access-denied-triage by the tags of the denied principal; both read the
//! same three settings the same way, and each posts through [`Route::post`].

use std::collections::BTreeMap;

use crate::config::{Env, Setting};
use crate::secret::SecretRef;
use crate::settings::{SLACK_WEBHOOK_PARAMETER, SLACK_WEBHOOK_SECRET_ARN};

/// The label of the default route in reports.
pub const DEFAULT_ROUTE: &str = "default";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routes {
    pub owner_tag_key: String,
    pub by_owner: BTreeMap<String, SecretRef>,
    pub default: SecretRef,
}

/// The route chosen for one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route<'a> {
    /// The owner team, or [`DEFAULT_ROUTE`].
    pub name: String,
    pub webhook: &'a SecretRef,
}

/// Why messages did not reach a route: its webhook could not be read (a
/// function may then try the default route), or Slack did not take them.
#[derive(Debug)]
pub enum Undelivered {
    Webhook(crate::secret::SecretError),
    Slack(crate::slack::SlackError),
}

impl Route<'_> {
    /// Reads the route's webhook, then posts `messages` to it in order.
    pub async fn post(
        &self,
        secrets: &crate::secret::SecretStore,
        slack: &crate::slack::SlackClient,
        messages: &[crate::slack::Message],
        deadline: &crate::Deadline,
    ) -> Result<(), Undelivered> {
        let webhook = secrets
            .get(self.webhook)
            .await
            .map_err(Undelivered::Webhook)?;
        slack
            .send_all(&webhook, messages, deadline)
            .await
            .map_err(Undelivered::Slack)
    }
}

impl Routes {
    /// Reads the owner tag key, the routes and the default webhook; every
    /// problem is reported through `env`, together with the function's
    /// others.
    pub fn from_env(env: &mut Env, owner_tag_key: &Setting, routes: &Setting) -> Self {
        let owner_tag_key: String = env.or_default(owner_tag_key);
        // Read by hand: the generic parser quotes the bad value, and a value
        // holding a webhook URL by mistake must not reach the log.
        let by_owner = match env.raw(routes).map(str::to_owned) {
            None => BTreeMap::new(),
            Some(value) => Self::parse_owners(&value).unwrap_or_else(|why| {
                env.invalid(routes, why);
                BTreeMap::new()
            }),
        };
        let default = SecretRef::slack_webhook_from_env(env);
        if default.is_none()
            && env.raw(&SLACK_WEBHOOK_SECRET_ARN).is_none()
            && env.raw(&SLACK_WEBHOOK_PARAMETER).is_none()
        {
            env.invalid(
                &SLACK_WEBHOOK_SECRET_ARN,
                "one of SLACK_WEBHOOK_SECRET_ARN or SLACK_WEBHOOK_PARAMETER is required (the default route and the digest)",
            );
        }
        Self {
            owner_tag_key,
            by_owner,
            // Unread: the configuration error above stops the function.
            default: default.unwrap_or(SecretRef::Parameter(String::new())),
        }
    }

    /// Parses `ROUTES`: `{"owner": "secret ARN or parameter name"}`.
    pub fn parse_owners(json: &str) -> Result<BTreeMap<String, SecretRef>, String> {
        let raw: BTreeMap<String, String> = crate::config::parse_json(json)
            .map_err(|e| format!("is not a JSON object of owner to webhook secret: {e}"))?;
        // The route a violation went to is remembered by name; a team
        // called "default" would be taken for the default webhook and its
        // ends sent to the other channel.
        if let Some(owner) = raw.keys().find(|o| o.eq_ignore_ascii_case(DEFAULT_ROUTE)) {
            return Err(format!(
                "owner {owner:?} is reserved for the default webhook (SLACK_WEBHOOK_SECRET_ARN or SLACK_WEBHOOK_PARAMETER); give that team's route another name"
            ));
        }
        raw.into_iter()
            .map(|(owner, reference)| {
                reference
                    .parse::<SecretRef>()
                    .map(|r| (owner.clone(), r))
                    .map_err(|why| format!("route for owner {owner:?}: {why}"))
            })
            .collect()
    }

    /// The owner tag's value picks the route; teams write their names with
    /// varying case, so an exact match is tried first, then any case.
    pub fn route(&self, tags: &BTreeMap<String, String>) -> Route<'_> {
        let owner = tags.get(&self.owner_tag_key).map(|o| o.trim());
        if let Some(owner) = owner.filter(|o| !o.is_empty()) {
            let hit = self.by_owner.get_key_value(owner).or_else(|| {
                self.by_owner
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(owner))
            });
            if let Some((name, webhook)) = hit {
                return Route {
                    name: name.clone(),
                    webhook,
                };
            }
        }
        Route {
            name: DEFAULT_ROUTE.to_owned(),
            webhook: &self.default,
        }
    }

    /// The route a violation was announced to, by the name remembered in the
    /// state table; `None` when `ROUTES` no longer has it.
    pub fn named(&self, name: &str) -> Option<Route<'_>> {
        match self.by_owner.get_key_value(name) {
            Some((name, webhook)) => Some(Route {
                name: name.clone(),
                webhook,
            }),
            None => (name == DEFAULT_ROUTE).then(|| Route {
                name: DEFAULT_ROUTE.to_owned(),
                webhook: &self.default,
            }),
        }
    }

    /// The owner named by the tags, routed or not (for messages).
    pub fn owner<'t>(&self, tags: &'t BTreeMap<String, String>) -> Option<&'t str> {
        tags.get(&self.owner_tag_key).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_route_to_their_webhook_and_everything_else_to_the_default() {
        let routes = Routes {
            owner_tag_key: "team".into(),
            by_owner: Routes::parse_owners(
                r#"{"payments": "/toilkit/slack/payments", "data": "arn:aws:secretsmanager:us-east-1:1:secret:data"}"#,
            )
            .unwrap(),
            default: SecretRef::Parameter("/toilkit/slack/default".into()),
        };
        let tags = |v: &str| BTreeMap::from([("team".to_owned(), v.to_owned())]);
        assert_eq!(routes.route(&tags("payments")).name, "payments");
        assert_eq!(
            routes.route(&tags("Payments")).webhook,
            &SecretRef::Parameter("/toilkit/slack/payments".into())
        );
        assert_eq!(routes.route(&tags("data")).name, "data");
        assert_eq!(routes.route(&tags("search")).name, DEFAULT_ROUTE);
        assert_eq!(routes.route(&BTreeMap::new()).name, DEFAULT_ROUTE);
        assert_eq!(
            routes.named("payments").unwrap().webhook,
            &SecretRef::Parameter("/toilkit/slack/payments".into())
        );
        assert_eq!(routes.named(DEFAULT_ROUTE).unwrap().name, DEFAULT_ROUTE);
        assert!(routes.named("search").is_none());
    }

    #[test]
    fn a_webhook_url_in_routes_is_refused() {
        let err =
            Routes::parse_owners(r#"{"x": "https://hooks.slack.com/services/T/B/C"}"#).unwrap_err();
        assert!(
            err.contains("\"x\"") && err.contains("webhook URL"),
            "{err}"
        );
        assert!(
            !err.contains("hooks.slack.com"),
            "the URL itself is not repeated: {err}"
        );
    }
}
