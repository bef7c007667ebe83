//! Publisher signatures for smsdesk plugin components.
//!
//! A plugin is identified by (publisher, name). A publisher is an Ed25519
//! key; a component carries its publisher's signature in a custom section
//! named [`SECTION`], which must be the component's last section. The
//! signature covers the SHA-256 of the component *without* that section (the
//! bytes before it), prefixed with a domain tag, so a signed file is one
//! file — uploaded, inspected and cached like any other component — and
//! re-signing replaces the section.
//!
//! Section payload: one version byte (1), the publisher's 32-byte public key,
//! the 64-byte signature.
//!
//! Keys on disk: a secret key file holds one line, `smsdesk-ed25519-secret:`
//! and the 32-byte seed in base64; a public key is written
//! `ed25519:<64 hex digits>`.

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use std::fmt;

/// The custom section's name.
pub const SECTION: &str = "smsdesk-signature";
/// What is signed: this tag, then the 32-byte SHA-256 of the unsigned component.
const DOMAIN: &[u8] = b"smsdesk-plugin-signature-v1\0";
const FORMAT_VERSION: u8 = 1;
const SECRET_PREFIX: &str = "smsdesk-ed25519-secret:";
const PUBLIC_PREFIX: &str = "ed25519:";

/// A publisher's public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    /// The raw bytes.
    pub fn to_bytes(self) -> [u8; 32] {
        self.0
    }

    /// From raw bytes (checked to be a point on the curve).
    pub fn from_bytes(bytes: [u8; 32]) -> Result<PublicKey, Error> {
        VerifyingKey::from_bytes(&bytes).map_err(|_| Error::BadKey("not an Ed25519 public key".into()))?;
        Ok(PublicKey(bytes))
    }

    /// Parse `ed25519:<64 hex digits>`.
    pub fn parse(text: &str) -> Result<PublicKey, Error> {
        let text = text.trim();
        let hex_part = text.strip_prefix(PUBLIC_PREFIX).ok_or_else(|| {
            Error::BadKey(format!("a publisher key is written `{PUBLIC_PREFIX}<64 hex digits>`, not {text:?}"))
        })?;
        let bytes = hex::decode(hex_part).map_err(|_| Error::BadKey("the key is not hexadecimal".into()))?;
        let bytes: [u8; 32] =
            bytes.try_into().map_err(|_| Error::BadKey("an Ed25519 public key is 32 bytes (64 hex digits)".into()))?;
        PublicKey::from_bytes(bytes)
    }

    /// A short fingerprint for people: the first 8 bytes of the key's SHA-256, in hex.
    pub fn fingerprint(&self) -> String {
        hex::encode(&Sha256::digest(self.0)[..8])
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PUBLIC_PREFIX}{}", hex::encode(self.0))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A publisher's secret key.
pub struct SecretKey(SigningKey);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", self.public())
    }
}

impl SecretKey {
    /// A new random key (from the operating system's generator).
    pub fn generate() -> Result<SecretKey, Error> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| Error::BadKey(format!("no random numbers: {e}")))?;
        Ok(SecretKey(SigningKey::from_bytes(&seed)))
    }

    /// The public half.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key().to_bytes())
    }

    /// The key file's text (one line).
    pub fn to_file_text(&self) -> String {
        use base64::Engine as _;
        format!("{SECRET_PREFIX}{}\n", base64::engine::general_purpose::STANDARD.encode(self.0.to_bytes()))
    }

    /// Read a key file's text.
    pub fn from_file_text(text: &str) -> Result<SecretKey, Error> {
        use base64::Engine as _;
        let body = text.trim().strip_prefix(SECRET_PREFIX).ok_or_else(|| {
            Error::BadKey(format!("not an smsdesk secret key file (it starts with `{SECRET_PREFIX}`)"))
        })?;
        let seed = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|_| Error::BadKey("the secret key is not base64".into()))?;
        let seed: [u8; 32] = seed.try_into().map_err(|_| Error::BadKey("the secret key is not 32 bytes".into()))?;
        Ok(SecretKey(SigningKey::from_bytes(&seed)))
    }
}

/// What a component says about its publisher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signed {
    /// No signature section.
    Unsigned,
    /// A valid signature by this key.
    By(PublicKey),
}

