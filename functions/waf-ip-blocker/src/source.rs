//! A WAF log object in S3: downloading it and streaming it through the
//! counter. Calls only: what counts is the counter's business.
//!
//! The body is read on one task while the lines are scanned on a blocking
//! thread, so memory stays a few buffers whatever the object's size.

use shared::Deadline;

use crate::detect::Counter;
use crate::error::{Cause, Error};
use crate::stream::{ChunkReader, Flow, Scanned, Threads, scan_lines_with};
use crate::trigger::Object;

/// Lines between two looks at the deadline while reading.
const DEADLINE_EVERY: u64 = 65_536;

/// Streams one object through `counter` on a blocking thread while the
/// body downloads. Stopped by the deadline, it counts nothing from the
/// object ([`Error::OutOfTime`]).
pub async fn count(
    s3: &aws_sdk_s3::Client,
    object: &Object,
    mut counter: Counter,
    threads: Threads,
    deadline: &Deadline,
) -> Result<(Counter, Scanned), Error> {
    let read_error = |source: Cause| Error::ReadObject {
        bucket: object.bucket.clone(),
        key: object.key.clone(),
        source,
    };
    let out = s3
        .get_object()
        .bucket(&object.bucket)
        .key(&object.key)
        .send()
        .await
        .map_err(|e| read_error(shared::aws::cause(e)))?;
    let mut body = out.body;
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let pump = tokio::spawn(async move {
        loop {
            let chunk = match body.try_next().await {
                Ok(Some(chunk)) => Ok(chunk),
                Ok(None) => return,
                Err(e) => Err(std::io::Error::other(e)),
            };
            let failed = chunk.is_err();
            if tx.send(chunk).await.is_err() || failed {
                return;
            }
        }
    });
    let url = object.url();
    let deadline = *deadline;
    let scan = tokio::task::spawn_blocking(move || {
        counter.start_source(&url);
        let mut out_of_time = false;
        let mut n = 0u64;
        let result = scan_lines_with(ChunkReader::new(rx), threads, |number, line| {
            match line {
                Some(line) => counter.line_at(number, line),
                None => counter.overlong_at(number),
            }
            n += 1;
            if n.is_multiple_of(DEADLINE_EVERY) && deadline.expired() {
                out_of_time = true;
                return Flow::Stop;
            }
            Flow::Continue
        });
        (counter, result, out_of_time)
    });
    let (counter, result, out_of_time) = scan
        .await
        .map_err(|e| read_error(format!("the reader stopped: {e}").into()))?;
    pump.abort();
    let scanned = result.map_err(|e| {
        read_error(format!("{e} (is it a gzip or plain JSON-lines WAF log?)").into())
    })?;
    if out_of_time {
        return Err(Error::OutOfTime { what: object.url() });
    }
    Ok((counter, scanned))
}
