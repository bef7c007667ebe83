//! The outbound HTTP broker: the only way a plugin's request will leave
//! the host (the `http` interface of contract 0.2.0). Every request is
//! checked against the binding's grants before anything is sent:
//!
//! - the host must be granted (`outbound-http:HOST`);
//! - HTTPS only, unless plain HTTP is granted for the host
//!   (`outbound-http-insecure:HOST`, for local tests);
//! - every address the name resolves to must be public — no loopback,
//!   private, link-local, CGNAT, unique-local, multicast or unspecified
//!   address — unless private addresses are granted for the host
//!   (`outbound-http-private:HOST`); the connection goes to the address that
//!   was checked (no second lookup, so no DNS rebinding);
//! - redirects are followed by the broker (at most [`MAX_REDIRECTS`]), each
//!   hop checked again; secret headers go only to their own host, and the
//!   plugin's own credentials (`authorization`, `cookie`) do not follow a
//!   redirect to another host;
//! - request and response bodies have size limits; the time allowed is what
//!   remains of the plugin call's deadline;
//! - the tenant's secrets for the host are added as headers by the host, so
//!   plugin code need not hold them (a plugin cannot override them).
//!
//! A refusal is a [`BrokerError`] value, which the WIT interface returns as
//! an error — never a trap.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

/// Redirect hops followed at most.
pub const MAX_REDIRECTS: usize = 3;

/// What a binding may reach, from its grants.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Granted hosts (lower case).
    pub hosts: Vec<String>,
    /// Hosts that may be reached over plain HTTP.
    pub insecure: Vec<String>,
    /// Hosts that may resolve to private, loopback or link-local addresses.
    pub private: Vec<String>,
    /// Headers the host adds per host: (host, name, value). Never logged.
    pub secret_headers: Vec<(String, String, String)>,
    /// Largest request body.
    pub max_request_bytes: usize,
    /// Largest response body.
    pub max_response_bytes: usize,
}

impl Policy {
    /// From grant strings (`outbound-http:HOST`, `outbound-http-insecure:HOST`,
    /// `outbound-http-private:HOST`; others are not about HTTP) with default limits.
    pub fn from_grants(grants: &[String]) -> Policy {
        let mut p = Policy { max_request_bytes: 64 * 1024, max_response_bytes: 1024 * 1024, ..Policy::default() };
        for g in grants {
            if let Some(h) = g.strip_prefix("outbound-http:") {
                p.hosts.push(h.to_ascii_lowercase());
            } else if let Some(h) = g.strip_prefix("outbound-http-insecure:") {
                p.insecure.push(h.to_ascii_lowercase());
            } else if let Some(h) = g.strip_prefix("outbound-http-private:") {
                p.private.push(h.to_ascii_lowercase());
            }
        }
        p
    }
}

/// Check a grant string: `key-value`, `raw-phone-numbers`,
/// `outbound-http:HOST`, `outbound-http-insecure:HOST` or
/// `outbound-http-private:HOST`. A typo would otherwise grant nothing, silently.
pub fn check_grant(grant: &str) -> Result<(), String> {
    let host = ["outbound-http:", "outbound-http-insecure:", "outbound-http-private:"]
        .iter()
        .find_map(|p| grant.strip_prefix(p));
    let ok = match host {
        Some(h) => {
            !h.is_empty()
                && h.len() <= 253
                && h.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':' | '[' | ']'))
        }
        None => grant == "key-value" || grant == "raw-phone-numbers",
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "unknown grant `{grant}`: use key-value, raw-phone-numbers, outbound-http:HOST, \
             outbound-http-insecure:HOST or outbound-http-private:HOST"
        ))
    }
}

/// Canned answers standing in for the network (`smsdesk plugin test`): the
/// policy's network-free checks still apply, nothing leaves the process.
#[derive(Clone)]
pub struct Fake(pub std::sync::Arc<FakeFn>);

/// What answers a request in place of the network.
pub type FakeFn = dyn Fn(&Request) -> Result<Response, BrokerError> + Send + Sync;

impl std::fmt::Debug for Fake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fake")
    }
}

