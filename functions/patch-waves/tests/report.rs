//! The report as its readers meet it: EC2 in moto, the Systems Manager
//! calls moto lacks answered by the stand-in, the state table in moto's
//! DynamoDB, webhooks in moto's Secrets Manager, Slack on loopback.

use serde_json::json;
use toilkit_tests::patch_manager::{Node, PatchCounts};

use crate::common::{BASE_IMAGE, Fixture, LATEST, item, now_secs};

const DAY: i64 = 86_400;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_is_reported_by_owner_and_each_digest_then_tells_what_changed() {
    let mut f = Fixture::new("ap-southeast-2").await;
    f.route_team("payments").await;
    let profile = f.instance_profile().await;
    let old = f.al2023_image("2023.6.20241212.0").await;
    let latest = f.al2023_image("2023.9.20251110.0").await;
    let (_, private) = f.private_subnet().await;
    let p = Some(profile.as_str());
    let pay_api = f
        .launch(
            1,
            &old,
            &[
                ("owner", "payments"),
                ("Name", "pay-api-1"),
                ("Patch Group", "web"),
            ],
            p,
            None,
        )
        .await
        .remove(0);
    let pay_asg = f
        .launch(
            1,
            &latest,
            &[
                ("owner", "payments"),
                ("Name", "pay-web"),
                ("aws:autoscaling:groupName", "pay-web-asg"),
            ],
            p,
            None,
        )
        .await
        .remove(0);
    let offline = f
        .launch(
            1,
            BASE_IMAGE,
            &[("owner", "search"), ("Name", "<!channel> search-1")],
            p,
            None,
        )
        .await
        .remove(0);
    let unmanaged = f
        .launch(
            1,
            BASE_IMAGE,
            &[("owner", "search"), ("Name", "search-2")],
            None,
            Some(&private),
        )
        .await
        .remove(0);
    let never_scanned = f
        .launch(1, BASE_IMAGE, &[("Name", "lonely")], p, None)
        .await
        .remove(0);
    let now = now_secs();
    f.ssm.update(|fleet| {
        fleet.parameter = Some((LATEST.to_owned(), latest.clone()));
        fleet.nodes = vec![
            Node::online(&pay_api, now - 120),
            Node::online(&pay_asg, now - 60),
            Node {
                ping_status: "ConnectionLost".into(),
                ..Node::online(&offline, now - 3 * DAY)
            },
            Node::online(&never_scanned, now - 60),
        ];
        fleet.patch_states = vec![
            PatchCounts {
                critical: 2,
                security: 4,
                missing: 7,
                pending_reboot: 1,
                ..PatchCounts::scanned(&pay_api, "web", now - DAY)
            },
            PatchCounts::scanned(&pay_asg, "web", now - DAY),
            PatchCounts::scanned(&offline, "search", now - 2 * DAY),
        ];
    });
    let app = f.app();

    // The first report: everything is new.
    let first = f.report(&app, 0).await;
    first.response.as_ref().expect("the report ran");
    let c = &first.report.counters;
    assert_eq!(c["instances_running"], 5, "{c:?}");
    assert_eq!(
        (c["managed_online"], c["agent_offline"], c["unmanaged"]),
        (3, 1, 1),
        "{c:?}"
    );
    assert_eq!(c["in_auto_scaling_groups"], 1, "{c:?}");

    // An instance without an instance profile, in a subnet with no route
    // out, is reported unmanaged with both reasons and the advice.
    let why = item(&first, &format!("{unmanaged}/unmanaged")).expect("reported");
    let detail = why["fields"]["detail"].as_str().unwrap();
    assert!(detail.contains("no instance profile"), "{detail}");
    assert!(detail.contains("no route to SSM"), "{detail}");
    assert!(
        detail.contains("Default Host Management Configuration"),
        "{detail}"
    );
    assert_eq!(why["fields"]["owner"], "search");

    // The stale agent, the instance never scanned, the missing patches and
    // the AL2023 release left behind, each under a stable key.
    let offline_item = item(&first, &format!("{offline}/agent_offline")).expect("offline");
    assert!(
        offline_item["fields"]["detail"]
            .as_str()
            .unwrap()
            .contains("ConnectionLost, last ping 3 d ago"),
        "{offline_item}"
    );
    assert!(item(&first, &format!("{never_scanned}/no_patch_scan")).is_some());
    let critical = item(&first, &format!("{pay_api}/missing_critical")).expect("critical");
    assert_eq!(critical["fields"]["patch_group"], "web");
    assert_eq!(critical["fields"]["change"], "new");
    assert!(item(&first, &format!("{pay_api}/pending_reboot")).is_some());
    let behind = item(&first, &format!("{pay_api}/al2023_behind")).expect("behind");
    assert!(
        behind["fields"]["detail"]
            .as_str()
            .unwrap()
            .contains("2023.6.20241212.0 is 333 days behind the latest release 2023.9.20251110.0"),
        "{behind}"
    );
    assert!(
        item(&first, &format!("{pay_asg}/al2023_behind")).is_none(),
        "the instance on the latest release is not behind"
    );
    assert_eq!(first.report.details["al2023_latest"], "2023.9.20251110.0");

    // One digest per owner: payments to its own channel, the others to the
    // default one; instance names are escaped.
    let payments = f.texts("payments");
    assert_eq!(payments.len(), 1, "{payments:?}");
    assert!(payments[0].contains("pay-api-1"), "{}", payments[0]);
    assert!(payments[0].contains("Patch group web"), "{}", payments[0]);
    assert!(
        payments[0].contains("critical patches missing"),
        "{}",
        payments[0]
    );
    let ops = f.texts("ops");
    assert_eq!(ops.len(), 2, "the untagged instance and search: {ops:?}");
    let search = ops
        .iter()
        .find(|t| t.contains("search-2"))
        .expect("search's digest");
    assert!(search.contains("&lt;!channel&gt; search-1"), "{search}");
    assert!(!search.contains("<!channel>"), "{search}");
    assert!(
        ops.iter()
            .any(|t| t.contains("no owner tag") && t.contains("lonely"))
    );
    assert_eq!(first.report.counters["digests_sent"], 3);
    assert_eq!(f.records().await.len(), 4, "every instance with findings");

    // A day later: the critical patches were installed but one failed, the
    // offline instance was terminated, and an Auto Scaling instance now misses
    // a security patch.
    f.ssm.update(|fleet| {
        fleet.patch_states[0] = PatchCounts {
            security: 4,
            missing: 5,
            failed: 1,
            ..PatchCounts::scanned(&pay_api, "web", now + DAY - 600)
        };
        fleet.patch_states[1] = PatchCounts {
            security: 1,
            missing: 1,
            ..PatchCounts::scanned(&pay_asg, "web", now + DAY - 600)
        };
    });
    f.terminate(&offline).await;
    let second = f.report(&app, 1).await;
    second.response.as_ref().expect("the second report ran");
    let closed = item(&second, &format!("{pay_api}/missing_critical")).expect("closed");
    assert_eq!(closed["state"], "closed", "{closed}");
    let gone = item(&second, &format!("{offline}/agent_offline")).expect("ended");
    assert_eq!(gone["state"], "closed");
    assert_eq!(gone["fields"]["ended"], "instance terminated");
    let still = item(&second, &format!("{pay_api}/missing_security")).expect("still open");
    assert_eq!(still["fields"]["change"], "still_open");
    assert_eq!(still["fields"]["since"], "2026-12-07T06:00:00Z");

    let payments = f.texts("payments");
    assert_eq!(payments.len(), 2, "{payments:?}");
    let digest = &payments[1];
    assert!(
        digest.contains("Fixed") && digest.contains("critical patches missing"),
        "{digest}"
    );
    assert!(
        digest.contains("NEW") && digest.contains("patches failed"),
        "{digest}"
    );
    assert!(
        digest.contains("Still open (1 d since 2026-12-07)"),
        "{digest}"
    );
    assert!(
        digest
            .contains("pay-web-asg: patch it with a new AMI and an instance refresh, not in place"),
        "{digest}"
    );
    let records = f.records().await;
    assert!(
        !records.contains(&format!("instance#{offline}")),
        "the terminated instance's record is gone: {records:?}"
    );
    assert!(
        records.contains(&format!("instance#{pay_asg}")),
        "{records:?}"
    );

    // A third report with nothing changed still reminds, and writes nothing.
    let third = f.report(&app, 2).await;
    assert_eq!(third.report.counters.get("state_records_written"), Some(&0));
    assert_eq!(third.report.counters["findings_new"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_plans_each_digest_but_sends_nothing_and_writes_no_state() {
    let mut f = Fixture::new("ca-central-1").await;
    f.set("DRY_RUN", "true");
    let unmanaged = f
        .launch(1, BASE_IMAGE, &[("owner", "data")], None, None)
        .await
        .remove(0);
    let outcome = f.report(&f.app(), 0).await;
    let response = outcome.response.as_ref().expect("the dry run ran");
    assert_eq!(response["dry_run"], true);
    assert_eq!(
        response["planned"][0]["action"], "post_digest",
        "{response}"
    );
    assert_eq!(response["planned"][0]["target"], "data");
    assert_eq!(response["applied"], json!([]));
    assert!(item(&outcome, &format!("{unmanaged}/unmanaged")).is_some());
    assert!(f.slack.received().is_empty(), "nothing sent");
    assert!(f.records().await.is_empty(), "no state written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_grow_with_the_batches_not_with_the_instances() {
    let f = Fixture::new("eu-north-1").await;
    let profile = f.instance_profile().await;
    let ids = f
        .launch(120, BASE_IMAGE, &[("owner", "batch")], Some(&profile), None)
        .await;
    let now = now_secs();
    f.ssm.update(|fleet| {
        fleet.nodes = ids.iter().map(|id| Node::online(id, now - 60)).collect();
        fleet.patch_states = ids
            .iter()
            .map(|id| PatchCounts::scanned(id, "batch", now - DAY))
            .collect();
    });
    let outcome = f.report(&f.app(), 0).await;
    outcome.response.as_ref().expect("the report ran");
    let c = &outcome.report.counters;
    assert_eq!(c["instances_running"], 120, "{c:?}");
    assert_eq!(c["managed_online"], 120, "{c:?}");
    // 120 managed instances: 3 pages of 50 agents, 3 batches of 50 ids.
    assert_eq!(f.ssm.calls("DescribeInstanceInformation"), 3);
    assert_eq!(f.ssm.calls("DescribeInstancePatchStates"), 3);
    assert_eq!(c["api_calls.DescribeInstances"], 1, "{c:?}");
    assert_eq!(c["api_calls.DescribeImages"], 1, "{c:?}");
    assert!(
        c.get("api_calls.DescribeRouteTables").is_none(),
        "no network reads without an unmanaged instance: {c:?}"
    );
    // Every call, whatever the fleet's size: no call per instance.
    assert!(c["api_calls"] <= 11, "{c:?}");
}

/// A finding ends only on evidence. What a report cannot read again (the
/// latest AL2023 release, an image EC2 no longer describes, the patch state
/// of an instance that dropped out of Systems Manager) keeps its finding
/// open, saying why, and the report does not fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_report_cannot_read_again_stays_open_instead_of_reading_fixed() {
    let f = Fixture::new("us-west-1").await;
    let old = f.al2023_image("2023.6.20241212.0").await;
    let latest = f.al2023_image("2023.9.20251110.0").await;
    let p = Some(f.instance_profile().await);
    let host = f
        .launch(1, &old, &[("owner", "delta")], p.as_deref(), None)
        .await
        .remove(0);
    let now = now_secs();
    f.ssm.update(|fleet| {
        fleet.parameter = Some((LATEST.to_owned(), latest.clone()));
        fleet.nodes = vec![Node::online(&host, now - 60)];
        fleet.patch_states = vec![PatchCounts {
            critical: 2,
            missing: 2,
            ..PatchCounts::scanned(&host, "web", now - DAY)
        }];
    });
    let app = f.app();
    let behind = format!("{host}/al2023_behind");
    let critical = format!("{host}/missing_critical");
    let first = f.report(&app, 0).await;
    first.response.as_ref().expect("the first report ran");
    assert_eq!(item(&first, &behind).unwrap()["fields"]["change"], "new");
    assert_eq!(item(&first, &critical).unwrap()["fields"]["change"], "new");

    // The latest release cannot be read: the parameter names an image EC2
    // does not describe.
    f.ssm.update(|fleet| {
        fleet.parameter = Some((LATEST.to_owned(), "ami-0000000000000dead".to_owned()));
    });
    let second = f.report(&app, 1).await;
    second.response.as_ref().expect("the second report ran");
    let kept = item(&second, &behind).expect("still listed");
    assert_eq!(kept["state"], "open", "{kept}");
    assert_eq!(kept["fields"]["change"], "still_open", "{kept}");
    assert!(
        kept["fields"]["detail"]
            .as_str()
            .unwrap()
            .contains("not checked again"),
        "{kept}"
    );
    assert_eq!(second.report.counter("findings_fixed"), 0);

    // The image is deregistered while the instance runs it, and the
    // instance drops out of Systems Manager.
    f.ec2
        .deregister_image()
        .image_id(&old)
        .send()
        .await
        .expect("image deregistered");
    f.ssm.update(|fleet| {
        fleet.parameter = Some((LATEST.to_owned(), latest.clone()));
        fleet.nodes.clear();
    });
    let third = f.report(&app, 2).await;
    third
        .response
        .as_ref()
        .expect("an image EC2 no longer knows fails nothing");
    for key in [&behind, &critical] {
        let kept = item(&third, key).expect("still listed");
        assert_eq!(kept["state"], "open", "{kept}");
        assert_eq!(kept["fields"]["change"], "still_open", "{kept}");
    }
    let carried = item(&third, &critical).unwrap();
    assert!(
        !carried["fields"]["detail"]
            .as_str()
            .unwrap()
            .contains("missing for at least"),
        "an unchecked finding claims no age: {carried}"
    );
    let unmanaged = item(&third, &format!("{host}/unmanaged")).expect("unmanaged now");
    assert_eq!(unmanaged["fields"]["change"], "new");
    assert_eq!(third.report.counter("findings_fixed"), 0);
}

/// An instance stopped when the report runs (an office-hours fleet at six
/// in the morning) is still unpatched: its findings stay open, saying it
/// was not checked, and are neither ended nor told anew when it runs again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_instance_keeps_its_findings_until_it_is_terminated() {
    let f = Fixture::new("ap-northeast-2").await;
    let host = f
        .launch(1, BASE_IMAGE, &[("owner", "epsilon")], None, None)
        .await
        .remove(0);
    let app = f.app();
    let key = format!("{host}/unmanaged");
    let first = f.report(&app, 0).await;
    assert_eq!(item(&first, &key).unwrap()["fields"]["change"], "new");

    f.stop(&host).await;
    let stopped = f.report(&app, 1).await;
    stopped.response.as_ref().expect("the report ran");
    let kept = item(&stopped, &key).expect("still listed");
    assert_eq!(kept["state"], "open", "{kept}");
    assert_eq!(kept["fields"]["change"], "still_open", "{kept}");
    assert_eq!(kept["fields"]["coverage"], "not_running", "{kept}");
    assert!(
        kept["fields"]["detail"]
            .as_str()
            .unwrap()
            .contains("stopped"),
        "{kept}"
    );
    assert_eq!(stopped.report.counter("findings_fixed"), 0);
    assert_eq!(stopped.report.counter("instances_running"), 0);
    assert_eq!(f.records().await, [format!("instance#{host}")]);

    f.start(&host).await;
    let running = f.report(&app, 2).await;
    let again = item(&running, &key).expect("listed");
    assert_eq!(again["fields"]["change"], "still_open", "not told anew");
    assert_eq!(again["fields"]["since"], "2026-12-07T06:00:00Z");

    f.terminate(&host).await;
    let gone = f.report(&app, 3).await;
    let ended = item(&gone, &key).expect("ended");
    assert_eq!(ended["state"], "closed", "{ended}");
    assert_eq!(ended["fields"]["ended"], "instance terminated");
    assert!(f.records().await.is_empty());
}
