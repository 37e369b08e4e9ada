//! `S3_PRUNE`: delete application log objects older than N days under a prefix.
//!
//! Objects are listed (ListObjectsV2, 1,000 a page) and the old ones deleted
//! with DeleteObjects, 1,000 keys a call, in quiet mode so only failures come
//! back. In a versioned bucket a delete without a version id adds a delete
//! marker and keeps the data as a noncurrent version: the bucket's lifecycle
//! rule (NoncurrentVersionExpiration) is what finally removes it.

use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use serde_json::json;
use shared::report::{Action, Report};

use crate::api::Api;
use crate::config::PruneTarget;
use crate::error::Error;
use crate::plan;

/// DeleteObjects takes at most 1,000 keys.
pub const DELETE_BATCH: usize = 1000;

/// The budget and the clock of one pruning pass.
pub struct Pass<'a> {
    pub s3: &'a aws_sdk_s3::Client,
    pub api: &'a Api,
    pub dry_run: bool,
    pub now_secs: i64,
    /// Objects that may still be deleted in this run.
    pub remaining: u64,
}

/// How one target's pass ended.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    Done,
    Cap,
    Deadline,
}

/// Prunes one target; counts and failures go to `report`.
pub async fn prune(pass: &mut Pass<'_>, target: &PruneTarget, report: &mut Report) -> End {
    let location = format!("s3://{}/{}", target.bucket, target.prefix);
    let mut token: Option<String> = None;
    let mut batch: Vec<String> = Vec::new();
    let mut matched = 0u64;
    let mut deleted = 0u64;
    let mut end = End::Done;
    'listing: loop {
        let listed = pass
            .api
            .call(
                "ListObjectsV2",
                &location,
                pass.s3
                    .list_objects_v2()
                    .bucket(&target.bucket)
                    .prefix(&target.prefix)
                    .set_continuation_token(token.clone())
                    .send(),
            )
            .await;
        let page = match listed {
            Ok(page) => page,
            Err(e) if e.is_deadline() => {
                end = End::Deadline;
                break;
            }
            Err(e) => {
                report.fail(&location, "list_objects", &e);
                break;
            }
        };
        for object in page.contents() {
            report.incr("s3_objects_scanned");
            let (Some(key), Some(modified)) = (object.key(), object.last_modified()) else {
                continue;
            };
            if !plan::object_due(modified.secs(), pass.now_secs, target.days) {
                continue;
            }
            if pass.remaining == 0 {
                end = End::Cap;
                break 'listing;
            }
            pass.remaining -= 1;
            matched += 1;
            batch.push(key.to_owned());
            if batch.len() == DELETE_BATCH {
                match flush(pass, target, &mut batch, report).await {
                    Ok(n) => deleted += n,
                    Err(e) => {
                        end = End::Deadline;
                        report.skip(&location, e.to_string());
                        break 'listing;
                    }
                }
            }
        }
        token = page
            .next_continuation_token()
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        if token.is_none() || page.is_truncated() == Some(false) {
            break;
        }
    }
    if end != End::Deadline && !batch.is_empty() {
        match flush(pass, target, &mut batch, report).await {
            Ok(n) => deleted += n,
            Err(_) => end = End::Deadline,
        }
    }
    if matched > 0 {
        let action = Action::new(
            "delete_objects",
            &location,
            format!("objects last modified more than {} days ago", target.days),
        );
        report.plan(action.clone().with_detail(json!({"objects": matched})));
        report.add("s3_objects_planned", matched);
        if !pass.dry_run && deleted > 0 {
            report.applied(action.with_detail(json!({"objects": deleted})));
        }
    }
    report.add("s3_objects_deleted", deleted);
    end
}

/// Deletes one batch; returns how many were deleted. Per-key failures are
/// reported; only the deadline is an error.
async fn flush(
    pass: &Pass<'_>,
    target: &PruneTarget,
    batch: &mut Vec<String>,
    report: &mut Report,
) -> Result<u64, Error> {
    let keys = std::mem::take(batch);
    if pass.dry_run {
        return Ok(0);
    }
    let objects: Vec<ObjectIdentifier> = keys
        .iter()
        .filter_map(|k| ObjectIdentifier::builder().key(k).build().ok())
        .collect();
    let delete = Delete::builder()
        .set_objects(Some(objects))
        .quiet(true)
        .build()
        .expect("objects are set");
    let what = format!("{} objects in s3://{}", keys.len(), target.bucket);
    match pass
        .api
        .call(
            "DeleteObjects",
            &what,
            pass.s3
                .delete_objects()
                .bucket(&target.bucket)
                .delete(delete)
                .send(),
        )
        .await
    {
        Ok(out) => {
            for error in out.errors() {
                report.fail(
                    format!("s3://{}/{}", target.bucket, error.key().unwrap_or_default()),
                    "delete_object",
                    format!(
                        "{}: {}",
                        error.code().unwrap_or("error"),
                        error.message().unwrap_or_default()
                    ),
                );
            }
            Ok((keys.len() - out.errors().len()) as u64)
        }
        Err(e) if e.is_deadline() => Err(e),
        Err(e) => {
            report.fail(&what, "delete_objects", &e);
            Ok(0)
        }
    }
}