/// A plugin's request.
#[derive(Debug, Clone)]
pub struct Request {
    /// GET, POST, …
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

/// What came back.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

/// Why a request was refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokerError {
    /// The request itself is malformed.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The host is not granted.
    #[error("host `{0}` is not granted")]
    NotGranted(String),
    /// Plain HTTP to a host granted for HTTPS only.
    #[error("plain HTTP to `{0}` is not granted (HTTPS only)")]
    Insecure(String),
    /// The name resolves to a private, loopback or link-local address.
    #[error("`{0}` resolves to a non-public address ({1})")]
    PrivateAddress(String, IpAddr),
    /// Name lookup failed.
    #[error("cannot resolve `{0}`")]
    Dns(String),
    /// A body over the limit.
    #[error("{0} body over the limit of {1} bytes")]
    TooLarge(&'static str, usize),
    /// The call's deadline passed.
    #[error("timed out")]
    Timeout,
    /// More redirects than allowed.
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
    /// Connecting or talking to the server failed.
    #[error("request failed: {0}")]
    Failed(String),
}

impl BrokerError {
    /// A short stable name for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            BrokerError::BadRequest(_) => "bad-request",
            BrokerError::NotGranted(_) => "not-granted",
            BrokerError::Insecure(_) => "insecure",
            BrokerError::PrivateAddress(..) => "private-address",
            BrokerError::Dns(_) => "dns",
            BrokerError::TooLarge(..) => "too-large",
            BrokerError::Timeout => "timeout",
            BrokerError::TooManyRedirects => "too-many-redirects",
            BrokerError::Failed(_) => "failed",
        }
    }
}

/// Is `ip` an address a plugin may not reach without a private grant?
///
/// Everything in the IANA IPv4 and IPv6 Special-Purpose Address Registries
/// counts as non-public, as do multicast and every IPv6 address outside
/// global unicast (`2000::/3`). An IPv6 address that embeds an IPv4 address
/// — IPv4-mapped (`::ffff:0:0/96`), IPv4-compatible (`::/96`, deprecated),
/// 6to4 (`2002::/16`), NAT64 (`64:ff9b::/96`, and the local-use
/// `64:ff9b:1::/48`) and Teredo (`2001::/32`, server and obfuscated client)
/// — is judged by the IPv4 inside: `[::127.0.0.1]` is loopback.
pub fn is_non_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => non_public_v6(v6),
    }
}

fn v4_from(hi: u16, lo: u16) -> Ipv4Addr {
    Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo))
}

fn non_public_v6(v6: std::net::Ipv6Addr) -> bool {
    let s = v6.segments();
    // IPv4-mapped ::ffff:a.b.c.d and IPv4-compatible ::a.b.c.d (also :: and ::1).
    if s[..5] == [0; 5] && (s[5] == 0xffff || s[5] == 0) {
        return non_public_v4(v4_from(s[6], s[7]));
    }
    // NAT64, well-known prefix 64:ff9b::/96.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return non_public_v4(v4_from(s[6], s[7]));
    }
    // NAT64, local-use 64:ff9b:1::/48: a translator of the local network's
    // own. The RFC 6052 layout for a /48 puts the IPv4 address around the
    // u-octet; a translator might also read the last 32 bits. Either being
    // non-public is enough.
    if s[..3] == [0x64, 0xff9b, 0x1] {
        let rfc6052 = v4_from(s[3], ((s[4] & 0x00ff) << 8) | (s[5] >> 8));
        return non_public_v4(rfc6052) || non_public_v4(v4_from(s[6], s[7]));
    }
    // 6to4 2002:AABB:CCDD::/48.
    if s[0] == 0x2002 {
        return non_public_v4(v4_from(s[1], s[2]));
    }
    // Teredo 2001:0:SSSS:SSSS:flags:port:CCCC:CCCC (client obfuscated by XOR).
    if s[0] == 0x2001 && s[1] == 0 {
        return non_public_v4(v4_from(s[2], s[3])) || non_public_v4(v4_from(!s[6], !s[7]));
    }
    // Only global unicast 2000::/3 is public at all (this excludes ::/8,
    // 100::/64 discard-only, 5f00::/16 SRv6, fc00::/7 unique local,
    // fe80::/10 link-local, fec0::/10 site-local and ff00::/8 multicast).
    if s[0] & 0xe000 != 0x2000 {
        return true;
    }
    match s[0] {
        // 2001::/23 IETF protocol assignments (benchmarking, AMT, AS112, ORCHID, …), 2001:db8::/32 documentation
        0x2001 => s[1] < 0x0200 || s[1] == 0x0db8,
        // 2620:4f:8000::/48 AS112 direct delegation
        0x2620 => s[1] == 0x004f && s[2] == 0x8000,
        // 3fff::/20 documentation
        0x3fff => s[1] < 0x1000,
        _ => false,
    }
}

