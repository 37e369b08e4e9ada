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
/// - odd: the rest is a password, planted in a statement in the group's own
///   format, in one of the [`Form`]s the byte's upper bits choose; it must
///   not reach any alert, message or unparsed example.
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
        || password.chars().any(|c| {
            matches!(c, '\'' | '\\' | '"' | '\n' | '\r' | '\0' | ',' | '$') || c.is_control()
        })
    {
        return;
    }
    let form = Form::ALL[usize::from(mode / 2) % Form::ALL.len()];
    let dialect = Dialect::of(group);
    let shown = |password: &str| {
        let batches = planted(dialect, form, password);
        let mut text = String::new();
        let mut alerts = 0;
        for batch in &batches {
            let data = crate::log_data(group, batch.as_bytes());
            let plan = plan(&data, &rules);
            alerts += plan.alerts.len();
            text.push_str(&format!(
                "{:?}{:?}{:?}{:?}",
                plan.alerts, plan.deliveries, plan.unparsed, plan.continued
            ));
        }
        assert_eq!(
            alerts, 1,
            "the statement must alert once ({form:?}): {password}\n{text}"
        );
        text
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
        "password {password:?} ({form:?}) reached a message: {text}"
    );
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Postgres,
    Aurora,
    MySql,
}

impl Dialect {
    fn of(group: &str) -> Self {
        if group.ends_with("/postgresql") {
            Self::Postgres
        } else if group.contains("/cluster/") {
            Self::Aurora
        } else {
            Self::MySql
        }
    }
}

/// Where the password is planted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// `IDENTIFIED BY '…'` / `PASSWORD '…'`.
    Account,
    /// `scheme://user:<password>@host` in a connection literal.
    UriUserinfo,
    /// libpq `password='…'`, quoted inside the SQL literal (doubled quotes).
    ConninfoQuoted,
    /// libpq `password=…` bare (spaces escaped the libpq way).
    ConninfoBare,
    /// PostgreSQL `E'…\'…\'…'` (MySQL: a `"…"` literal).
    EscapeString,
    /// `OPTIONS (password '…')` of a foreign server or user mapping.
    Options,
    /// PostgreSQL `$$…$$` holding a libpq value.
    DollarQuoted,
    /// The account statement cut across two deliveries just before the
    /// password: the second batch starts with an unprefixed line.
    Continuation,
    /// A literal before the password ends at `\'` under
    /// `standard_conforming_strings = off` / `NO_BACKSLASH_ESCAPES`.
    AmbiguousEscape,
    /// A comment between the keyword and the password.
    CommentBetween,
    /// The hint word spelled with an escape (`p\x61ssword=`, `pa\ssword=`).
    EscapedHint,
    /// The password as the second of two adjacent literals.
    Concatenated,
    /// MySQL `SET PASSWORD = … REPLACE '<current>'`; PostgreSQL: after a
    /// nested comment holding a quote.
    ReplaceOrNested,
    /// After text another lexer reads otherwise: a PostgreSQL `$é$` tag
    /// holding a quote; MySQL `n--'<line break>'` (no comment without a space).
    LexedAsServer,
    /// PostgreSQL `'password=' || '<pw>'`; MySQL `'<pw>' = password`.
    Computed,
    /// Key material not called a password: `app.api_key = '<pw>'`, an
    /// `api_key` in a JSON attribute.
    KeyMaterial,
}

impl Form {
    const ALL: [Form; 16] = [
        Form::Account,
        Form::UriUserinfo,
        Form::ConninfoQuoted,
        Form::ConninfoBare,
        Form::EscapeString,
        Form::Options,
        Form::DollarQuoted,
        Form::Continuation,
        Form::AmbiguousEscape,
        Form::CommentBetween,
        Form::EscapedHint,
        Form::Concatenated,
        Form::ReplaceOrNested,
        Form::LexedAsServer,
        Form::Computed,
        Form::KeyMaterial,
    ];
}

