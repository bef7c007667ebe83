//! Card numbers, SSNs and passwords out of text, before anything stores or
//! sees it: inbound messages in the webhook, and everything a plugin says
//! (replies, tags, reasons, profiles) before the host acts on it.
//!
//! [`redact`] applies all three; [`redact_cards`] only the first.
//!
//! A card number is a run of 13–19 digits, optionally in groups separated by
//! single spaces or dashes, that starts like a payment card (2–6) and passes
//! the Luhn check. It is replaced by `****` and its last four digits. Digits
//! right after a `+` are a phone number and left alone. In a longer run of
//! groups (a card followed by its expiry or CVV, say) every span of whole groups
//! is tried, so "4111 1111 1111 1111 123" still loses the card.

/// What [`redact`] masked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Redactions {
    /// Card numbers (kept: `****` and the last four digits).
    pub cards: usize,
    /// US Social Security numbers (kept: `***-**-` and the last four).
    pub ssns: usize,
    /// Passwords and passcodes after their keyword (kept: `****`).
    pub passwords: usize,
}

impl Redactions {
    /// Anything at all?
    pub fn any(&self) -> bool {
        self.cards + self.ssns + self.passwords > 0
    }
}

/// Text with card numbers, SSN-shaped numbers and passwords masked.
///
/// - An SSN is `AAA-GG-SSSS` or `AAA GG SSSS` (one separator kind) with a
///   possible area (not 000, 666 or 9xx), group (not 00) and serial (not
///   0000), not inside a longer run of digits; nine bare digits count only
///   right after `SSN` or `social security (number)`.
/// - A password is the word after `password`, `passwd`, `pwd`, `passcode`,
///   `passphrase`, `contraseña` or `clave` and a `:` or `=` — or after `is`,
///   `es` or `was` when that word looks like a secret (it has a digit, a
///   symbol or an inner capital: `hunter2`, not `incorrect`).
pub fn redact(text: &str) -> (String, Redactions) {
    // Most texts have too few digits for a card (13) or an SSN (9) and no
    // password word: a cheap look at the bytes first.
    let digits = text.bytes().filter(u8::is_ascii_digit).count();
    let bytes = text.as_bytes();
    let keyword = ["pass", "pwd", "contrase", "clave"]
        .iter()
        .any(|w| bytes.windows(w.len()).any(|window| window.eq_ignore_ascii_case(w.as_bytes())));
    if digits < 9 && !keyword {
        return (text.to_string(), Redactions::default());
    }
    let (text, cards) = if digits >= 13 { redact_cards(text) } else { (text.to_string(), 0) };
    let (text, ssns) = if digits >= 9 { redact_ssns(&text) } else { (text, 0) };
    let (text, passwords) = if keyword { redact_passwords(&text) } else { (text, 0) };
    (text, Redactions { cards, ssns, passwords })
}

fn ssn_parts_ok(area: &str, group: &str, serial: &str) -> bool {
    area != "000" && area != "666" && !area.starts_with('9') && group != "00" && serial != "0000"
}