fn non_public_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    o[0] == 0 // 0.0.0.0/8 "this network"
        || o[0] == 10 // 10.0.0.0/8 private
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64.0.0/10 shared address space (CGNAT)
        || o[0] == 127 // 127.0.0.0/8 loopback
        || (o[0] == 169 && o[1] == 254) // 169.254.0.0/16 link-local (cloud metadata)
        || (o[0] == 172 && (o[1] & 0xf0) == 16) // 172.16.0.0/12 private
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0.0/24 IETF protocol assignments (DS-Lite, NAT64 discovery, …)
        || (o[0] == 192 && o[1] == 0 && o[2] == 2) // 192.0.2.0/24 TEST-NET-1
        || (o[0] == 192 && o[1] == 31 && o[2] == 196) // 192.31.196.0/24 AS112-v4
        || (o[0] == 192 && o[1] == 52 && o[2] == 193) // 192.52.193.0/24 AMT
        || (o[0] == 192 && o[1] == 88 && o[2] == 99) // 192.88.99.0/24 6to4 relay anycast (deprecated)
        || (o[0] == 192 && o[1] == 168) // 192.168.0.0/16 private
        || (o[0] == 192 && o[1] == 175 && o[2] == 48) // 192.175.48.0/24 AS112 direct delegation
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18.0.0/15 benchmarking
        || (o[0] == 198 && o[1] == 51 && o[2] == 100) // 198.51.100.0/24 TEST-NET-2
        || (o[0] == 203 && o[1] == 0 && o[2] == 113) // 203.0.113.0/24 TEST-NET-3
        || o[0] >= 224 // 224.0.0.0/4 multicast, 240.0.0.0/4 reserved, 255.255.255.255 broadcast
}

/// The checks on a URL that need no network: a granted host, HTTPS unless
/// plain HTTP is granted for it, no credentials in the URL. Also what
/// `smsdesk plugin test` applies before answering from a case's canned responses.
pub fn check_target(policy: &Policy, url: &str) -> Result<(), BrokerError> {
    let url = reqwest::Url::parse(url).map_err(|e| BrokerError::BadRequest(format!("URL: {e}")))?;
    target_host(policy, &url).map(|_| ())
}

fn target_host(policy: &Policy, url: &reqwest::Url) -> Result<String, BrokerError> {
    let host =
        url.host_str().ok_or_else(|| BrokerError::BadRequest("the URL has no host".into()))?.to_ascii_lowercase();
    let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
    if !policy.hosts.contains(&host) {
        return Err(BrokerError::NotGranted(host));
    }
    match url.scheme() {
        "https" => {}
        "http" if policy.insecure.contains(&host) => {}
        "http" => return Err(BrokerError::Insecure(host)),
        other => return Err(BrokerError::BadRequest(format!("scheme `{other}` is not HTTP"))),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(BrokerError::BadRequest("credentials in the URL are not allowed".into()));
    }
    Ok(host)
}

/// Check one URL against the policy and resolve it: the addresses to connect to.
async fn vet(policy: &Policy, url: &reqwest::Url) -> Result<Vec<SocketAddr>, BrokerError> {
    let host = target_host(policy, url)?;
    let port = url.port_or_known_default().ok_or_else(|| BrokerError::BadRequest("no port".into()))?;
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => {
            tokio::net::lookup_host((host.as_str(), port)).await.map_err(|_| BrokerError::Dns(host.clone()))?.collect()
        }
    };
    if addrs.is_empty() {
        return Err(BrokerError::Dns(host));
    }
    if !policy.private.contains(&host) {
        // Every address must be public: an attacker controls which one a
        // client would pick.
        if let Some(bad) = addrs.iter().find(|a| is_non_public(a.ip())) {
            return Err(BrokerError::PrivateAddress(host, bad.ip()));
        }
    }
    Ok(addrs)
}

