//! The sweep against the emulator: every configuration option, only-unset
//! versus override, the exempt tag, the deletion guards, the caps, dry runs,
//! idempotence, the rate cap and the deadline. Each test has a region of the
//! shared moto server to itself, since a sweep sees every group in it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::common::{Account, DAY, now_ms, run, sweep, targets};
use serde_json::json;
use shared::Deadline;
use toilkit_tests::call_times::CallTimes;

#[tokio::test]
async fn only_groups_without_retention_change_by_rule_then_default_and_a_second_run_changes_nothing()
 {
    let acct = Account::new("ap-southeast-2").await;
    acct.group("/app/orders", None, &[]).await;
    acct.group("/app/legacy", Some(3653), &[]).await;
    acct.group("/app/short", Some(7), &[]).await;
    acct.group("/aws/lambda/api", None, &[]).await;
    acct.group("/ecs/web-prod", None, &[]).await;
    acct.group("/ecs/web-dev", None, &[]).await;
    acct.group("/audit/trail", None, &[]).await;
    let app = acct.app(&[
        ("RETENTION_DAYS", "30"),
        (
            "RETENTION_RULES",
            r#"[{"prefix": "/aws/lambda/", "days": 14}, {"pattern": "/ecs/*-prod", "days": 90},
                {"prefix": "/audit/", "keep": true}]"#,
        ),
    ]);

    let report = sweep(&app).await;

    let now = acct.retentions().await;
    assert_eq!(now["/app/orders"], Some(30), "default");
    assert_eq!(now["/aws/lambda/api"], Some(14), "prefix rule");
    assert_eq!(now["/ecs/web-prod"], Some(90), "pattern rule");
    assert_eq!(now["/ecs/web-dev"], Some(30), "pattern not matched");
    assert_eq!(now["/audit/trail"], None, "keep rule");
    assert_eq!(now["/app/legacy"], Some(3653), "set retention left alone");
    assert_eq!(now["/app/short"], Some(7), "set retention left alone");
    assert!(!report.dry_run && !report.stopped_early, "{report:?}");
    assert_eq!(report.counter("groups_scanned"), 7);
    assert_eq!(report.counter("groups_changed"), 4);
    assert_eq!(report.counter("groups_unchanged"), 2);
    assert_eq!(report.counter("groups_kept_by_rule"), 1);
    assert_eq!(report.counter("errors"), 0);
    assert_eq!(
        targets(&report.applied, "set_retention"),
        [
            "/app/orders",
            "/aws/lambda/api",
            "/ecs/web-dev",
            "/ecs/web-prod"
        ]
    );
    assert_eq!(
        report.details["retention_changes"],
        json!({"never → 30": 2, "never → 14": 1, "never → 90": 1})
    );
    assert_eq!(report.counter("api_calls.PutRetentionPolicy"), 4);
    assert_eq!(report.counter("api_calls.GetResources"), 1, "one tag batch");
    assert_eq!(report.counter("api_calls.ListTagsForResource"), 0);
    assert_eq!(
        report.details["regions"],
        json!({"ap-southeast-2": "complete"})
    );

    let again = sweep(&app).await;
    assert!(again.planned.is_empty(), "{:?}", again.planned);
    assert_eq!(again.counter("groups_changed"), 0);
    assert_eq!(again.counter("api_calls.PutRetentionPolicy"), 0);
    assert_eq!(
        again.counter("api_calls.GetResources"),
        0,
        "no tags read when nothing would change"
    );
    assert_eq!(
        again.counter("api_calls"),
        again.counter("api_calls.DescribeLogGroups")
    );
}

#[tokio::test]
async fn override_existing_changes_differing_groups_and_reports_shortened_ones_apart() {
    let acct = Account::new("ca-central-1").await;
    acct.group("/app/forever", Some(3653), &[]).await;
    acct.group("/app/week", Some(7), &[]).await;
    acct.group("/app/right", Some(30), &[]).await;
    acct.group("/app/never", None, &[]).await;
    let app = acct.app(&[("RETENTION_DAYS", "30"), ("OVERRIDE_EXISTING", "true")]);

    let report = sweep(&app).await;

    let now = acct.retentions().await;
    assert!(now.values().all(|d| *d == Some(30)), "{now:?}");
    assert_eq!(
        targets(&report.applied, "shorten_retention"),
        ["/app/forever"]
    );
    assert_eq!(
        targets(&report.applied, "lengthen_retention"),
        ["/app/week"]
    );
    assert_eq!(targets(&report.applied, "set_retention"), ["/app/never"]);
    assert_eq!(report.counter("groups_changed"), 3);
    assert_eq!(report.counter("groups_shortened"), 1);
    assert_eq!(report.counter("groups_unchanged"), 1);
    let shortened = report
        .applied
        .iter()
        .find(|a| a.action == "shorten_retention")
        .unwrap();
    assert_eq!(shortened.detail, Some(json!({"before": 3653, "after": 30})));
    assert!(sweep(&app).await.planned.is_empty());
}

