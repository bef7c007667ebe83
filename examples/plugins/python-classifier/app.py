"""regex-intents: an smsdesk classifier in Python.

Rules are keywords and regular expressions, each with the confidence it gives
an intent. The tenant's configuration (JSON, from the host) can add rules or
replace the defaults:

    {"replace_defaults": false,
     "rules": [{"intent": "warranty", "keywords": ["warranty"], "confidence": 0.8},
               {"intent": "order-status", "pattern": "\\\\b(order|parcel) #?\\\\d{4,}\\\\b",
                "confidence": 0.9}]}

A message gets, per intent, the highest confidence of the rules it matches;
two different rules of one intent add a little more (capped at 0.99).
"""

import json
import re

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import config, logging, types

NAME = "regex-intents"
VERSION = "0.1.0"

DEFAULT_RULES = [
    {"intent": "order-status", "keywords": ["where is my order", "tracking", "shipped", "delivery", "package"],
     "confidence": 0.85},
    {"intent": "order-status", "pattern": r"\b(order|parcel|package)\s*#?\s*\d{3,}\b", "confidence": 0.9},
    {"intent": "refund", "keywords": ["refund", "money back", "return"], "confidence": 0.85},
    {"intent": "billing", "keywords": ["charged twice", "payment failed", "declined", "invoice"], "confidence": 0.8},
    {"intent": "billing", "pattern": r"\$\s?\d+(\.\d\d)?", "confidence": 0.6},
    {"intent": "human", "keywords": ["a person", "a human", "agent", "representative"], "confidence": 0.9},
    {"intent": "upset", "pattern": r"(!{3,}|\b(ridiculous|unacceptable|furious|worst)\b)", "confidence": 0.8},
]

MAX_INTENTS = 32


def _fail(kind, message):
    raise Err(types.PluginError(kind=kind, message=message[:500]))


def _load_rules():
    """The tenant's rules, checked: a bad rule is a bad-config error, not a crash."""
    raw = config.document()
    try:
        cfg = json.loads(raw) if raw else {}
    except ValueError as e:
        _fail(types.ErrorKind.BAD_CONFIG, f"configuration is not JSON: {e}")
    if not isinstance(cfg, dict):
        _fail(types.ErrorKind.BAD_CONFIG, "configuration must be an object")
    extra = cfg.get("rules", [])
    if not isinstance(extra, list):
        _fail(types.ErrorKind.BAD_CONFIG, "`rules` must be a list")
    rules = [] if cfg.get("replace_defaults") else list(DEFAULT_RULES)
    rules.extend(extra)
    compiled = []
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict) or not isinstance(rule.get("intent"), str) or not rule["intent"]:
            _fail(types.ErrorKind.BAD_CONFIG, f"rule {i}: needs an `intent`")
        confidence = rule.get("confidence", 0.8)
        if not isinstance(confidence, (int, float)) or not 0.0 <= confidence <= 1.0:
            _fail(types.ErrorKind.BAD_CONFIG, f"rule {i}: `confidence` must be between 0 and 1")
        keywords = [k.lower() for k in rule.get("keywords", []) if isinstance(k, str) and k]
        pattern = None
        if "pattern" in rule:
            try:
                pattern = re.compile(rule["pattern"], re.IGNORECASE)
            except (re.error, TypeError) as e:
                _fail(types.ErrorKind.BAD_CONFIG, f"rule {i}: bad pattern: {e}")
        if not keywords and pattern is None:
            _fail(types.ErrorKind.BAD_CONFIG, f"rule {i}: needs `keywords` or a `pattern`")
        compiled.append((rule["intent"][:64], float(confidence), keywords, pattern))
    return compiled


def classify_text(text, rules):
    """Pure: the intents for `text` under `rules`, most confident first."""
    folded = " ".join(re.sub(r"[^\w\s$#.!']", " ", text.lower()).split())
    best = {}
    hits = {}
    for intent, confidence, keywords, pattern in rules:
        matched = any(re.search(r"(^|\W)" + re.escape(k) + r"($|\W)", folded) for k in keywords)
        matched = matched or (pattern is not None and pattern.search(text) is not None)
        if matched:
            hits[intent] = hits.get(intent, 0) + 1
            best[intent] = max(best.get(intent, 0.0), confidence)
    scored = [(intent, min(0.99, c + 0.05 * (hits[intent] - 1))) for intent, c in best.items()]
    scored.sort(key=lambda pair: (-pair[1], pair[0]))
    return scored[:MAX_INTENTS]


class Classifier(exports.Classifier):
    def classify(self, message, context):
        rules = _load_rules()
        found = classify_text(message.body, rules)
        logging.log(logging.Level.DEBUG, "classified", [("intents", str(len(found)))])
        return [types.Intent(label=label, confidence=confidence) for label, confidence in found]


class Manifest(exports.Manifest):
    def get(self):
        return types.PluginInfo(
            name=NAME,
            version=VERSION,
            description="Keyword and regular-expression rules with confidences (Python)",
            roles=[types.Role.CLASSIFIER],
            capabilities=[],
        )