/// Most clients kept (each holds its idle keep-alive connections).
const MAX_CLIENTS: usize = 256;

type Clients = std::collections::HashMap<(String, Vec<SocketAddr>), reqwest::Client>;

/// The kept clients, by (host, checked addresses).
fn clients() -> &'static std::sync::Mutex<Clients> {
    static CLIENTS: std::sync::OnceLock<std::sync::Mutex<Clients>> = std::sync::OnceLock::new();
    CLIENTS.get_or_init(Default::default)
}

/// A client that connects `host` only to `addrs` (the addresses that were
/// checked), kept for the next request to the same host and addresses.
///
/// Building a client loads the TLS trust store (about 50 ms here), and a
/// kept client reuses its keep-alive connection: a brokered request to a
/// host seen before costs about what a native one does (`BENCHMARKS.md`).
/// The key includes the checked addresses, so a name that resolves
/// differently gets a new client pinned to the new, checked addresses.
/// Clients carry no state between requests (no cookies; secret headers are
/// set per request), so sharing one across plugins and tenants is safe.
async fn client_for(host: &str, addrs: &[SocketAddr]) -> Result<reqwest::Client, BrokerError> {
    // A name served round-robin comes back in another order each time: the
    // set, not the order, names the client.
    let mut addrs = addrs.to_vec();
    addrs.sort();
    addrs.dedup();
    let key = (host.to_string(), addrs.clone());
    let clients = clients();
    if let Some(c) = clients.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return Ok(c.clone());
    }
    // Building one reads the TLS trust store from disk: off the async workers.
    let (name, pinned) = (host.to_string(), addrs.clone());
    let client = tokio::task::spawn_blocking(move || {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .resolve_to_addrs(&name, &pinned)
            .no_proxy()
            .build()
    })
    .await
    .map_err(|e| BrokerError::Failed(e.to_string()))?
    .map_err(|e| BrokerError::Failed(e.to_string()))?;
    let mut map = clients.lock().unwrap_or_else(|p| p.into_inner());
    if map.len() >= MAX_CLIENTS {
        map.clear();
    }
    map.insert(key, client.clone());
    Ok(client)
}