#[tokio::test]
async fn the_exempt_tag_keeps_a_group_and_tags_are_read_in_batches_of_100() {
    let acct = Account::new("sa-east-1").await;
    let mut specs = Vec::new();
    for i in 0..150 {
        let tags: HashMap<String, String> = match i % 50 {
            0 => [("keep-me".to_owned(), "yes".to_owned())].into(),
            1 => [("toilkit:keep".to_owned(), "".to_owned())].into(),
            _ => HashMap::new(),
        };
        specs.push((format!("/svc/{i:03}"), None, tags));
    }
    specs.push((
        "/svc/set".to_owned(),
        Some(60),
        [("keep-me".into(), "x".into())].into(),
    ));
    acct.groups(specs).await;

    // The default key first: /svc/001, /svc/051, /svc/101 are exempt.
    let default_key = acct.app(&[("RETENTION_DAYS", "14"), ("DRY_RUN", "true")]);
    let report = sweep(&default_key).await;
    assert_eq!(report.counter("groups_exempt"), 3, "{:?}", report.skipped);
    assert_eq!(report.planned.len(), 147);

    let custom_key = acct.app(&[("RETENTION_DAYS", "14"), ("EXEMPT_TAG_KEY", "keep-me")]);
    let report = sweep(&custom_key).await;

    let now = acct.retentions().await;
    for exempt in ["/svc/000", "/svc/050", "/svc/100"] {
        assert_eq!(now[exempt], None, "{exempt} is exempt");
    }
    assert_eq!(
        now["/svc/001"],
        Some(14),
        "the default key is not exempt now"
    );
    assert_eq!(now["/svc/set"], Some(60));
    assert_eq!(report.counter("groups_exempt"), 3);
    assert_eq!(report.counter("groups_changed"), 147);
    let exempt_skips: Vec<_> = report
        .skipped
        .iter()
        .filter(|s| s.reason == "exempt: tagged keep-me")
        .collect();
    assert_eq!(exempt_skips.len(), 3);
    assert_eq!(
        report.counter("api_calls.GetResources"),
        2,
        "150 groups to change: two batches; the group already set is not looked up"
    );
    assert_eq!(report.counter("api_calls.ListTagsForResource"), 0);
}

#[tokio::test]
async fn dry_run_changes_nothing_by_configuration_or_by_a_manual_override() {
    let acct = Account::new("eu-north-1").await;
    acct.group("/app/never", None, &[]).await;
    acct.group("/app/stale", None, &[]).await;
    acct.group("/app/forever", Some(3653), &[]).await;
    let vars = [
        ("RETENTION_DAYS", "30"),
        ("OVERRIDE_EXISTING", "true"),
        ("DELETE_EMPTY_AFTER_DAYS", "1"),
    ];
    let configured = acct
        .app(&[vars.as_slice(), &[("DRY_RUN", "true")]].concat())
        .with_clock_offset(DAY * 3);
    let report = sweep(&configured).await;
    assert!(report.dry_run);
    assert!(report.applied.is_empty());
    assert_eq!(
        targets(&report.planned, "delete_log_group"),
        ["/app/forever", "/app/never", "/app/stale"]
    );
    assert_eq!(report.counter("api_calls.PutRetentionPolicy"), 0);
    assert_eq!(report.counter("api_calls.DeleteLogGroup"), 0);

    let live = acct.app(&vars); // not aged: nothing to delete, retention to set
    let manual = run(&live, &json!({"dry_run": true})).await;
    assert!(manual.dry_run);
    assert!(manual.applied.is_empty());
    assert_eq!(
        targets(&manual.planned, "set_retention"),
        ["/app/never", "/app/stale"]
    );
    assert_eq!(
        targets(&manual.planned, "shorten_retention"),
        ["/app/forever"]
    );
    assert_eq!(manual.counter("shortening_planned"), 1);

    let now = acct.retentions().await;
    assert_eq!(now.len(), 3, "nothing deleted");
    assert_eq!(now["/app/never"], None);
    assert_eq!(now["/app/forever"], Some(3653));
}

