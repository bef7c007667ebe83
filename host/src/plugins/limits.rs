//! Limits on a plugin call and the checks of what a plugin returns.
//!
//! Everything a plugin says is cleaned here before anyone acts on it:
//! sizes are bounded, text with control characters (but newline where a
//! line break makes sense) or Unicode bidi controls is refused as invalid
//! output, and card numbers, SSNs and passwords are masked with the same
//! redaction the webhook applies to inbound text (`messaging::redact`).

use crate::domain::{CustomerProfile, Decision, Intent, Manifest};
use crate::messaging::redact::{Redactions, redact};
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
    /// Longest reply in UTF-16 code units, as the provider counts its
    /// 1,600 `Body` limit (an emoji is two).
    pub max_reply_units: usize,
    /// Most segments a reply may cost (GSM-7: 153 characters each,
    /// UCS-2: 67 units each, once a text needs more than one).
    pub max_reply_segments: u32,
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

/// Deadline of the one `manifest` call made when a plugin is loaded (start-up
/// included). It is not per message, so it is generous: loading happens while
/// the host may be busy compiling other components, and a wall-clock 100 ms on
/// a loaded two-core machine is a coin toss. A start function or manifest that
/// never ends still stops here.
pub const MANIFEST_DEADLINE: Duration = Duration::from_secs(1);

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
            max_reply_units: 1600,
            max_reply_segments: 10,
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

/// Why a character may not appear in plugin text, if it may not: C0
/// controls but newline (where `newline` allows it), DEL, C1 controls, and
/// the Unicode bidi embeddings, overrides and isolates (U+202A–U+202E,
/// U+2066–U+2069), which make text read differently from what it is.
fn forbidden(c: char, newline: bool) -> Option<&'static str> {
    match c {
        '\n' if newline => None,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' => Some("a control character"),
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => Some("a bidi override"),
        _ => None,
    }
}

/// Refuse text with a character [`forbidden`] names.
pub fn check_text(what: &str, text: &str, newline: bool) -> Result<(), String> {
    match text.chars().enumerate().find_map(|(i, c)| forbidden(c, newline).map(|why| (i, c, why))) {
        None => Ok(()),
        Some((i, c, why)) => Err(format!("{what} contains U+{:04X} ({why}) at character {}", c as u32, i + 1)),
    }
}

/// Mask what [`redact`] masks in `text`, adding to `found`.
fn scrub(text: &mut String, found: &mut Redactions) {
    let (clean, r) = redact(text);
    if r.any() {
        *text = clean;
        found.cards += r.cards;
        found.ssns += r.ssns;
        found.passwords += r.passwords;
    }
}

/// Check a classifier's output and mask what must not be stored (labels are shown to agents).
pub fn clean_intents(limits: &Limits, intents: &mut [Intent]) -> Result<Redactions, String> {
    check_intents(limits, intents)?;
    let mut found = Redactions::default();
    for intent in intents {
        scrub(&mut intent.label, &mut found);
    }
    Ok(found)
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
        check_text("an intent label", &intent.label, false)?;
        if !intent.confidence.is_finite() || !(0.0..=1.0).contains(&intent.confidence) {
            return Err(format!("intent `{}` has confidence {} outside 0.0..=1.0", intent.label, intent.confidence));
        }
    }
    Ok(())
}

/// Check a responder's decision and mask what must not be sent or stored
/// (returning what was masked).
pub fn clean_decision(limits: &Limits, decision: &mut Decision) -> Result<Redactions, String> {
    let mut found = Redactions::default();
    if let Some(reply) = &mut decision.reply {
        if reply.trim().is_empty() {
            return Err("reply is empty".into());
        }
        check_text("the reply", reply, true)?;
        scrub(reply, &mut found);
        let units = reply.encode_utf16().count();
        if units > limits.max_reply_units {
            return Err(format!(
                "reply is {units} UTF-16 units (what the provider counts); at most {} are allowed",
                limits.max_reply_units
            ));
        }
        let info = crate::messaging::segments::analyze(reply);
        if info.segments > limits.max_reply_segments {
            return Err(format!(
                "reply would be {} {} segments; at most {} are allowed",
                info.segments,
                info.encoding.as_str(),
                limits.max_reply_segments
            ));
        }
    }
    if let Some(handoff) = &mut decision.handoff {
        let n = chars(&handoff.reason);
        if n == 0 || n > MAX_REASON_CHARS {
            return Err(format!("handoff reason must be 1 to {MAX_REASON_CHARS} characters, got {n}"));
        }
        check_text("the handoff reason", &handoff.reason, true)?;
        scrub(&mut handoff.reason, &mut found);
        if let Some(team) = &handoff.team {
            let n = chars(team);
            if n == 0 || n > MAX_TEAM_CHARS {
                return Err(format!("handoff team must be 1 to {MAX_TEAM_CHARS} characters, got {n}"));
            }
            check_text("the handoff team", team, false)?;
        }
        if decision.resolve {
            return Err("a decision cannot both resolve and hand off".into());
        }
    }
    if decision.add_tags.len() > limits.max_tags {
        return Err(format!("{} tags; at most {} are allowed", decision.add_tags.len(), limits.max_tags));
    }
    for tag in &mut decision.add_tags {
        let n = chars(tag);
        if n == 0 || n > MAX_TAG_CHARS {
            return Err(format!("tag must be 1 to {MAX_TAG_CHARS} characters, got {n}"));
        }
        check_text("a tag", tag, false)?;
        scrub(tag, &mut found);
    }
    Ok(found)
}

