//! GSM-7 / UCS-2 encoding choice and segment counting, as carriers bill.
//!
//! A message is GSM-7 when every character is in the GSM 03.38 default
//! alphabet or its extension table (extension characters cost two septets:
//! ESC + code); otherwise the whole message is UCS-2 (UTF-16 code units, so
//! most emoji cost two). One segment holds 160 septets or 70 units; a
//! concatenated message loses room to the 6-octet header and holds 153 septets
//! or 67 units per segment. Nothing a reader sees as one character is split:
//! an escape pair, a surrogate pair, or a whole grapheme cluster (UAX #29: a
//! ZWJ emoji sequence such as 👨‍👩‍👧‍👦 or 🏳️‍🌈, a regional-indicator flag, a letter
//! with combining marks) moves whole to the next segment when it does not
//! fit, as Twilio's segment calculator does; so a text dense with clusters can
//! take a segment more than counting UTF-16 units gives. (CRLF, one cluster,
//! counts as two characters, as there; a cluster longer than a whole segment
//! cannot be kept together and is split between its scalars.)

use serde::Serialize;
use unicode_segmentation::UnicodeSegmentation;

/// How a message is encoded on the air.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Encoding {
    /// The GSM 03.38 7-bit default alphabet.
    #[serde(rename = "GSM-7")]
    Gsm7,
    /// UCS-2 (UTF-16 code units).
    #[serde(rename = "UCS-2")]
    Ucs2,
}

impl Encoding {
    /// The name used in storage and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Gsm7 => "GSM-7",
            Encoding::Ucs2 => "UCS-2",
        }
    }
}

/// The encoding, the number of segments and the units (septets or UTF-16 units) of a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SegmentInfo {
    /// GSM-7 or UCS-2.
    pub encoding: Encoding,
    /// Segments billed; 0 for an empty text.
    pub segments: u32,
    /// Septets (GSM-7) or UTF-16 code units (UCS-2) of the whole text.
    pub units: u32,
    /// Characters as a reader counts them (grapheme clusters; CRLF is two).
    pub characters: u32,
}

/// The GSM 03.38 default alphabet (one septet each).
const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u{1b}ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// The extension table (two septets each: ESC + code).
const GSM_EXTENSION: &str = "\u{0c}^{}\\[~]|€";

