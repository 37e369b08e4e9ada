//! What kind of event this is (`ddl`, `account`, `failed_login`,
//! `watched_user`, `custom`), and whether the operator wants to hear about it.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use regex::Regex;
use shared::pattern::Pattern;

use crate::dialect::SqlDialect;
use crate::event::{Action, AuditEvent};
use crate::sql::leading_words;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    Ddl,
    Account,
    FailedLogin,
    WatchedUser,
    Custom,
}

impl Category {
    pub const ALL: [Category; 5] = [
        Self::Ddl,
        Self::Account,
        Self::FailedLogin,
        Self::WatchedUser,
        Self::Custom,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ddl => "ddl",
            Self::Account => "account",
            Self::FailedLogin => "failed_login",
            Self::WatchedUser => "watched_user",
            Self::Custom => "custom",
        }
    }

    /// How a message names it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Ddl => "Schema change",
            Self::Account => "Account change",
            Self::FailedLogin => "Failed login",
            Self::WatchedUser => "Watched user",
            Self::Custom => "Matched pattern",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl FromStr for Category {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                "unknown category; use ddl, account, failed_login, watched_user or custom"
                    .to_owned()
            })
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of categories.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Categories(u8);

impl Categories {
    pub fn insert(&mut self, c: Category) {
        self.0 |= c.bit();
    }

    pub fn contains(self, c: Category) -> bool {
        self.0 & c.bit() != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn intersects(self, other: Categories) -> bool {
        self.0 & other.0 != 0
    }

    pub fn iter(self) -> impl Iterator<Item = Category> {
        Category::ALL.into_iter().filter(move |c| self.contains(*c))
    }

    /// `ddl, watched_user`.
    pub fn names(self) -> String {
        self.iter()
            .map(Category::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl FromIterator<Category> for Categories {
    fn from_iter<I: IntoIterator<Item = Category>>(iter: I) -> Self {
        let mut set = Self::default();
        for c in iter {
            set.insert(c);
        }
        set
    }
}

/// A host in `IGNORE_HOSTS`: a CIDR (`10.0.0.0/8`), an address, or a
/// wildcard pattern (`bastion-*`, `localhost`).
#[derive(Debug, Clone)]
pub enum HostRule {
    Net(IpNet),
    Pattern(Pattern),
}

impl FromStr for HostRule {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Ok(net) = s.parse::<IpNet>() {
            return Ok(Self::Net(net));
        }
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(Self::Net(IpNet::from(ip)));
        }
        if s.contains('/') {
            return Err("is neither a CIDR nor a host pattern".to_owned());
        }
        Ok(Self::Pattern(Pattern::new(s)))
    }
}

impl HostRule {
    fn matches(&self, host: &str, ip: Option<IpAddr>) -> bool {
        match self {
            Self::Net(net) => ip.is_some_and(|ip| net.contains(&ip)),
            Self::Pattern(p) => p.matches(host),
        }
    }
}

/// The operator's choices: what alerts and what never does.
#[derive(Debug, Clone)]
pub struct Rules {
    pub alert_on: Categories,
    pub ignore_users: Vec<Pattern>,
    pub ignore_hosts: Vec<HostRule>,
    pub watch_users: Vec<Pattern>,
    pub match_regex: Option<Regex>,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            alert_on: [Category::Ddl, Category::Account, Category::FailedLogin]
                .into_iter()
                .collect(),
            ignore_users: vec![Pattern::new("rdsadmin")],
            ignore_hosts: Vec::new(),
            watch_users: Vec::new(),
            match_regex: None,
        }
    }
}

/// What to do with one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The user or host is in `IGNORE_USERS`/`IGNORE_HOSTS`.
    Ignored,
    /// Its categories are not in `ALERT_ON` (or it has none).
    Quiet(Categories),
    /// It alerts; these are all its categories.
    Alert(Categories),
}

impl Rules {
    pub fn judge(&self, event: &AuditEvent<'_>) -> Verdict {
        if self.ignore_users.iter().any(|p| p.matches(event.user)) {
            return Verdict::Ignored;
        }
        if !self.ignore_hosts.is_empty() {
            let ip = event.host.parse::<IpAddr>().ok();
            if self.ignore_hosts.iter().any(|h| h.matches(event.host, ip)) {
                return Verdict::Ignored;
            }
        }
        let mut categories = intrinsic(event);
        if self.watch_users.iter().any(|p| p.matches(event.user)) {
            categories.insert(Category::WatchedUser);
        }
        if let Some(regex) = &self.match_regex {
            let operation;
            let text = match &event.statement {
                Some(sql) => sql.as_ref(),
                None => {
                    operation = event.operation();
                    operation.as_ref()
                }
            };
            if regex.is_match(text) {
                categories.insert(Category::Custom);
            }
        }
        if categories.intersects(self.alert_on) {
            Verdict::Alert(categories)
        } else {
            Verdict::Quiet(categories)
        }
    }
}

