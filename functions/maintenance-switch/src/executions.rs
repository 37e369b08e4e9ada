//! The Step Functions calls on the window state machine's executions, one
//! function per question or change, each error naming the call and the
//! resource. No decisions: [`crate::windows`] decides what to start, stop
//! or list.

use aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata;
use aws_sdk_sfn::Client;
use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::{Map, Value};

use crate::error::Error;

/// An execution as `windows` and `cancel` need it.
pub struct Execution {
    pub status: ExecutionStatus,
    /// Its input: the window's fields, as `schedule` wrote them.
    pub input: Map<String, Value>,
}

/// The execution; `None` when it does not exist.
pub async fn describe(sfn: &Client, arn: &str) -> Result<Option<Execution>, Error> {
    match sfn.describe_execution().execution_arn(arn).send().await {
        Ok(out) => Ok(Some(Execution {
            status: out.status().clone(),
            input: out
                .input()
                .and_then(|i| serde_json::from_str::<Map<String, Value>>(i).ok())
                .unwrap_or_default(),
        })),
        Err(e) if e.code() == Some("ExecutionDoesNotExist") => Ok(None),
        Err(e) => Err(Error::aws("DescribeExecution", arn, e)),
    }
}

/// Starts an execution of `machine` named `name` with `input`; returns its
/// ARN. A name already used is `Error::Aws` with code
/// [`ALREADY_EXISTS`]: execution names are never reused.
pub async fn start(
    sfn: &Client,
    machine: &str,
    name: &str,
    input: &Value,
) -> Result<String, Error> {
    sfn.start_execution()
        .state_machine_arn(machine)
        .name(name)
        .input(input.to_string())
        .send()
        .await
        .map(|out| out.execution_arn().to_owned())
        .map_err(|e| Error::aws("StartExecution", machine, e))
}

/// The code of a start whose name is already used.
pub const ALREADY_EXISTS: &str = "ExecutionAlreadyExists";

/// Stops a running execution, with the error and cause its history shows.
pub async fn stop(sfn: &Client, arn: &str, error: &str, cause: &str) -> Result<(), Error> {
    sfn.stop_execution()
        .execution_arn(arn)
        .error(error)
        .cause(cause)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| Error::aws("StopExecution", arn, e))
}

/// The ARNs of `machine`'s running executions, at least `max` of them when
/// there are that many (whole pages are read).
pub async fn list_running(sfn: &Client, machine: &str, max: usize) -> Result<Vec<String>, Error> {
    let listed = shared::step_functions::running_executions(sfn, machine, max)
        .await
        .map_err(|e| Error::aws("ListExecutions", machine, e))?;
    Ok(listed
        .iter()
        .map(|e| e.execution_arn().to_owned())
        .collect())
}