/// Septets a character costs in GSM-7, or `None` if it is not in GSM-7.
/// (ESC itself is listed in the table but is not a character a text can carry.)
fn gsm_septets(c: char) -> Option<u32> {
    // ASCII (most texts) from a table built once; the rest by search.
    static ASCII: std::sync::LazyLock<[u8; 128]> = std::sync::LazyLock::new(|| {
        let mut table = [0u8; 128];
        for c in GSM_BASIC.chars().filter(char::is_ascii) {
            table[c as usize] = 1;
        }
        for c in GSM_EXTENSION.chars().filter(char::is_ascii) {
            table[c as usize] = 2;
        }
        table[0x1b] = 0;
        table
    });
    if c.is_ascii() {
        return match ASCII[c as usize] {
            0 => None,
            n => Some(u32::from(n)),
        };
    }
    if GSM_BASIC.contains(c) {
        Some(1)
    } else if GSM_EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// Segments for characters of the given costs, moving a character that does
/// not fit whole to the next segment.
fn count(costs: &[u32], single: u32, multi: u32) -> u32 {
    let total: u32 = costs.iter().sum();
    if total == 0 {
        return 0;
    }
    if total <= single {
        return 1;
    }
    let mut segments = 1;
    let mut used = 0;
    for &cost in costs {
        if used + cost > multi {
            segments += 1;
            used = 0;
        }
        used += cost;
    }
    segments
}

/// The text's grapheme clusters, with CRLF as two (Twilio's calculator does the same).
fn clusters(text: &str) -> impl Iterator<Item = &str> {
    text.graphemes(true).flat_map(|g| if g == "\r\n" { vec!["\r", "\n"] } else { vec![g] })
}

/// Encoding, segments and units of `text`.
pub fn analyze(text: &str) -> SegmentInfo {
    let characters = clusters(text).count() as u32;
    let gsm: Option<Vec<u32>> = text.chars().map(gsm_septets).collect();
    match gsm {
        // Every GSM-7 character is one scalar, so its clusters are its characters.
        Some(costs) => SegmentInfo {
            encoding: Encoding::Gsm7,
            segments: count(&costs, 160, 153),
            units: costs.iter().sum(),
            characters,
        },
        None => {
            let mut costs: Vec<u32> = Vec::new();
            for cluster in clusters(text) {
                let units = cluster.encode_utf16().count() as u32;
                if units <= 67 {
                    costs.push(units);
                } else {
                    // Longer than a whole segment: it has to be split, between scalars.
                    costs.extend(cluster.chars().map(|c| c.len_utf16() as u32));
                }
            }
            SegmentInfo {
                encoding: Encoding::Ucs2,
                segments: count(&costs, 70, 67),
                units: costs.iter().sum(),
                characters,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits(n: usize) -> String {
        "1234567890".chars().cycle().take(n).collect()
    }

    fn check(text: &str, encoding: Encoding, segments: u32) {
        let info = analyze(text);
        assert_eq!((info.encoding, info.segments), (encoding, segments), "{text:?} -> {info:?}");
    }

    /// The cases of Twilio's message-segment-calculator (FACTS.md §6.3).
    #[test]
    fn twilio_calculator_cases() {
        check(&digits(160), Encoding::Gsm7, 1);
        check(&digits(161), Encoding::Gsm7, 2);
        check(&digits(307), Encoding::Gsm7, 3);
        check(&format!("😜{}", digits(68)), Encoding::Ucs2, 1);
        check(&format!("😜{}", digits(69)), Encoding::Ucs2, 2);
        check(&format!("😜{}", digits(133)), Encoding::Ucs2, 3);
        check(&format!("🇮🇹{}", digits(66)), Encoding::Ucs2, 1);
        check(&format!("🇮🇹{}", digits(67)), Encoding::Ucs2, 2);
        check(&format!("🏳\u{fe0f}\u{200d}🌈{}", digits(64)), Encoding::Ucs2, 1);
        check(&format!("🏳\u{fe0f}\u{200d}🌈{}", digits(65)), Encoding::Ucs2, 2);
        for escape in ['|', '^', '€', '{', '}', '[', ']', '~', '\\'] {
            check(&format!("{escape}{}", digits(158)), Encoding::Gsm7, 1);
            check(&format!("{escape}{}", digits(159)), Encoding::Gsm7, 2);
        }
        for c in ['Á', 'Ú', 'ú', 'ç', 'í', 'Í', 'ó', 'Ó'] {
            check(&c.to_string().repeat(70), Encoding::Ucs2, 1);
            check(&c.to_string().repeat(71), Encoding::Ucs2, 2);
        }
        // A GSM extension character inside a UCS-2 message costs one unit.
        check(&format!("😀{}", "]".repeat(68)), Encoding::Ucs2, 1);
        check(&format!("😀{}", "]".repeat(69)), Encoding::Ucs2, 2);
        // A grapheme of four scalars (e + three combining accents).
        check(&format!("e\u{301}\u{301}\u{301}{}", "a".repeat(66)), Encoding::Ucs2, 1);
        check(&format!("e\u{301}\u{301}\u{301}{}", "a".repeat(67)), Encoding::Ucs2, 2);
        // CRLF counts as two characters.
        assert_eq!(analyze("\rabcde\r\n123").units, 11);
    }

    #[test]
    fn escape_pairs_are_never_split() {
        check(&"a".repeat(306), Encoding::Gsm7, 2);
        check(&"a".repeat(307), Encoding::Gsm7, 3);
        check(&"a".repeat(459), Encoding::Gsm7, 3);
        check(&"a".repeat(460), Encoding::Gsm7, 4);
        check(&"€".repeat(80), Encoding::Gsm7, 1);
        check(&"€".repeat(81), Encoding::Gsm7, 2);
        // 306 septets, but the € cannot straddle segments 1 and 2.
        check(&format!("{}€{}", "a".repeat(152), "a".repeat(152)), Encoding::Gsm7, 3);
    }

    #[test]
    fn surrogate_pairs_are_never_split() {
        // 66 units then an emoji: the emoji moves to segment 2, so 134 units need
        // 3 segments where a naive ceil(134 / 67) says 2.
        let text = format!("{}😀{}", "ú".repeat(66), "ú".repeat(66));
        assert_eq!(analyze(&text).units, 134);
        assert_eq!(analyze(&text).segments, 3);
    }

    #[test]
    fn grapheme_clusters_are_never_split() {
        let rainbow = "🏳\u{fe0f}\u{200d}🌈"; // 6 units
        // 11 flags fill a 67-unit segment (66); the 12th cannot be split, so
        // 67 flags (402 units: 6 segments by units alone) take 7.
        assert_eq!(analyze(&rainbow.repeat(67)).units, 402);
        assert_eq!(analyze(&rainbow.repeat(67)).segments, 7);
        assert_eq!(analyze(&rainbow.repeat(67)).characters, 67);
        // A family (11 units) after 60 units does not start in segment 1.
        let family = "👨\u{200d}👩\u{200d}👧\u{200d}👦";
        let text = format!("{}{family}{}", "ú".repeat(60), "ú".repeat(60));
        assert_eq!(analyze(&text).units, 131);
        assert_eq!(analyze(&text).segments, 3, "60 + (family moved) 11 + 60 > 67");
        // Flags are pairs of regional indicators; a letter with combining marks is one character.
        assert_eq!(analyze(&"🇮🇹".repeat(17)).characters, 17);
        assert_eq!(analyze(&"🇮🇹".repeat(17)).segments, 1, "68 units");
        assert_eq!(analyze(&"🇮🇹".repeat(18)).segments, 2);
        assert_eq!(analyze("e\u{301}\u{302}x").characters, 2);
        // CRLF is two characters, as in Twilio's calculator.
        assert_eq!(analyze("a\r\nb").characters, 4);
    }

    #[test]
    fn a_cluster_longer_than_a_segment_is_split_between_scalars() {
        // One base letter with 100 combining marks: 101 units, no segment holds it whole.
        let text = format!("e{}", "\u{301}".repeat(100));
        let info = analyze(&text);
        assert_eq!((info.units, info.characters), (101, 1));
        assert_eq!(info.segments, 2);
    }

    #[test]
    fn characters_outside_gsm_force_ucs2() {
        for text in ["`tick`", "“quoted”", "wait…", "a – b", "• item", "más"] {
            assert_eq!(analyze(text).encoding, Encoding::Ucs2, "{text}");
        }
        for text in ["Hello @ £5 ¥ è é", "Ça va? Ñandu", "{[~]}|^€\\"] {
            assert_eq!(analyze(text).encoding, Encoding::Gsm7, "{text}");
        }
        assert_eq!(analyze(""), SegmentInfo { encoding: Encoding::Gsm7, segments: 0, units: 0, characters: 0 });
    }
}
