//! `keyword-intents`: a classifier that matches phrases to intents.
//!
//! Phrases are matched as whole words after folding case and dropping
//! punctuation, so "Where's my ORDER?!" matches the phrase "where's my order".
//! Each matched phrase adds evidence; longer phrases count more. Intents and
//! phrases come from the tenant's configuration:
//!
//! ```toml
//! replace_defaults = false          # true: use only the intents below
//! [intents]
//! warranty = ["warranty", "guarantee", "still covered"]
//! order-status = ["where is my parcel"]   # extends the default phrases
//! ```
//!
//! The defaults cover order status, returns and refunds, billing and failed
//! payments, cancellation, store hours, asking for a person, and angry or
//! urgent language (`upset`).

use serde::Deserialize;
use smsdesk_sdk::{Classifier, ConversationContext, InboundMessage, Intent, Plugin, PluginError};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// The plugin type exported as a component.
pub struct KeywordIntents;

impl Plugin for KeywordIntents {
    const NAME: &'static str = "keyword-intents";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Classifies texts by configurable keyword phrases";
}

impl Classifier for KeywordIntents {
    fn classify(message: &InboundMessage, _context: &ConversationContext) -> Result<Vec<Intent>, PluginError> {
        let config: Config = smsdesk_sdk::config::document()?;
        let rules = Rules::from_config(&config)?;
        Ok(rules.classify(&message.body))
    }
}

smsdesk_sdk::export!(KeywordIntents: classifier);

/// The plugin's configuration.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Use only the configured intents, not the defaults.
    #[serde(default)]
    pub replace_defaults: bool,
    /// Phrases per intent label; they extend (or replace) the defaults.
    #[serde(default)]
    pub intents: BTreeMap<String, Vec<String>>,
}

/// The default phrases per intent.
pub const DEFAULT_INTENTS: &[(&str, &[&str])] = &[
    (
        "order-status",
        &[
            "where is my order",
            "wheres my order",
            "order status",
            "status of my order",
            "track my order",
            "tracking",
            "tracking number",
            "hasnt arrived",
            "has not arrived",
            "hasnt moved",
            "not arrived",
            "not received",
            "didnt receive",
            "did not receive",
            "when will my order",
            "when will it arrive",
            "when will i get",
            "shipped",
            "shipping",
            "delivery",
            "delivered",
            "package",
            "parcel",
            "order",
            "late",
        ],
    ),
    (
        "returns",
        &[
            "return",
            "returns",
            "refund",
            "refunds",
            "money back",
            "send it back",
            "send back",
            "exchange",
            "wrong size",
            "doesnt fit",
            "does not fit",
            "damaged",
            "broken",
            "defective",
        ],
    ),
    (
        "billing",
        &[
            "payment failed",
            "payment declined",
            "payment didnt go through",
            "card declined",
            "declined",
            "charged twice",
            "double charged",
            "overcharged",
            "charged",
            "charge",
            "invoice",
            "billing",
            "bill",
            "dispute",
            "unauthorized",
            "payment",
            "receipt",
        ],
    ),
    (
        "cancellation",
        &[
            "cancel my order",
            "cancel my subscription",
            "cancel the order",
            "cancel order",
            "cancel subscription",
            "cancel",
            "cancellation",
            "end my subscription",
        ],
    ),
    (
        "store-hours",
        &[
            "hours",
            "opening hours",
            "open today",
            "are you open",
            "when do you open",
            "when do you close",
            "what time do you open",
            "what time do you close",
            "closing time",
            "open on sunday",
            "holiday hours",
        ],
    ),
    (
        "human-request",
        &[
            "talk to a person",
            "talk to a human",
            "speak to a person",
            "speak to someone",
            "talk to someone",
            "real person",
            "a person",
            "a human",
            "human",
            "agent",
            "representative",
            "customer service",
            "call me",
            "manager",
        ],
    ),
    (
        "upset",
        &[
            "angry",
            "furious",
            "ridiculous",
            "unacceptable",
            "terrible",
            "awful",
            "worst",
            "scam",
            "lawyer",
            "sue",
            "asap",
            "urgent",
            "immediately",
            "right now",
            "fed up",
            "wtf",
            "never again",
            "disgusted",
        ],
    ),
];

/// At most this many intents are returned (the host's limit is 32).
pub const MAX_INTENTS: usize = 8;

/// Matching rules: normalised phrases per intent. The defaults are borrowed
/// from [`DEFAULT_INTENTS`] as they are (they are written normalised), so a
/// call with the default configuration allocates almost nothing: the plugin
/// runs in a fresh instance for every message and cannot cache between calls.
#[derive(Debug, Clone)]
pub struct Rules {
    intents: Vec<(Cow<'static, str>, Vec<Phrase>)>,
}

#[derive(Debug, Clone)]
struct Phrase {
    /// The normalised phrase (lower-case words separated by single spaces).
    text: Cow<'static, str>,
    /// How much one match of this phrase says, from its word count.
    weight: f32,
}

impl Phrase {
    fn new(text: Cow<'static, str>) -> Phrase {
        let words = text.split(' ').count() as f32;
        Phrase { weight: (0.45 + 0.15 * words).min(0.9), text }
    }
}

impl Rules {
    /// The default rules.
    pub fn defaults() -> Rules {
        Rules::from_config(&Config::default()).expect("the default rules are valid")
    }

