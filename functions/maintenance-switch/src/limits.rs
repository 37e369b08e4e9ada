//! What ALB and Step Functions accept, and what a bypass may be: the
//! limits a window is checked against before anything is scheduled or
//! switched on, so a window never fails at its start time on a value AWS
//! refuses, nor lets in more of the internet than the operator meant.

use ipnet::IpNet;

/// ALB's limit on a fixed-response body.
pub const MAX_BODY_CHARS: usize = 1024;
/// The content types ALB allows in a fixed response.
pub const CONTENT_TYPES: [&str; 5] = [
    "text/plain",
    "text/css",
    "text/html",
    "application/javascript",
    "application/json",
];
/// At most this many bypass CIDRs (10 rules of 5): ALB allows 100 rules per
/// listener, and the product's own rules need the room.
pub const MAX_BYPASS_CIDRS: usize = 50;
/// At most this many values across bypass headers.
pub const MAX_BYPASS_HEADER_VALUES: usize = 20;
/// ALB's limits on an http-header condition.
pub const MAX_HEADER_NAME_CHARS: usize = 40;
pub const MAX_HEADER_VALUE_CHARS: usize = 128;
/// Step Functions execution names (and so window ids) are at most 80 characters.
pub const MAX_WINDOW_ID_CHARS: usize = 80;

/// The header whose values are client addresses, not secrets.
pub const FORWARDED_FOR: &str = "X-Forwarded-For";

/// Headers that carry a client's address. A client can send any of them
/// itself, with any address in it: ALB passes a client's `X-Forwarded-For`
/// on and only appends the address it sees, and an http-header condition
/// matches any copy of the header in the request. A bypass on one of them
/// lets anyone through who claims an allowlisted address.
pub const CLIENT_ADDRESS_HEADERS: [&str; 8] = [
    FORWARDED_FOR,
    "Forwarded",
    "X-Real-IP",
    "True-Client-IP",
    "X-Client-IP",
    "X-Cluster-Client-IP",
    "CF-Connecting-IP",
    "Fastly-Client-IP",
];

/// The shortest prefixes a bypass CIDR may have: a wider range lets a
/// large part of the internet (`/0`: everyone) through, while every report
/// says maintenance is on. A /8 is a whole former class A network; a /32 is
/// the usual IPv6 allocation to one organisation.
pub const MIN_IPV4_PREFIX: u8 = 8;
pub const MIN_IPV6_PREFIX: u8 = 32;

/// Header names ALB does not take in an http-header condition: the host
/// header (it has its own host-header condition).
pub const HEADERS_ALB_REFUSES: [&str; 1] = ["Host"];

/// ALB matches these as wildcards in http-header values (`*` any run of
/// characters, `?` one character) and has no escape for them.
pub const HEADER_WILDCARDS: [char; 2] = ['*', '?'];

/// ALB answers fixed responses only with 2XX, 4XX or 5XX codes.
pub fn check_status_code(code: u16) -> Result<(), String> {
    match code {
        200..=299 | 400..=599 => Ok(()),
        _ => Err(format!(
            "{code} is not allowed: ALB fixed responses use 2XX, 4XX or 5XX"
        )),
    }
}

pub fn check_body(body: &str) -> Result<(), String> {
    let chars = body.chars().count();
    if chars > MAX_BODY_CHARS {
        Err(format!(
            "is {chars} characters; ALB allows at most {MAX_BODY_CHARS}"
        ))
    } else {
        Ok(())
    }
}

pub fn check_window_id(id: &str) -> Result<(), String> {
    let ok_chars = id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if id.is_empty() || id.chars().count() > MAX_WINDOW_ID_CHARS || !ok_chars {
        Err(format!(
            "window_id {id:?} must be 1 to {MAX_WINDOW_ID_CHARS} letters, digits, '-', '_' or '.' (it names the Step Functions execution and tags the rules)"
        ))
    } else {
        Ok(())
    }
}

/// A bypass range must be written as the network it is, and not be wide
/// enough to let a large part of the internet through.
pub fn check_cidr(net: IpNet) -> Result<(), String> {
    // A typo ("203.0.113.7/0" for "/30") would otherwise be silently
    // truncated into a far wider network than the operator meant.
    if net != net.trunc() {
        let host = match net {
            IpNet::V4(n) => format!("{}/32", n.addr()),
            IpNet::V6(n) => format!("{}/128", n.addr()),
        };
        return Err(format!(
            "has host bits set: as a range it is the whole network {}, not the host {}; write {host} for that one host, or the network's own address for a range",
            net.trunc(),
            net.addr()
        ));
    }
    let min = match net {
        IpNet::V4(_) => MIN_IPV4_PREFIX,
        IpNet::V6(_) => MIN_IPV6_PREFIX,
    };
    if net.prefix_len() < min {
        return Err(format!(
            "is too wide: a bypass would let that much of the internet through while maintenance is reported on; the prefix must be at least /{min} (IPv4 /{MIN_IPV4_PREFIX}, IPv6 /{MIN_IPV6_PREFIX})"
        ));
    }
    Ok(())
}

/// Whether a header value is, or contains, a client address (an IP
/// address, a CIDR, or an address pattern such as `203.0.113.*` or
/// `for=203.0.113.7:443`). Such a value is not a secret whatever the
/// header's name: a client can send any header with its claimed address.
pub fn looks_like_address(value: &str) -> bool {
    value
        .split(|c: char| c == ',' || c == ';' || c == '=' || c == '"' || c.is_whitespace())
        .any(address_token)
}

fn address_token(token: &str) -> bool {
    let token = token.trim_matches(|c| c == '[' || c == ']');
    if token.is_empty() {
        return false;
    }
    if token.parse::<std::net::IpAddr>().is_ok() || token.parse::<IpNet>().is_ok() {
        return true;
    }
    // `[2001:db8::1]:443` and `203.0.113.7:443`: an address with a port.
    if let Some((host, port)) = token.rsplit_once(':')
        && port.chars().all(|c| c.is_ascii_digit())
        && host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<std::net::IpAddr>()
            .is_ok()
    {
        return true;
    }
    // A pattern: only what addresses, prefixes and wildcards are made of,
    // with the separators of at least a partial dotted quad or IPv6 address.
    let address_chars = token
        .chars()
        .all(|c| c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '/' | '*' | '?' | '[' | ']'));
    let dots = token.matches('.').count();
    let colons = token.matches(':').count();
    let has_digit = token.chars().any(|c| c.is_ascii_digit());
    address_chars && has_digit && (dots >= 2 || colons >= 2)
}
