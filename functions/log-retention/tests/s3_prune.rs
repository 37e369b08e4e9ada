//! S3_PRUNE against the emulator: old objects under the prefix go, in
//! DeleteObjects batches of 1,000, never more than the per-run cap; new
//! objects and other prefixes stay; a dry run deletes nothing.

use std::time::{Duration, SystemTime};

use crate::common::{Account, DAY, sweep};
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};

const OLD: usize = 1205;

async fn put_all(s3: &aws_sdk_s3::Client, bucket: &str, keys: Vec<String>) {
    let mut set = tokio::task::JoinSet::new();
    for key in keys {
        while set.len() >= 16 {
            set.join_next().await.unwrap().unwrap();
        }
        let (s3, bucket) = (s3.clone(), bucket.to_owned());
        set.spawn(async move {
            s3.put_object()
                .bucket(bucket)
                .key(&key)
                .body(aws_sdk_s3::primitives::ByteStream::from_static(
                    b"log line\n",
                ))
                .send()
                .await
                .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
        });
    }
    while let Some(done) = set.join_next().await {
        done.unwrap();
    }
}

async fn keys(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> usize {
    let mut n = 0;
    let mut token = None;
    loop {
        let out = s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token)
            .send()
            .await
            .unwrap();
        n += out.contents().len();
        token = out.next_continuation_token().map(str::to_owned);
        if token.is_none() {
            return n;
        }
    }
}

#[tokio::test]
async fn old_objects_under_the_prefix_are_deleted_in_batches_up_to_the_cap() {
    let acct = Account::new("us-east-2").await;
    let s3 = shared::aws::s3_client(&acct.sdk);
    let bucket = toilkit_tests::Moto::shared().unique("app-logs");
    s3.create_bucket()
        .bucket(&bucket)
        .create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::UsEast2)
                .build(),
        )
        .send()
        .await
        .expect("bucket");
    put_all(
        &s3,
        &bucket,
        (0..OLD).map(|i| format!("app/2025/{i:05}.log")).collect(),
    )
    .await;
    put_all(&s3, &bucket, vec!["other/old.log".to_owned()]).await;
    // The emulator stamps objects with the real time, so "old" and "new" are
    // written seconds apart and the app's clock is set to put the 90-day
    // cut-off between them.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let split = SystemTime::now();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    put_all(
        &s3,
        &bucket,
        (0..5).map(|i| format!("app/today/{i}.log")).collect(),
    )
    .await;
    let prune = format!(r#"[{{"bucket": "{bucket}", "prefix": "app/", "days": 90}}]"#);
    let aged = |extra: &[(&str, &str)]| {
        let mut vars = vec![
            ("RETENTION_DAYS", "30"),
            ("S3_PRUNE", prune.as_str()),
            ("MAX_OBJECT_DELETIONS_PER_RUN", "1100"),
        ];
        vars.extend_from_slice(extra);
        let since_split = split.elapsed().unwrap();
        acct.app(&vars).with_clock_offset(DAY * 90 - since_split)
    };

    let dry = sweep(&aged(&[("DRY_RUN", "true")])).await;
    assert_eq!(dry.counter("s3_objects_planned"), 1100);
    assert_eq!(dry.counter("s3_objects_deleted"), 0);
    assert_eq!(dry.counter("api_calls.DeleteObjects"), 0);
    assert_eq!(keys(&s3, &bucket, "").await, OLD + 6);

    let first = sweep(&aged(&[])).await;
    assert_eq!(first.counter("s3_objects_deleted"), 1100);
    assert_eq!(
        first.counter("api_calls.DeleteObjects"),
        2,
        "1,000 then 100"
    );
    assert!(first.stopped_early);
    assert_eq!(
        first.stop_reason.as_deref(),
        Some("MAX_OBJECT_DELETIONS_PER_RUN reached")
    );
    assert_eq!(first.applied[0].target, format!("s3://{bucket}/app/"));
    assert_eq!(keys(&s3, &bucket, "app/").await, OLD - 1100 + 5);

    let second = sweep(&aged(&[])).await;
    assert_eq!(second.counter("s3_objects_deleted"), (OLD - 1100) as u64);
    assert!(!second.stopped_early, "{:?}", second.stop_reason);
    assert_eq!(keys(&s3, &bucket, "app/2025/").await, 0);
    assert_eq!(
        keys(&s3, &bucket, "app/today/").await,
        5,
        "new objects stay"
    );
    assert_eq!(keys(&s3, &bucket, "other/").await, 1, "other prefixes stay");

    let third = sweep(&aged(&[])).await;
    assert_eq!(third.counter("s3_objects_deleted"), 0);
    assert_eq!(third.counter("api_calls.DeleteObjects"), 0);
}