/// Check a CRM profile and mask what must not be stored or passed on
/// (returning what was masked).
pub fn clean_profile(profile: &mut CustomerProfile) -> Result<Redactions, String> {
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
    let mut found = Redactions::default();
    check_text("the profile id", &profile.id, false)?;
    scrub(&mut profile.id, &mut found);
    for (what, field) in [("the profile name", &mut profile.name), ("the profile tier", &mut profile.tier)] {
        if let Some(value) = field {
            check_text(what, value, false)?;
            scrub(value, &mut found);
        }
    }
    for (k, v) in &mut profile.attributes {
        if k.is_empty() || chars(k) > 64 || chars(v) > 1024 {
            return Err(format!("profile attribute `{k}` is empty or too long (keys ≤ 64, values ≤ 1024 characters)"));
        }
        check_text("a profile attribute name", k, false)?;
        check_text(&format!("profile attribute `{k}`"), v, true)?;
        scrub(v, &mut found);
    }
    Ok(found)
}

/// Text a plugin wrote that the host shows or logs (its error messages):
/// controls and bidi overrides become visible escapes, card numbers, SSNs
/// and passwords are masked. Never refused: it explains a failure.
pub fn plugin_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match forbidden(c, false) {
            None => out.push(c),
            Some(_) => match c {
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            },
        }
    }
    redact(&out).0
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
    fn profiles_are_bounded_and_masked() {
        let ok = || CustomerProfile {
            id: "cus_1".into(),
            name: Some("Ana".into()),
            tier: Some("gold".into()),
            attributes: vec![("last-order-id".into(), "1042".into())],
        };
        let check = |change: &dyn Fn(&mut CustomerProfile)| {
            let mut p = ok();
            change(&mut p);
            clean_profile(&mut p).map(|_| p)
        };
        assert_eq!(check(&|_| {}).unwrap(), ok());
        // At the bounds: accepted; one over: refused, saying which.
        assert!(check(&|p| p.id = "i".repeat(128)).is_ok());
        assert!(check(&|p| p.id = "i".repeat(129)).unwrap_err().contains("got 129"));
        assert!(check(&|p| p.id = String::new()).unwrap_err().contains("got 0"));
        assert!(check(&|p| p.name = Some("n".repeat(200))).is_ok());
        assert!(check(&|p| p.name = Some("n".repeat(201))).unwrap_err().contains("name"));
        assert!(check(&|p| p.tier = Some("t".repeat(64))).is_ok());
        assert!(check(&|p| p.tier = Some("t".repeat(65))).unwrap_err().contains("tier"));
        let attrs = |n: usize| (0..n).map(|i| (format!("k{i}"), "v".to_string())).collect::<Vec<_>>();
        assert!(check(&|p| p.attributes = attrs(MAX_ATTRIBUTES)).is_ok());
        let too_many = check(&|p| p.attributes = attrs(MAX_ATTRIBUTES + 1)).unwrap_err();
        assert!(too_many.contains(&format!("at most {MAX_ATTRIBUTES}")), "{too_many}");
        assert!(check(&|p| p.attributes = vec![(String::new(), "v".into())]).is_err());
        assert!(check(&|p| p.attributes = vec![("k".repeat(65), "v".into())]).is_err());
        assert!(check(&|p| p.attributes = vec![("k".into(), "v".repeat(1024))]).is_ok());
        assert!(check(&|p| p.attributes = vec![("k".into(), "v".repeat(1025))]).is_err());
        // Controls are refused; cards, SSNs and passwords masked in every field.
        assert!(check(&|p| p.name = Some("Ana\u{202e}".into())).is_err());
        let masked = check(&|p| {
            p.name = Some("Dana 4111 1111 1111 1111".into());
            p.attributes = vec![("note".into(), "SSN 123-45-6789".into())];
        })
        .unwrap();
        assert_eq!(masked.name.as_deref(), Some("Dana ****1111"));
        assert_eq!(masked.attributes[0].1, "SSN ***-**-6789");
    }

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

    fn check_decision(l: &Limits, d: &Decision) -> Result<Decision, String> {
        let mut d = d.clone();
        clean_decision(l, &mut d).map(|_| d)
    }

    #[test]
    fn decisions_are_bounded() {
        let l = Limits::default();
        assert!(check_decision(&l, &Decision::default()).is_ok());
        let reply = |text: String| Decision { reply: Some(text), ..Decision::default() };
        // The provider counts UTF-16 units: 1,600 emoji are 3,200 of them.
        assert!(check_decision(&l, &reply("😀".repeat(1600))).unwrap_err().contains("3200 UTF-16 units"));
        assert!(check_decision(&l, &reply("x".repeat(1601))).unwrap_err().contains("1601"));
        // Segments: 10 GSM-7 segments hold 1,530 characters; 10 UCS-2 ones 330 emoji (a pair is never split).
        assert!(check_decision(&l, &reply("é".repeat(1530))).is_ok());
        assert!(check_decision(&l, &reply("é".repeat(1531))).unwrap_err().contains("11 GSM-7 segments"));
        assert!(check_decision(&l, &reply("😀".repeat(330))).is_ok());
        assert!(check_decision(&l, &reply("😀".repeat(331))).unwrap_err().contains("UCS-2 segments"));
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
    fn controls_and_bidi_overrides_are_invalid_output() {
        let l = Limits::default();
        let reply = |text: &str| Decision { reply: Some(text.into()), ..Decision::default() };
        assert!(check_decision(&l, &reply("line one\nline two")).is_ok());
        for bad in [
            "nul \0 here",
            "bell \u{7}",
            "cr \r",
            "tab \t",
            "del \u{7f}",
            "c1 \u{85}",
            "rlo \u{202e}gnp.exe",
            "isolate \u{2066}x\u{2069}",
        ] {
            let err = check_decision(&l, &reply(bad)).unwrap_err();
            assert!(err.contains("control character") || err.contains("bidi override"), "{bad:?}: {err}");
        }
        let tag = Decision { add_tags: vec!["vip\n".into()], ..Decision::default() };
        assert!(check_decision(&l, &tag).unwrap_err().contains("a tag contains U+000A"));
        let tag = Decision { add_tags: vec!["\u{202e}piv".into()], ..Decision::default() };
        assert!(check_decision(&l, &tag).is_err());
    }

    #[test]
    fn what_plugins_say_loses_cards_ssns_and_passwords() {
        let l = Limits::default();
        let mut d = Decision {
            reply: Some("card 4111 1111 1111 1111, also 4111-1111-1111-1111 and 4111111111111111".into()),
            handoff: Some(Handoff {
                reason: "customer SSN 123-45-6789, password: hunter2".into(),
                priority: Priority::Low,
                team: None,
            }),
            add_tags: vec!["card-4111111111111111".into()],
            resolve: false,
        };
        let found = clean_decision(&l, &mut d).unwrap();
        assert_eq!(d.reply.as_deref(), Some("card ****1111, also ****1111 and ****1111"));
        assert_eq!(d.handoff.unwrap().reason, "customer SSN ***-**-6789, password: ****");
        assert_eq!(d.add_tags, ["card-****1111"]);
        assert_eq!(found, Redactions { cards: 4, ssns: 1, passwords: 1 });
        let mut p = CustomerProfile {
            id: "cus_1".into(),
            name: Some("Dana".into()),
            tier: None,
            attributes: vec![("card".into(), "4111 1111 1111 1111".into())],
        };
        clean_profile(&mut p).unwrap();
        assert_eq!(p.attributes[0].1, "****1111");
        assert_eq!(plugin_text("boom\n2026 INFO forged 4111111111111111"), "boom\\n2026 INFO forged ****1111");
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
