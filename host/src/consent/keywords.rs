//! Opt-out, opt-in and help keywords, matched as a whole message after
//! trimming, case folding and stripping punctuation (FACTS.md §5.1).

use serde::Deserialize;

/// Opt-out keywords: CTIA, the FCC's per-se reasonable words, Twilio's
/// defaults (REVOKE, OPTOUT) and ARRET for Canadian French.
pub const OPT_OUT: &[&str] =
    &["stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout", "opt out", "arret"];
/// Opt-in keywords.
pub const OPT_IN: &[&str] = &["start", "yes", "unstop"];
/// Help keywords.
pub const HELP: &[&str] = &["help", "info"];

/// A tenant's keyword lists: the defaults plus its own additions (a tenant
/// can extend the lists, never shrink them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keywords {
    /// Extra opt-out keywords.
    #[serde(default)]
    pub opt_out: Vec<String>,
    /// Extra opt-in keywords.
    #[serde(default)]
    pub opt_in: Vec<String>,
    /// Extra help keywords.
    #[serde(default)]
    pub help: Vec<String>,
}

/// Which list a keyword is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeywordKind {
    /// Opt-out.
    OptOut,
    /// Opt-in.
    OptIn,
    /// Help.
    Help,
}

impl Keywords {
    /// The keyword `normalized` (a whole message, see [`normalize`]) is, if any.
    pub fn find(&self, normalized: &str) -> Option<(KeywordKind, String)> {
        let on = |defaults: &[&str], extra: &[String]| {
            defaults.contains(&normalized) || extra.iter().any(|k| normalize(k) == normalized)
        };
        if normalized.is_empty() {
            None
        } else if on(OPT_OUT, &self.opt_out) {
            Some((KeywordKind::OptOut, normalized.to_uppercase()))
        } else if on(OPT_IN, &self.opt_in) {
            Some((KeywordKind::OptIn, normalized.to_uppercase()))
        } else if on(HELP, &self.help) {
            Some((KeywordKind::Help, normalized.to_uppercase()))
        } else {
            None
        }
    }
}

/// Lower-case, strip accents from Latin letters, turn everything that is not
/// a letter or digit into a space, and collapse spaces: `"  Opt-Out!! "` is
/// `"opt out"`, `"ARRÊT"` is `"arret"`, `"No más"` is `"no mas"`.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars().flat_map(char::to_lowercase) {
        let c = fold_accent(c);
        if c.is_alphanumeric() {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.push(c);
        } else if c == '\'' || c == '’' {
            // Contractions stay one word: "don't" is "dont".
        } else {
            space = true;
        }
    }
    out
}

fn fold_accent(c: char) -> char {
    match c {
        'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' => 'a',
        'é' | 'è' | 'ê' | 'ë' => 'e',
        'í' | 'ì' | 'î' | 'ï' => 'i',
        'ó' | 'ò' | 'ô' | 'ö' | 'õ' => 'o',
        'ú' | 'ù' | 'û' | 'ü' => 'u',
        'ñ' => 'n',
        'ç' => 'c',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_case_punctuation_accents_and_contractions() {
        assert_eq!(normalize("  Opt-Out!! "), "opt out");
        assert_eq!(normalize("ARRÊT"), "arret");
        assert_eq!(normalize("No más mensajes."), "no mas mensajes");
        assert_eq!(normalize("Don't stop"), "dont stop");
        assert_eq!(normalize("STOP\n"), "stop");
        assert_eq!(normalize("🛑 stop 🛑"), "stop");
        assert_eq!(normalize("..."), "");
    }

    #[test]
    fn every_listed_keyword_matches_in_any_dress() {
        let k = Keywords::default();
        for word in ["STOP", "stop.", " Stop! ", "STOPALL", "Unsubscribe", "CANCEL", "end", "Quit", "REVOKE", "OPTOUT"]
        {
            assert_eq!(k.find(&normalize(word)).map(|f| f.0), Some(KeywordKind::OptOut), "{word}");
        }
        for word in ["OPT OUT", "opt-out", "ARRET", "Arrêt"] {
            assert_eq!(k.find(&normalize(word)).map(|f| f.0), Some(KeywordKind::OptOut), "{word}");
        }
        for word in ["START", "yes", "Unstop!"] {
            assert_eq!(k.find(&normalize(word)).map(|f| f.0), Some(KeywordKind::OptIn), "{word}");
        }
        for word in ["HELP", "info?"] {
            assert_eq!(k.find(&normalize(word)).map(|f| f.0), Some(KeywordKind::Help), "{word}");
        }
        for text in ["stop by tomorrow", "yes please", "", "help me with my order"] {
            assert_eq!(k.find(&normalize(text)), None, "{text}");
        }
    }

    #[test]
    fn tenants_extend_the_lists() {
        let k = Keywords { opt_out: vec!["BAJA".into()], opt_in: vec!["Alta".into()], help: vec!["ayuda".into()] };
        assert_eq!(k.find("baja").map(|f| f.0), Some(KeywordKind::OptOut));
        assert_eq!(k.find("alta").map(|f| f.0), Some(KeywordKind::OptIn));
        assert_eq!(k.find("ayuda").map(|f| f.0), Some(KeywordKind::Help));
        assert_eq!(k.find("stop").map(|f| f.0), Some(KeywordKind::OptOut), "defaults stay");
    }
}