/// The batches (NUL-separated log events) that carry `password` in `form`.
fn planted(dialect: Dialect, form: Form, password: &str) -> Vec<String> {
    let pg = dialect == Dialect::Postgres;
    // libpq: a value with a space is quoted; `\` and `'` are escaped.
    let libpq_quoted = format!("'{}'", password.replace('\\', "\\\\").replace('\'', "\\'"));
    let libpq_bare = password.replace('\\', "\\\\").replace(' ', "\\ ");
    let sql = match form {
        Form::Account | Form::Continuation if pg => {
            format!("ALTER ROLE svc LOGIN PASSWORD\n'{password}' VALID UNTIL 'infinity'")
        }
        Form::Account | Form::Continuation => {
            format!("CREATE USER 'svc'@'%' IDENTIFIED BY\n'{password}'")
        }
        Form::UriUserinfo if pg => format!(
            "CREATE SUBSCRIPTION s CONNECTION 'postgresql://rep:{password}@db.example.test:5432/app' PUBLICATION p"
        ),
        Form::UriUserinfo => format!(
            "CREATE TABLE t (a int) ENGINE=FEDERATED CONNECTION='mysql://rep:{password}@db.example.test:3306/app/t'"
        ),
        Form::ConninfoQuoted => format!(
            "ALTER SUBSCRIPTION s CONNECTION 'host=h {}dbname=d'",
            format!("password={libpq_quoted} ").replace('\'', "''")
        ),
        // MySQL reads a backslash in a literal as an escape: doubled, it
        // reaches libpq as one.
        Form::ConninfoBare if !pg => format!(
            "ALTER SUBSCRIPTION s CONNECTION 'host=h password={} dbname=d'",
            libpq_bare.replace('\\', "\\\\")
        ),
        Form::ConninfoBare => {
            format!("ALTER SUBSCRIPTION s CONNECTION 'host=h password={libpq_bare} dbname=d'")
        }
        Form::EscapeString if pg => format!(
            "ALTER SUBSCRIPTION s CONNECTION E'host=h password={} dbname=d'",
            libpq_quoted.replace('\\', "\\\\").replace('\'', "\\'")
        ),
        Form::EscapeString => {
            format!("ALTER SUBSCRIPTION s CONNECTION \"host=h password={libpq_quoted} dbname=d\"")
        }
        Form::Options if pg => format!(
            "CREATE USER MAPPING FOR app SERVER s OPTIONS (user 'u', password '{password}')"
        ),
        Form::Options => format!(
            "CREATE SERVER s FOREIGN DATA WRAPPER mysql OPTIONS (USER 'u', PASSWORD '{password}', HOST 'h')"
        ),
        Form::DollarQuoted if pg => {
            format!(
                "CREATE SUBSCRIPTION s CONNECTION $$host=h password={libpq_quoted}$$ PUBLICATION p"
            )
        }
        Form::DollarQuoted => format!(
            "CREATE TABLE t (a int) ENGINE=FEDERATED CONNECTION='mysql://rep:{password}@h/app/t'"
        ),
        Form::AmbiguousEscape if pg => {
            format!("ALTER ROLE svc PASSWORD 'it\\'s {password}'")
        }
        Form::AmbiguousEscape => {
            format!("CREATE USER a IDENTIFIED BY 'x\\', b IDENTIFIED BY '{password}'")
        }
        Form::CommentBetween if pg => format!(
            "CREATE USER MAPPING FOR app SERVER s OPTIONS (user 'u', password/**/'{password}')"
        ),
        Form::CommentBetween => format!(
            "ALTER USER svc IDENTIFIED WITH caching_sha2_password /* rotate */ BY '{password}'"
        ),
        Form::EscapedHint if pg => format!(
            "ALTER SUBSCRIPTION s CONNECTION E'host=h p\\x61ssword={} dbname=d'",
            libpq_bare.replace('\\', "\\\\")
        ),
        Form::EscapedHint => format!(
            "ALTER SUBSCRIPTION s CONNECTION 'host=h pa\\ssword={} dbname=d'",
            libpq_bare.replace('\\', "\\\\")
        ),
        Form::Concatenated if pg => format!("ALTER ROLE svc PASSWORD 'x-'\n'{password}'"),
        Form::Concatenated => format!("CREATE USER 'svc'@'%' IDENTIFIED BY 'x-' '{password}'"),
        Form::ReplaceOrNested if pg => {
            format!("/* old: /* x */ ' */ ALTER ROLE svc PASSWORD '{password}'")
        }
        Form::ReplaceOrNested => {
            format!("SET PASSWORD = 'Fake-new-pw' REPLACE '{password}' RETAIN CURRENT PASSWORD")
        }
        Form::LexedAsServer if pg => {
            format!("SELECT $é$don't$é$; ALTER ROLE svc PASSWORD '{password}'")
        }
        Form::LexedAsServer => format!(
            "ALTER USER svc IDENTIFIED BY 'x' COMMENT n--'\n', b IDENTIFIED BY '{password}'"
        ),
        Form::Computed if pg => {
            format!("ALTER SUBSCRIPTION s CONNECTION 'host=h password=' || '{password}'")
        }
        Form::Computed => {
            format!("CREATE TABLE s AS SELECT id FROM users WHERE '{password}' = password")
        }
        Form::KeyMaterial if pg => format!("ALTER ROLE svc SET app.api_key = '{password}'"),
        Form::KeyMaterial => {
            format!("ALTER USER svc ATTRIBUTE '{{\"api_key\": \"{password}\"}}'")
        }
    };
    let record = match dialect {
        Dialect::Postgres => format!(
            "2023-11-14 22:24:10 UTC:10.0.5.20(50223):postgres@appdb:[28181]:LOG:  AUDIT: SESSION,2,1,DDL,ALTER,,,\"{}\",<not logged>",
            sql.replace('"', "\"\"")
        ),
        // The audit plugin escapes backslashes and quotes; a line break
        // stays raw.
        Dialect::Aurora => format!(
            "1700000000123456,aurora-1,admin,10.0.3.44,47,979851,QUERY,mysql,'{}',0",
            sql.replace('\\', "\\\\").replace('\'', "\\'")
        ),
        Dialect::MySql => format!(
            "20231114 22:13:40,ip-10-0-1-23,admin,10.0.2.15,3051,152313,QUERY,mysql,'{}',0",
            sql.replace('\\', "\\\\").replace('\'', "\\'")
        ),
    };
    match form {
        // One log event per line, the second in the next delivery.
        Form::Continuation => record.split('\n').map(str::to_owned).collect(),
        // One log event, one line.
        Form::Account => vec![record.replace('\n', " ")],
        // A statement with a raw line break: one log event per line.
        _ => vec![record.replace('\n', "\0")],
    }
}

#[cfg(test)]
mod tests {
    /// Every form, with a password holding a space, an `@` and a `/`, in
    /// every dialect: the oracle holds (the seeds `password-form-*`).
    #[test]
    fn every_planted_form_is_masked() {
        for group in [
            "/aws/rds/instance/db-1/audit",
            "/aws/rds/cluster/aurora-1/audit",
            "/aws/rds/instance/pg-1/postgresql",
        ] {
            for form in 0..super::Form::ALL.len() as u8 {
                for password in [
                    "Fake-pw 12@x/y",
                    "S3cr3t-pa55w0rd",
                    "12/34 5@h",
                    "@ 1fai3w0rd",
                ] {
                    let mut input = vec![form * 2 + 1];
                    input.extend_from_slice(password.as_bytes());
                    super::check(group, &input);
                }
            }
        }
    }
}
