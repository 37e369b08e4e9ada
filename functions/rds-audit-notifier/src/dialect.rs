//! Which audit format a batch carries, and which database it came from.
//!
//! The log group decides first: RDS names its groups
//! `/aws/rds/{instance|cluster}/<id>/{audit|postgresql}`. A group of any other
//! name (a re-subscribed copy, a custom pipeline) is sniffed line by line:
//! a line starting `YYYY-MM-DD ` is a PostgreSQL log line, one starting
//! `YYYYMMDD ` or with a run of digits and a comma is a MySQL audit record.

/// The two record formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// MySQL/MariaDB audit plugin and Aurora MySQL advanced auditing.
    MySqlAudit,
    /// PostgreSQL log lines with the RDS prefix, carrying pgaudit records.
    Postgres,
}

/// How SQL text is quoted: MySQL treats a backslash in a string as an
/// escape, PostgreSQL only inside `E'...'`, and has dollar quoting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlDialect {
    MySql,
    Postgres,
}

impl Dialect {
    pub fn sql(self) -> SqlDialect {
        match self {
            Self::MySqlAudit => SqlDialect::MySql,
            Self::Postgres => SqlDialect::Postgres,
        }
    }

    /// The dialect a line looks like, for groups whose name does not say.
    pub fn sniff(line: &str) -> Option<Self> {
        let b = line.as_bytes();
        if b.len() > 11 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-' && b[7] == b'-' {
            return Some(Self::Postgres);
        }
        let leading_digits = b.iter().take_while(|c| c.is_ascii_digit()).count();
        match b.get(leading_digits) {
            Some(b' ') if leading_digits == 8 => Some(Self::MySqlAudit),
            Some(b',') if leading_digits >= 10 => Some(Self::MySqlAudit),
            _ => None,
        }
    }
}

/// Whether the group is an RDS instance's or an Aurora cluster's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Instance,
    Cluster,
    /// Not an RDS-named group.
    Unknown,
}

/// Where a batch came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub log_group: String,
    pub log_stream: String,
    pub scope: Scope,
    /// The instance or cluster identifier from the group name.
    pub id: String,
    /// `None` when the group name does not say; lines are sniffed then.
    pub dialect: Option<Dialect>,
}

impl Source {
    pub fn new(log_group: &str, log_stream: &str) -> Self {
        let parts: Vec<&str> = log_group.trim_start_matches('/').split('/').collect();
        let (scope, id, dialect) = match parts.as_slice() {
            ["aws", "rds", scope @ ("instance" | "cluster"), id, kind] => {
                let scope = if *scope == "instance" {
                    Scope::Instance
                } else {
                    Scope::Cluster
                };
                let dialect = match *kind {
                    "audit" => Some(Dialect::MySqlAudit),
                    "postgresql" => Some(Dialect::Postgres),
                    _ => None,
                };
                (scope, (*id).to_owned(), dialect)
            }
            _ => (Scope::Unknown, log_group.to_owned(), None),
        };
        Self {
            log_group: log_group.to_owned(),
            log_stream: log_stream.to_owned(),
            scope,
            id,
            dialect,
        }
    }

    /// The instance an event belongs to. An instance group names it; in a
    /// cluster group, Aurora MySQL writes the instance id as `serverhost` and
    /// Aurora PostgreSQL names the log stream after the instance.
    pub fn instance<'s>(&'s self, server: &'s str) -> &'s str {
        match self.scope {
            Scope::Instance => &self.id,
            Scope::Cluster | Scope::Unknown if !server.is_empty() => server,
            Scope::Cluster => {
                let stream = self.log_stream.split('.').next().unwrap_or_default();
                if stream.is_empty() { &self.id } else { stream }
            }
            Scope::Unknown => &self.id,
        }
    }

    /// The cluster, for events from a cluster group.
    pub fn cluster(&self) -> Option<&str> {
        (self.scope == Scope::Cluster).then_some(self.id.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_name_their_dialect_and_database() {
        let s = Source::new(
            "/aws/rds/instance/product-db/audit",
            "product-db.audit.log.0",
        );
        assert_eq!(
            (s.scope, s.id.as_str(), s.dialect),
            (Scope::Instance, "product-db", Some(Dialect::MySqlAudit))
        );
        assert_eq!(s.instance("ip-10-0-1-23"), "product-db");

        let s = Source::new(
            "/aws/rds/cluster/aurora-prod/audit",
            "aurora-prod-instance-1.audit.log",
        );
        assert_eq!(
            s.instance("aurora-prod-instance-1"),
            "aurora-prod-instance-1"
        );
        assert_eq!(s.cluster(), Some("aurora-prod"));

        let s = Source::new("/aws/rds/cluster/pg-prod/postgresql", "pg-prod-instance-2");
        assert_eq!(s.dialect, Some(Dialect::Postgres));
        assert_eq!(s.instance(""), "pg-prod-instance-2");

        let s = Source::new("/custom/copy", "x");
        assert_eq!((s.scope, s.dialect), (Scope::Unknown, None));
        assert_eq!(s.instance(""), "/custom/copy");
    }

    #[test]
    fn lines_are_sniffed() {
        assert_eq!(
            Dialect::sniff("20231114 22:13:20,ip,admin"),
            Some(Dialect::MySqlAudit)
        );
        assert_eq!(
            Dialect::sniff("1700000000123456,aurora,admin"),
            Some(Dialect::MySqlAudit)
        );
        assert_eq!(
            Dialect::sniff("2023-11-14 22:23:56 UTC:10.0.5.20(50222):"),
            Some(Dialect::Postgres)
        );
        assert_eq!(Dialect::sniff("hello"), None);
        assert_eq!(Dialect::sniff(""), None);
    }
}