fn redact_ssns(text: &str) -> (String, usize) {
    let chars: Vec<char> = text.chars().collect();
    let digits_at = |i: usize, n: usize| i + n <= chars.len() && chars[i..i + n].iter().all(char::is_ascii_digit);
    let mut out = String::with_capacity(text.len());
    let mut found = 0;
    let mut i = 0;
    while i < chars.len() {
        let starts_clean = i == 0 || !(chars[i - 1].is_ascii_digit() || chars[i - 1] == '+' || chars[i - 1] == '-');
        if starts_clean && digits_at(i, 3) {
            let s: String = chars[i..(i + 11).min(chars.len())].iter().collect();
            // AAA-GG-SSSS / AAA GG SSSS
            if chars.len() >= i + 11 {
                let sep = chars[i + 3];
                let shaped =
                    (sep == '-' || sep == ' ') && chars[i + 6] == sep && digits_at(i + 4, 2) && digits_at(i + 7, 4);
                let ends_clean = i + 11 == chars.len()
                    || !(chars[i + 11].is_ascii_digit() || (chars[i + 11] == sep && digits_at(i + 12, 1)));
                if shaped && ends_clean && ssn_parts_ok(&s[0..3], &s[4..6], &s[7..11]) {
                    out.push_str("***-**-");
                    out.push_str(&s[7..11]);
                    found += 1;
                    i += 11;
                    continue;
                }
            }
            // Nine bare digits right after an SSN keyword.
            if digits_at(i, 9) && (i + 9 == chars.len() || !chars[i + 9].is_ascii_digit()) {
                let before: String = chars[i.saturating_sub(32)..i].iter().collect::<String>().to_lowercase();
                let before = before.trim_end_matches([' ', ':', '#', '-', '=']).trim_end();
                let before = before.strip_suffix(" is").unwrap_or(before).trim_end();
                let keyword = before.ends_with("ssn")
                    || before.ends_with("social security")
                    || before.ends_with("social security number")
                    || before.ends_with("social security no");
                let d: String = chars[i..i + 9].iter().collect();
                if keyword && ssn_parts_ok(&d[0..3], &d[3..5], &d[5..9]) {
                    out.push_str("***-**-");
                    out.push_str(&d[5..9]);
                    found += 1;
                    i += 9;
                    continue;
                }
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    (out, found)
}

const PASSWORD_WORDS: &[&str] =
    &["password", "passwd", "pwd", "passcode", "passphrase", "contraseña", "contrasena", "clave"];

/// Does `word` look like a secret rather than a plain word?
fn secret_like(word: &str) -> bool {
    let mut chars = word.chars();
    let first = chars.next();
    word.chars().any(|c| c.is_ascii_digit() || !(c.is_alphanumeric()))
        || (first.is_some() && chars.any(char::is_uppercase))
}

/// Lower case, char by char, keeping every char's UTF-8 length (a char whose
/// lower case is longer or several chars stays as it is), so byte positions
/// in the result are byte positions in `s`.
fn fold(s: &str) -> String {
    s.chars()
        .map(|c| {
            let mut lower = c.to_lowercase();
            match (lower.next(), lower.next()) {
                (Some(l), None) if l.len_utf8() == c.len_utf8() => l,
                _ => c,
            }
        })
        .collect()
}

fn redact_passwords(text: &str) -> (String, usize) {
    let mut out = String::with_capacity(text.len());
    let mut found = 0;
    let mut rest = text;
    'scan: while !rest.is_empty() {
        let lower = fold(rest);
        // The earliest keyword that starts a word.
        let mut best: Option<(usize, usize)> = None;
        for word in PASSWORD_WORDS {
            let mut from = 0;
            while let Some(pos) = lower[from..].find(word).map(|p| p + from) {
                let boundary_before = lower[..pos].chars().next_back().is_none_or(|c| !c.is_alphanumeric());
                let end = pos + word.len();
                let boundary_after = lower[end..].chars().next().is_none_or(|c| !c.is_alphanumeric());
                if boundary_before && boundary_after {
                    if best.is_none_or(|(b, _)| pos < b) {
                        best = Some((pos, end));
                    }
                    break;
                }
                from = end;
            }
        }
        let Some((_, end)) = best else {
            out.push_str(rest);
            break;
        };
        out.push_str(&rest[..end]);
        let after = &rest[end..];
        // Separator: `:` / `=` (always), or `is` / `es` / `was` (a secret-like word only).
        let trimmed = after.trim_start();
        let mut strong = false;
        let mut sep_len = after.len() - trimmed.len();
        let mut value_part = trimmed;
        if let Some(v) = trimmed.strip_prefix(':').or_else(|| trimmed.strip_prefix('=')) {
            strong = true;
            sep_len += 1;
            value_part = v;
        } else {
            let lower_t = fold(trimmed);
            let mut matched = false;
            for w in ["is", "es", "was", "will be"] {
                if lower_t.starts_with(w) && lower_t[w.len()..].starts_with(|c: char| c.is_whitespace()) {
                    sep_len += w.len();
                    value_part = &trimmed[w.len()..];
                    matched = true;
                    break;
                }
            }
            if !matched {
                rest = after;
                continue 'scan;
            }
        }
        let value_trimmed = value_part.trim_start();
        sep_len += value_part.len() - value_trimmed.len();
        let token_len = value_trimmed.find(char::is_whitespace).unwrap_or(value_trimmed.len());
        let mut token = &value_trimmed[..token_len];
        // Sentence punctuation after the secret stays.
        let kept_tail = token.len() - token.trim_end_matches(['.', ',', ';', '!', '?', ')']).len();
        token = &token[..token.len() - kept_tail];
        if token.is_empty() || !(strong || secret_like(token)) {
            rest = after;
            continue 'scan;
        }
        out.push_str(&after[..sep_len]);
        out.push_str("****");
        found += 1;
        rest = &after[sep_len + token.len()..];
    }
    (out, found)
}

/// Text with card numbers masked, and how many were masked.
pub fn redact_cards(text: &str) -> (String, usize) {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut found = 0;
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() || (i > 0 && (chars[i - 1].is_ascii_digit() || chars[i - 1] == '+')) {
            if chars[i].is_ascii_digit() && i > 0 && chars[i - 1] == '+' {
                // A phone number: copy the whole digit run untouched.
                let end = run_end(&chars, i);
                out.extend(&chars[i..end]);
                i = end;
                continue;
            }
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let end = run_end(&chars, i);
        out.push_str(&mask_run(&chars[i..end], &mut found));
        i = end;
    }
    (out, found)
}

/// End of a run of digit groups starting at `start`: digits, with single
/// spaces or dashes between digits.
fn run_end(chars: &[char], start: usize) -> usize {
    let mut end = start;
    let mut i = start;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            i += 1;
            end = i;
        } else if (chars[i] == ' ' || chars[i] == '-') && i + 1 < chars.len() && chars[i + 1].is_ascii_digit() {
            i += 1;
        } else {
            break;
        }
    }
    end
}

