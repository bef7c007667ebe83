//! Consent: the detector on a labelled set of phrasings, and the host's
//! consent behaviour end to end over HTTP.

use smsdesk::consent::{Keywords, Verdict, check};
use std::io::Write;

fn labelled() -> Vec<(String, String)> {
    let text = include_str!("../data/consent-phrasings.tsv");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (label, phrase) = l.split_once('\t').expect("label<TAB>text");
            (label.to_string(), phrase.to_string())
        })
        .collect()
}

#[test]
fn the_detector_on_the_labelled_phrasings() {
    let set = labelled();
    assert!(set.len() >= 100, "at least 100 phrasings, have {}", set.len());
    let keywords = Keywords::default();
    let (mut tp, mut fp, mut fn_, mut wrong) = (0, 0, 0, Vec::new());
    for (label, phrase) in &set {
        let got = check(phrase, &keywords).verdict;
        let is_opt_out = got == Verdict::OptOut;
        match (label == "opt-out", is_opt_out) {
            (true, true) => tp += 1,
            (false, true) => fp += 1,
            (true, false) => fn_ += 1,
            _ => {}
        }
        if got.as_str() != label {
            wrong.push(format!("{phrase:?}: expected {label}, got {}", got.as_str()));
        }
    }
    let precision = tp as f64 / (tp + fp).max(1) as f64;
    let recall = tp as f64 / (tp + fn_).max(1) as f64;
    // Written to stderr directly so it shows in the test output even on success.
    let _ = writeln!(
        std::io::stderr(),
        "consent detector on {} labelled phrasings (English and Spanish): opt-out precision {:.3}, recall {:.3}; {} of {} verdicts exact",
        set.len(),
        precision,
        recall,
        set.len() - wrong.len(),
        set.len()
    );
    assert!(wrong.is_empty(), "verdicts that differ from the labels:\n{}", wrong.join("\n"));
    assert_eq!(fp, 0, "an opt-out where the customer meant none");
}
