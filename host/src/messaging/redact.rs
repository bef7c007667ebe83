//! Card numbers out of inbound text, before anything stores or sees it.
//!
//! A card number is a run of 13–19 digits, optionally in groups separated by
//! single spaces or dashes, that starts like a payment card (2–6) and passes
//! the Luhn check. It is replaced by `****` and its last four digits. Digits
//! right after a `+` are a phone number and left alone. In a longer run of
//! groups (a card followed by its expiry or CVV, say) every span of whole groups
//! is tried, so "4111 1111 1111 1111 123" still loses the card.

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
    fn keeps_at_most_the_last_four_digits() {
        let (out, n) = redact_cards("6011 0009 9013 9424");
        assert_eq!(n, 1);
        assert_eq!(out.chars().filter(char::is_ascii_digit).count(), 4);
    }
}
