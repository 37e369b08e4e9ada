//! One sweep at a time per account and Region. The sweep state machine
//! passes each invocation its own execution's ARN; an invocation whose
//! execution is not the oldest running one of its state machine sweeps
//! nothing, so that two executions never share the API quota. The oldest
//! wins, so two started together do not both stop.

use aws_sdk_sfn::Client;
use aws_smithy_types::DateTime;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::error::Error;

/// The state machine of an execution ARN
/// (`arn:<partition>:states:<region>:<account>:execution:<machine>:<name>`).
pub fn state_machine_of(execution: &str) -> Result<String, Error> {
    let parts: Vec<&str> = execution.split(':').collect();
    match parts.as_slice() {
        [
            "arn",
            partition,
            "states",
            region,
            account,
            "execution",
            machine,
            name,
        ] if [partition, region, account, machine, name]
            .iter()
            .all(|p| !p.is_empty()) =>
        {
            Ok(format!(
                "arn:{partition}:states:{region}:{account}:stateMachine:{machine}"
            ))
        }
        _ => Err(Error::Event(format!(
            "\"execution\" must be a Step Functions execution ARN (the sweep state machine passes $$.Execution.Id), got {execution:?}"
        ))),
    }
}

/// The running execution that goes before `own`: the oldest by start time
/// (then by ARN), when it is not `own`. When `own` is not listed (the list
/// lags), any other running execution goes before it.
pub fn goes_before(own: &str, running: &[(String, DateTime)]) -> Option<String> {
    if !running.iter().any(|(arn, _)| arn == own) {
        return running.iter().map(|(arn, _)| arn.clone()).min();
    }
    running
        .iter()
        .min_by(|a, b| (a.1.as_nanos(), &a.0).cmp(&(b.1.as_nanos(), &b.0)))
        .filter(|(arn, _)| arn != own)
        .map(|(arn, _)| arn.clone())
}

/// The running executions of `machine`, with their start times.
pub async fn running(sfn: &Client, machine: &str) -> Result<Vec<(String, DateTime)>, Error> {
    let listed = shared::step_functions::running_executions(sfn, machine, usize::MAX)
        .await
        .map_err(|e| Error::Aws {
            operation: "ListExecutions",
            target: machine.to_owned(),
            code: e.code().map(str::to_owned),
            message: DisplayErrorContext(&e).to_string(),
        })?;
    Ok(listed
        .iter()
        .map(|e| (e.execution_arn().to_owned(), *e.start_date()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: &str =
        "arn:aws:states:eu-west-1:123456789012:execution:toilkit-log-retention-sweep:b";

    #[test]
    fn the_state_machine_is_read_from_the_execution_arn() {
        assert_eq!(
            state_machine_of(OWN).unwrap(),
            "arn:aws:states:eu-west-1:123456789012:stateMachine:toilkit-log-retention-sweep"
        );
        for bad in [
            "",
            "sweep-1",
            "arn:aws:states:eu-west-1:123456789012:stateMachine:toilkit-log-retention-sweep",
            "arn:aws:states:eu-west-1:123456789012:execution:machine",
            "arn:aws:states:eu-west-1::execution:machine:name",
        ] {
            let err = state_machine_of(bad).unwrap_err().to_string();
            assert!(err.contains("execution ARN"), "{bad}: {err}");
        }
    }

    #[test]
    fn the_oldest_running_execution_sweeps() {
        let other = OWN.replace(":b", ":a");
        let at = DateTime::from_secs;
        // Alone, or the oldest: nothing goes before.
        assert_eq!(goes_before(OWN, &[(OWN.to_owned(), at(10))]), None);
        assert_eq!(
            goes_before(OWN, &[(OWN.to_owned(), at(10)), (other.clone(), at(20))]),
            None
        );
        // An older one goes before.
        assert_eq!(
            goes_before(OWN, &[(other.clone(), at(5)), (OWN.to_owned(), at(10))]),
            Some(other.clone())
        );
        // Started in the same instant: the ARN decides, the same way for both.
        let tied = [(other.clone(), at(10)), (OWN.to_owned(), at(10))];
        assert_eq!(goes_before(OWN, &tied), Some(other.clone()));
        assert_eq!(goes_before(&other, &tied), None);
        // Not yet listed: any other running one goes before.
        assert_eq!(
            goes_before(OWN, &[(other.clone(), at(99))]),
            Some(other.clone())
        );
        assert_eq!(goes_before(OWN, &[]), None);
    }
}