/// Send `request` under `policy`, finishing by `deadline`.
pub async fn fetch(policy: &Policy, request: &Request, deadline: Instant) -> Result<Response, BrokerError> {
    if request.body.len() > policy.max_request_bytes {
        return Err(BrokerError::TooLarge("request", policy.max_request_bytes));
    }
    let method = reqwest::Method::from_bytes(request.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| BrokerError::BadRequest(format!("method `{}`", request.method)))?;
    let mut url = reqwest::Url::parse(&request.url).map_err(|e| BrokerError::BadRequest(format!("URL: {e}")))?;
    let mut method = method;
    let mut body = request.body.clone();
    let first_host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    for _hop in 0..=MAX_REDIRECTS {
        let remaining =
            deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()).ok_or(BrokerError::Timeout)?;
        let addrs = vet(policy, &url).await?;
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        // Connect to the addresses that were checked (in order), not to a second lookup.
        let client = client_for(&host, &addrs).await?;
        let mut req = client.request(method.clone(), url.clone()).timeout(remaining.min(Duration::from_secs(30)));
        let secrets: Vec<&(String, String, String)> =
            policy.secret_headers.iter().filter(|(h, _, _)| *h == host).collect();
        for (name, value) in &request.headers {
            let lower = name.to_ascii_lowercase();
            // Credentials the plugin set for the host it asked for do not
            // follow a redirect to another host.
            let credential = ["authorization", "cookie", "proxy-authorization"].contains(&lower.as_str());
            if ["host", "content-length", "transfer-encoding", "connection"].contains(&lower.as_str())
                || (credential && host != first_host)
                || secrets.iter().any(|(_, n, _)| n.eq_ignore_ascii_case(name))
            {
                continue;
            }
            req = req.header(name, value);
        }
        for (_, name, value) in &secrets {
            req = req.header(name.as_str(), value.as_str());
        }
        if !body.is_empty() {
            req = req.body(body.clone());
        }
        let mut res = req.send().await.map_err(|e| {
            if e.is_timeout() {
                BrokerError::Timeout
            } else if e.is_builder() {
                // A header name or value the plugin gave that HTTP does not allow.
                BrokerError::BadRequest(format!("{e}"))
            } else {
                BrokerError::Failed(e.to_string())
            }
        })?;
        let status = res.status();
        if status.is_redirection()
            && let Some(location) = res.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok())
        {
            url = url.join(location).map_err(|e| BrokerError::BadRequest(format!("redirect: {e}")))?;
            if status == reqwest::StatusCode::SEE_OTHER
                || ((status == reqwest::StatusCode::MOVED_PERMANENTLY || status == reqwest::StatusCode::FOUND)
                    && method == reqwest::Method::POST)
            {
                method = reqwest::Method::GET;
                body.clear();
            }
            continue;
        }
        let headers = res
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect();
        let mut out = Vec::new();
        loop {
            let chunk = match tokio::time::timeout_at(deadline.into(), res.chunk()).await {
                Err(_) => return Err(BrokerError::Timeout),
                Ok(Err(e)) => return Err(BrokerError::Failed(e.to_string())),
                Ok(Ok(None)) => break,
                Ok(Ok(Some(c))) => c,
            };
            if out.len() + chunk.len() > policy.max_response_bytes {
                return Err(BrokerError::TooLarge("response", policy.max_response_bytes));
            }
            out.extend_from_slice(&chunk);
        }
        return Ok(Response { status: status.as_u16(), headers, body: out });
    }
    Err(BrokerError::TooManyRedirects)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_client_per_host_and_address_set_whatever_the_order() {
        let a: SocketAddr = "93.184.215.14:443".parse().unwrap();
        let b: SocketAddr = "93.184.215.15:443".parse().unwrap();
        let host = "round-robin.broker-test.example";
        client_for(host, &[a, b]).await.unwrap();
        client_for(host, &[b, a]).await.unwrap();
        client_for(host, &[b, a, b]).await.unwrap();
        let kept = |h: &str| clients().lock().unwrap().keys().filter(|(k, _)| k == h).count();
        assert_eq!(kept(host), 1);
        // Another set is another client, pinned to its own addresses.
        client_for(host, &[a]).await.unwrap();
        assert_eq!(kept(host), 2);
    }

    /// Every range of the IANA IPv4 and IPv6 Special-Purpose Address
    /// Registries (first and last address of each), multicast, and the IPv6
    /// forms that embed an IPv4 address, next to public neighbours.
    #[test]
    fn special_purpose_ranges_are_not_public() {
        let non_public = [
            // IPv4 special-purpose registry.
            ("0.0.0.0/8 this network", "0.0.0.0", "0.255.255.255"),
            ("10.0.0.0/8 private", "10.0.0.0", "10.255.255.255"),
            ("100.64.0.0/10 shared", "100.64.0.0", "100.127.255.255"),
            ("127.0.0.0/8 loopback", "127.0.0.0", "127.255.255.255"),
            ("169.254.0.0/16 link local", "169.254.0.0", "169.254.255.255"),
            ("172.16.0.0/12 private", "172.16.0.0", "172.31.255.255"),
            ("192.0.0.0/24 IETF assignments", "192.0.0.0", "192.0.0.255"),
            ("192.0.0.0/29 DS-Lite", "192.0.0.0", "192.0.0.7"),
            ("192.0.0.170/31 NAT64 discovery", "192.0.0.170", "192.0.0.171"),
            ("192.0.2.0/24 TEST-NET-1", "192.0.2.0", "192.0.2.255"),
            ("192.31.196.0/24 AS112-v4", "192.31.196.0", "192.31.196.255"),
            ("192.52.193.0/24 AMT", "192.52.193.0", "192.52.193.255"),
            ("192.88.99.0/24 6to4 relay", "192.88.99.0", "192.88.99.255"),
            ("192.168.0.0/16 private", "192.168.0.0", "192.168.255.255"),
            ("192.175.48.0/24 AS112", "192.175.48.0", "192.175.48.255"),
            ("198.18.0.0/15 benchmarking", "198.18.0.0", "198.19.255.255"),
            ("198.51.100.0/24 TEST-NET-2", "198.51.100.0", "198.51.100.255"),
            ("203.0.113.0/24 TEST-NET-3", "203.0.113.0", "203.0.113.255"),
            ("224.0.0.0/4 multicast", "224.0.0.0", "239.255.255.255"),
            ("240.0.0.0/4 reserved", "240.0.0.0", "255.255.255.254"),
            ("255.255.255.255 broadcast", "255.255.255.255", "255.255.255.255"),
            // IPv6 special-purpose registry.
            ("::1 loopback", "::1", "::1"),
            (":: unspecified", "::", "::"),
            ("::ffff:0:0/96 mapped, private inside", "::ffff:10.0.0.1", "::ffff:127.0.0.1"),
            ("::/96 compatible, loopback inside", "::127.0.0.1", "::7f00:1"),
            ("64:ff9b::/96 NAT64, loopback inside", "64:ff9b::127.0.0.1", "64:ff9b::a9fe:a9fe"),
            ("64:ff9b:1::/48 local NAT64, loopback", "64:ff9b:1:7f00:0:100::", "64:ff9b:1::7f00:1"),
            ("100::/64 discard-only", "100::", "100::ffff:ffff:ffff:ffff"),
            ("100:0:0:1::/64 dummy", "100:0:0:1::", "100:0:0:1:ffff:ffff:ffff:ffff"),
            ("2001::/23 IETF assignments", "2001:1::1", "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff"),
            ("2001:2::/48 benchmarking", "2001:2::", "2001:2:0:ffff:ffff:ffff:ffff:ffff"),
            ("2001:3::/32 AMT", "2001:3::", "2001:3:ffff:ffff:ffff:ffff:ffff:ffff"),
            ("2001:4:112::/48 AS112", "2001:4:112::", "2001:4:112:ffff:ffff:ffff:ffff:ffff"),
            ("2001:20::/28 ORCHIDv2", "2001:20::", "2001:2f:ffff:ffff:ffff:ffff:ffff:ffff"),
            ("2001:30::/28 drone remote ID", "2001:30::", "2001:3f:ffff:ffff:ffff:ffff:ffff:ffff"),
            ("2001::/32 Teredo, loopback server", "2001:0:7f00:1::", "2001:0:7f00:1:ffff:ffff:ffff:ffff"),
            ("2001::/32 Teredo, loopback client", "2001:0:808:808:0:0:80ff:fffe", "2001:0:808:808::80ff:fffe"),
            ("2001:db8::/32 documentation", "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"),
            ("2002::/16 6to4, loopback inside", "2002:7f00:1::", "2002:7f00:1:ffff:ffff:ffff:ffff:ffff"),
            ("2002::/16 6to4, metadata inside", "2002:a9fe:a9fe::", "2002:a9fe:a9fe::1"),
            ("2620:4f:8000::/48 AS112", "2620:4f:8000::", "2620:4f:8000:ffff:ffff:ffff:ffff:ffff"),
            ("3fff::/20 documentation", "3fff::", "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff"),
            ("5f00::/16 SRv6 SIDs", "5f00::", "5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            ("fc00::/7 unique local", "fc00::", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            ("fe80::/10 link local", "fe80::", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            ("fec0::/10 site local", "fec0::", "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            ("ff00::/8 multicast", "ff00::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            ("outside 2000::/3", "4000::1", "1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
        ];
        for (range, first, last) in non_public {
            for ip in [first, last] {
                assert!(is_non_public(ip.parse().unwrap()), "{ip} ({range}) counted as public");
            }
        }
        let public = [
            "8.8.8.8",
            "1.1.1.1",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.0",
            "192.167.255.255",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "2606:4700::1111",
            "2a00:1450:4001::200e",
            "2001:200::1",
            "2001:db9::1",
            "::ffff:8.8.8.8",
            "64:ff9b::8.8.8.8",
            "2002:808:808::",
            "2001:0:808:808::f7f7:f7f7",
        ];
        for ip in public {
            assert!(!is_non_public(ip.parse().unwrap()), "{ip} counted as non-public");
        }
    }

    #[test]
    fn grants_become_a_policy() {
        let p = Policy::from_grants(&[
            "outbound-http:CRM.example.com".into(),
            "outbound-http-insecure:localhost".into(),
            "outbound-http-private:localhost".into(),
            "key-value".into(),
        ]);
        assert_eq!(p.hosts, ["crm.example.com"]);
        assert_eq!(p.insecure, ["localhost"]);
        assert_eq!(p.private, ["localhost"]);
    }
}