    /// Rules from a configuration: the defaults extended (or replaced) by it.
    pub fn from_config(config: &Config) -> Result<Rules, PluginError> {
        let mut intents: Vec<(Cow<'static, str>, Vec<Phrase>)> = Vec::new();
        if !config.replace_defaults {
            for (label, phrases) in DEFAULT_INTENTS {
                let phrases = phrases.iter().map(|p| Phrase::new(Cow::Borrowed(*p))).collect();
                intents.push((Cow::Borrowed(*label), phrases));
            }
        }
        for (label, phrases) in &config.intents {
            if label.is_empty() || label.len() > 64 {
                return Err(PluginError::bad_config(format!("intent label `{label}` must be 1 to 64 characters")));
            }
            let compiled =
                phrases.iter().map(|p| normalize(p)).filter(|p| !p.is_empty()).map(|p| Phrase::new(Cow::Owned(p)));
            match intents.iter_mut().find(|(l, _)| l == label) {
                Some((_, existing)) => existing.extend(compiled),
                None => intents.push((Cow::Owned(label.clone()), compiled.collect())),
            }
        }
        Ok(Rules { intents })
    }

    /// The intents found in `text`, most confident first.
    pub fn classify(&self, text: &str) -> Vec<Intent> {
        let text = normalize(text);
        let mut found: Vec<Intent> = Vec::new();
        for (label, phrases) in &self.intents {
            // Independent evidence: 1 - product of (1 - weight) over matched phrases.
            let mut miss = 1.0f32;
            for phrase in phrases {
                if contains_words(&text, &phrase.text) {
                    miss *= 1.0 - phrase.weight;
                }
            }
            if miss < 1.0 {
                let confidence = ((1.0 - miss) * 100.0).round() / 100.0;
                found.push(Intent::new(label.to_string(), confidence.min(0.99)));
            }
        }
        found.sort_by(|a, b| b.confidence.total_cmp(&a.confidence).then_with(|| a.label.cmp(&b.label)));
        found.truncate(MAX_INTENTS);
        found
    }
}

/// Whether `phrase` occurs in `text` as whole words (both normalised).
fn contains_words(text: &str, phrase: &str) -> bool {
    let bytes = text.as_bytes();
    text.match_indices(phrase).any(|(start, _)| {
        let end = start + phrase.len();
        (start == 0 || bytes[start - 1] == b' ') && (end == bytes.len() || bytes[end] == b' ')
    })
}

/// Lower-case, drop apostrophes, turn other punctuation into spaces, collapse spaces.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = true;
    for c in text.chars() {
        if c == '\'' || c == '’' {
            continue;
        }
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
            space = false;
        } else if !c.is_ascii() && c.is_alphanumeric() {
            out.extend(c.to_lowercase());
            space = false;
        } else if !space {
            out.push(' ');
            space = true;
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn top(text: &str) -> Option<String> {
        Rules::defaults().classify(text).first().map(|i| i.label.clone())
    }

    #[test]
    fn order_status_from_the_issue() {
        let intents = Rules::defaults().classify("Where is my order? Tracking hasn't moved");
        assert_eq!(intents[0].label, "order-status");
        assert!(intents[0].confidence > 0.9, "{intents:?}");
    }

    #[test]
    fn defaults_cover_the_common_intents() {
        assert_eq!(top("I want a refund for the broken lamp").as_deref(), Some("returns"));
        assert_eq!(top("my payment failed again").as_deref(), Some("billing"));
        assert_eq!(top("please cancel my subscription").as_deref(), Some("cancellation"));
        assert_eq!(top("what time do you open on saturday?").as_deref(), Some("store-hours"));
        assert_eq!(top("can I talk to a person").as_deref(), Some("human-request"));
        assert_eq!(top("I want a person").as_deref(), Some("human-request"));
        assert_eq!(top("this is RIDICULOUS, unacceptable").as_deref(), Some("upset"));
        assert_eq!(top("thanks, have a nice day"), None);
    }

    #[test]
    fn matches_whole_words_only() {
        // "bill" must not match inside "billy", "sue" not inside "issue".
        assert_eq!(top("billy said hi"), None);
        assert_eq!(top("no issue at all"), None);
    }

    #[test]
    fn configuration_extends_and_replaces() {
        let mut intents = BTreeMap::new();
        intents.insert("warranty".to_string(), vec!["still covered".to_string()]);
        let extended = Rules::from_config(&Config { replace_defaults: false, intents: intents.clone() }).unwrap();
        assert_eq!(extended.classify("Is it still covered?")[0].label, "warranty");
        assert_eq!(extended.classify("where is my order")[0].label, "order-status");
        let replaced = Rules::from_config(&Config { replace_defaults: true, intents }).unwrap();
        assert!(replaced.classify("where is my order").is_empty());
    }

    #[test]
    fn rejects_bad_labels() {
        let mut intents = BTreeMap::new();
        intents.insert(String::new(), vec!["x".to_string()]);
        assert!(Rules::from_config(&Config { replace_defaults: false, intents }).is_err());
    }

    #[test]
    fn default_phrases_are_written_normalised() {
        for (label, phrases) in DEFAULT_INTENTS {
            for phrase in *phrases {
                assert_eq!(normalize(phrase), *phrase, "{label}: write the phrase normalised");
            }
        }
    }

    #[test]
    fn normalize_folds_case_and_punctuation() {
        assert_eq!(normalize("  Where's my ORDER?!  "), "wheres my order");
        assert_eq!(normalize("¿Dónde está?"), "dónde está");
    }
}
