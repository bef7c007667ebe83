//! What an inbound text means for consent: a whole-message keyword, or a
//! revocation in the customer's own words (the FCC's "any reasonable means").
//! Every verdict names why — the keyword or the detector rule — so an admin
//! can test phrasings with `smsdesk consent check`. Cases the rules cannot
//! settle are `Ambiguous`: flagged for an agent, never guessed silently.

use super::keywords::{KeywordKind, Keywords, normalize};
use serde::Serialize;

/// What the host does with an inbound text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Stop all messages to this number.
    OptOut,
    /// Resume messages (START/YES/UNSTOP).
    OptIn,
    /// Answer with the HELP text.
    Help,
    /// Possibly an opt-out: an agent decides.
    Ambiguous,
    /// Nothing to do with consent.
    None,
}

impl Verdict {
    /// `opt-out`, `opt-in`, `help`, `ambiguous` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::OptOut => "opt-out",
            Verdict::OptIn => "opt-in",
            Verdict::Help => "help",
            Verdict::Ambiguous => "ambiguous",
            Verdict::None => "none",
        }
    }
}

/// Why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "by", content = "name", rename_all = "kebab-case")]
pub enum Reason {
    /// The whole message is this keyword.
    Keyword(String),
    /// A detector rule matched.
    Rule(&'static str),
    /// Nothing matched.
    Nothing,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Keyword(k) => write!(f, "keyword {k}"),
            Reason::Rule(r) => write!(f, "detector rule {r}"),
            Reason::Nothing => write!(f, "no keyword or rule matched"),
        }
    }
}

/// The result of checking a text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What to do.
    pub verdict: Verdict,
    /// Why.
    pub reason: Reason,
}

/// Check an inbound text against a tenant's keywords and the detector.
pub fn check(text: &str, keywords: &Keywords) -> Check {
    let normalized = normalize(text);
    if let Some((kind, keyword)) = keywords.find(&normalized) {
        let verdict = match kind {
            KeywordKind::OptOut => Verdict::OptOut,
            KeywordKind::OptIn => Verdict::OptIn,
            KeywordKind::Help => Verdict::Help,
        };
        return Check { verdict, reason: Reason::Keyword(keyword) };
    }
    // "Thanks. STOP" — a sentence that is an opt-out keyword on its own
    // (not CANCEL or END: "Please cancel. The order is wrong" is about an order).
    for sentence in text.split(['.', '!', '?', '\n', ';', ',']) {
        let s = normalize(sentence);
        if !s.is_empty()
            && s != normalized
            && s != "cancel"
            && s != "end"
            && matches!(keywords.find(&s), Some((KeywordKind::OptOut, _)))
        {
            return Check { verdict: Verdict::OptOut, reason: Reason::Rule("keyword-sentence") };
        }
    }
    let tokens: Vec<&str> = normalized.split(' ').filter(|t| !t.is_empty()).collect();
    if let Some(rule) = opt_out_rule(&tokens) {
        return Check { verdict: Verdict::OptOut, reason: Reason::Rule(rule) };
    }
    if let Some(rule) = ambiguous_rule(&tokens) {
        return Check { verdict: Verdict::Ambiguous, reason: Reason::Rule(rule) };
    }
    Check { verdict: Verdict::None, reason: Reason::Nothing }
}

/// Words that ask to stop.
const STOP_WORDS: &[&str] = &["stop", "quit", "cease", "halt"];
/// What a stop word may be about for it to mean "stop messaging me".
const MESSAGING: &[&str] = &[
    "text",
    "texts",
    "texting",
    "txt",
    "txts",
    "txting",
    "message",
    "messages",
    "messaging",
    "msg",
    "msgs",
    "sms",
    "spam",
    "spamming",
    "notifications",
    "alerts",
    "reminders",
];
/// Verbs that mean messaging when aimed at the customer ("sending me").
const SEND_VERBS: &[&str] = &["sending", "contacting", "calling", "emailing", "writing", "bothering"];
const AT_ME: &[&str] = &["me", "us", "this", "these", "them", "my"];
/// Politeness and filler around a keyword ("stop please", "ok stop now").
const FILLER: &[&str] = &[
    "please",
    "pls",
    "plz",
    "now",
    "thanks",
    "thank",
    "you",
    "thx",
    "ty",
    "ok",
    "okay",
    "just",
    "already",
    "asap",
    "immediately",
    "all",
    "right",
    "away",
    "sir",
    "again",
];
/// Words that negate the next verb.
const NEGATIONS: &[&str] = &["dont", "not", "never", "cant", "wont", "didnt", "no", "shouldnt"];
/// Opt-out keywords as single tokens.
const KEYWORD_TOKENS: &[&str] = &["stop", "stopall", "unsubscribe", "quit", "revoke", "optout", "arret"];
/// Spanish whole-message opt-outs (with filler).
const ES_KEYWORDS: &[&str] =
    &["baja", "alto", "parar", "detener", "cancelar", "desuscribir", "desuscribirme", "basta", "darme de baja"];
