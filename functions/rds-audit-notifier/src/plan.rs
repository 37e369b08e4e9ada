//! Deciding, without AWS: which events of a batch alert, shown how.
//!
//! Reads the batch, folds duplicate rows of one statement together, judges
//! each event against the rules, redacts the statements of those that alert
//! and builds the Slack messages. Nothing here talks to AWS or Slack, so the
//! same batch always gives the same plan, which is what lets a retried
//! invocation recognise the messages it already delivered.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::collections::hash_map::Entry;

use aws_lambda_events::cloudwatch_logs::LogData;
// Keys are short strings and ids, hashed per event: SipHash would cost more
// than the rest of the folding.
use foldhash::{HashMap, HashMapExt, HashSet};

pub use crate::alert::Alert;
use crate::classify::{Categories, Category, Rules, Verdict, statement_name};
use crate::dialect::Source;
use crate::event::{Action, AuditEvent, Parsed, format_time};
use crate::notification::{self, Delivery};
use crate::records::{self, Continued, Folds, Unparsed};
use crate::redact::{redact, redact_name};
use crate::sql::leading_words;

/// Characters of a (redacted) statement kept for showing.
pub const STATEMENT_CHARS: usize = 1000;

/// What one batch comes to.
#[derive(Debug, Clone)]
pub struct Plan {
    pub source: Source,
    /// Every alerting event, oldest first.
    pub alerts: Vec<Alert>,
    /// The messages to post, in order.
    pub deliveries: Vec<Delivery>,
    pub counters: BTreeMap<String, u64>,
    /// The first unparsed lines, masked.
    pub unparsed: Vec<Unparsed>,
    /// The lines the batch starts with that continue a record from an
    /// earlier delivery.
    pub continued: Option<Continued>,
}

/// What an alert for a record cut across deliveries says.
pub const CUT_NOTE: &str = "cut across deliveries: the rest of this statement, and its result, \
     came in another delivery and is not shown";

impl Plan {
    fn count(&mut self, name: &str, n: u64) {
        *self.counters.entry(name.to_owned()).or_default() += n;
    }

    pub fn counter(&self, name: &str) -> u64 {
        self.counters.get(name).copied().unwrap_or(0)
    }
}

/// Plans one batch.
pub fn plan(data: &LogData, rules: &Rules) -> Plan {
    let source = Source::new(&data.log_group, &data.log_stream);
    let mut reading = records::read(data, &source);
    let joined = std::mem::take(&mut reading.joined);
    let mut events: Vec<AuditEvent<'_>> = std::mem::take(&mut reading.events);
    let mut not_audit = reading.not_audit;
    let mut folds = std::mem::take(&mut reading.folds);
    for record in &joined {
        match record.parse() {
            Parsed::Event(event) => {
                folds.note(events.len(), &event);
                events.push(event);
            }
            Parsed::NotAudit => not_audit += 1,
            // `read` only keeps joined records that parse.
            Parsed::Incomplete | Parsed::Invalid(_) => {
                let first = record.text.lines().next().unwrap_or_default();
                reading.unparsed(
                    data,
                    record.events.start,
                    first,
                    "malformed multi-line record",
                );
            }
        }
    }

    let mut plan = Plan {
        source,
        alerts: Vec::new(),
        deliveries: Vec::new(),
        counters: BTreeMap::new(),
        unparsed: std::mem::take(&mut reading.examples),
        continued: reading.continued.take(),
    };
    plan.count("log_events", data.log_events.len() as u64);
    plan.count("unparsed", reading.unparsed);
    plan.count("not_audit_lines", not_audit);
    plan.count("audit_events", events.len() as u64);
    if reading.cut > 0 {
        plan.count("statements_cut", reading.cut);
    }
    if let Some(continued) = &plan.continued {
        let lines = continued.lines;
        plan.count("continuation_lines", lines);
    }

    let (table_rows, repeats) = fold_duplicates(&mut events, &folds);
    plan.count("table_rows_folded", table_rows);
    plan.count("pgaudit_rows_folded", repeats);

    // Counted locally: a named counter per event would cost an allocation each.
    let (mut ignored, mut quiet) = (0, 0);
    let mut per_category = [0u64; Category::ALL.len()];
    // By value: each event is dropped right after its verdict, while it is
    // still in cache, rather than in one more pass over them all at the end.
    for event in events {
        let event = &event;
        match rules.judge(event) {
            Verdict::Ignored => ignored += 1,
            Verdict::Quiet(_) => quiet += 1,
            Verdict::Alert(categories) => {
                for c in categories.iter() {
                    per_category[c as usize] += 1;
                }
                let alert = alert(data, &plan.source, event, categories);
                plan.alerts.push(alert);
            }
        }
    }
    plan.count("ignored", ignored);
    plan.count("not_alerting", quiet);
    plan.count("alerts", plan.alerts.len() as u64);
    for (c, n) in Category::ALL.iter().zip(per_category) {
        if n > 0 {
            plan.count(&format!("alerts_{}", c.as_str()), n);
        }
    }
    plan.alerts.sort_by_key(|a| a.time_us);
    plan.deliveries = notification::deliveries(&plan.source, &plan.alerts);
    plan.count("messages_planned", plan.deliveries.len() as u64);
    let detailed: usize = plan.alerts.len().min(notification::MAX_DETAILED);
    plan.count("alerts_summarised", (plan.alerts.len() - detailed) as u64);
    plan
}