/// The categories an event has by itself (not by who did it).
pub fn intrinsic(event: &AuditEvent<'_>) -> Categories {
    let mut set = Categories::default();
    match &event.action {
        Action::FailedLogin { .. } => set.insert(Category::FailedLogin),
        Action::Query | Action::Other { .. } => {
            if let Some(c) = event
                .statement
                .as_deref()
                .and_then(|s| statement_category(s, event.sql_dialect))
            {
                set.insert(c);
            }
        }
        Action::Table { operation } => {
            if matches!(*operation, "CREATE" | "ALTER" | "RENAME" | "DROP") {
                set.insert(Category::Ddl);
            }
        }
        Action::PgAudit { class, command, .. } => {
            match *class {
                "DDL" => set.insert(Category::Ddl),
                "ROLE" => set.insert(Category::Account),
                _ => {}
            }
            // The command is authoritative when the statement was logged before.
            let from_command = verb_category(&leading_words(command, event.sql_dialect, 3));
            let from_statement = event
                .statement
                .as_deref()
                .and_then(|s| statement_category(s, event.sql_dialect));
            for c in [from_command, from_statement].into_iter().flatten() {
                set.insert(c);
            }
            // pgaudit files GRANT on a table under ROLE and CREATE ROLE under
            // ROLE too; an account command is never also a schema change.
            if set.contains(Category::Account) {
                set = Categories::default();
                set.insert(Category::Account);
            }
        }
        Action::Connect | Action::Disconnect => {}
    }
    set
}

fn statement_category(sql: &str, dialect: SqlDialect) -> Option<Category> {
    // Most statements are decided by their verb alone (`SELECT`, `UPDATE`,
    // `GRANT`): only the verbs `verb_category` reads further need more words.
    let first = leading_words(sql, dialect, 1);
    let verb = first.first()?;
    if NEEDS_MORE_WORDS
        .iter()
        .any(|w| verb.eq_ignore_ascii_case(w))
    {
        verb_category(&leading_words(sql, dialect, 4))
    } else {
        verb_category(&first)
    }
}

/// The verbs whose category depends on the words after them.
const NEEDS_MORE_WORDS: [&str; 6] = ["SET", "FLUSH", "DROP", "ALTER", "CREATE", "RENAME"];

/// `ddl` or `account` from a statement's first words.
pub fn verb_category(words: &[&str]) -> Option<Category> {
    let is = |i: usize, w: &str| words.get(i).is_some_and(|x| x.eq_ignore_ascii_case(w));
    let account_object = |i: usize| ["USER", "ROLE", "GROUP"].iter().any(|w| is(i, w));
    let first = words.first()?;
    let verb = |w: &str| first.eq_ignore_ascii_case(w);
    if verb("GRANT") || verb("REVOKE") {
        return Some(Category::Account);
    }
    if verb("SET") && (is(1, "PASSWORD") || (is(1, "DEFAULT") && is(2, "ROLE"))) {
        return Some(Category::Account);
    }
    if verb("FLUSH") && is(1, "PRIVILEGES") {
        return Some(Category::Account);
    }
    if verb("REASSIGN") || (verb("DROP") && is(1, "OWNED")) {
        return Some(Category::Account);
    }
    if verb("ALTER") && is(1, "DEFAULT") && is(2, "PRIVILEGES") {
        return Some(Category::Account);
    }
    if verb("CREATE") || verb("ALTER") || verb("DROP") || verb("RENAME") {
        // CREATE OR REPLACE USER (MariaDB); CREATE USER MAPPING holds a password too.
        let at = if is(1, "OR") && is(2, "REPLACE") {
            3
        } else {
            1
        };
        return Some(if account_object(at) {
            Category::Account
        } else {
            Category::Ddl
        });
    }
    if verb("TRUNCATE") {
        return Some(Category::Ddl);
    }
    None
}