/// Mask card numbers inside one run of digit groups.
fn mask_run(run: &[char], found: &mut usize) -> String {
    // Groups as (start, end) indices into `run`.
    let mut groups = Vec::new();
    let mut start = None;
    for (i, c) in run.iter().enumerate() {
        match (c.is_ascii_digit(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                groups.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        groups.push((s, run.len()));
    }
    let digits_in = |a: usize, b: usize| -> Vec<u8> {
        run[groups[a].0..groups[b].1].iter().filter_map(|c| c.to_digit(10)).map(|d| d as u8).collect()
    };
    let mut out = String::new();
    let mut copied_to = 0;
    let mut g = 0;
    while g < groups.len() {
        // The longest span of whole groups from `g` that is a card number.
        let mut hit = None;
        for last in (g..groups.len()).rev() {
            let digits = digits_in(g, last);
            if (13..=19).contains(&digits.len()) && (2..=6).contains(&digits[0]) && luhn(&digits) {
                hit = Some((last, digits));
                break;
            }
        }
        match hit {
            Some((last, digits)) => {
                out.extend(&run[copied_to..groups[g].0]);
                out.push_str("****");
                out.extend(digits[digits.len() - 4..].iter().map(|d| char::from(b'0' + d)));
                copied_to = groups[last].1;
                *found += 1;
                g = last + 1;
            }
            None => g += 1,
        }
    }
    out.extend(&run[copied_to..]);
    out
}

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = d as u32;
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(text: &str) -> String {
        redact_cards(text).0
    }

    #[test]
    fn masks_cards_in_common_shapes() {
        assert_eq!(redact("my card is 4111111111111111 thanks"), "my card is ****1111 thanks");
        assert_eq!(redact("4111 1111 1111 1111"), "****1111");
        assert_eq!(redact("5555-5555-5555-4444 exp 12/29"), "****4444 exp 12/29");
        assert_eq!(redact("amex 378282246310005."), "amex ****0005.");
        assert_eq!(redact("card 4111 1111 1111 1111 123"), "card ****1111 123");
        assert_eq!(redact("two: 4111111111111111 and 5105105105105100"), "two: ****1111 and ****5100");
        assert_eq!(redact_cards("4012888888881881").1, 1);
    }

    #[test]
    fn leaves_other_numbers_alone() {
        for text in [
            "call +14155550123 or +1 415 555 0123",
            "order 1042, tracking 1Z999AA10123456784",
            "4111111111111112",            // fails Luhn
            "1234567812345670",            // Luhn-valid but no card starts with 1
            "9400 1000 0000 0000 0000 00", // a 22-digit tracking number
            "pin 123456, zip 94107-1234",
            "",
        ] {
            assert_eq!(redact(text), text, "{text}");
        }
    }

    #[test]
    fn ssns_and_passwords_go_too() {
        let r = |t: &str| super::redact(t).0;
        assert_eq!(r("my SSN is 123-45-6789."), "my SSN is ***-**-6789.");
        assert_eq!(r("ssn 123 45 6789"), "ssn ***-**-6789");
        assert_eq!(r("SSN: 123456789"), "SSN: ***-**-6789");
        assert_eq!(r("social security number 123456789 ok"), "social security number ***-**-6789 ok");
        assert_eq!(r("Your temporary password is Xk9#pq2."), "Your temporary password is ****.");
        assert_eq!(r("password: hunter2"), "password: ****");
        assert_eq!(r("PASSWORD=letmein"), "PASSWORD=****");
        assert_eq!(r("Tu contraseña es Perro123"), "Tu contraseña es ****");
        assert_eq!(r("passcode is 8812, password: x"), "passcode is ****, password: ****");
        let (_, n) = super::redact("card 4111-1111-1111-1111, ssn 123-45-6789, pwd: abc");
        assert_eq!(n, Redactions { cards: 1, ssns: 1, passwords: 1 });
        for same in [
            "Your password is incorrect",
            "reset your password here: https://example.com/reset",
            "passwords are case sensitive",
            "call 555-123-4567 or +1 555 123 4567",
            "order 123-45-67890",
            "tracking 1234-56-7890-1",
            "000-12-3456 and 666-12-3456 and 900-12-3456",
            "zip 94107-1234, order 123456789",
            "",
        ] {
            assert_eq!(r(same), same, "{same}");
        }
    }

    #[test]
    fn keeps_at_most_the_last_four_digits() {
        let (out, n) = redact_cards("6011 0009 9013 9424");
        assert_eq!(n, 1);
        assert_eq!(out.chars().filter(char::is_ascii_digit).count(), 4);
    }
}