/// Why a component or key was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Not a WebAssembly binary, or its sections do not parse.
    Malformed(String),
    /// A signature section that is not the last, repeated, or not of this format.
    BadSection(String),
    /// The signature does not verify: the component changed after signing, or it was forged.
    Mismatch,
    /// A key that cannot be used.
    BadKey(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Malformed(why) => write!(f, "not a WebAssembly binary: {why}"),
            Error::BadSection(why) => write!(f, "bad `{SECTION}` section: {why}"),
            Error::Mismatch => f.write_str(
                "the publisher signature does not match the component (it was changed after signing, or the signature is forged)",
            ),
            Error::BadKey(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for Error {}

/// One top-level section: where it starts, where its payload is, and its
/// custom-section name (for id 0).
struct Section<'a> {
    start: usize,
    name: Option<&'a str>,
    payload: &'a [u8],
}

fn leb_u32(bytes: &[u8], at: &mut usize) -> Result<u32, Error> {
    let mut value: u64 = 0;
    for shift in (0..35).step_by(7) {
        let byte = *bytes.get(*at).ok_or_else(|| Error::Malformed("truncated".into()))?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return u32::try_from(value).map_err(|_| Error::Malformed("a length does not fit 32 bits".into()));
        }
    }
    Err(Error::Malformed("a length is too long".into()))
}

fn sections(bytes: &[u8]) -> Result<Vec<Section<'_>>, Error> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(Error::Malformed("missing the \\0asm header".into()));
    }
    let mut at = 8;
    let mut out = Vec::new();
    while at < bytes.len() {
        let start = at;
        let id = bytes[at];
        at += 1;
        let size = leb_u32(bytes, &mut at)? as usize;
        let end = at
            .checked_add(size)
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| Error::Malformed(format!("section at byte {start} runs past the end of the file")))?;
        let mut name = None;
        let mut payload = &bytes[at..end];
        if id == 0 {
            let mut p = at;
            let len = leb_u32(bytes, &mut p)? as usize;
            let name_end = p.checked_add(len).filter(|&e| e <= end).ok_or_else(|| {
                Error::Malformed(format!("custom section name at byte {start} runs past its section"))
            })?;
            name = Some(std::str::from_utf8(&bytes[p..name_end]).unwrap_or("\u{fffd}"));
            payload = &bytes[name_end..end];
        }
        out.push(Section { start, name, payload });
        at = end;
    }
    Ok(out)
}

/// The component without its signature section, and the section's payload if it has one.
fn split(bytes: &[u8]) -> Result<(&[u8], Option<&[u8]>), Error> {
    let sections = sections(bytes)?;
    let signatures: Vec<usize> =
        sections.iter().enumerate().filter(|(_, s)| s.name == Some(SECTION)).map(|(i, _)| i).collect();
    match signatures.as_slice() {
        [] => Ok((bytes, None)),
        [i] if *i + 1 == sections.len() => Ok((&bytes[..sections[*i].start], Some(sections[*i].payload))),
        [_] => Err(Error::BadSection("it must be the component's last section".into())),
        _ => Err(Error::BadSection("a component has at most one".into())),
    }
}

fn message(unsigned: &[u8]) -> Vec<u8> {
    let mut m = DOMAIN.to_vec();
    m.extend_from_slice(&Sha256::digest(unsigned));
    m
}

/// Who signed `component`, checking the signature.
pub fn verify(component: &[u8]) -> Result<Signed, Error> {
    let (unsigned, payload) = split(component)?;
    let Some(payload) = payload else { return Ok(Signed::Unsigned) };
    if payload.len() != 1 + 32 + 64 || payload[0] != FORMAT_VERSION {
        return Err(Error::BadSection(format!("expected format {FORMAT_VERSION}: a key and a signature (97 bytes)")));
    }
    let key: [u8; 32] = payload[1..33].try_into().expect("32 bytes");
    let signature: [u8; 64] = payload[33..].try_into().expect("64 bytes");
    let verifying = VerifyingKey::from_bytes(&key).map_err(|_| Error::BadSection("the key is not valid".into()))?;
    verifying.verify_strict(&message(unsigned), &Signature::from_bytes(&signature)).map_err(|_| Error::Mismatch)?;
    Ok(Signed::By(PublicKey(key)))
}

