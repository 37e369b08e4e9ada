//! The state table against the emulator: one announcement under concurrent
//! invocations, first sightings kept, a burst's window carried over.

use access_denied_triage::plan::{Seen, Severity, Wanted};
use access_denied_triage::state::StateStore;
use time::Duration;
use time::macros::datetime;
use toilkit_tests::Moto;

async fn store() -> StateStore {
    let moto = Moto::shared();
    let sdk = moto.sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let table = moto.unique("access-denied-state");
    toilkit_tests::tables::create_pk_table(&client, &table)
        .await
        .expect("state table created");
    StateStore::new(client, table)
}

#[tokio::test]
async fn concurrent_invocations_announce_a_group_once_per_renotify_period() {
    let store = store().await;
    let key = "group#arn:aws:iam::111122223333:role/ci/ci-deploy#lambda:CreateFunction#SCP";
    let now = datetime!(2026-12-06 09:00 UTC);
    let renotify = Duration::hours(24);
    let claims = futures_join(&store, key, now, renotify).await;
    assert_eq!(claims.iter().filter(|c| **c).count(), 1, "{claims:?}");

    assert!(
        !store
            .claim(key, Severity::Medium, now + Duration::hours(23), renotify)
            .await
            .unwrap()
    );
    assert!(
        store
            .claim(key, Severity::Medium, now + Duration::hours(24), renotify)
            .await
            .unwrap()
    );

    let wanted = Wanted {
        announced: [key.to_owned()].into(),
        seen: Seen::default(),
    };
    let facts = store.facts(&wanted, now).await.unwrap();
    assert_eq!(facts.announced[key], now + Duration::hours(24));
}

async fn futures_join(
    store: &StateStore,
    key: &str,
    now: time::OffsetDateTime,
    renotify: Duration,
) -> Vec<bool> {
    let (a, b, c, d) = tokio::join!(
        store.claim(key, Severity::Medium, now, renotify),
        store.claim(key, Severity::Medium, now, renotify),
        store.claim(key, Severity::Medium, now, renotify),
        store.claim(key, Severity::Medium, now, renotify),
    );
    [a, b, c, d].into_iter().map(Result::unwrap).collect()
}

#[tokio::test]
async fn first_sightings_are_remembered_and_read_back() {
    let store = store().await;
    let seen = Seen {
        principals: ["arn:aws:iam::111122223333:user/svc-reporting".into()].into(),
        keys: ["AKIAZ7LEAKEDEXAMPLE1".into()].into(),
        networks: ["185.220.101.0/24".parse().unwrap()].into(),
        regions: ["us-east-1".into()].into(),
    };
    let now = datetime!(2026-12-06 09:00 UTC);
    store.remember(&seen, now).await.unwrap();
    // A second writer finds them there: no error, nothing changes.
    store
        .remember(&seen, now + Duration::minutes(1))
        .await
        .unwrap();

    let mut asked = seen.clone();
    asked.keys.insert("AKIANEVERSEENEXAMPLE".into());
    let facts = store
        .facts(
            &Wanted {
                announced: Default::default(),
                seen: asked.clone(),
            },
            now,
        )
        .await
        .unwrap();
    assert_eq!(facts.known_keys, seen.keys);
    assert_eq!(facts.known_networks, seen.networks);
    assert_eq!(facts.known_principals, seen.principals);
    assert_eq!(facts.known_regions, seen.regions);
    assert!(facts.stale_sightings.is_empty(), "just written");

    // Seen again a month later: each is kept another 400 days from then,
    // so what was learnt on the first day does not all turn new at once.
    let later = now + Duration::days(30);
    let wanted = Wanted {
        announced: Default::default(),
        seen: asked,
    };
    let stale = store.facts(&wanted, later).await.unwrap().stale_sightings;
    assert_eq!(stale.len(), 4, "{stale:?}");
    store.refresh(&stale, later).await.unwrap();
    assert!(
        store
            .facts(&wanted, later)
            .await
            .unwrap()
            .stale_sightings
            .is_empty()
    );
}

#[tokio::test]
async fn a_principals_recent_denials_accumulate_and_stale_ones_go() {
    let store = store().await;
    let principal = "arn:aws:iam::111122223333:user/svc-reporting";
    let t = datetime!(2026-12-06 09:00 UTC);
    let window = Duration::minutes(10);
    let first = [
        (t, "iam:ListUsers".to_owned()),
        (t, "iam:ListRoles".to_owned()),
    ];
    store
        .add_recent(principal, &first, &[], window)
        .await
        .unwrap();
    let later = [(t + Duration::minutes(12), "s3:ListBuckets".to_owned())];
    store
        .add_recent(principal, &later, &first[..1], window)
        .await
        .unwrap();

    let wanted = Wanted {
        announced: Default::default(),
        seen: Seen {
            principals: [principal.to_owned()].into(),
            ..Seen::default()
        },
    };
    let mut recent = store
        .facts(&wanted, t)
        .await
        .unwrap()
        .recent
        .remove(principal)
        .unwrap();
    recent.sort();
    assert_eq!(
        recent,
        [
            (t, "iam:ListRoles".to_owned()),
            (t + Duration::minutes(12), "s3:ListBuckets".to_owned())
        ]
    );
}
