//! The SSM parameter holding extra exemptions (`EXEMPTIONS_PARAMETER`):
//! read fresh each invocation, so an edit applies at once. Calls only; the
//! text is parsed by [`crate::exemption`].

use crate::error::{Cause, Error};

/// The parameter's value (decrypted; empty when it has none).
pub async fn read(ssm: &aws_sdk_ssm::Client, parameter: &str) -> Result<String, Error> {
    let value = ssm
        .get_parameter()
        .name(parameter)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| error(parameter, shared::aws::cause(e)))?
        .parameter
        .and_then(|p| p.value)
        .unwrap_or_default();
    Ok(value)
}

/// A parameter that could not be read, or whose value is not exemptions.
pub fn error(parameter: &str, source: Cause) -> Error {
    Error::ExemptionsParameter {
        parameter: parameter.to_owned(),
        source,
    }
}
