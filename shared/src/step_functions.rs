//! What the functions that run a state machine share: reading its running
//! executions. Behind the `step-functions` feature, so that only those
//! functions link the Step Functions SDK.

use aws_sdk_sfn::Client;
use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::error::SdkError;
use aws_sdk_sfn::operation::describe_execution::DescribeExecutionError;
use aws_sdk_sfn::operation::list_executions::ListExecutionsError;
use aws_sdk_sfn::types::{ExecutionListItem, ExecutionStatus};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

/// Whether `execution` is still running; an execution Step Functions does
/// not know (or an ARN that names none) is not.
pub async fn is_running(
    sfn: &Client,
    execution: &str,
) -> Result<bool, SdkError<DescribeExecutionError, HttpResponse>> {
    match sfn
        .describe_execution()
        .execution_arn(execution)
        .send()
        .await
    {
        Ok(out) => Ok(*out.status() == ExecutionStatus::Running),
        Err(e) if matches!(e.code(), Some("ExecutionDoesNotExist" | "InvalidArn")) => Ok(false),
        Err(e) => Err(e),
    }
}

/// `machine`'s running executions, page by page, until the list ends or at
/// least `max` were read (whole pages, so possibly a few more).
pub async fn running_executions(
    sfn: &Client,
    machine: &str,
    max: usize,
) -> Result<Vec<ExecutionListItem>, SdkError<ListExecutionsError, HttpResponse>> {
    let mut found = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = sfn
            .list_executions()
            .state_machine_arn(machine)
            .status_filter(ExecutionStatus::Running)
            .set_next_token(token.take())
            .send()
            .await?;
        found.extend_from_slice(page.executions());
        match page.next_token() {
            // An empty token ends the list as a missing one does.
            Some(next) if !next.is_empty() && found.len() < max => token = Some(next.to_owned()),
            _ => return Ok(found),
        }
    }
}