/// Groups are created now, so the app's clock is moved 30 days and an hour
/// ahead: every group is then just over 30 days old. Events may be stamped up
/// to 2 hours ahead of the real time (and 14 days back), which places them
/// just inside or well outside the 30-day window.
#[tokio::test]
async fn a_group_is_deleted_only_when_every_guard_holds() {
    let acct = Account::new("ap-northeast-3").await;
    let destination = "/dest/exempt-target";
    acct.group(destination, Some(1), &[("toilkit:keep", "destination")])
        .await;
    acct.group("/stale/no-streams", None, &[]).await;
    acct.group("/stale/old-event", Some(7), &[]).await;
    acct.event("/stale/old-event", "", now_ms() - 13 * 86_400_000)
        .await;
    acct.group("/kept/recent-event", None, &[]).await;
    acct.event("/kept/recent-event", "", now_ms() + 90 * 60_000)
        .await;
    acct.group("/kept/subscribed", None, &[]).await;
    acct.logs
        .put_subscription_filter()
        .log_group_name("/kept/subscribed")
        .filter_name("ship")
        .filter_pattern("")
        .destination_arn(format!(
            "arn:aws:logs:{}:123456789012:log-group:{destination}:*",
            acct.region
        ))
        .send()
        .await
        .expect("subscription filter");
    acct.group("/kept/exempt", None, &[("toilkit:keep", "true")])
        .await;
    acct.group("/kept/not-empty", None, &[]).await;
    acct.event("/kept/not-empty", "hello", now_ms() - 86_400_000)
        .await;
    let vars = [("RETENTION_DAYS", "30"), ("DELETE_EMPTY_AFTER_DAYS", "30")];

    // Today every group is too young.
    let young = sweep(&acct.app(&vars)).await;
    assert_eq!(young.counter("groups_deleted"), 0);
    assert_eq!(young.counter("deletion_candidates"), 0);
    assert_eq!(acct.retentions().await.len(), 7);

    // Unset DELETE_EMPTY_AFTER_DAYS never deletes, however old.
    let never = acct
        .app(&[("RETENTION_DAYS", "30")])
        .with_clock_offset(DAY * 400);
    assert_eq!(sweep(&never).await.counter("deletion_candidates"), 0);

    let aged = acct
        .app(&vars)
        .with_clock_offset(DAY * 30 + Duration::from_secs(3600));
    let report = sweep(&aged).await;

    let left = acct.retentions().await;
    let mut names: Vec<&str> = left.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(
        names,
        [
            destination,
            "/kept/exempt",
            "/kept/not-empty",
            "/kept/recent-event",
            "/kept/subscribed"
        ]
    );
    assert_eq!(
        targets(&report.applied, "delete_log_group"),
        ["/stale/no-streams", "/stale/old-event"]
    );
    assert_eq!(report.counter("groups_deleted"), 2);
    // The result event closes each deleted group under its Region and name.
    let deleted: Vec<(&str, shared::envelope::ItemState)> = report
        .items
        .iter()
        .filter(|i| i.fields.get("deleted") == Some(&serde_json::json!(true)))
        .map(|i| (i.key.as_str(), i.state))
        .collect();
    let closed = shared::envelope::ItemState::Closed;
    let keys = [
        format!("{}:/stale/no-streams", acct.region),
        format!("{}:/stale/old-event", acct.region),
    ];
    assert_eq!(
        deleted,
        [(keys[0].as_str(), closed), (keys[1].as_str(), closed)]
    );
    let reason = |name: &str| {
        report
            .skipped
            .iter()
            .find(|s| s.target == name)
            .map(|s| s.reason.clone())
            .unwrap_or_default()
    };
    assert!(
        reason("/kept/subscribed").contains("1 subscription filter"),
        "{report:?}"
    );
    assert!(
        reason("/kept/recent-event").contains("within 30 days"),
        "{report:?}"
    );
    assert_eq!(reason("/kept/exempt"), "exempt: tagged toilkit:keep");
    assert_eq!(report.counter("deletion_kept"), 2);
    // Kept groups still get their retention.
    assert_eq!(left["/kept/subscribed"], Some(30));
    assert_eq!(left["/kept/recent-event"], Some(30));
    assert_eq!(left["/kept/exempt"], None);
    assert_eq!(report.counter("api_calls.DeleteLogGroup"), 2);
}