/// `component` signed by `key` (an earlier signature is replaced).
pub fn sign(component: &[u8], key: &SecretKey) -> Result<Vec<u8>, Error> {
    let (unsigned, _) = split(component)?;
    let signature = key.0.sign(&message(unsigned));
    let mut payload = vec![FORMAT_VERSION];
    payload.extend_from_slice(&key.0.verifying_key().to_bytes());
    payload.extend_from_slice(&signature.to_bytes());
    let mut section = Vec::new();
    leb_write(&mut section, SECTION.len() as u32);
    section.extend_from_slice(SECTION.as_bytes());
    section.extend_from_slice(&payload);
    let mut out = unsigned.to_vec();
    out.push(0);
    leb_write(&mut out, section.len() as u32);
    out.extend_from_slice(&section);
    Ok(out)
}

/// The component without its signature (what was signed).
pub fn strip(component: &[u8]) -> Result<Vec<u8>, Error> {
    Ok(split(component)?.0.to_vec())
}

fn leb_write(out: &mut Vec<u8>, mut value: u32) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest component: the header and one custom section.
    fn component() -> Vec<u8> {
        let mut c = b"\0asm\x0d\x00\x01\x00".to_vec();
        c.extend_from_slice(&[0, 4, 3, b'a', b'b', b'c']);
        c
    }

    #[test]
    fn a_signature_verifies_and_names_its_key() {
        let key = SecretKey::generate().unwrap();
        let signed = sign(&component(), &key).unwrap();
        assert_eq!(verify(&signed).unwrap(), Signed::By(key.public()));
        assert_eq!(verify(&component()).unwrap(), Signed::Unsigned);
        assert_eq!(strip(&signed).unwrap(), component());
    }

    #[test]
    fn re_signing_replaces_the_signature() {
        let (a, b) = (SecretKey::generate().unwrap(), SecretKey::generate().unwrap());
        let twice = sign(&sign(&component(), &a).unwrap(), &b).unwrap();
        assert_eq!(verify(&twice).unwrap(), Signed::By(b.public()));
        assert_eq!(twice.len(), sign(&component(), &b).unwrap().len());
    }

    #[test]
    fn any_change_after_signing_is_a_mismatch() {
        let key = SecretKey::generate().unwrap();
        let signed = sign(&component(), &key).unwrap();
        for i in 8..component().len() {
            let mut bad = signed.clone();
            bad[i] ^= 1;
            assert!(verify(&bad).is_err(), "a flipped bit at {i} went unnoticed");
        }
        // A mangled section name is no signature at all: the component is unsigned, never the key's.
        let mut renamed = signed.clone();
        let at = component().len() + 3;
        renamed[at] ^= 1;
        assert_eq!(verify(&renamed).unwrap(), Signed::Unsigned);
        // Another key's name on the signature.
        let other = SecretKey::generate().unwrap();
        let mut forged = signed.clone();
        let at = forged.len() - 96;
        forged[at..at + 32].copy_from_slice(&other.public().to_bytes());
        assert_eq!(verify(&forged), Err(Error::Mismatch));
    }

    #[test]
    fn a_signature_section_must_be_last_and_single() {
        let key = SecretKey::generate().unwrap();
        let mut moved = sign(&component(), &key).unwrap();
        moved.extend_from_slice(&[0, 2, 1, b'z']);
        assert!(matches!(verify(&moved), Err(Error::BadSection(_))));
        let signed = sign(&component(), &key).unwrap();
        let section = signed[component().len()..].to_vec();
        let mut double = signed.clone();
        double.extend_from_slice(&section);
        assert!(matches!(verify(&double), Err(Error::BadSection(_))));
    }

    #[test]
    fn truncated_or_foreign_bytes_are_malformed_not_panics() {
        let key = SecretKey::generate().unwrap();
        let signed = sign(&component(), &key).unwrap();
        for len in 0..signed.len() {
            let _ = verify(&signed[..len]);
        }
        assert!(matches!(verify(b"hello world"), Err(Error::Malformed(_))));
        assert!(matches!(verify(b"\0asm\x0d\x00\x01\x00\x00\xff\xff\xff\xff\x7f"), Err(Error::Malformed(_))));
    }

    #[test]
    fn keys_round_trip_through_their_text_forms() {
        let key = SecretKey::generate().unwrap();
        let again = SecretKey::from_file_text(&key.to_file_text()).unwrap();
        assert_eq!(again.public(), key.public());
        assert_eq!(PublicKey::parse(&key.public().to_string()).unwrap(), key.public());
        assert!(PublicKey::parse("ed25519:00").is_err());
        assert!(PublicKey::parse("rsa:abcd").is_err());
        assert!(SecretKey::from_file_text("ed25519:abcd").is_err());
        assert_eq!(key.public().fingerprint().len(), 16);
    }
}
