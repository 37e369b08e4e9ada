//! IP address families: each has its own IP set (WAF keeps IPv4 and IPv6
//! addresses apart).

use ipnet::IpNet;

/// IP address family, one IP set each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub fn of(net: &IpNet) -> Self {
        if net.addr().is_ipv4() {
            Self::V4
        } else {
            Self::V6
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::V4 => "IPv4",
            Self::V6 => "IPv6",
        }
    }
}