#[tokio::test]
async fn group_deletions_stop_at_the_cap_and_the_next_run_carries_on() {
    let acct = Account::new("ap-south-1").await;
    for i in 0..5 {
        acct.group(&format!("/stale/{i}"), Some(30), &[]).await;
    }
    let app = acct
        .app(&[
            ("RETENTION_DAYS", "30"),
            ("DELETE_EMPTY_AFTER_DAYS", "7"),
            ("MAX_GROUP_DELETIONS_PER_RUN", "2"),
        ])
        .with_clock_offset(DAY * 8);

    let first = sweep(&app).await;
    assert_eq!(first.counter("groups_deleted"), 2);
    assert_eq!(first.counter("deletion_deferred_by_cap"), 3);
    assert!(first.stopped_early);
    assert!(
        first
            .stop_reason
            .as_deref()
            .unwrap()
            .contains("MAX_GROUP_DELETIONS_PER_RUN reached"),
        "{:?}",
        first.stop_reason
    );
    assert_eq!(acct.retentions().await.len(), 3);

    assert_eq!(sweep(&app).await.counter("groups_deleted"), 2);
    let last = sweep(&app).await;
    assert_eq!(last.counter("groups_deleted"), 1);
    assert!(!last.stopped_early);
    assert!(acct.retentions().await.is_empty());
}

#[tokio::test]
async fn every_region_in_regions_is_swept() {
    let home = Account::new("eu-west-3").await;
    let other = Account::new("us-west-1").await;
    home.group("/home/app", None, &[]).await;
    other.group("/other/app", None, &[]).await;
    let app = home.app(&[("RETENTION_DAYS", "60"), ("REGIONS", "eu-west-3,us-west-1")]);

    let report = sweep(&app).await;

    assert_eq!(home.retention("/home/app").await, Some(60));
    assert_eq!(other.retention("/other/app").await, Some(60));
    assert_eq!(
        report.details["regions"],
        json!({"eu-west-3": "complete", "us-west-1": "complete"})
    );
    // Without REGIONS only the function's own region is swept.
    other.group("/other/second", None, &[]).await;
    sweep(&home.app(&[("RETENTION_DAYS", "60")])).await;
    assert_eq!(other.retention("/other/second").await, None);
}