const ES_FILLER: &[&str] = &["por", "favor", "porfa", "gracias", "ya", "ahora"];
const ES_MESSAGING: &[&str] = &["mensajes", "mensaje", "textos", "texto", "sms", "msj", "mensajitos", "notificaciones"];
const ES_SEND_PREFIXES: &[&str] = &["envi", "mand", "escrib", "contact", "llam", "molest", "text"];

fn negated(tokens: &[&str], i: usize) -> bool {
    (i >= 1 && NEGATIONS.contains(&tokens[i - 1])) || (i >= 2 && NEGATIONS.contains(&tokens[i - 2]))
}

fn has_seq(tokens: &[&str], seq: &[&str]) -> Option<usize> {
    if tokens.len() < seq.len() {
        return None;
    }
    (0..=tokens.len() - seq.len()).find(|&i| tokens[i..i + seq.len()] == *seq)
}

fn any_seq(tokens: &[&str], seqs: &[&[&str]]) -> bool {
    seqs.iter().any(|s| has_seq(tokens, s).is_some_and(|i| !negated(tokens, i)))
}

fn about_messaging(tokens: &[&str], from: usize, window: usize) -> bool {
    let end = (from + window).min(tokens.len());
    (from..end).any(|j| {
        MESSAGING.contains(&tokens[j])
            || (SEND_VERBS.contains(&tokens[j]) && (j + 1 == tokens.len() || AT_ME.contains(&tokens[j + 1])))
    })
}

fn opt_out_rule(t: &[&str]) -> Option<&'static str> {
    if t.is_empty() {
        return None;
    }
    // "stop please", "STOP STOP", "unsubscribe thanks", "stop it"
    let keyword_or_filler = |w: &&str| KEYWORD_TOKENS.contains(w) || FILLER.contains(w) || *w == "it" || *w == "me";
    if t.iter().any(|w| KEYWORD_TOKENS.contains(w)) && t.iter().all(keyword_or_filler) && !negated(t, t.len() - 1) {
        return Some("keyword-polite");
    }
    let strict_filler = |w: &&str| FILLER.contains(w) || ["cancel", "end", "opt", "out"].contains(w);
    if (t.contains(&"cancel") || t.contains(&"end") || has_seq(t, &["opt", "out"]).is_some())
        && t.iter().all(strict_filler)
    {
        return Some("keyword-polite");
    }
    // "please stop texting me", "stop sending me these", "quit messaging"
    for (i, w) in t.iter().enumerate() {
        if STOP_WORDS.contains(w) && !negated(t, i) && about_messaging(t, i + 1, 4) {
            return Some("stop-messaging");
        }
    }
    // "how do I unsubscribe", "I want to opt out", "optout"
    for (i, w) in t.iter().enumerate() {
        let opt_out = *w == "unsubscribe"
            || *w == "optout"
            || *w == "stopall"
            || *w == "unsub"
            || (*w == "opt" && t.get(i + 1) == Some(&"out"));
        if opt_out && !negated(t, i) {
            return Some("unsubscribe-request");
        }
    }
    if any_seq(t, &[&["remove", "me"], &["take", "me", "off"], &["delete", "my", "number"], &["delete", "me"]])
        || any_seq(t, &[&["remove", "my", "number"], &["lose", "my", "number"], &["opt", "me", "out"]])
        || any_seq(t, &[&["take", "my", "number"], &["remove", "this", "number"], &["unsubscribe", "me"]])
        || any_seq(t, &[&["off", "your", "list"], &["off", "the", "list"], &["off", "this", "list"]])
    {
        return Some("remove-me");
    }
    if let Some(i) = has_seq(t, &["no", "more"])
        && about_messaging(t, i + 2, 2)
    {
        return Some("no-more-messages");
    }
    for verb in ["text", "txt", "message", "msg", "contact", "sms", "spam"] {
        if has_seq(t, &["dont", verb, "me"]).is_some()
            || has_seq(t, &["do", "not", verb]).is_some()
            || has_seq(t, &["never", verb, "me"]).is_some()
        {
            return Some("do-not-text");
        }
    }
    if has_seq(t, &["leave", "me", "alone"]).is_some() {
        return Some("leave-me-alone");
    }
    if any_seq(t, &[&["said", "stop"], &["told", "you", "to", "stop"], &["asked", "you", "to", "stop"]]) {
        return Some("repeated-request");
    }
    if has_seq(t, &["wrong", "number"]).is_some() {
        return Some("wrong-number");
    }
    spanish_rule(t)
}

