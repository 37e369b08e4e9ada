//! The test support itself: moto across parallel threads, secrets fetched
//! from it, the report's documented JSON.

use aws_sdk_secretsmanager::Client as SecretsManager;
use aws_sdk_ssm::types::ParameterType;
use shared::secret::{SecretRef, SecretStore};
use toilkit_tests::Moto;

#[test]
fn moto_serves_parallel_threads_without_interference() {
    let moto = Moto::shared();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async {
                    let sdk = moto.sdk_config().await;
                    let s3 = shared::aws::s3_client(&sdk);
                    let bucket = moto.unique("harness");
                    s3.create_bucket()
                        .bucket(&bucket)
                        .send()
                        .await
                        .expect("create bucket");
                    s3.put_object()
                        .bucket(&bucket)
                        .key("k")
                        .body(bucket.clone().into_bytes().into())
                        .send()
                        .await
                        .expect("put object");
                    let body = s3
                        .get_object()
                        .bucket(&bucket)
                        .key("k")
                        .send()
                        .await
                        .unwrap()
                        .body
                        .collect()
                        .await
                        .unwrap();
                    assert_eq!(
                        body.into_bytes(),
                        bucket.as_bytes(),
                        "each thread reads back its own object"
                    );
                    bucket
                })
            })
        })
        .collect();
    let mut buckets: Vec<String> = threads
        .into_iter()
        .map(|t| t.join().expect("thread passed"))
        .collect();
    buckets.sort();
    buckets.dedup();
    assert_eq!(buckets.len(), 8);
}

#[tokio::test]
async fn a_dedicated_server_is_stopped_when_dropped() {
    let moto = Moto::dedicated();
    let port: u16 = moto.endpoint().rsplit(':').next().unwrap().parse().unwrap();
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    drop(moto);
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "moto stopped with its guard"
    );
}

#[tokio::test]
async fn webhooks_are_fetched_from_secrets_manager_and_ssm_and_cached() {
    let moto = Moto::shared();
    let sdk = moto.sdk_config().await;
    let name = moto.unique("slack-webhook");
    let arn = SecretsManager::new(&sdk)
        .create_secret()
        .name(&name)
        .secret_string(r#"{"webhook_url": "https://hooks.example/services/T/B/one"}"#)
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    let parameter = format!("/{}", moto.unique("toilkit/slack"));
    aws_sdk_ssm::Client::new(&sdk)
        .put_parameter()
        .name(&parameter)
        .value("https://hooks.example/services/T/B/two")
        .r#type(ParameterType::SecureString)
        .send()
        .await
        .unwrap();

    let store = SecretStore::new(&sdk);
    let from_secret = store.get(&arn.parse::<SecretRef>().unwrap()).await.unwrap();
    assert_eq!(
        from_secret.expose(),
        "https://hooks.example/services/T/B/one"
    );
    let from_parameter = store
        .get(&parameter.parse::<SecretRef>().unwrap())
        .await
        .unwrap();
    assert_eq!(
        from_parameter.expose(),
        "https://hooks.example/services/T/B/two"
    );

    // Cached: deleting the secret does not affect this cold start's value.
    SecretsManager::new(&sdk)
        .delete_secret()
        .secret_id(&arn)
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
    assert_eq!(
        store.get(&arn.parse::<SecretRef>().unwrap()).await.unwrap(),
        from_secret
    );

    let missing = SecretRef::SecretsManager(moto.unique("missing"));
    let err = store.get(&missing).await.unwrap_err();
    assert!(
        err.to_string().contains("could not read secret missing-"),
        "{err}"
    );
}

#[tokio::test]
async fn results_are_published_to_the_result_bus_as_envelopes() {
    let moto = Moto::shared();
    let sdk = moto.sdk_config().await;
    let bus = toilkit_tests::ResultBus::create(moto, &sdk).await;
    let mut report = shared::Report::new("log-retention", false);
    report.add("groups_scanned", 3);
    report.item(
        shared::envelope::Item::open("retention", "us-east-1:/aws/lambda/api").with("days", 14),
    );
    shared::events::Publisher::new(&sdk, &bus.name, Some("payments-prod".into()))
        .publish(&report, None)
        .await
        .expect("published");

    let events = bus.events().await;
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["detail-type"], "log-retention report");
    let envelope: shared::envelope::Envelope =
        serde_json::from_value(events[0]["detail"].clone()).expect("the detail is an envelope");
    assert_eq!(envelope.label.as_deref(), Some("payments-prod"));
    assert_eq!(envelope.region.as_deref(), Some("us-east-1"));
    assert_eq!(envelope.counters["groups_scanned"], 3);
    assert_eq!(envelope.items, report.items);

    let err = shared::events::Publisher::new(&sdk, moto.unique("no-such-bus"), None)
        .publish(&report, None)
        .await
        .expect_err("an unknown bus is an error");
    assert!(err.to_string().contains("no-such-bus"), "{err}");
}
