//! The patch command: `AWS-RunPatchBaseline` sent to a wave's instances,
//! found again by its comment (an invocation that died between sending and
//! writing down its id must not send it twice), and its invocations read
//! back page by page. No decisions here.

use aws_sdk_ssm::Client;
use aws_sdk_ssm::types::CommandInvocationStatus;

use crate::Calls;
use crate::config::Rollout;
use crate::error::Error;

/// The document every rollout sends; IAM allows no other.
pub const DOCUMENT: &str = "AWS-RunPatchBaseline";
/// `SendCommand` takes at most 50 instance ids.
pub const INSTANCES_PER_COMMAND: usize = 50;
/// The last characters of a failed instance's output kept for the report
/// (and the wave's record, which must stay small).
const EXCERPT: usize = 240;

/// Where one instance's run of the command is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Run {
    Running,
    Succeeded,
    /// The status, and the end of the output (or the status detail when
    /// there is none).
    Failed {
        status: String,
        excerpt: String,
    },
}

/// The command this run sent with `comment` to `first` (the first instance
/// of its part), if it sent one: the invocation that wrote "sending" may have
/// sent it and died before writing its id.
pub async fn find(
    client: &Client,
    first: &str,
    comment: &str,
    calls: &mut Calls,
) -> Result<Option<String>, Error> {
    let mut token: Option<String> = None;
    loop {
        calls.incr("ListCommands");
        let page = client
            .list_commands()
            .instance_id(first)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| Error::Aws {
                operation: "ListCommands",
                target: first.to_owned(),
                source: shared::aws::cause(e),
            })?;
        if let Some(found) = page
            .commands()
            .iter()
            .find(|c| c.comment() == Some(comment) && c.document_name() == Some(DOCUMENT))
        {
            return Ok(found.command_id().map(str::to_owned));
        }
        match page.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_owned()),
            _ => return Ok(None),
        }
    }
}

/// Sends the patch command to `instances` (at most
/// [`INSTANCES_PER_COMMAND`]); returns its id.
pub async fn send(
    client: &Client,
    instances: &[String],
    comment: &str,
    settings: &Rollout,
    calls: &mut Calls,
) -> Result<String, Error> {
    calls.incr("SendCommand");
    let out = client
        .send_command()
        .document_name(DOCUMENT)
        .set_instance_ids(Some(instances.to_vec()))
        .parameters("Operation", vec!["Install".to_owned()])
        .parameters("RebootOption", vec![settings.reboot_option.clone()])
        .max_concurrency(&settings.max_concurrency)
        .max_errors(&settings.max_errors)
        // The delivery timeout: an instance the command has not reached by
        // then is not patched at all (its run ends `TimedOut`), so a run
        // cannot start after the wave has stopped waiting for it.
        .timeout_seconds(i32::try_from(settings.command_timeout_minutes * 60).unwrap_or(i32::MAX))
        .comment(comment)
        .send()
        .await
        .map_err(|e| Error::Aws {
            operation: "SendCommand",
            target: format!("{} instance(s) from {}", instances.len(), instances[0]),
            source: shared::aws::cause(e),
        })?;
    out.command()
        .and_then(|c| c.command_id())
        .map(str::to_owned)
        .ok_or_else(|| Error::Aws {
            operation: "SendCommand",
            target: comment.to_owned(),
            source: "the answer named no command id".into(),
        })
}

/// Each instance's run of `command`, by instance id.
pub async fn results(
    client: &Client,
    command: &str,
    calls: &mut Calls,
) -> Result<Vec<(String, Run)>, Error> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        calls.incr("ListCommandInvocations");
        let page = client
            .list_command_invocations()
            .command_id(command)
            .details(true)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| Error::Aws {
                operation: "ListCommandInvocations",
                target: command.to_owned(),
                source: shared::aws::cause(e),
            })?;
        for invocation in page.command_invocations() {
            let Some(instance) = invocation.instance_id() else {
                continue;
            };
            let result = match invocation.status() {
                Some(CommandInvocationStatus::Success) => Run::Succeeded,
                Some(
                    status @ (CommandInvocationStatus::Failed
                    | CommandInvocationStatus::TimedOut
                    | CommandInvocationStatus::Cancelled),
                ) => {
                    let output: String = invocation
                        .command_plugins()
                        .iter()
                        .filter_map(|p| p.output())
                        .collect::<Vec<_>>()
                        .join("\n");
                    let text = if output.trim().is_empty() {
                        invocation.status_details().unwrap_or_default().to_owned()
                    } else {
                        output
                    };
                    Run::Failed {
                        status: status.as_str().to_owned(),
                        excerpt: tail(&redact(&text), EXCERPT),
                    }
                }
                // Pending, InProgress, Delayed, Cancelling, and any status
                // newer than this build: not finished.
                _ => Run::Running,
            };
            out.push((instance.to_owned(), result));
        }
        match page.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_owned()),
            _ => return Ok(out),
        }
    }
}

/// `text` with the credentials of any URL in it masked: yum and dnf print
/// repository URLs, and a private repository's carry `user:token@`.
fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        let end = after
            .find(|c: char| c.is_whitespace() || c == '/')
            .unwrap_or(after.len());
        match after[..end].rfind('@') {
            Some(userinfo) => {
                out.push_str("***");
                rest = &after[userinfo..];
            }
            None => rest = after,
        }
    }
    out.push_str(rest);
    out
}

/// The last `max` characters of `text`, trimmed, on a character boundary.
fn tail(text: &str, max: usize) -> String {
    let text = text.trim();
    let count = text.chars().count();
    if count <= max {
        return text.to_owned();
    }
    let skip = count - max;
    format!("…{}", text.chars().skip(skip).collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_a_repository_url_never_reach_the_report() {
        let output = "Error: Failed to download metadata for repo 'internal': \
            https://deploy:s3cr3t-t0ken@repo.example.com/al2023/x86_64/repodata \
            (and ftp://anon@mirror.example.net/ and https://plain.example.org/a@b)";
        let text = redact(output);
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(!text.contains("deploy:"), "{text}");
        assert!(
            text.contains("https://***@repo.example.com/al2023"),
            "{text}"
        );
        assert!(text.contains("ftp://***@mirror.example.net/"), "{text}");
        assert!(text.contains("https://plain.example.org/a@b"), "{text}");
    }

    #[test]
    fn an_excerpt_keeps_the_end_of_the_output_on_a_character_boundary() {
        assert_eq!(tail("  short\n", 10), "short");
        let long = format!("{}é the end", "x".repeat(500));
        assert_eq!(tail(&long, 12), "…xxxé the end");
    }
}