fn alert(data: &LogData, source: &Source, event: &AuditEvent<'_>, categories: Categories) -> Alert {
    let statement = event.statement.as_deref().map(|sql| {
        let redacted = redact(sql, event.sql_dialect);
        shared::slack::truncate(redacted.trim(), STATEMENT_CHARS)
    });
    let operation = match (&event.action, event.statement.as_deref()) {
        (Action::Query | Action::Other { .. }, Some(sql)) => statement_name(sql, event.sql_dialect),
        (Action::Table { operation }, _) => format!("{operation} (table event)"),
        (Action::FailedLogin { reason }, _) => reason.clone().into_owned(),
        _ => event.operation().into_owned(),
    };
    let outcome = match (&event.action, event.retcode) {
        _ if event.cut => "unknown: the record was cut".to_owned(),
        (Action::FailedLogin { .. }, _) => "refused".to_owned(),
        (_, Some(code)) if code != 0 => format!("failed with error {code}"),
        _ => "ok".to_owned(),
    };
    let object = match (&event.action, &event.object) {
        (Action::PgAudit { object_type, .. }, Some(name)) if !object_type.is_empty() => {
            Some(format!("{object_type} {}", redact_name(name)))
        }
        (_, object) => object.as_deref().map(|name| redact_name(name).into_owned()),
    };
    Alert {
        instance: source.instance(event.server).to_owned(),
        cluster: source.cluster().map(str::to_owned),
        user: or_dash(event.user),
        host: or_dash(event.host),
        database: or_dash(event.database),
        time_us: event.time_us,
        time: format_time(event.time_us),
        categories,
        operation,
        outcome,
        statement,
        object,
        note: event.cut.then_some(CUT_NOTE),
        event_ids: data.log_events[event.events.clone()]
            .iter()
            .map(|e| e.id.clone())
            .collect(),
    }
}

fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    !needle.is_empty()
        && haystack
            .as_bytes()
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

fn or_dash(value: &str) -> String {
    if value.is_empty() {
        "—".to_owned()
    } else {
        value.to_owned()
    }
}

/// A MySQL connection: the server and its connection id.
type Connection<'a> = (&'a str, &'a str);