/// A short name for a statement: `ALTER TABLE`, `GRANT`, `CREATE USER`.
pub fn statement_name(sql: &str, dialect: crate::dialect::SqlDialect) -> String {
    let words = leading_words(sql, dialect, 3);
    let Some(first) = words.first() else {
        return "statement".to_owned();
    };
    let mut name = first.to_ascii_uppercase();
    let two_words = [
        "CREATE", "ALTER", "DROP", "RENAME", "TRUNCATE", "SET", "FLUSH",
    ];
    if two_words.contains(&name.as_str())
        && let Some(second) = words.get(1)
    {
        let mut second = second.to_ascii_uppercase();
        if second == "DEFINER"
            && let Some(third) = words.get(2)
        {
            second = third.to_ascii_uppercase();
        }
        if second == "OR" {
            name.push_str(" OR REPLACE");
        } else if second.len() <= 24 && !second.contains(['=', '`', '@']) {
            name.push(' ');
            name.push_str(&second);
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Parsed;

    fn words(sql: &str) -> Option<Category> {
        verb_category(&leading_words(sql, SqlDialect::MySql, 4))
    }

    #[test]
    fn statements_fall_into_ddl_or_account() {
        for sql in [
            "CREATE TABLE t (a int)",
            "alter table orders add column note text",
            "DROP TABLE tmp_import",
            "TRUNCATE TABLE audit",
            "RENAME TABLE a TO b",
            "/* migration */ CREATE INDEX i ON t (a)",
            "CREATE DEFINER=`admin`@`%` PROCEDURE p() BEGIN END",
            "DROP DATABASE appdb",
        ] {
            assert_eq!(words(sql), Some(Category::Ddl), "{sql}");
        }
        for sql in [
            "GRANT SELECT ON a.* TO 'r'@'%'",
            "REVOKE ALL ON *.* FROM bob",
            "CREATE USER 'x'@'%' IDENTIFIED BY 'y'",
            "CREATE OR REPLACE USER x",
            "ALTER USER x PASSWORD EXPIRE",
            "DROP USER bob",
            "RENAME USER a TO b",
            "CREATE ROLE app",
            "DROP ROLE app",
            "SET PASSWORD FOR bob = 'x'",
            "SET DEFAULT ROLE r TO bob",
            "ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO r",
            "REASSIGN OWNED BY a TO b",
            "FLUSH PRIVILEGES",
        ] {
            assert_eq!(words(sql), Some(Category::Account), "{sql}");
        }
        for sql in [
            "SELECT 1",
            "UPDATE t SET a = 1",
            "SET NAMES utf8",
            "",
            "-- only a comment",
        ] {
            assert_eq!(words(sql), None, "{sql}");
        }
    }

    #[test]
    fn reading_only_the_verb_when_it_decides_agrees_with_reading_four_words() {
        let verbs = [
            "GRANT", "revoke", "SET", "set", "FLUSH", "REASSIGN", "DROP", "drop", "ALTER",
            "CREATE", "create", "RENAME", "TRUNCATE", "SELECT", "UPDATE", "INSERT", "CALL", "SHOW",
            "",
        ];
        let rests = [
            "",
            "PASSWORD FOR bob = 'x'",
            "DEFAULT ROLE r TO bob",
            "DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO r",
            "PRIVILEGES",
            "OWNED BY a",
            "OR REPLACE USER x",
            "USER x",
            "ROLE app",
            "GROUP g",
            "TABLE t (a int)",
            "/* c */ USER x",
            "DEFINER=`a`@`%` PROCEDURE p()",
            "NAMES utf8",
        ];
        for dialect in [SqlDialect::MySql, SqlDialect::Postgres] {
            for verb in verbs {
                for rest in rests {
                    for sql in [format!("{verb} {rest}"), format!("/* x */ ({verb} {rest}")] {
                        assert_eq!(
                            statement_category(&sql, dialect),
                            verb_category(&leading_words(&sql, dialect, 4)),
                            "{sql}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn names_are_short_and_upper_case() {
        assert_eq!(
            statement_name("alter table x add y int", SqlDialect::MySql),
            "ALTER TABLE"
        );
        assert_eq!(
            statement_name("GRANT SELECT ON x TO y", SqlDialect::MySql),
            "GRANT"
        );
        assert_eq!(
            statement_name("CREATE DEFINER=`a`@`%` VIEW v", SqlDialect::MySql),
            "CREATE VIEW"
        );
        assert_eq!(statement_name("  ", SqlDialect::MySql), "statement");
    }

    fn event(line: &str) -> AuditEvent<'_> {
        let parsed = if line.as_bytes()[4] == b'-' {
            crate::pgaudit::parse(line, 0..1, 0)
        } else {
            crate::mysql_audit::parse(line, 0..1)
        };
        match parsed {
            Parsed::Event(e) => e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn default_rules_ignore_rdsadmin_and_alert_on_three_categories() {
        let rules = Rules::default();
        let ddl = event(
            "20231114 22:13:25,h,admin,10.0.2.15,1,2,QUERY,appdb,'ALTER TABLE orders ADD COLUMN note varchar(255)',0",
        );
        assert_eq!(
            rules.judge(&ddl),
            Verdict::Alert([Category::Ddl].into_iter().collect())
        );
        let select = event("20231114 22:13:25,h,admin,10.0.2.15,1,2,QUERY,appdb,'SELECT 1',0");
        assert_eq!(rules.judge(&select), Verdict::Quiet(Categories::default()));
        let rdsadmin = event("20231114 22:14:05,h,rdsadmin,localhost,3,4,QUERY,,'DROP TABLE x',0");
        assert_eq!(rules.judge(&rdsadmin), Verdict::Ignored);
        let failed =
            event("20231114 22:14:02,h,mallory,198.51.100.23,3052,0,FAILED_CONNECT,,,1045");
        assert_eq!(
            rules.judge(&failed),
            Verdict::Alert([Category::FailedLogin].into_iter().collect())
        );
    }

    #[test]
    fn watch_users_match_regex_and_ignore_hosts() {
        let rules = Rules {
            alert_on: [Category::WatchedUser, Category::Custom]
                .into_iter()
                .collect(),
            ignore_users: vec![],
            ignore_hosts: vec!["10.9.0.0/16".parse().unwrap(), "bastion-*".parse().unwrap()],
            watch_users: vec![Pattern::new("contractor-*")],
            match_regex: Some(Regex::new("(?i)from\\s+payroll").unwrap()),
        };
        let watched =
            event("20231114 22:13:25,h,contractor-7,10.0.2.15,1,2,QUERY,appdb,'SELECT 1',0");
        assert_eq!(
            rules.judge(&watched),
            Verdict::Alert([Category::WatchedUser].into_iter().collect())
        );
        let custom =
            event("20231114 22:13:25,h,app,10.0.2.15,1,2,QUERY,appdb,'select * FROM payroll',0");
        assert_eq!(
            rules.judge(&custom),
            Verdict::Alert([Category::Custom].into_iter().collect())
        );
        // A DDL alerts only if ALERT_ON has ddl.
        let ddl = event("20231114 22:13:25,h,app,10.0.2.15,1,2,QUERY,appdb,'DROP TABLE x',0");
        assert_eq!(
            rules.judge(&ddl),
            Verdict::Quiet([Category::Ddl].into_iter().collect())
        );
        for host in ["10.9.3.4", "bastion-1"] {
            let line =
                format!("20231114 22:13:25,h,contractor-7,{host},1,2,QUERY,appdb,'SELECT 1',0");
            assert_eq!(rules.judge(&event(&line)), Verdict::Ignored, "{host}");
        }
    }

    #[test]
    fn pgaudit_classes_and_commands() {
        let grant = event(
            "2023-11-14 22:24:10 UTC:10.0.5.20(50223):postgres@appdb:[28181]:LOG:  AUDIT: SESSION,2,1,ROLE,GRANT,,,\"GRANT SELECT ON public.orders TO report;\",<not logged>",
        );
        assert_eq!(intrinsic(&grant), [Category::Account].into_iter().collect());
        let drop = event(
            "2023-11-14 22:23:56 UTC:10.0.5.20(50222):postgres@appdb:[28180]:LOG:  AUDIT: SESSION,1,1,DDL,DROP TABLE,TABLE,public.t3,<previously logged>,<not logged>",
        );
        assert_eq!(intrinsic(&drop), [Category::Ddl].into_iter().collect());
        let role = event(
            "2023-11-14 22:23:56 UTC:10.0.5.20(50222):postgres@appdb:[28180]:LOG:  AUDIT: SESSION,3,1,ROLE,ALTER ROLE,,,ALTER ROLE app PASSWORD 'x',<not logged>",
        );
        assert_eq!(intrinsic(&role), [Category::Account].into_iter().collect());
        let truncate = event(
            "2023-11-14 22:23:56 UTC:10.0.5.20(50222):postgres@appdb:[28180]:LOG:  AUDIT: SESSION,4,1,WRITE,TRUNCATE TABLE,TABLE,public.t,truncate t,<not logged>",
        );
        assert_eq!(intrinsic(&truncate), [Category::Ddl].into_iter().collect());
        let write = event(
            "2023-11-14 22:23:56 UTC:10.0.5.20(50222):postgres@appdb:[28180]:LOG:  AUDIT: SESSION,5,1,WRITE,UPDATE,TABLE,public.t,update t set a=1,<not logged>",
        );
        assert!(intrinsic(&write).is_empty());
    }
}
