//! Twilio's `X-Twilio-Signature`: HMAC-SHA1 over the URL Twilio requested and
//! every POSTed parameter, keyed by the account's auth token, Base64-encoded.
//!
//! The string signed is the full URL followed by each parameter name (sorted
//! by bytes) and its values (deduplicated, sorted), with no separators. Twilio
//! is inconsistent about the default port, so — like Twilio's own validator —
//! a signature is accepted for the URL with and without `:443`/`:80`. All
//! received parameters are signed, never a whitelist: Twilio adds new ones.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use std::collections::{BTreeMap, BTreeSet};

type HmacSha1 = Hmac<Sha1>;

fn mac(auth_token: &str, url: &str, params: &[(String, String)]) -> HmacSha1 {
    let mut sorted: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (name, value) in params {
        sorted.entry(name).or_default().insert(value);
    }
    let mut mac = HmacSha1::new_from_slice(auth_token.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(url.as_bytes());
    for (name, values) in sorted {
        for value in values {
            mac.update(name.as_bytes());
            mac.update(value.as_bytes());
        }
    }
    mac
}

/// The signature Twilio would send for `url` and `params`.
pub fn sign(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    BASE64.encode(mac(auth_token, url, params).finalize().into_bytes())
}

/// Whether `signature` is valid for `url` (as requested, or with the default
/// port added or removed) and `params`. Compared in constant time.
pub fn verify(auth_token: &str, url: &str, params: &[(String, String)], signature: &str) -> bool {
    let Ok(expected) = BASE64.decode(signature.trim()) else {
        return false;
    };
    url_variants(url).iter().any(|candidate| mac(auth_token, candidate, params).verify_slice(&expected).is_ok())
}

/// The URL as given, plus the same URL with its default port toggled.
fn url_variants(url: &str) -> Vec<String> {
    let mut variants = vec![url.to_string()];
    let Some((scheme, rest)) = url.split_once("://") else {
        return variants;
    };
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "https" => "443",
        "http" => "80",
        _ => return variants,
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    // An IPv6 literal ends with `]`; a port follows the last `:` after it.
    let host_end = authority.rfind(']').map_or(0, |i| i + 1);
    match authority[host_end..].rfind(':') {
        Some(colon) => {
            let (host, port) = authority.split_at(host_end + colon);
            if &port[1..] == default_port {
                variants.push(format!("{scheme}://{host}{tail}"));
            }
        }
        None => variants.push(format!("{scheme}://{authority}:{default_port}{tail}")),
    }
    variants
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    const TOKEN: &str = "12345";
    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

    fn call_params() -> Vec<(String, String)> {
        params(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ])
    }

    /// The test vectors of Twilio's request validator (FACTS.md §4.2).
    #[test]
    fn twilio_test_vectors() {
        assert_eq!(sign(TOKEN, URL, &call_params()), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
        assert_eq!(
            sign(TOKEN, "https://mycompany.com:443/myapp.php?foo=1&bar=2", &call_params()),
            "kvajT1Ptam85bY51eRf/AJRuM3w="
        );
        let multi = params(&[
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
            ("Digits", "1234"),
        ]);
        assert_eq!(sign(TOKEN, URL, &multi), "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
    }

    #[test]
    fn verifies_with_and_without_the_default_port() {
        assert!(verify(TOKEN, URL, &call_params(), "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
        // Twilio signed with :443 but we were reached without it, and the reverse.
        assert!(verify(TOKEN, URL, &call_params(), "kvajT1Ptam85bY51eRf/AJRuM3w="));
        assert!(verify(
            TOKEN,
            "https://mycompany.com:443/myapp.php?foo=1&bar=2",
            &call_params(),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
    }

    #[test]
    fn rejects_anything_else() {
        let sig = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
        assert!(!verify("wrong-token", URL, &call_params(), sig));
        assert!(!verify(TOKEN, "https://mycompany.com/other.php?foo=1&bar=2", &call_params(), sig));
        let mut tampered = call_params();
        tampered[2].1 = "9999".into();
        assert!(!verify(TOKEN, URL, &tampered, sig));
        let mut extra = call_params();
        extra.push(("NewParam".into(), "x".into()));
        assert!(!verify(TOKEN, URL, &extra, sig), "every received parameter is signed");
        assert!(!verify(TOKEN, URL, &call_params(), ""));
        assert!(!verify(TOKEN, URL, &call_params(), "not base64!"));
    }

    #[test]
    fn url_variants_toggle_only_default_ports() {
        assert_eq!(url_variants("http://127.0.0.1:8080/x"), vec!["http://127.0.0.1:8080/x"]);
        assert_eq!(url_variants("http://h/x"), vec!["http://h/x", "http://h:80/x"]);
        assert_eq!(url_variants("https://h:443"), vec!["https://h:443", "https://h"]);
        assert_eq!(url_variants("https://[::1]/x"), vec!["https://[::1]/x", "https://[::1]:443/x"]);
    }
}