/// Folds rows that repeat one statement, so it alerts once:
/// - an Aurora TABLE row (`DROP,appdb,tmp_import,`) whose statement is in the
///   batch as a QUERY row of the same connection (same verb, naming the table);
/// - pgaudit rows of the same backend, statement and substatement (one per
///   object, later ones `<previously logged>`).
///
/// Returns how many of each were folded.
fn fold_duplicates(events: &mut Vec<AuditEvent<'_>>, folds: &Folds) -> (u64, u64) {
    let mut folded: Vec<usize> = Vec::new();
    let mut table_rows = 0;
    let mut repeats = 0;

    if !folds.table_rows.is_empty() {
        // Only the connections that have a table row need their queries
        // indexed, and each query's verb is read once, not once per row. A
        // query is looked at only when its connection's hash is one of
        // theirs; the index is keyed by the connection itself, so a hash
        // shared by chance adds a list no table row reads.
        let wanted: HashSet<u64> = folds.table_rows.iter().map(|&(hash, _)| hash).collect();
        let mut queries: HashMap<Connection<'_>, Vec<(usize, Option<&str>)>> = HashMap::new();
        for &(_, i) in folds
            .queries
            .iter()
            .filter(|(hash, _)| wanted.contains(hash))
        {
            let e = &events[i];
            if let Some(sql) = e.statement.as_deref() {
                let verb = leading_words(sql, e.sql_dialect, 1).first().copied();
                queries
                    .entry((e.server, e.session))
                    .or_default()
                    .push((i, verb));
            }
        }
        for &(_, i) in &folds.table_rows {
            let e = &events[i];
            let (Action::Table { operation }, Some(table)) = (&e.action, e.object.as_deref())
            else {
                continue;
            };
            let table = table.rsplit('.').next().unwrap_or(table).trim_matches('`');
            let covered = queries.get(&(e.server, e.session)).is_some_and(|list| {
                list.iter().any(|&(q, verb)| {
                    let same_verb = matches!(*operation, "READ" | "WRITE")
                        || verb.is_some_and(|verb| verb.eq_ignore_ascii_case(operation));
                    same_verb
                        && contains_ignore_case(
                            events[q].statement.as_deref().unwrap_or_default(),
                            table,
                        )
                })
            });
            if covered {
                folded.push(i);
                table_rows += 1;
            }
        }
    }

    if !folds.pgaudit.is_empty() {
        // By hash first: a record is compared with another only when their
        // hashes match. Were two different keys ever to share a hash, the
        // records are keyed by their backend and ids themselves instead.
        let mut first: HashMap<u64, usize> = HashMap::with_capacity(folds.pgaudit.len());
        let mut pairs: Vec<(usize, usize)> = Vec::new();
        let mut collision = false;
        for &(hash, i) in &folds.pgaudit {
            match first.entry(hash) {
                Entry::Vacant(slot) => {
                    slot.insert(i);
                }
                Entry::Occupied(slot) => {
                    let kept = *slot.get();
                    if pgaudit_key(&events[kept]) == pgaudit_key(&events[i]) {
                        pairs.push((kept, i));
                    } else {
                        collision = true;
                        break;
                    }
                }
            }
        }
        if collision {
            pairs.clear();
            let mut first: HashMap<PgAuditKey<'_>, usize> =
                HashMap::with_capacity(folds.pgaudit.len());
            for &(_, i) in &folds.pgaudit {
                match first.entry(pgaudit_key(&events[i])) {
                    Entry::Vacant(slot) => {
                        slot.insert(i);
                    }
                    Entry::Occupied(slot) => pairs.push((*slot.get(), i)),
                }
            }
        }
        let mut statements: Vec<(usize, Cow<'_, str>)> = Vec::new();
        for (kept, i) in pairs {
            folded.push(i);
            repeats += 1;
            if events[kept].statement.is_none()
                && let Some(sql) = &events[i].statement
            {
                statements.push((kept, sql.clone()));
            }
        }
        for (kept, sql) in statements {
            events[kept].statement.get_or_insert(sql);
        }
    }

    if !folded.is_empty() {
        let mut keep = vec![true; events.len()];
        for i in folded {
            keep[i] = false;
        }
        let mut index = 0;
        events.retain(|_| {
            index += 1;
            keep[index - 1]
        });
    }
    (table_rows, repeats)
}

/// What makes pgaudit rows repeats of one statement: the backend, the
/// statement and the substatement.
type PgAuditKey<'a> = (&'a str, u64, u64);

