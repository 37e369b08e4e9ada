//! Secrets (Slack webhook URLs) fetched from Secrets Manager or SSM.
//!
//! A [`Secret`] never prints its value: `Debug` and `Display` show
//! `[redacted]`, and every error names the secret's *reference* (an ARN or a
//! parameter name), never its content. Values are fetched once per cold start
//! and cached.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use aws_smithy_types::error::display::DisplayErrorContext;
use aws_types::SdkConfig;
use tokio::sync::Mutex;

/// Where a secret lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SecretRef {
    /// A Secrets Manager secret, by ARN or name.
    SecretsManager(String),
    /// An SSM parameter (SecureString), by name or ARN.
    Parameter(String),
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SecretsManager(id) => write!(f, "secret {id}"),
            Self::Parameter(name) => write!(f, "parameter {name}"),
        }
    }
}

impl FromStr for SecretRef {
    type Err = String;

    /// `arn:aws:secretsmanager:...` is a secret; `arn:aws:ssm:...` or a name
    /// starting with `/` is a parameter; `secret:NAME` and `ssm:NAME` name
    /// either explicitly.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err("is empty".to_owned());
        }
        if s.starts_with("https://") || s.starts_with("http://") {
            return Err("looks like a webhook URL itself; store it in Secrets Manager or SSM and give its ARN or name".to_owned());
        }
        if let Some(name) = s.strip_prefix("ssm:") {
            return Ok(Self::Parameter(name.to_owned()));
        }
        if let Some(name) = s.strip_prefix("secret:") {
            return Ok(Self::SecretsManager(name.to_owned()));
        }
        if s.contains(":secretsmanager:") {
            return Ok(Self::SecretsManager(s.to_owned()));
        }
        if s.contains(":ssm:") || s.starts_with('/') {
            return Ok(Self::Parameter(s.to_owned()));
        }
        Ok(Self::SecretsManager(s.to_owned()))
    }
}

impl SecretRef {
    /// The Slack webhook reference of a function: `SLACK_WEBHOOK_SECRET_ARN`
    /// or `SLACK_WEBHOOK_PARAMETER` (not both).
    pub fn slack_webhook_from_env(env: &mut crate::config::Env) -> Option<Self> {
        use crate::settings::{SLACK_WEBHOOK_PARAMETER, SLACK_WEBHOOK_SECRET_ARN};
        let arn = env.optional_with(&SLACK_WEBHOOK_SECRET_ARN, |v| {
            Ok(Self::SecretsManager(v.to_owned()))
        });
        let param = env.optional_with(&SLACK_WEBHOOK_PARAMETER, |v| {
            Ok(Self::Parameter(v.to_owned()))
        });
        match (arn, param) {
            (Some(_), Some(_)) => {
                env.invalid(
                    &SLACK_WEBHOOK_PARAMETER,
                    format!(
                        "is set together with {}; set only one",
                        SLACK_WEBHOOK_SECRET_ARN.name
                    ),
                );
                None
            }
            (arn, param) => arn.or(param),
        }
    }
}

/// A secret value. It never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that must use it (the HTTP request).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("could not read {reference}: {message}")]
    Fetch {
        reference: SecretRef,
        message: String,
    },
    #[error("{reference} holds no usable value: {why}")]
    Empty { reference: SecretRef, why: String },
}

/// Fetches and caches secrets.
#[derive(Debug)]
pub struct SecretStore {
    secrets: aws_sdk_secretsmanager::Client,
    parameters: aws_sdk_ssm::Client,
    cache: Mutex<HashMap<SecretRef, Secret>>,
}

impl SecretStore {
    pub fn new(sdk: &SdkConfig) -> Self {
        Self {
            secrets: aws_sdk_secretsmanager::Client::new(sdk),
            parameters: aws_sdk_ssm::Client::new(sdk),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The secret's value, fetched on first use.
    pub async fn get(&self, reference: &SecretRef) -> Result<Secret, SecretError> {
        let mut cache = self.cache.lock().await;
        if let Some(secret) = cache.get(reference) {
            return Ok(secret.clone());
        }
        let secret = self.fetch(reference).await?;
        cache.insert(reference.clone(), secret.clone());
        Ok(secret)
    }

    async fn fetch(&self, reference: &SecretRef) -> Result<Secret, SecretError> {
        let fetch_error = |message: String| SecretError::Fetch {
            reference: reference.clone(),
            message,
        };
        let raw = match reference {
            SecretRef::SecretsManager(id) => self
                .secrets
                .get_secret_value()
                .secret_id(id)
                .send()
                .await
                .map_err(|e| fetch_error(DisplayErrorContext(e).to_string()))?
                .secret_string
                .unwrap_or_default(),
            SecretRef::Parameter(name) => self
                .parameters
                .get_parameter()
                .name(name)
                .with_decryption(true)
                .send()
                .await
                .map_err(|e| fetch_error(DisplayErrorContext(e).to_string()))?
                .parameter
                .and_then(|p| p.value)
                .unwrap_or_default(),
        };
        webhook_value(&raw)
            .map(Secret)
            .map_err(|why| SecretError::Empty {
                reference: reference.clone(),
                why,
            })
    }
}

/// A stored webhook is either the URL itself or a JSON object holding it
/// under `url` or `webhook_url` (the two shapes teams use).
fn webhook_value(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("the value is empty".to_owned());
    }
    if raw.starts_with('{') {
        let object: serde_json::Value = serde_json::from_str(raw)
            .map_err(|_| "the value is neither a URL nor a JSON object".to_owned())?;
        for key in ["url", "webhook_url", "webhook"] {
            if let Some(url) = object.get(key).and_then(|v| v.as_str()) {
                return Ok(url.to_owned());
            }
        }
        return Err("the JSON value has no \"url\" or \"webhook_url\" key".to_owned());
    }
    Ok(raw.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_recognised() {
        assert_eq!(
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:slack-AbC".parse::<SecretRef>(),
            Ok(SecretRef::SecretsManager(
                "arn:aws:secretsmanager:eu-west-1:123456789012:secret:slack-AbC".into()
            ))
        );
        assert_eq!(
            "/toilkit/slack".parse::<SecretRef>(),
            Ok(SecretRef::Parameter("/toilkit/slack".into()))
        );
        assert_eq!(
            "ssm:slack".parse::<SecretRef>(),
            Ok(SecretRef::Parameter("slack".into()))
        );
        assert!(
            "https://hooks.slack.com/services/T/B/X"
                .parse::<SecretRef>()
                .is_err()
        );
    }

    #[test]
    fn a_secret_never_prints() {
        let secret = Secret::new("https://hooks.slack.com/services/T0/B0/abcdef");
        assert_eq!(format!("{secret}"), "[redacted]");
        assert!(!format!("{secret:?}").contains("hooks"));
    }

    #[test]
    fn json_and_plain_values() {
        assert_eq!(webhook_value(" https://x/y ").unwrap(), "https://x/y");
        assert_eq!(
            webhook_value(r#"{"webhook_url":"https://x/z"}"#).unwrap(),
            "https://x/z"
        );
        assert!(webhook_value(r#"{"token":"t"}"#).is_err());
        assert!(webhook_value("").is_err());
    }
}
