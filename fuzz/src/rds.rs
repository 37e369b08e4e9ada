//! The rds-audit-notifier checks every audit dialect target runs.

use rds_audit_notifier::classify::{Category, Rules};
use rds_audit_notifier::plan::plan;
use shared::pattern::Pattern;

/// Every category alerts, so every event reaches redaction and the messages.
fn rules() -> Rules {
    let mut rules = Rules::default();
    for category in [
        Category::Ddl,
        Category::Account,
        Category::FailedLogin,
        Category::WatchedUser,
        Category::Custom,
    ] {
        rules.alert_on.insert(category);
    }
    rules.watch_users = vec![Pattern::new("app*")];
    rules
}

/// The input's first byte chooses the check:
/// - even: the rest is a batch (NUL-separated log events) from `group`; it
///   must plan without panicking, and every line must be accounted for;
/// - odd: the rest is a password, placed in a `CREATE USER ... IDENTIFIED BY`
///   statement in the group's own format; it must not reach any message.
pub fn check(group: &str, input: &[u8]) {
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    let rules = rules();
    if mode % 2 == 0 {
        let data = crate::log_data(group, rest);
        let plan = plan(&data, &rules);
        for delivery in &plan.deliveries {
            let _ = format!("{delivery:?}");
        }
        return;
    }
    let Ok(password) = std::str::from_utf8(rest) else {
        return;
    };
    // A password that the record's own quoting would end early is a
    // different statement; a short one may occur elsewhere in the record.
    if password.len() < 6
        || password
            .chars()
            .any(|c| matches!(c, '\'' | '\\' | '"' | '\n' | '\r' | '\0' | ',' | '$') || c.is_control())
    {
        return;
    }
    let shown = |password: &str| {
        let data = crate::log_data(group, account_change(group, password).as_bytes());
        let plan = plan(&data, &rules);
        assert_eq!(plan.alerts.len(), 1, "the statement must alert: {password}");
        format!("{:?}{:?}{:?}", plan.alerts, plan.deliveries, plan.unparsed)
    };
    // The same record with a placeholder of the same length: if the
    // password occurs there, it is ordinary message text (a field name,
    // the host), not a leak.
    if shown(&"Q".repeat(password.len())).contains(password) {
        return;
    }
    let text = shown(password);
    assert!(
        !text.contains(password),
        "password {password:?} reached a message: {text}"
    );
}

/// A `CREATE USER ... IDENTIFIED BY '<password>'` record in the group's
/// own format.
fn account_change(group: &str, password: &str) -> String {
    let sql = format!("CREATE USER 'svc'@'%' IDENTIFIED BY '{password}'");
    if group.ends_with("/postgresql") {
        format!(
            "2023-11-14 22:24:10 UTC:10.0.5.20(50223):postgres@appdb:[28181]:LOG:  AUDIT: SESSION,2,1,ROLE,CREATE ROLE,,,\"{}\",<not logged>",
            sql.replace("CREATE USER 'svc'@'%' IDENTIFIED BY", "CREATE ROLE svc LOGIN PASSWORD")
        )
    } else if group.contains("/cluster/") {
        format!(
            "1700000000123456,aurora-1,admin,10.0.3.44,47,979851,QUERY,mysql,'{}',0",
            sql.replace('\'', "\\'")
        )
    } else {
        format!(
            "20231114 22:13:40,ip-10-0-1-23,admin,10.0.2.15,3051,152313,QUERY,mysql,'{}',0",
            sql.replace('\'', "\\'")
        )
    }
}