fn pgaudit_key<'a>(e: &AuditEvent<'a>) -> PgAuditKey<'a> {
    match e.action {
        Action::PgAudit {
            statement_id,
            substatement_id,
            ..
        } => (e.session, statement_id, substatement_id),
        // Only pgaudit records are noted for this fold.
        _ => (e.session, u64::MAX, u64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::tests::batch;

    #[test]
    fn the_mysql_sample_alerts_on_ddl_grant_and_failed_login() {
        let data = batch(
            "/aws/rds/instance/product-db/audit",
            &[
                "20231114 22:13:20,ip-10-0-1-23,admin,10.0.2.15,3051,0,CONNECT,,,0",
                "20231114 22:13:21,ip-10-0-1-23,admin,10.0.2.15,3051,152311,QUERY,appdb,'SELECT 1',0",
                "20231114 22:13:25,ip-10-0-1-23,admin,10.0.2.15,3051,152312,QUERY,appdb,'ALTER TABLE orders ADD COLUMN note varchar(255)',0",
                r"20231114 22:13:40,ip-10-0-1-23,admin,10.0.2.15,3051,152313,QUERY,appdb,'GRANT SELECT, INSERT ON appdb.* TO \'report\'@\'%\'',0",
                "20231114 22:14:02,ip-10-0-1-23,mallory,198.51.100.23,3052,0,FAILED_CONNECT,,,1045",
                "20231114 22:14:05,ip-10-0-1-23,rdsadmin,localhost,3,152314,QUERY,,'SELECT 1',0",
                "20231114 22:14:09,ip-10-0-1-23,admin,10.0.2.15,3051,0,DISCONNECT,,,0",
            ],
        );
        let plan = plan(&data, &Rules::default());
        let ops: Vec<(&str, &str, String)> = plan
            .alerts
            .iter()
            .map(|a| (a.user.as_str(), a.operation.as_str(), a.categories.names()))
            .collect();
        assert_eq!(
            ops,
            [
                ("admin", "ALTER TABLE", "ddl".to_owned()),
                ("admin", "GRANT", "account".to_owned()),
                (
                    "mallory",
                    "access denied (error 1045)",
                    "failed_login".to_owned()
                ),
            ]
        );
        assert_eq!(plan.counter("ignored"), 1);
        assert_eq!(plan.counter("not_alerting"), 3);
        assert_eq!(plan.counter("unparsed"), 0);
        assert_eq!(plan.alerts[0].instance, "product-db");
        assert_eq!(plan.alerts[0].event_ids, ["id2"]);
        assert_eq!(plan.alerts[2].outcome, "refused");
        assert_eq!(plan.deliveries.len(), 1);
    }

    #[test]
    fn aurora_table_rows_fold_into_their_query() {
        let data = batch(
            "/aws/rds/cluster/aurora-prod/audit",
            &[
                "1700000000123456,aurora-prod-instance-1,admin,10.0.3.44,47,979851,QUERY,appdb,'DROP TABLE tmp_import',0",
                r"1700000000223456,aurora-prod-instance-1,admin,10.0.3.44,47,979852,QUERY,mysql,'GRANT SELECT, INSERT ON *.* TO \'ethan\'@\'%\'',0",
                "1700000000323456,aurora-prod-instance-1,admin,10.0.3.44,47,979852,DROP,appdb,tmp_import,",
                "1700000000050000,aurora-prod-instance-2,admin,10.0.3.44,9,1,ALTER,appdb,orders,",
            ],
        );
        let plan = plan(&data, &Rules::default());
        assert_eq!(plan.counter("table_rows_folded"), 1);
        let ops: Vec<(&str, &str)> = plan
            .alerts
            .iter()
            .map(|a| (a.instance.as_str(), a.operation.as_str()))
            .collect();
        // Oldest first; the ALTER row has no query and stands alone.
        assert_eq!(
            ops,
            [
                ("aurora-prod-instance-2", "ALTER (table event)"),
                ("aurora-prod-instance-1", "DROP TABLE"),
                ("aurora-prod-instance-1", "GRANT"),
            ]
        );
        assert_eq!(plan.alerts[0].cluster.as_deref(), Some("aurora-prod"));
        assert_eq!(plan.alerts[0].object.as_deref(), Some("orders"));
        // One message per instance.
        assert_eq!(plan.deliveries.len(), 2);
    }

    #[test]
    fn pgaudit_repeats_fold_and_secrets_never_reach_the_alert() {
        let data = batch(
            "/aws/rds/instance/pg-prod/postgresql",
            &[
                "2023-11-14 22:24:10 UTC:10.0.5.20(50223):postgres@appdb:[28181]:LOG:  AUDIT: SESSION,2,1,ROLE,ALTER ROLE,,,\"ALTER ROLE app PASSWORD 'pa,ss''word'\",<not logged>",
                "2023-11-14 22:24:11 UTC:10.0.5.20(50223):postgres@appdb:[28181]:LOG:  AUDIT: SESSION,3,1,DDL,ALTER TABLE,TABLE,public.a,alter table a add b int,<not logged>",
                "2023-11-14 22:24:11 UTC:10.0.5.20(50223):postgres@appdb:[28181]:LOG:  AUDIT: SESSION,3,1,DDL,ALTER TABLE,TABLE,public.a_seq,<previously logged>,<not logged>",
                "2023-11-14 22:25:01 UTC:198.51.100.9(40110):intruder@appdb:[28200]:FATAL:  password authentication failed for user \"intruder\"",
                "2023-11-14 22:25:01 UTC:198.51.100.9(40110):intruder@appdb:[28200]:DETAIL:  Connection matched pg_hba.conf line 13: \"host all all 0.0.0.0/0 md5\"",
            ],
        );
        let plan = plan(&data, &Rules::default());
        assert_eq!(plan.counter("pgaudit_rows_folded"), 1);
        assert_eq!(plan.counter("not_audit_lines"), 1);
        assert_eq!(plan.alerts.len(), 3);
        assert_eq!(
            plan.alerts[0].statement.as_deref(),
            Some("ALTER ROLE app PASSWORD '***'")
        );
        assert_eq!(plan.alerts[1].object.as_deref(), Some("TABLE public.a"));
        assert_eq!(plan.alerts[2].user, "intruder");
        let everything = format!("{:?}", plan);
        assert!(
            !everything.contains("word'"),
            "the password leaked into the plan"
        );
    }
}
