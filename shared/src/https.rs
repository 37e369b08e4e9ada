//! The one TLS stack: rustls with the ring crypto provider, for the AWS SDK and
//! for every other HTTPS client (Slack).
//!
//! The SDK's default HTTPS client uses aws-lc, and reqwest's `rustls` feature
//! adds it again; aws-lc alone is about a megabyte of every `bootstrap.zip`.
//! ring covers what AWS endpoints and Slack negotiate (TLS 1.2 and 1.3, ECDSA
//! and RSA certificates). What it lacks is the post-quantum hybrid key
//! exchange aws-lc prefers, which neither endpoint requires.

use std::sync::Once;

use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// The SDK's HTTP client. Trusted roots are the system's, loaded when the
/// first client uses it.
pub fn sdk_http_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// A `reqwest` client builder that can build: reqwest is compiled without a
/// crypto provider of its own and uses the process default set here.
pub fn client_builder() -> reqwest::ClientBuilder {
    install_crypto_provider();
    reqwest::Client::builder()
}

/// Makes ring the process-wide rustls provider, once. A provider installed
/// earlier by someone else is kept: the error only says one exists.
pub fn install_crypto_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
