//! Limits on a plugin call and the checks of what a plugin returns.

use crate::domain::{CustomerProfile, Decision, Intent, Manifest};
use std::time::Duration;

/// Per-plugin limits. The defaults suit SMS support; an admin may change them per plugin.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Deadline of a `classify` call.
    pub classify_deadline: Duration,
    /// Deadline of a `respond` call.
    pub respond_deadline: Duration,
    /// Deadline of a CRM `lookup` call (CRM lookups may wait on other systems).
    pub crm_deadline: Duration,
    /// Largest linear memory one instance may grow to, in bytes.
    pub memory_bytes: usize,
    /// Most intents a classifier may return.
    pub max_intents: usize,
    /// Longest reply, in characters (Twilio's `Body` limit).
    pub max_reply_chars: usize,
    /// Most tags in a decision.
    pub max_tags: usize,
    /// Bytes of guest stdout and stderr kept per call; the rest is dropped.
    pub stdio_bytes: usize,
    /// Calls one instance serves before it is retired. `1` (every call gets a
    /// fresh instance) is the default for ordinary components; `None` picks by
    /// size: components of at least [`HEAVY_COMPONENT_BYTES`] (interpreters:
    /// JavaScript, Python) keep a few warm instances per tenant and reuse each
    /// for up to [`HEAVY_INSTANCE_CALLS`] calls. An instance is never shared
    /// between tenants or configurations and is retired on any error.
    pub instance_calls: Option<u32>,
}

/// Components this large get warm instances by default (see [`Limits::instance_calls`]).
pub const HEAVY_COMPONENT_BYTES: usize = 4 << 20;
/// Calls a warm instance of a heavy component serves before it is retired.
pub const HEAVY_INSTANCE_CALLS: u32 = 64;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            classify_deadline: Duration::from_millis(100),
            respond_deadline: Duration::from_millis(100),
            crm_deadline: Duration::from_secs(2),
            memory_bytes: 32 << 20,
            max_intents: 32,
            max_reply_chars: 1600,
            max_tags: 16,
            stdio_bytes: 16 << 10,
            instance_calls: None,
        }
    }
}

/// Longest intent label.
pub const MAX_LABEL_CHARS: usize = 64;
/// Longest tag.
pub const MAX_TAG_CHARS: usize = 64;
/// Longest handoff reason.
pub const MAX_REASON_CHARS: usize = 500;
/// Longest team name.
pub const MAX_TEAM_CHARS: usize = 64;
/// Most profile attributes.
pub const MAX_ATTRIBUTES: usize = 64;
/// Longest inbound body a plugin is given (in bytes).
pub const MAX_INPUT_BODY_BYTES: usize = 8 * 1024;
/// Most history turns a plugin is given (older ones are dropped).
pub const MAX_HISTORY_TURNS: usize = 50;

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// Check a classifier's output.
pub fn check_intents(limits: &Limits, intents: &[Intent]) -> Result<(), String> {
    if intents.len() > limits.max_intents {
        return Err(format!("returned {} intents; at most {} are allowed", intents.len(), limits.max_intents));
    }
    for intent in intents {
        let n = chars(&intent.label);
        if n == 0 || n > MAX_LABEL_CHARS {
            return Err(format!("intent label must be 1 to {MAX_LABEL_CHARS} characters, got {n}"));
        }
        if !intent.confidence.is_finite() || !(0.0..=1.0).contains(&intent.confidence) {
            return Err(format!("intent `{}` has confidence {} outside 0.0..=1.0", intent.label, intent.confidence));
        }
    }
    Ok(())
}

/// Check a responder's decision.
pub fn check_decision(limits: &Limits, decision: &Decision) -> Result<(), String> {
    if let Some(reply) = &decision.reply {
        let n = chars(reply);
        if reply.trim().is_empty() {
            return Err("reply is empty".into());
        }
        if n > limits.max_reply_chars {
            return Err(format!("reply is {n} characters; at most {} are allowed", limits.max_reply_chars));
        }
    }
    if let Some(handoff) = &decision.handoff {
        let n = chars(&handoff.reason);
        if n == 0 || n > MAX_REASON_CHARS {
            return Err(format!("handoff reason must be 1 to {MAX_REASON_CHARS} characters, got {n}"));
        }
        if let Some(team) = &handoff.team {
            let n = chars(team);
            if n == 0 || n > MAX_TEAM_CHARS {
                return Err(format!("handoff team must be 1 to {MAX_TEAM_CHARS} characters, got {n}"));
            }
        }
        if decision.resolve {
            return Err("a decision cannot both resolve and hand off".into());
        }
    }
    if decision.add_tags.len() > limits.max_tags {
        return Err(format!("{} tags; at most {} are allowed", decision.add_tags.len(), limits.max_tags));
    }
    for tag in &decision.add_tags {
        let n = chars(tag);
        if n == 0 || n > MAX_TAG_CHARS {
            return Err(format!("tag must be 1 to {MAX_TAG_CHARS} characters, got {n}"));
        }
    }
    Ok(())
}