fn spanish_rule(t: &[&str]) -> Option<&'static str> {
    let rest: Vec<&str> = t.iter().copied().filter(|w| !ES_FILLER.contains(w)).collect();
    if ES_KEYWORDS.contains(&rest.join(" ").as_str()) {
        return Some("es-keyword");
    }
    if let Some(i) = has_seq(t, &["no", "mas"]) {
        let end = (i + 5).min(t.len());
        if t[i + 2..end].iter().any(|w| ES_MESSAGING.contains(w)) {
            return Some("es-no-mas-mensajes");
        }
    }
    let sends = |w: &str| ES_SEND_PREFIXES.iter().any(|p| w.starts_with(p));
    for (i, w) in t.iter().enumerate() {
        let stop_verb = ["dejen", "deja", "dejar", "deje", "paren", "parar", "dejes"].contains(w);
        if stop_verb && t.get(i + 1) == Some(&"de") && t.get(i + 2).is_some_and(|v| sends(v)) && !negated(t, i) {
            return Some("es-dejen-de");
        }
        if *w == "no"
            && t.get(i + 1) == Some(&"me")
            && t.get(i + 2).is_some_and(|v| sends(v))
            && !t[..i].contains(&"si")
        {
            return Some("es-no-me-envien");
        }
        if *w == "basta" && t[i + 1..].iter().take(3).any(|w| ES_MESSAGING.contains(w)) {
            return Some("es-basta");
        }
    }
    if has_seq(t, &["de", "baja"]).is_some() || has_seq(t, &["desuscribirme"]).is_some() {
        return Some("es-darse-de-baja");
    }
    for w in ["borrarme", "borrenme", "eliminenme", "sacame", "saquenme", "quitenme", "borrame"] {
        if t.contains(&w) {
            return Some("es-borrar");
        }
    }
    if any_seq(t, &[&["eliminen", "mi", "numero"], &["borren", "mi", "numero"], &["cancelar", "suscripcion"]])
        || any_seq(t, &[&["cancelar", "mi", "suscripcion"], &["cancelar", "la", "suscripcion"]])
    {
        return Some("es-borrar");
    }
    if let Some(i) = has_seq(t, &["no", "quiero"]) {
        let end = (i + 6).min(t.len());
        if t[i + 2..end].iter().any(|w| ES_MESSAGING.contains(w)) {
            return Some("es-no-quiero-mensajes");
        }
    }
    None
}

fn ambiguous_rule(t: &[&str]) -> Option<&'static str> {
    // A short message with a stop word that is not about anything else:
    // "omg stop", "can you stop", "make it stop", "how do I stop this".
    if t.len() <= 6 {
        for (i, w) in t.iter().enumerate() {
            if (KEYWORD_TOKENS.contains(w) || *w == "cancel") && !negated(t, i) {
                let after_is_empty = t[i + 1..].iter().all(|a| FILLER.contains(a) || AT_ME.contains(a) || *a == "it");
                if after_is_empty {
                    return Some("short-stop-request");
                }
            }
        }
    }
    if has_seq(t, &["not", "interested"]).is_some() || has_seq(t, &["no", "me", "interesa"]).is_some() {
        return Some("not-interested");
    }
    if t == ["para"] || t == ["ya", "para"] || t == ["end", "it"] {
        return Some("short-stop-request");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(text: &str) -> Verdict {
        check(text, &Keywords::default()).verdict
    }

    #[test]
    fn the_issue_examples() {
        for text in ["please stop texting me", "remove me from this list", "unsubscribe me", "no more texts"] {
            assert_eq!(verdict(text), Verdict::OptOut, "{text}");
        }
        assert_eq!(verdict("no más mensajes"), Verdict::OptOut);
        for text in ["don't stop the refund", "when does the store stop selling it?", "stop by tomorrow?"] {
            assert_eq!(verdict(text), Verdict::None, "{text}");
        }
    }

    #[test]
    fn reasons_name_the_keyword_or_rule() {
        let k = Keywords::default();
        assert_eq!(check("Stop!", &k).reason, Reason::Keyword("STOP".into()));
        assert_eq!(check("please stop texting me", &k).reason, Reason::Rule("stop-messaging"));
        assert_eq!(check("Thanks for everything. STOP", &k).reason, Reason::Rule("keyword-sentence"));
        assert_eq!(check("where is my order", &k).reason, Reason::Nothing);
    }
}