#[tokio::test]
async fn max_api_rps_caps_each_operation() {
    let acct = Account::new("ap-northeast-2").await;
    let specs = (0..12)
        .map(|i| (format!("/rate/{i:02}"), None, HashMap::new()))
        .collect();
    acct.groups(specs).await;
    let app = acct.app(&[("RETENTION_DAYS", "30"), ("MAX_API_RPS", "4")]);

    let started = Instant::now();
    let report = sweep(&app).await;
    let took = started.elapsed();

    assert_eq!(report.counter("groups_changed"), 12);
    // Twelve PutRetentionPolicy starts at 4 a second span at least 2.75 s.
    assert!(took >= Duration::from_millis(2700), "took {took:?}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[tokio::test]
async fn the_deadline_stops_the_run_and_resuming_finishes_without_repeating_work() {
    let acct = Account::new("eu-central-1").await;
    let specs = (0..400)
        .map(|i| (format!("/bulk/{i:03}"), None, HashMap::new()))
        .collect();
    acct.groups(specs).await;
    let app = acct.app(&[("RETENTION_DAYS", "30"), ("MAX_API_RPS", "100")]);

    // A deadline already passed: nothing is attempted, and it says so.
    let none = log_retention::run(&json!({}), &app, Deadline::after(Duration::ZERO))
        .await
        .unwrap();
    assert!(none.stopped_early);
    assert_eq!(none.counter("api_calls"), 0);
    assert_eq!(none.details["resume"], json!({"region": "eu-central-1"}));

    let mut payload = json!({});
    let mut invocations = 0;
    let mut puts = 0;
    loop {
        invocations += 1;
        assert!(invocations < 30, "the sweep converges");
        let report =
            log_retention::run(&payload, &app, Deadline::after(Duration::from_millis(700)))
                .await
                .unwrap();
        puts += report.counter("api_calls.PutRetentionPolicy");
        assert_eq!(report.counter("errors"), 0, "{:?}", report.failed);
        if !report.stopped_early {
            break;
        }
        let reason = report.stop_reason.clone().unwrap();
        assert!(reason.contains("deadline"), "{reason}");
        assert_eq!(report.details["resume"]["region"], "eu-central-1");
        payload = json!({"resume": report.details["resume"]});
    }
    assert!(invocations >= 3, "400 changes at 100/s do not fit in 0.7 s");
    assert_eq!(puts, 400, "each group changed exactly once");
    let now = acct.retentions().await;
    assert!(now.values().all(|d| *d == Some(30)));
}

/// Step Functions invokes the function again as soon as one invocation
/// returns its resume point: the cap holds across the two, not only within
/// each. What is checked is that no call of the next invocation starts
/// before the slot the last one handed on: a call can only leave late, never
/// early, so a busy machine cannot make this fail (a busiest-second count
/// can: requests that leave late bunch up).
#[tokio::test]
async fn max_api_rps_holds_across_invocations_that_resume_one_another() {
    let acct = Account::new("ap-east-1").await;
    let specs = (0..60)
        .map(|i| (format!("/paced/{i:02}"), None, HashMap::new()))
        .collect();
    acct.groups(specs).await;
    let times = CallTimes::default();
    let app = acct.app_recording(&[("RETENTION_DAYS", "30"), ("MAX_API_RPS", "10")], &times);

    let mut payload = json!({});
    let mut invocations = 0;
    let mut puts = 0;
    // Each handed-on slot, as an instant, and the instant the next
    // invocation began.
    let mut handoffs: Vec<(Instant, Instant)> = Vec::new();
    let mut handed_on: Option<Instant> = None;
    loop {
        invocations += 1;
        assert!(invocations < 20, "the sweep converges");
        let began = Instant::now();
        if let Some(slot) = handed_on.take() {
            handoffs.push((slot, began));
        }
        let report = log_retention::run(&payload, &app, Deadline::after(Duration::from_secs(2)))
            .await
            .unwrap();
        puts += report.counter("api_calls.PutRetentionPolicy");
        if !report.stopped_early {
            break;
        }
        let resume = &report.details["resume"];
        // The pace names only slots still ahead when the run stopped.
        if let Some(at_ms) = resume["pace"]["PutRetentionPolicy"].as_i64() {
            let ahead = Duration::from_millis(u64::try_from(at_ms - now_ms()).unwrap_or(0));
            handed_on = Some(Instant::now() + ahead);
        }
        payload = json!({"resume": resume});
    }

    assert!(invocations >= 3, "60 changes at 10/s do not fit in 2 s");
    assert_eq!(puts, 60, "each group changed exactly once");
    assert!(
        !handoffs.is_empty(),
        "at least one invocation handed on a slot ahead"
    );
    let put_times = times.by_operation()["PutRetentionPolicy"].clone();
    for (slot, began) in handoffs {
        let first = put_times
            .iter()
            .find(|t| **t >= began)
            .expect("a PutRetentionPolicy after the handoff");
        // A few milliseconds for rounding to whole milliseconds and for
        // reading the two clocks apart.
        assert!(
            *first + Duration::from_millis(5) >= slot,
            "the next invocation's first PutRetentionPolicy started {:?} before the slot handed on",
            slot - *first
        );
    }
}

/// Where few groups need a change, a tag batch fills slowly; an invocation
/// must still finish the groups it found, so that the next one carries on
/// further down the listing instead of listing the same pages forever.
#[tokio::test]
async fn a_sweep_with_few_changes_advances_from_one_invocation_to_the_next() {
    let acct = Account::new("il-central-1").await;
    let sparse = [0, 500, 999];
    let specs = (0..1000)
        .map(|i| {
            let retention = (!sparse.contains(&i)).then_some(30);
            (format!("/sparse/{i:04}"), retention, HashMap::new())
        })
        .collect();
    acct.groups(specs).await;
    let app = acct.app(&[("RETENTION_DAYS", "30"), ("MAX_API_RPS", "10")]);

    // 20 pages at 10 a second do not fit in one invocation of 1.5 s.
    let mut payload = json!({});
    let mut invocations = 0;
    let mut changed = 0;
    loop {
        invocations += 1;
        assert!(
            invocations <= 5,
            "the sweep does not advance: still at {payload} after {} invocations",
            invocations - 1
        );
        let report =
            log_retention::run(&payload, &app, Deadline::after(Duration::from_millis(1500)))
                .await
                .unwrap();
        changed += report.counter("groups_changed");
        if !report.stopped_early {
            break;
        }
        payload = json!({"resume": report.details["resume"]});
    }
    assert_eq!(changed, 3);
    for i in sparse {
        assert_eq!(acct.retention(&format!("/sparse/{i:04}")).await, Some(30));
    }
}

/// An invocation lists only as far ahead as it can still finish: the groups
/// it found are worked on before it stops, so the next one starts at the
/// page after its last and no page is listed twice. Each page listed again
/// is a call at the quota's pace that an account's sweep pays once more per
/// invocation.
#[tokio::test]
async fn invocations_that_resume_one_another_list_each_page_once() {
    let acct = Account::new("af-south-1").await;
    // 20 pages; one group to change on the second page, one on the last.
    let sparse = [50, 999];
    let specs = (0..1000)
        .map(|i| {
            let retention = (!sparse.contains(&i)).then_some(30);
            (format!("/paged/{i:04}"), retention, HashMap::new())
        })
        .collect();
    acct.groups(specs).await;
    let app = acct.app(&[("RETENTION_DAYS", "30"), ("MAX_API_RPS", "5")]);

    // 20 pages at 5 a second do not fit in one invocation of 2 s.
    let mut payload = json!({});
    let (mut invocations, mut changed, mut listed) = (0, 0, 0);
    loop {
        invocations += 1;
        assert!(invocations <= 10, "the sweep does not finish: {payload}");
        let report = log_retention::run(&payload, &app, Deadline::after(Duration::from_secs(2)))
            .await
            .unwrap();
        changed += report.counter("groups_changed");
        listed += report.details["api_calls"]["DescribeLogGroups"]
            .as_u64()
            .unwrap_or(0);
        if !report.stopped_early {
            break;
        }
        payload = json!({"resume": report.details["resume"]});
    }
    assert_eq!(changed, 2);
    assert!(invocations > 1, "the deadline stopped a run");
    // A call that answers late can push one page past an invocation's end.
    assert!(
        listed < 20 + invocations,
        "{listed} DescribeLogGroups calls for 20 pages in {invocations} invocations"
    );
}

/// However low the cap and short the invocation, each invocation lists at
/// least a page: one that listed nothing would hand on the resume point it
/// was given, and the sweep would never end.
#[tokio::test]
async fn every_invocation_advances_even_when_the_cap_is_below_one_call_a_second() {
    let acct = Account::new("eu-south-2").await;
    let specs = (0..60)
        .map(|i| (format!("/slow/{i:02}"), Some(30), HashMap::new()))
        .collect();
    acct.groups(specs).await;
    // One call every 2 s: listing a page and working on what it finds would
    // take more than an invocation of 3 s.
    let app = acct.app(&[("RETENTION_DAYS", "30"), ("MAX_API_RPS", "0.5")]);
    let mut payload = json!({});
    for invocation in 1.. {
        assert!(invocation <= 4, "the sweep does not advance: {payload}");
        let report = log_retention::run(&payload, &app, Deadline::after(Duration::from_secs(3)))
            .await
            .unwrap();
        assert_eq!(
            report.details["api_calls"]["DescribeLogGroups"], 1,
            "invocation {invocation} lists one page"
        );
        if !report.stopped_early {
            break;
        }
        payload = json!({"resume": report.details["resume"]});
    }
}

/// The sweep state machine gives every invocation its execution's ARN: an
/// execution that is not the oldest running one sweeps nothing. moto keeps
/// executions running (its executor is off), as a long sweep would be.
#[tokio::test]
async fn an_execution_sweeps_only_when_no_older_one_is_running() {
    let acct = Account::new("ca-west-1").await;
    acct.group("/guarded/app", None, &[]).await;
    let app = acct.app(&[("RETENTION_DAYS", "30")]);
    let sfn = aws_sdk_sfn::Client::new(&acct.sdk);
    let machine = sfn
        .create_state_machine()
        .name("toilkit-log-retention-sweep")
        .definition(r#"{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}"#)
        .role_arn("arn:aws:iam::123456789012:role/sweep")
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_owned();
    let mut executions = Vec::new();
    for name in ["first", "second"] {
        let started = sfn
            .start_execution()
            .state_machine_arn(&machine)
            .name(name)
            .send()
            .await
            .unwrap();
        executions.push(started.execution_arn().to_owned());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (first, second) = (&executions[0], &executions[1]);

    let refused = run(&app, &json!({"execution": second})).await;
    assert_eq!(refused.details["already_running"], json!(first));
    assert!(refused.stopped_early);
    assert!(
        refused
            .stop_reason
            .as_deref()
            .unwrap()
            .contains(first.as_str()),
        "{:?}",
        refused.stop_reason
    );
    assert_eq!(refused.counter("groups_scanned"), 0);
    assert_eq!(acct.retention("/guarded/app").await, None, "nothing swept");

    // The oldest sweeps, and answers the state machine with a compact
    // report: Step Functions keeps it in a state of at most 256 KB.
    let more = (0..7)
        .map(|i| (format!("/guarded/more-{i}"), None, HashMap::new()))
        .collect();
    acct.groups(more).await;
    let event = lambda_runtime::LambdaEvent::new(json!({"execution": first}), Default::default());
    let swept = log_retention::handle(event, &app).await.unwrap();
    assert!(swept.details.get("already_running").is_none());
    assert_eq!(swept.counter("groups_changed"), 8);
    assert_eq!(swept.applied.len(), log_retention::STATE_MACHINE_LISTED);
    assert_eq!(swept.omitted.applied, 3);
    assert_eq!(acct.retention("/guarded/app").await, Some(30));

    // Once the first has ended, the second sweeps.
    sfn.stop_execution()
        .execution_arn(first)
        .send()
        .await
        .unwrap();
    let next = run(&app, &json!({"execution": second})).await;
    assert!(next.details.get("already_running").is_none());

    // Something that is not an execution ARN is refused, naming it.
    let err = log_retention::run(
        &json!({"execution": "sweep-1"}),
        &app,
        Deadline::unbounded(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("execution ARN") && err.contains("sweep-1"),
        "{err}"
    );
}

#[tokio::test]
async fn a_create_log_group_event_applies_the_policy_to_that_group_only() {
    let acct = Account::new("ap-northeast-1").await;
    acct.group("/aws/lambda/new-fn", None, &[]).await;
    acct.group("/aws/lambda/exempt-fn", None, &[("toilkit:keep", "1")])
        .await;
    acct.group("/aws/lambda/other", None, &[]).await;
    let app = acct.app(&[
        ("RETENTION_DAYS", "30"),
        (
            "RETENTION_RULES",
            r#"[{"prefix": "/aws/lambda/", "days": 14}]"#,
        ),
    ]);
    let event = |name: &str| {
        let mut e: serde_json::Value =
            serde_json::from_str(include_str!("fixtures/create-log-group.json")).unwrap();
        e["region"] = json!(acct.region);
        e["detail"]["awsRegion"] = json!(acct.region);
        e["detail"]["requestParameters"]["logGroupName"] = json!(name);
        e
    };

    let report = run(&app, &event("/aws/lambda/new-fn")).await;
    assert_eq!(
        targets(&report.applied, "set_retention"),
        ["/aws/lambda/new-fn"]
    );
    assert_eq!(report.counter("groups_scanned"), 1);
    assert_eq!(report.counter("api_calls.DescribeLogGroups"), 1);
    assert_eq!(acct.retention("/aws/lambda/new-fn").await, Some(14));
    assert_eq!(
        acct.retention("/aws/lambda/other").await,
        None,
        "one group only"
    );

    let exempt = run(&app, &event("/aws/lambda/exempt-fn")).await;
    assert!(exempt.applied.is_empty());
    assert_eq!(exempt.counter("groups_exempt"), 1);
    assert_eq!(acct.retention("/aws/lambda/exempt-fn").await, None);

    let gone = run(&app, &event("/aws/lambda/deleted-meanwhile")).await;
    assert_eq!(gone.skipped[0].reason, "the group no longer exists");

    let mut elsewhere = event("/x");
    elsewhere["detail"]["awsRegion"] = json!("me-south-1");
    let skipped = run(&app, &elsewhere).await;
    assert!(
        skipped.skipped[0]
            .reason
            .contains("not a region this function manages")
    );
}

/// A stream that has just started receiving logs shows no event timestamps
/// yet (CloudWatch fills them in up to an hour later) and sorts after the
/// streams that have them; a metric filter feeds an alarm that would go
/// silent forever. Neither group may be deleted, however old and empty.
#[tokio::test]
async fn a_group_that_may_be_in_use_or_feeds_a_metric_filter_is_never_deleted() {
    let acct = Account::new("eu-south-1").await;
    acct.group("/in-use/new-stream", None, &[]).await;
    acct.event("/in-use/new-stream", "", now_ms() - 13 * 86_400_000)
        .await;
    acct.stream("/in-use/new-stream", "just-started").await;
    acct.group("/in-use/metric", None, &[]).await;
    acct.logs
        .put_metric_filter()
        .log_group_name("/in-use/metric")
        .filter_name("errors")
        .filter_pattern("ERROR")
        .metric_transformations(
            aws_sdk_cloudwatchlogs::types::MetricTransformation::builder()
                .metric_name("Errors")
                .metric_namespace("App")
                .metric_value("1")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("metric filter");
    acct.group("/stale/quiet", None, &[]).await;
    acct.event("/stale/quiet", "", now_ms() - 13 * 86_400_000)
        .await;
    let app = acct
        .app(&[("RETENTION_DAYS", "30"), ("DELETE_EMPTY_AFTER_DAYS", "30")])
        .with_clock_offset(DAY * 30 + Duration::from_secs(3600));

    let report = sweep(&app).await;

    let left = acct.retentions().await;
    let mut names: Vec<&str> = left.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(
        names,
        ["/in-use/metric", "/in-use/new-stream"],
        "{report:?}"
    );
    assert_eq!(
        targets(&report.applied, "delete_log_group"),
        ["/stale/quiet"]
    );
    let reason = |name: &str| {
        report
            .skipped
            .iter()
            .find(|s| s.target == name)
            .map(|s| s.reason.clone())
            .unwrap_or_default()
    };
    assert!(
        reason("/in-use/new-stream").contains("no event timestamps yet"),
        "{report:?}"
    );
    assert!(
        reason("/in-use/metric").contains("1 metric filter"),
        "{report:?}"
    );
    assert_eq!(report.counter("deletion_kept"), 2);
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    // Kept groups still get their retention.
    assert_eq!(left["/in-use/metric"], Some(30));
    assert_eq!(left["/in-use/new-stream"], Some(30));
}

/// EventBridge writes to a log group through a CloudWatch Logs resource
/// policy; an old, empty group it names is its rule's target and is kept,
/// while a group no policy names is deleted.
#[tokio::test]
async fn a_group_a_resource_policy_lets_eventbridge_write_to_is_kept() {
    let acct = Account::new("ap-southeast-1").await;
    acct.group("/aws/events/orders", None, &[]).await;
    acct.group("/stale/unnamed", None, &[]).await;
    let policy = json!({"Version": "2012-10-17", "Statement": [{
        "Sid": "TrustEventsToStoreLogEvent",
        "Effect": "Allow",
        "Principal": {"Service": ["events.amazonaws.com", "delivery.logs.amazonaws.com"]},
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": format!("arn:aws:logs:{}:123456789012:log-group:/aws/events/*:*", acct.region)
    }]});
    acct.logs
        .put_resource_policy()
        .policy_name("TrustEventsToStoreLogEvents")
        .policy_document(policy.to_string())
        .send()
        .await
        .expect("resource policy");
    let vars = [("RETENTION_DAYS", "30"), ("DELETE_EMPTY_AFTER_DAYS", "30")];

    let report = sweep(&acct.app(&vars).with_clock_offset(DAY * 31)).await;

    assert_eq!(
        targets(&report.applied, "delete_log_group"),
        ["/stale/unnamed"]
    );
    let left = acct.retentions().await;
    assert!(left.contains_key("/aws/events/orders"), "{report:?}");
    let reason = report
        .skipped
        .iter()
        .find(|s| s.target == "/aws/events/orders")
        .map(|s| s.reason.clone())
        .unwrap_or_default();
    assert!(reason.contains("TrustEventsToStoreLogEvents"), "{reason}");
}