/// Check a CRM profile.
pub fn check_profile(profile: &CustomerProfile) -> Result<(), String> {
    let n = chars(&profile.id);
    if n == 0 || n > 128 {
        return Err(format!("profile id must be 1 to 128 characters, got {n}"));
    }
    if profile.name.as_deref().is_some_and(|s| chars(s) > 200) {
        return Err("profile name is longer than 200 characters".into());
    }
    if profile.tier.as_deref().is_some_and(|s| chars(s) > 64) {
        return Err("profile tier is longer than 64 characters".into());
    }
    if profile.attributes.len() > MAX_ATTRIBUTES {
        return Err(format!("{} profile attributes; at most {MAX_ATTRIBUTES}", profile.attributes.len()));
    }
    for (k, v) in &profile.attributes {
        if k.is_empty() || chars(k) > 64 || chars(v) > 1024 {
            return Err(format!("profile attribute `{k}` is empty or too long (keys ≤ 64, values ≤ 1024 characters)"));
        }
    }
    Ok(())
}

/// Check a manifest's own fields (roles are checked against exports elsewhere).
pub fn check_manifest(manifest: &Manifest) -> Result<(), String> {
    let name = &manifest.name;
    let kebab = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if !kebab {
        return Err(format!("manifest name `{name}` must be 1 to 64 characters of a-z, 0-9 and inner dashes"));
    }
    let version = &manifest.version;
    let semver_like = !version.is_empty()
        && version.len() <= 32
        && version.split('.').count() >= 2
        && version.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'));
    if !semver_like {
        return Err(format!("manifest version `{version}` is not a version like 1.2.0"));
    }
    if chars(&manifest.description) > 200 {
        return Err("manifest description is longer than 200 characters".into());
    }
    if manifest.capabilities.len() > 16 {
        return Err("manifest asks for more than 16 capabilities".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Handoff, Priority};

    #[test]
    fn intents_are_bounded() {
        let l = Limits::default();
        assert!(check_intents(&l, &[Intent { label: "a".into(), confidence: 0.5 }]).is_ok());
        assert!(check_intents(&l, &[Intent { label: "a".into(), confidence: f32::NAN }]).is_err());
        assert!(check_intents(&l, &[Intent { label: "a".into(), confidence: 1.5 }]).is_err());
        assert!(check_intents(&l, &[Intent { label: "".into(), confidence: 0.5 }]).is_err());
        let many: Vec<Intent> = (0..33).map(|i| Intent { label: format!("l{i}"), confidence: 0.1 }).collect();
        assert!(check_intents(&l, &many).unwrap_err().contains("33 intents"));
    }

    #[test]
    fn decisions_are_bounded() {
        let l = Limits::default();
        assert!(check_decision(&l, &Decision::default()).is_ok());
        let long = Decision { reply: Some("x".repeat(1601)), ..Decision::default() };
        assert!(check_decision(&l, &long).unwrap_err().contains("1601"));
        let exact = Decision { reply: Some("é".repeat(1600)), ..Decision::default() };
        assert!(check_decision(&l, &exact).is_ok());
        let both = Decision {
            handoff: Some(Handoff { reason: "x".into(), priority: Priority::Low, team: None }),
            resolve: true,
            ..Decision::default()
        };
        assert!(check_decision(&l, &both).is_err());
        let tags = Decision { add_tags: vec!["t".into(); 17], ..Decision::default() };
        assert!(check_decision(&l, &tags).is_err());
    }

    #[test]
    fn manifest_names_and_versions() {
        let mut m = Manifest {
            name: "keyword-intents".into(),
            version: "0.1.0".into(),
            description: String::new(),
            roles: vec![],
            capabilities: vec![],
        };
        assert!(check_manifest(&m).is_ok());
        m.name = "Bad Name".into();
        assert!(check_manifest(&m).is_err());
        m.name = "ok".into();
        m.version = "latest".into();
        assert!(check_manifest(&m).is_err());
    }
}
