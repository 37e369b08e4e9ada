//! moto's CloudFormation through its Query API.
//!
//! The workspace has no CloudFormation SDK client (no function calls the
//! service), so the template tests and the packaging tests speak the Query
//! protocol themselves: a form-encoded POST, an XML answer.

use std::io::{Read, Write};

/// One CloudFormation call (`Action` and its parameters) to moto at
/// `endpoint`: the HTTP status and the XML body.
pub fn call<K: AsRef<str>, V: AsRef<str>>(endpoint: &str, pairs: &[(K, V)]) -> (u16, String) {
    let address = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).expect("moto listens");
    let body = form_encode(pairs);
    // moto tells the services apart by the credential scope.
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/cloudformation/aws4_request, SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len(),
        region = crate::moto::REGION,
    )
    .expect("the request is sent");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("moto answers");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, response)
}

/// `application/x-www-form-urlencoded`, every byte outside the unreserved
/// set percent-encoded.
pub fn form_encode<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    let encode = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                b => format!("%{b:02X}"),
            })
            .collect()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k.as_ref()), encode(v.as_ref())))
        .collect::<Vec<_>>()
        .join("&")
}

/// The text of the first `<tag>…</tag>` in `xml`.
pub fn xml_value<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = xml[start..].find(&format!("</{tag}>"))?;
    Some(&xml[start..start + end])
}
