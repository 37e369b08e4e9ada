//! The two buckets (history and dashboard): the S3 calls only, each error
//! naming the call, the bucket and the key.

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;

use crate::error::{Cause, Error};

pub struct Bucket {
    client: aws_sdk_s3::Client,
    name: String,
}

/// What an object is, for a browser or a reader opening it.
pub struct Kind {
    pub content_type: &'static str,
    pub cache_control: Option<&'static str>,
}

/// A JSON line of the history.
pub const JSON: Kind = Kind {
    content_type: "application/json",
    cache_control: None,
};

/// The dashboard: whoever opens the link sees the page as last rendered.
pub const PAGE: Kind = Kind {
    content_type: "text/html; charset=utf-8",
    cache_control: Some("no-store"),
};

impl Bucket {
    pub fn new(client: aws_sdk_s3::Client, name: impl Into<String>) -> Self {
        Self {
            client,
            name: name.into(),
        }
    }

    pub async fn put(&self, key: &str, body: String, kind: &Kind) -> Result<(), Error> {
        self.client
            .put_object()
            .bucket(&self.name)
            .key(key)
            .content_type(kind.content_type)
            .set_cache_control(kind.cache_control.map(str::to_owned))
            .body(ByteStream::from(body.into_bytes()))
            .send()
            .await
            .map_err(|e| self.error("PutObject", key, shared::aws::cause(e)))?;
        Ok(())
    }

    /// A URL that lets whoever holds it GET `key` for `valid` (at most as
    /// long as the credentials that sign it last).
    pub async fn presigned_get(&self, key: &str, valid: Duration) -> Result<String, Error> {
        let config = aws_sdk_s3::presigning::PresigningConfig::expires_in(valid)
            .map_err(|e| self.error("presign GetObject", key, Box::new(e)))?;
        let request = self
            .client
            .get_object()
            .bucket(&self.name)
            .key(key)
            .presigned(config)
            .await
            .map_err(|e| self.error("presign GetObject", key, shared::aws::cause(e)))?;
        Ok(request.uri().to_owned())
    }

    fn error(&self, operation: &'static str, key: &str, source: Cause) -> Error {
        Error::Bucket {
            bucket: self.name.clone(),
            operation,
            key: key.to_owned(),
            source,
        }
    }
}
