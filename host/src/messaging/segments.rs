//! GSM-7 / UCS-2 encoding choice and segment counting, as carriers bill.
//!
//! A message is GSM-7 when every character is in the GSM 03.38 default
//! alphabet or its extension table (extension characters cost two septets:
//! ESC + code); otherwise the whole message is UCS-2 (UTF-16 code units, so
//! most emoji cost two). One segment holds 160 septets or 70 units; a
//! concatenated message loses room to the 6-octet header and holds 153 septets
//! or 67 units per segment. An escape pair or a surrogate pair is never split:
//! a character that does not fit moves whole to the next segment.

use serde::Serialize;

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

/// Encoding, segments and units of `text`.
pub fn analyze(text: &str) -> SegmentInfo {
    let gsm: Option<Vec<u32>> = text.chars().map(gsm_septets).collect();
    match gsm {
        Some(costs) => {
            SegmentInfo { encoding: Encoding::Gsm7, segments: count(&costs, 160, 153), units: costs.iter().sum() }
        }
        None => {
            let costs: Vec<u32> = text.chars().map(|c| c.len_utf16() as u32).collect();
            SegmentInfo { encoding: Encoding::Ucs2, segments: count(&costs, 70, 67), units: costs.iter().sum() }
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
    fn characters_outside_gsm_force_ucs2() {
        for text in ["`tick`", "“quoted”", "wait…", "a – b", "• item", "más"] {
            assert_eq!(analyze(text).encoding, Encoding::Ucs2, "{text}");
        }
        for text in ["Hello @ £5 ¥ è é", "Ça va? Ñandu", "{[~]}|^€\\"] {
            assert_eq!(analyze(text).encoding, Encoding::Gsm7, "{text}");
        }
        assert_eq!(analyze(""), SegmentInfo { encoding: Encoding::Gsm7, segments: 0, units: 0 });
    }
}
