//! What an inbound text means for consent: a whole-message keyword, or a
//! revocation in the customer's own words (the FCC's "any reasonable means").
//!
//! The detector reads structure, not a phrase list. A message is cut into
//! clauses (at punctuation and at "but" / "pero" / "aunque"); in each clause
//! it looks for a *revocation* — a stop verb (stop, quit, end, cancel,
//! unsubscribe, revoke, withdraw, discontinue, turn off, parar, detener…), a
//! removal (remove me, take my number off, bórrenme), a negated want (don't
//! want / no longer wish to receive, ya no quiero recibir), a prohibition
//! (don't text me, never contact me again, no me escriban), "no more …", a
//! withdrawal of consent, "leave me alone", "wrong number" or a claim of an
//! earlier opt-out — and then at what it is about: messaging (texts,
//! messages, alerts, promos, "me", this number), another channel (e-mail,
//! calls, mail), something else (an order, a payment, a size), or a third
//! person. Negation flips a revocation into a wish to keep messages; a
//! clause that keeps texts ("texts are fine") scopes a revocation of e-mail
//! away from SMS. Tokens are canonicalised first (stoooop, stpo, unsubscibe,
//! txting, mensages), so typos and shouting read like the plain words.
//!
//! Every verdict names why — the keyword or the rule — so an admin can test
//! phrasings with `smsdesk consent check`. What the structure cannot settle
//! (a bare "omg stop", "cancel my subscription", "stop calling me", "only
//! text me about orders") is `Ambiguous`: flagged for an agent, never
//! guessed silently. The labelled corpus and its locked evaluation part are
//! in `host/tests/data/consent/`.

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
    if normalized.is_empty() {
        // Only symbols: a stop sign or a no-entry emoji is a hint, not a keyword.
        if text.chars().any(|c| matches!(c, '🛑' | '⛔' | '🚫' | '✋')) {
            return rule(Verdict::Ambiguous, "stop-emoji");
        }
        return Check { verdict: Verdict::None, reason: Reason::Nothing };
    }
    let clauses = clauses(text);
    let messaging_mentioned = clauses.iter().flatten().any(|w| is_messaging(w));
    let findings: Vec<Vec<Finding>> = clauses
        .iter()
        .map(|c| {
            let t: Vec<&str> = c.iter().map(String::as_str).collect();
            let tenant_keyword = matches!(keywords.find(&t.join(" ")), Some((KeywordKind::OptOut, _)));
            analyse(&t, messaging_mentioned, clauses.len() > 1, tenant_keyword)
        })
        .collect();
    decide(&findings)
}

fn rule(verdict: Verdict, name: &'static str) -> Check {
    Check { verdict, reason: Reason::Rule(name) }
}

/// What a clause is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Texts, messages, alerts, "me", this number.
    Messaging,
    /// E-mail, calls, post.
    OtherChannel,
}

/// What one clause says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Finding {
    /// Stop messages of this scope.
    Revoke(Scope, &'static str),
    /// Keep (or switch to) messages of this scope: "texts are fine", "don't stop".
    Keep(Scope),
    /// Possibly a revocation: an agent should look.
    Unsure(&'static str),
    /// The clause is only an opt-out keyword and filler ("Stop.") in a longer message.
    Bare(&'static str),
    /// The clause is about an order, a payment, a size…
    Topic,
}

fn decide(findings: &[Vec<Finding>]) -> Check {
    let all: Vec<Finding> = findings.iter().flatten().copied().collect();
    let keeps_messaging = all.contains(&Finding::Keep(Scope::Messaging));
    if let Some(name) = all.iter().find_map(|f| match f {
        Finding::Revoke(Scope::Messaging, name) => Some(*name),
        _ => None,
    }) {
        if keeps_messaging {
            // "Stop the promos, but I still want delivery updates."
            return rule(Verdict::Ambiguous, "scoped-revocation");
        }
        return rule(Verdict::OptOut, name);
    }
    if let Some(word) = all.iter().find_map(|f| match f {
        Finding::Bare(word) => Some(*word),
        _ => None,
    }) {
        // "Thanks for the help. STOP" is an opt-out; "Stop! I meant the other
        // size" is about the order; "Please cancel. The order is wrong" too.
        let other_topic = findings.iter().any(|c| c.contains(&Finding::Topic) && !c.iter().any(is_bare));
        return match (other_topic, word) {
            (false, _) => rule(Verdict::OptOut, "keyword-sentence"),
            (true, "cancel" | "end" | "remove") => Check { verdict: Verdict::None, reason: Reason::Nothing },
            (true, _) => rule(Verdict::Ambiguous, "keyword-with-other-topic"),
        };
    }
    if all.iter().any(|f| matches!(f, Finding::Revoke(Scope::OtherChannel, _))) {
        if keeps_messaging {
            return rule(Verdict::None, "other-channel-texts-kept");
        }
        return rule(Verdict::Ambiguous, "other-channel");
    }
    let topic = all.contains(&Finding::Topic);
    if let Some(name) = all.iter().find_map(|f| match f {
        Finding::Unsure("short-cancel-request" | "dismissal") if topic => None,
        Finding::Unsure(name) => Some(*name),
        _ => None,
    }) {
        return rule(Verdict::Ambiguous, name);
    }
    Check { verdict: Verdict::None, reason: Reason::Nothing }
}

fn is_bare(f: &Finding) -> bool {
    matches!(f, Finding::Bare(_))
}

// ---------------------------------------------------------------- words

/// Messaging objects: what a revocation must be about to stop texts.
#[rustfmt::skip]
const MESSAGING: &[&str] = &[
    "text", "texts", "texting", "txt", "txts", "message", "messages", "messaging", "msg", "msgs", "sms", "spam",
    "spamming", "notification", "notifications", "alert", "alerts", "reminder", "reminders", "updates", "promos",
    "promo", "promotions", "promotional", "offers", "deals", "ads", "advertisements", "advertising", "marketing",
    "surveys", "survey", "junk", "crap", "stuff", "communication", "communications", "contact", "contacting",
    "everything", "anything", "mms", "automated", "mensajes", "mensaje", "textos", "texto", "msj", "mensajitos",
    "notificaciones", "alertas", "promociones", "ofertas", "recordatorios", "nada", "publicidad", "anuncios",
];
/// Messaging verbs in the gerund or imperative: "stop texting", "quit messaging".
#[rustfmt::skip]
const MESSAGING_VERBS: &[&str] = &[
    "texting", "text", "txt", "txting", "messaging", "message", "msging", "msg", "contacting", "contact", "spamming",
    "spam", "bothering", "bother", "pinging", "writing", "hitting", "blowing", "sms", "reaching", "harassing",
    "pestering", "bugging", "nagging", "hounding", "hassling",
];
/// Verbs whose object says what is sent: "stop sending me X".
#[rustfmt::skip]
const SENDING_VERBS: &[&str] =
    &["sending", "send", "receiving", "receive", "getting", "get", "hearing", "hear", "be", "being"];
/// Other channels the host does not send on.
#[rustfmt::skip]
const OTHER_CHANNELS: &[&str] = &[
    "email", "emails", "emailing", "emailed", "mail", "mails", "mailing", "mailings", "calls", "calling", "call",
    "voicemails", "catalogs", "catalogues", "catalog", "catalogue", "letters", "newsletter", "newsletters", "whatsapp", "messenger",
    "facebook", "instagram", "catalogo", "catalogos", "revista", "correos", "correo", "llamadas",
    "llamarme", "llamen", "llamar", "llamando",
];
/// Nouns that make a clause about the business, not about messages.
#[rustfmt::skip]
const TOPICS: &[&str] = &[
    "order", "orders", "ordered", "ordering", "payment", "payments", "pay", "paid", "charge", "charges", "charging",
    "billing", "bill", "invoice", "box", "delivery", "deliveries", "shipment", "shipping", "package", "refund",
    "return", "card", "address", "autopay", "renewal", "auto", "appointment", "reservation", "membership", "plan",
    "trial", "item", "items", "size", "color", "colour", "fee", "cart", "waitlist", "group", "rewards", "app",
    "complaint", "request", "job", "smoking", "laughing", "using", "service", "warranty", "upgrade", "product", "one",
    "call", "name", "charged", "billed", "ship", "deliver", "delivered", "price", "stock", "link", "button", "page",
    "password", "login", "paper", "statements", "papel", "receipt", "bills", "recibo", "working", "loading",
    "selling", "shop", "store", "booth", "pedido", "orden", "talla", "direccion", "pago", "cobro", "cobros",
    "factura", "paquete", "envio", "tarjeta", "cita", "articulo", "carrito", "cargo", "caja", "reembolso", "producto",
    "productos", "articulos", "paquetes", "pedidos", "funcionar",
];
/// Things you subscribe to that may or may not be the texts.
#[rustfmt::skip]
const SUBSCRIPTIONS: &[&str] = &["subscription", "subscriptions", "account", "suscripcion", "cuenta"];
/// People other than the sender: "stop texting my husband".
#[rustfmt::skip]
const OTHER_PEOPLE: &[&str] = &[
    "husband", "wife", "mom", "mother", "dad", "father", "son", "daughter", "kid", "kids", "friend", "boss",
    "brother", "sister", "grandma", "grandpa", "roommate", "ex", "partner", "boyfriend", "girlfriend",
];
/// Politeness and filler around a keyword ("stop please", "ok stop now").
#[rustfmt::skip]
const FILLER: &[&str] = &[
    "please", "pls", "plz", "now", "thanks", "thank", "you", "thx", "ty", "ok", "okay", "just", "already", "asap",
    "immediately", "all", "right", "away", "sir", "again", "hi", "hello", "hey", "kindly", "sorry", "yes", "so",
    "bye", "goodbye", "cheers", "maam", "forever", "today", "permanently", "por", "favor", "porfa", "gracias", "ya",
    "ahora", "hola", "mismo",
];
/// Words that negate a following verb.
#[rustfmt::skip]
const NEGATORS: &[&str] = &[
    "dont", "not", "never", "cant", "cannot", "wont", "doesnt", "isnt", "shouldnt", "wouldnt", "didnt", "arent", "no",
    "nunca", "jamas", "ni",
];
/// Skipped when looking for what a verb is about.
#[rustfmt::skip]
const DETERMINERS: &[&str] = &[
    "the", "these", "those", "this", "that", "my", "your", "our", "all", "any", "of", "with", "more", "further",
    "future", "such", "a", "an", "another", "other", "me", "us", "every", "single", "further", "sending", "up", "el",
    "la", "los", "las", "mis", "sus", "su", "tus", "tu", "mi", "de", "todos", "todas", "esos", "estos", "esas",
    "estas", "mas", "me", "nos", "a", "unos", "un",
];
/// Where a noun phrase ends.
#[rustfmt::skip]
const BOUNDARIES: &[&str] = &[
    "to", "for", "from", "by", "at", "on", "about", "in", "after", "because", "if", "when", "than", "before", "until",
    "and", "or", "so", "is", "are", "was", "i", "im", "it", "its", "para", "por", "en", "que", "y", "o",
];
/// Opt-out keywords as single tokens.
#[rustfmt::skip]
const KEYWORD_TOKENS: &[&str] =
    &["stop", "stopall", "unsubscribe", "unsub", "quit", "revoke", "optout", "arret", "end", "cancel", "remove"];
/// Spanish whole-clause opt-outs (with filler).
#[rustfmt::skip]
const ES_KEYWORDS: &[&str] = &[
    "baja", "alto", "parar", "detener", "cancelar", "desuscribir", "desuscribirme", "basta", "paren", "darme de baja",
    "denme de baja", "dame de baja", "deme de baja", "no more", "no mas", "no more texts", "nothing more",
];

fn is_messaging(w: &str) -> bool {
    MESSAGING.contains(&w)
}

/// "husband", "husbands" (from "husband's"), "mom".
fn is_other_person(w: &str) -> bool {
    OTHER_PEOPLE.contains(&w) || w.strip_suffix('s').is_some_and(|base| OTHER_PEOPLE.contains(&base))
}

/// "on WhatsApp", "by e-mail", "por correo": the clause names another channel for the act.
fn via_other_channel(t: &[&str]) -> bool {
    let via = ["on", "by", "through", "via", "over", "por", "en"];
    t.windows(2).any(|w| via.contains(&w[0]) && OTHER_CHANNELS.contains(&w[1]))
        || t.windows(3).any(|w| {
            via.contains(&w[0]) && ["the", "el", "la", "your"].contains(&w[1]) && OTHER_CHANNELS.contains(&w[2])
        })
}

// ---------------------------------------------------------------- tokens

/// The message cut into clauses of canonical tokens.
fn clauses(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    // "wrong #" is "wrong number"; "order #1234" stays an order.
    let text = hash_as_number(text);
    for piece in text.split(['.', '!', '?', ';', ',', '\n', ':', '¿', '¡', '(', ')', '—', '–']) {
        let normalized = normalize(piece);
        let mut tokens: Vec<String> = normalized.split(' ').filter(|t| !t.is_empty()).map(canonical).collect();
        // "s t o p"
        if tokens.len() >= 3 && tokens.iter().all(|t| t.chars().count() == 1) {
            tokens = vec![canonical(&tokens.concat())];
        }
        join_opt_out(&mut tokens);
        let mut clause = Vec::new();
        for (k, token) in tokens.iter().enumerate() {
            // "stop now or I'm reporting this number": the threat is its own clause
            let threat = token == "or"
                && tokens
                    .get(k + 1)
                    .is_some_and(|n| ["i", "ill", "im", "else", "we", "well", "ima"].contains(&n.as_str()));
            let token = token.clone();
            if threat
                || ["but", "pero", "aunque", "however", "though", "although", "except", "sino"]
                    .contains(&token.as_str())
            {
                if !clause.is_empty() {
                    out.push(std::mem::take(&mut clause));
                }
            } else {
                clause.push(token);
            }
        }
        if !clause.is_empty() {
            out.push(clause);
        }
    }
    out
}

fn hash_as_number(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '#' && !chars.peek().is_some_and(char::is_ascii_alphanumeric) {
            out.push_str(" number ");
        } else {
            out.push(c);
        }
    }
    out
}

/// "opt out" (and "opt-out", already split by normalisation) is one token.
fn join_opt_out(tokens: &mut Vec<String>) {
    let mut i = 0;
    while i + 1 < tokens.len() {
        let opt = ["opt", "opting"].contains(&tokens[i].as_str());
        if opt && tokens[i + 1] == "out" {
            tokens[i] = "optout".into();
            tokens.remove(i + 1);
        } else if opt && ["me", "us"].contains(&tokens[i + 1].as_str()) && tokens.get(i + 2).is_some_and(|t| t == "out")
        {
            // "opt me out (of all messages)"
            tokens[i] = "optout".into();
            tokens.remove(i + 2);
        } else if tokens[i] == "e" && ["mail", "mails", "mailing", "mailed"].contains(&tokens[i + 1].as_str()) {
            // "e-mails"
            tokens[i] = format!("e{}", tokens[i + 1]);
            tokens.remove(i + 1);
        } else if tokens[i] == "opted" && tokens[i + 1] == "out" {
            tokens[i] = "optedout".into();
            tokens.remove(i + 1);
        }
        i += 1;
    }
}

/// Spellings seen in real texts, mapped to the word.
#[rustfmt::skip]
const TYPOS: &[(&str, &str)] = &[
    ("stpo", "stop"), ("sotp", "stop"), ("stp", "stop"), ("stahp", "stop"), ("stopp", "stop"), ("textin", "texting"),
    ("texing", "texting"), ("textng", "texting"), ("txting", "texting"), ("txtin", "texting"),
    ("msging", "messaging"), ("msgin", "messaging"), ("messeging", "messaging"), ("massaging", "messaging"),
    ("sendin", "sending"), ("mesages", "messages"), ("messeges", "messages"), ("msges", "messages"),
    ("mesage", "message"), ("plese", "please"), ("pleas", "please"), ("pleeze", "please"), ("form", "from"),
    ("kiero", "quiero"), ("mensages", "mensajes"), ("mensage", "mensaje"), ("unsubscirbe", "unsubscribe"),
    ("unsuscribe", "unsubscribe"), ("desuscribirse", "desuscribirme"),
];
/// Words a typo or a stretched spelling is mapped back to.
#[rustfmt::skip]
const FUZZY_TARGETS: &[&str] =
    &["unsubscribe", "messages", "message", "messaging", "texting", "notifications", "mensajes"];
/// Real words one edit away from a target, which are left alone.
#[rustfmt::skip]
const NOT_TYPOS: &[&str] = &["testing", "massage", "massages", "passages", "messaged", "message", "messages"];
/// Short words a stretched spelling may stand for ("stoooop", "pleeease", "mee").
#[rustfmt::skip]
const STRETCHED: &[&str] = &["stop", "please", "me", "now", "no", "more", "texts", "text", "spam", "off", "quit"];

fn canonical(token: &str) -> String {
    if let Some((_, to)) = TYPOS.iter().find(|(from, _)| *from == token) {
        return (*to).to_string();
    }
    if token == "unsubscribed" || token.starts_with("unsubscrib") {
        return token.to_string();
    }
    // Runs of three or more letters ("stoooop", "STOPPP") become one; a
    // doubled letter ("mee", "stopp") is undone when that gives a known word.
    let collapsed = collapse_runs(token, 3);
    if STRETCHED.contains(&collapsed.as_str()) {
        return collapsed;
    }
    let undoubled = collapse_runs(&collapsed, 2);
    if STRETCHED.contains(&undoubled.as_str()) && !STRETCHED.contains(&token) {
        return undoubled;
    }
    let n = token.chars().count();
    if n >= 6 && !NOT_TYPOS.contains(&token) {
        for target in FUZZY_TARGETS {
            let allowed = if target.len() >= 9 { 2 } else { 1 };
            if target != &token && edit_distance(token, target) <= allowed {
                return (*target).to_string();
            }
        }
    }
    collapsed
}

fn collapse_runs(token: &str, run: usize) -> String {
    let chars: Vec<char> = token.chars().collect();
    let mut out = String::with_capacity(token.len());
    let mut i = 0;
    while i < chars.len() {
        let mut j = i;
        while j < chars.len() && chars[j] == chars[i] {
            j += 1;
        }
        let len = j - i;
        let keep = if len >= run && chars[i].is_alphabetic() { 1 } else { len };
        out.extend(std::iter::repeat_n(chars[i], keep));
        i = j;
    }
    out
}

/// Optimal string alignment distance (insertions, deletions, substitutions,
/// adjacent transpositions).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

// ---------------------------------------------------------------- objects

/// What a verb at some position is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Object {
    Messaging,
    OtherChannel,
    Topic,
    Subscription,
    OtherPerson,
    /// "it", "this", "that" with nothing after.
    Pronoun,
    /// "so many", "too many", "less often".
    Frequency,
    /// Words that are none of the above ("review requests", "the red one").
    Unknown,
    Nothing,
}

/// Look at the noun phrase starting at `from` (up to a boundary word).
fn object_at(t: &[&str], from: usize) -> Object {
    let mut content = 0;
    let mut saw_pronoun = false;
    let mut first_unknown = false;
    let mut j = from;
    while j < t.len() && content < 4 {
        let w = t[j];
        if ["so", "too", "as"].contains(&w) && t.get(j + 1) == Some(&"many") || w == "less" || w == "fewer" {
            return Object::Frequency;
        }
        if is_messaging(w) || MESSAGING_VERBS.contains(&w) && w != "contact" {
            // "the marketing emails", "promo calls": the noun after says which channel
            if t[j + 1..].iter().take(2).any(|v| OTHER_CHANNELS.contains(v) && *v != "call") {
                return Object::OtherChannel;
            }
            return Object::Messaging;
        }
        if OTHER_CHANNELS.contains(&w) {
            // "email only" after a texting verb is handled by the caller; here the object is e-mail.
            return if w == "call" { Object::Topic } else { Object::OtherChannel };
        }
        if SUBSCRIPTIONS.contains(&w) {
            // "text subscription" was caught above; "subscription box" is a product.
            if t[j + 1..].iter().take(4).any(|v| is_messaging(v)) {
                return Object::Messaging;
            }
            return match object_at(t, j + 1) {
                Object::Topic => Object::Topic,
                _ => Object::Subscription,
            };
        }
        if is_other_person(w) {
            return Object::OtherPerson;
        }
        // "my old number", "my work phone": a number other than this one
        if ["old", "other", "previous", "work", "former", "home", "landline", "second"].contains(&w)
            && t.get(j + 1).is_some_and(|v| ["number", "phone", "cell", "line"].contains(v))
        {
            return Object::OtherPerson;
        }
        if ["it", "this", "that", "them", "these", "those"].contains(&w) {
            saw_pronoun = true;
            j += 1;
            continue;
        }
        if BOUNDARIES.contains(&w) {
            // "my enrollment in text alerts", "my subscription to your texts"
            if content > 0
                && ["in", "to", "for", "from", "on"].contains(&w)
                && t[j + 1..].iter().take(3).any(|v| is_messaging(v))
            {
                return Object::Messaging;
            }
            break;
        }
        if DETERMINERS.contains(&w) || FILLER.contains(&w) || w == "anymore" || w == "ever" || w == "else" {
            j += 1;
            continue;
        }
        if TOPICS.contains(&w) {
            return Object::Topic;
        }
        // "stop using the app", "stop showing as spam": another activity.
        // (Right after the verb only: "these annoying messages" are messages.)
        if j == from && w.len() > 5 && w.ends_with("ing") && !SENDING_VERBS.contains(&w) {
            return Object::Topic;
        }
        // "interested in receiving texts", "tired of getting messages"
        if SENDING_VERBS.contains(&w) {
            j += 1;
            continue;
        }
        // An unknown word ("marketing" is known; "wrong", "auto", "old"…):
        // keep looking a little for the noun it qualifies.
        if content == 0 {
            first_unknown = true;
        }
        content += 1;
        j += 1;
    }
    if first_unknown {
        Object::Unknown
    } else if saw_pronoun {
        Object::Pronoun
    } else {
        Object::Nothing
    }
}

/// Whether the word at `i` is negated by one of the three words before it.
fn negated(t: &[&str], i: usize) -> bool {
    let start = i.saturating_sub(3);
    t[start..i].iter().any(|w| NEGATORS.contains(w))
        // "I no longer want…" negates "want", which is the rule, not a negation of it.
        && !(i >= 1 && t[i - 1] == "longer")
}

fn conditional(t: &[&str], i: usize) -> bool {
    let start = i.saturating_sub(3);
    t[start..i].iter().any(|w| ["if", "whether", "si"].contains(w))
}

fn find(t: &[&str], seq: &[&str]) -> Option<usize> {
    if t.len() < seq.len() {
        return None;
    }
    (0..=t.len() - seq.len()).find(|&i| t[i..i + seq.len()] == *seq)
}

fn has(t: &[&str], seq: &[&str]) -> bool {
    find(t, seq).is_some()
}

// ---------------------------------------------------------------- clauses

/// Everything one clause says. `mentioned` is whether the whole message
/// names texts or messages (so "stop them" means them).
fn analyse(t: &[&str], mentioned: bool, several: bool, tenant_keyword: bool) -> Vec<Finding> {
    let mut out = Vec::new();
    if t.is_empty() {
        return out;
    }
    if let Some(f) = keyword_clause(t, several, tenant_keyword) {
        return vec![f];
    }
    if t.iter().any(|w| TOPICS.contains(w)) {
        out.push(Finding::Topic);
    }
    keeps(t, &mut out);
    english(t, mentioned, &mut out);
    spanish(t, &mut out);
    unsure(t, mentioned, &mut out);
    out
}

/// A clause that is only an opt-out keyword and politeness: "stop please",
/// "STOP STOP", "unsubscribe thanks", "baja por favor".
fn keyword_clause(t: &[&str], several: bool, tenant_keyword: bool) -> Option<Finding> {
    let keyword: Option<&'static str> = KEYWORD_TOKENS.iter().find(|k| t.contains(k)).copied();
    let only_polite = |w: &&str| {
        KEYWORD_TOKENS.contains(w)
            || FILLER.contains(w)
            || w.chars().all(|c| c.is_ascii_digit())
            || (*w == "it" && matches!(keyword, Some("stop" | "quit")))
    };
    let spanish: Vec<&str> =
        t.iter().copied().filter(|w| !FILLER.contains(w) && !w.chars().all(|c| c.is_ascii_digit())).collect();
    let spanish = ES_KEYWORDS.contains(&spanish.join(" ").as_str()).then_some("es-keyword");
    let word = match (keyword, spanish) {
        (Some(k), _) if t.iter().all(only_polite) && !negated(t, t.len() - 1) => k,
        (_, Some(_)) => "stop",
        _ if tenant_keyword => "stop",
        _ => return None,
    };
    Some(if several {
        Finding::Bare(word)
    } else if spanish.is_some() {
        Finding::Revoke(Scope::Messaging, "es-keyword")
    } else {
        Finding::Revoke(Scope::Messaging, "keyword-polite")
    })
}

/// Clauses that keep or ask for texts: "texts are fine", "keep texting me",
/// "text me instead", "I only want texts", "mejor mensajes".
fn keeps(t: &[&str], out: &mut Vec<Finding>) {
    // A clause that also revokes is not a wish to keep: "I want the texts to stop".
    let revokes =
        ["stop", "end", "cancel", "unsubscribe", "unsub", "optout", "remove", "quit", "off", "out", "paren", "baja"];
    if t.iter().any(|v| revokes.contains(v) || NEGATORS.contains(v)) {
        return;
    }
    let fine = ["fine", "ok", "okay", "better", "good", "great", "helpful", "best"];
    let texts = |v: &&str| is_messaging(v) || MESSAGING_VERBS.contains(v);
    for (i, w) in t.iter().enumerate() {
        // "texts are fine", "texting is better", "SMS is fine"
        if texts(w)
            && t[i + 1..].iter().take(3).any(|v| fine.contains(v))
            && !t[i + 1..].iter().take(3).any(|v| NEGATORS.contains(v))
        {
            out.push(Finding::Keep(Scope::Messaging));
        }
        // "keep texting me" (not "you keep texting me", a complaint), "I still want
        // the updates", "text me instead", "I only want texts", "just text"
        let subject = i >= 1
            && ["i", "you", "u", "they", "we", "he", "she", "it", "im"].contains(&t[i - 1])
            && !(i >= 2 && ["can", "could", "will", "would", "please", "to"].contains(&t[i - 2]));
        if [
            "keep",
            "still",
            "prefer",
            "rather",
            "instead",
            "only",
            "just",
            "sigan",
            "mejor",
            "prefiero",
            "solo",
            "solamente",
        ]
        .contains(w)
            && !(*w == "keep" && subject)
            && !negated(t, i)
            && (t[i + 1..].iter().take(4).any(|v| texts(v) || v.starts_with("mand"))
                || *w != "just" && t[..i].iter().any(|v| MESSAGING_VERBS.contains(v) && *v != "contact"))
        {
            out.push(Finding::Keep(Scope::Messaging));
        }
        if ["want", "like", "love", "enjoy"].contains(w)
            && !negated(t, i)
            && !(i >= 1 && t[i - 1] == "longer")
            && matches!(object_at(t, i + 1), Object::Messaging)
        {
            out.push(Finding::Keep(Scope::Messaging));
        }
        // "escríbanme por mensaje", "mándenme mensajes"
        if ["escribanme", "mandenme", "envienme", "textearme"].contains(w) && !negated(t, i) {
            out.push(Finding::Keep(Scope::Messaging));
        }
    }
}

/// What a stop verb at `i` is about, as a finding.
fn about(t: &[&str], i: usize, mentioned: bool, rule: &'static str, out: &mut Vec<Finding>) {
    let next = i + 1;
    // "stop texting my husband", "quit messaging me", "stop sending me offers"
    let object = match t.get(next) {
        Some(w) if MESSAGING_VERBS.contains(w) => match object_at(t, next + 1) {
            Object::OtherPerson => Object::OtherPerson,
            Object::Frequency => Object::Frequency,
            _ => Object::Messaging,
        },
        Some(w) if ["emailing", "calling", "mailing"].contains(w) => {
            // "stop calling and texting me"
            if t[next..].iter().any(|v| MESSAGING_VERBS.contains(v)) { Object::Messaging } else { Object::OtherChannel }
        }
        Some(w) if SENDING_VERBS.contains(w) => match object_at(t, next + 1) {
            Object::Nothing | Object::Pronoun => Object::Messaging,
            // "stop sending me review requests" (but not "stop getting charged")
            Object::Unknown if ["sending", "send", "receiving", "receive"].contains(w) => Object::Messaging,
            other => other,
        },
        _ => object_at(t, next),
    };
    // "stop the texts from going to my husband's phone", "stop messaging me on WhatsApp"
    let object = match object {
        Object::Messaging if t[next..].windows(2).any(|w| ["my", "to"].contains(&w[0]) && is_other_person(w[1])) => {
            Object::OtherPerson
        }
        Object::Messaging if via_other_channel(&t[next..]) => Object::OtherChannel,
        other => other,
    };
    let negated = negated(t, i);
    match (object, negated) {
        (Object::Messaging, false) => out.push(Finding::Revoke(Scope::Messaging, rule)),
        (Object::Messaging, true) => out.push(Finding::Keep(Scope::Messaging)),
        (Object::OtherChannel, false) => out.push(Finding::Revoke(Scope::OtherChannel, rule)),
        (Object::Subscription, false) => out.push(Finding::Unsure("subscription-or-account")),
        (Object::OtherPerson, false) => out.push(Finding::Unsure("third-party")),
        (Object::Frequency, false) => out.push(Finding::Unsure("fewer-messages")),
        (Object::Pronoun, false)
            if mentioned || t.get(next).is_some_and(|w| ["these", "them", "those"].contains(w)) =>
        {
            out.push(Finding::Revoke(Scope::Messaging, rule))
        }
        _ => {}
    }
}

/// Stop verbs: what a customer does to a stream of messages.
#[rustfmt::skip]
const STOP_VERBS: &[&str] = &[
    "stop", "quit", "cease", "halt", "end", "cancel", "discontinue", "pause", "terminate", "suspend", "disable",
    "deactivate", "revoke", "withdraw", "rescind", "unenroll", "unregister", "unsubscribe", "unsub", "optout",
    "stopall", "block", "blocking", "desist", "disenroll", "deenroll", "close", "kill", "nix", "mute", "silence",
    "refrain", "abstain",
];
/// Removal verbs: "remove me", "delete my number", "take me off".
#[rustfmt::skip]
const REMOVE_VERBS: &[&str] = &[
    "remove", "delete", "erase", "drop", "lose", "take", "get", "scrub", "put", "add", "count", "withdraw", "pull", "unlist",
];

fn english(t: &[&str], mentioned: bool, out: &mut Vec<Finding>) {
    for (i, &w) in t.iter().enumerate() {
        // "reply STOP", "what happens if I text stop": the keyword named, not used.
        let mention = i >= 1
            && ["reply", "replying", "text", "texting", "type", "typing", "send", "sending", "respond"]
                .contains(&t[i - 1]);
        if mention && KEYWORD_TOKENS.contains(&w) {
            continue;
        }
        if STOP_VERBS.contains(&w) && !conditional(t, i) {
            stop_verb(t, i, mentioned, out);
        }
        // "turn off the texts", "shut off these messages"
        if ["turn", "shut", "switch", "cut"].contains(&w) && t.get(i + 1) == Some(&"off") {
            about(t, i + 1, mentioned, "turn-off", out);
        }
        // "turn these off", "switch the alerts off"
        if ["turn", "shut", "switch", "cut"].contains(&w)
            && let Some(k) = t[i + 1..].iter().take(4).position(|v| *v == "off")
            && k > 0
        {
            match object_at(&t[..i + 1 + k], i + 1) {
                Object::Messaging => out.push(Finding::Revoke(Scope::Messaging, "turn-off")),
                Object::Pronoun if mentioned || ["these", "them", "those"].contains(&t[i + 1]) => {
                    out.push(Finding::Revoke(Scope::Messaging, "turn-off"))
                }
                _ => {}
            }
        }
        if REMOVE_VERBS.contains(&w) {
            removal(t, i, out);
        }
        if ["want", "wish", "need", "like", "wanting", "care"].contains(&w) {
            negated_want(t, i, out);
        }
        if ["rather", "prefer"].contains(&w) && t.get(i + 1) == Some(&"not") {
            match t.get(i + 2) {
                Some(v) if SENDING_VERBS.contains(v) || *v == "to" => negated_object(t, i + 2, out, "negated-want"),
                _ => {}
            }
        }
        prohibition(t, i, out);
        if ["more", "further"].contains(&w) && i >= 1 && t[i - 1] == "no" {
            match object_at(t, i + 1) {
                Object::Messaging => out.push(Finding::Revoke(Scope::Messaging, "no-more-messages")),
                Object::Pronoun => out.push(Finding::Revoke(Scope::Messaging, "no-more-messages")),
                Object::OtherChannel => out.push(Finding::Revoke(Scope::OtherChannel, "no-more-messages")),
                _ => {}
            }
        }
        // "no texts please", "no sms"
        if w == "no" && t.get(i + 1).is_some_and(|v| is_messaging(v) && *v != "nada") && (i == 0 || t[i - 1] != "si") {
            out.push(Finding::Revoke(Scope::Messaging, "no-more-messages"));
        }
        // "enough texts", "enough with the texts", "done with these texts", "I'm done getting texts"
        if ["enough", "done", "sick", "tired"].contains(&w) && !negated(t, i) {
            match object_at(t, i + 1) {
                Object::Messaging | Object::Pronoun if w == "enough" || w == "done" => {
                    out.push(Finding::Revoke(Scope::Messaging, "no-more-messages"))
                }
                Object::Messaging | Object::Pronoun => out.push(Finding::Unsure("complaint")),
                _ => {}
            }
        }
        consent(t, i, out);
        if w == "leave" && t.get(i + 1) == Some(&"me") && matches!(t.get(i + 2), Some(&("alone" | "be"))) {
            out.push(Finding::Revoke(Scope::Messaging, "leave-me-alone"));
        }
        if w == "wrong" && matches!(t.get(i + 1), Some(&("number" | "person" | "phone" | "guy" | "girl")))
            || ["right", "correct"].contains(&w)
                && matches!(t.get(i + 1), Some(&("number" | "person")))
                && t[..i].iter().any(|v| ["not", "isnt", "wrong"].contains(v))
            || w == "number" && i >= 2 && t[i - 1] == "my" && ["not", "longer", "isnt"].contains(&t[i - 2])
        {
            let own =
                t.iter().any(|v| ["i", "entered", "typed", "gave", "put", "card", "address", "order"].contains(v));
            if !own || t.contains(&"im") {
                out.push(Finding::Revoke(Scope::Messaging, "wrong-number"));
            }
        }
        // "this number doesn't belong to John anymore", "this isn't Jake's phone anymore"
        if ["belong", "belongs"].contains(&w)
            && (negated(t, i) || t[..i].contains(&"longer"))
            && t[..i].iter().any(|v| ["number", "phone"].contains(v))
            || ["number", "phone"].contains(&w)
                && i >= 2
                && ["not", "isnt"].contains(&t[i - 2])
                && t[i - 1].ends_with('s')
                && t[i - 1].len() > 2
        {
            out.push(Finding::Revoke(Scope::Messaging, "wrong-number"));
        }
        // "I said stop", "I told you to stop", "I replied STOP already", "I already unsubscribed"
        if ["said", "say", "told", "asked", "replied", "texted", "typed", "wrote", "sent"].contains(&w)
            && !negated(t, i)
            && !conditional(t, i)
        {
            let rest: Vec<&str> =
                t[i + 1..].iter().copied().filter(|v| !["you", "to", "guys", "u"].contains(v)).collect();
            if rest.first().is_some_and(|v| ["stop", "unsubscribe", "optout", "remove", "stopall"].contains(v)) {
                out.push(Finding::Revoke(Scope::Messaging, "repeated-request"));
            }
        }
        if ["unsubscribed", "optedout"].contains(&w) {
            // "I unsubscribed from the app notifications" is about another place.
            let elsewhere =
                t.get(i + 1) == Some(&"from") && matches!(object_at(t, i + 2), Object::Topic | Object::OtherChannel);
            if !negated(t, i) && !conditional(t, i) && !elsewhere {
                out.push(Finding::Revoke(Scope::Messaging, "repeated-request"));
            }
        }
        // "I am requesting removal from your text list"
        if ["removal", "unsubscription"].contains(&w) && !negated(t, i) {
            if let Some(k) = t[i + 1..].iter().take(2).position(|v| ["from", "off"].contains(v)) {
                if target_of(t, i + 1 + k + 1) == Object::Messaging {
                    out.push(Finding::Revoke(Scope::Messaging, "remove-me"));
                }
            } else if t.iter().any(|v| ["list", "number", "texts", "messages"].contains(v)) || t.len() <= 3 {
                out.push(Finding::Revoke(Scope::Messaging, "remove-me"));
            }
        }
        // "I would like to not receive texts", "I wish not to be texted"
        if ["want", "wish", "like", "choose"].contains(&w) && !negated(t, i) {
            let k = i + 1 + usize::from(t.get(i + 1) == Some(&"to"));
            if t.get(k) == Some(&"not") {
                negated_object(t, k + 1, out, "negated-want");
            }
        }
        // "knock it off with the texts", "cut it out with the messages"
        if ["knock", "cut"].contains(&w)
            && t.get(i + 1) == Some(&"it")
            && matches!(t.get(i + 2), Some(&("off" | "out")))
        {
            match object_at(t, i + 3) {
                Object::Messaging => out.push(Finding::Revoke(Scope::Messaging, "stop-messaging")),
                Object::Nothing => out.push(Finding::Unsure("short-stop-request")),
                _ => {}
            }
        }
        // "I would appreciate it if you stopped texting me", "would you mind not texting me"
        if w == "stopped" && i >= 2 && t[i - 2..i] == ["if", "you"] {
            about(t, i, mentioned, "stop-messaging", out);
        }
        if w == "mind"
            && t.get(i + 1) == Some(&"not")
            && t.get(i + 2).is_some_and(|v| MESSAGING_VERBS.contains(v) || *v == "sending")
        {
            about(t, i + 1, mentioned, "do-not-contact", out);
        }
        // "get rid of my number"
        if w == "rid"
            && t.get(i + 1) == Some(&"of")
            && t[i + 2..].iter().take(3).any(|v| ["me", "number", "us"].contains(v))
        {
            out.push(Finding::Revoke(Scope::Messaging, "remove-me"));
        }
        // "I want nothing (more) to do with your texts / with you"
        if w == "nothing"
            && let Some(k) = find(&t[i..], &["to", "do", "with"])
        {
            match object_at(t, i + k + 3) {
                Object::Messaging => out.push(Finding::Revoke(Scope::Messaging, "no-more-messages")),
                _ if t.get(i + k + 3) == Some(&"you") => {
                    out.push(Finding::Revoke(Scope::Messaging, "no-more-messages"))
                }
                _ => {}
            }
        }
        // "I want to be taken off your list", "I'd like my number removed", "please have me unsubscribed"
        let participle = ["removed", "deleted", "erased", "unsubscribed", "optedout"].contains(&w)
            || w == "taken" && matches!(t.get(i + 1), Some(&("off" | "out")));
        if participle
            && t[i.saturating_sub(4)..i]
                .iter()
                .any(|v| ["be", "get", "have", "me", "my", "number", "being"].contains(v))
            && !negated(t, i)
            && !conditional(t, i)
        {
            let target = match t[i + 1..].iter().position(|v| ["from", "off", "out", "of"].contains(v)) {
                Some(k) => target_of(t, i + 1 + k + 1),
                None => Object::Messaging,
            };
            if target == Object::Messaging {
                out.push(Finding::Revoke(Scope::Messaging, "remove-me"));
            }
        }
        // "I want these alerts turned off", "I'd like the texts stopped"
        let switched = ["turned", "shut", "switched", "cut"].contains(&w) && t.get(i + 1) == Some(&"off")
            || ["stopped", "cancelled", "canceled", "ended", "discontinued", "removed"].contains(&w);
        if switched
            && i >= 1
            && t[i.saturating_sub(3)..i]
                .iter()
                .any(|v| is_messaging(v) && !["anything", "everything", "stuff"].contains(v))
            && t[..i].iter().any(|v| ["want", "like", "need", "have", "get", "please", "wish"].contains(v))
            && !negated(t, i)
        {
            out.push(Finding::Revoke(Scope::Messaging, "stop-messaging"));
        }
        // "reporting this as spam", "I'm reporting you"
        if ["report", "reporting", "reported"].contains(&w)
            && (t[i + 1..].contains(&"spam")
                || t.get(i + 1) == Some(&"you")
                || t[i + 1..].iter().take(2).any(|v| *v == "number"))
            && !negated(t, i)
        {
            out.push(Finding::Revoke(Scope::Messaging, "reported-as-spam"));
        }
    }
    // "texts not wanted", "unwanted texts", "your texts aren't welcome"
    for (i, &w) in t.iter().enumerate() {
        if is_messaging(w) && !["stuff", "anything", "everything", "nada"].contains(&w) {
            let near = &t[i.saturating_sub(2)..(i + 4).min(t.len())];
            let unwanted = near.contains(&"unwanted")
                || [
                    ["not", "wanted"],
                    ["not", "welcome"],
                    ["arent", "welcome"],
                    ["arent", "wanted"],
                    ["isnt", "welcome"],
                ]
                .iter()
                .any(|pair| has(near, pair));
            if unwanted {
                out.push(Finding::Revoke(Scope::Messaging, "negated-want"));
            }
        }
    }
    // "I want these texts to stop", "make the texts stop", "these messages need to stop"
    for (i, &w) in t.iter().enumerate() {
        if is_messaging(w)
            && !["stuff", "anything", "everything", "contact", "nada"].contains(&w)
            && let Some(k) = t[i + 1..].iter().take(4).position(|v| ["stop", "end", "cease"].contains(v))
        {
            let k = i + 1 + k;
            let named = [
                "reply", "replying", "text", "texting", "txt", "type", "typing", "send", "sending", "respond",
                "message", "sms",
            ];
            if named.contains(&t[k - 1]) || t[..k].iter().any(|v| ["reply", "replying", "respond"].contains(v)) {
                continue;
            }
            // "when will these texts stop?" asks about a schedule; "how do I make these texts stop?" asks to stop them.
            let question = t[..i].iter().any(|v| ["when", "will", "does", "ever", "why"].contains(v))
                || t[..i].contains(&"do") && !t[..i].contains(&"how")
                || t[i..k].contains(&"ever");
            let past = t[..i].iter().any(|v| ["did", "didnt", "have", "has"].contains(v));
            // "get the texts to stop showing as spam" is about something else
            let other_verb = t
                .get(k + 1)
                .is_some_and(|v| v.ends_with("ing") && !MESSAGING_VERBS.contains(v) && !SENDING_VERBS.contains(v));
            let not_a_wish =
                negated(t, k) || past || other_verb || t[..i].iter().any(|v| ["cant", "cannot", "couldnt"].contains(v));
            if not_a_wish {
                continue;
            }
            if question {
                out.push(Finding::Unsure("when-will-it-stop"));
            } else if !t[..i].iter().any(|v| MESSAGING_VERBS.contains(v) || SENDING_VERBS.contains(v)) {
                out.push(Finding::Revoke(Scope::Messaging, "messages-must-stop"));
            }
        }
    }
}

fn stop_verb(t: &[&str], i: usize, mentioned: bool, out: &mut Vec<Finding>) {
    let w = t[i];
    let rule = match w {
        "unsubscribe" | "unsub" | "optout" | "stopall" | "unenroll" | "unregister" | "disenroll" | "deenroll" => {
            "unsubscribe-request"
        }
        "revoke" | "withdraw" | "rescind" => "revoke-withdraw",
        "block" | "blocking" => "blocking",
        _ => "stop-messaging",
    };
    if w == "block" || w == "blocking" {
        if matches!(object_at(t, i + 1), Object::Messaging | Object::Nothing | Object::Pronoun)
            && t[i + 1..].iter().any(|v| ["number", "you", "this", "texts", "messages"].contains(v))
            && !negated(t, i)
        {
            out.push(Finding::Revoke(Scope::Messaging, rule));
        }
        return;
    }
    if rule == "unsubscribe-request" {
        // "unsubscribe" needs no object; its object can scope it: "unsubscribe me from e-mails".
        // "the unsubscribe link in your email" names the word.
        if t.get(i + 1).is_some_and(|v| ["link", "button", "page", "option", "url", "feature"].contains(v)) {
            return;
        }
        let elsewhere = t.iter().any(|v| OTHER_CHANNELS.contains(v))
            && !t.iter().any(|v| is_messaging(v) || MESSAGING_VERBS.contains(v));
        let object = match find(&t[i..], &["from"]).or_else(|| find(&t[i..], &["of"])) {
            Some(k) => object_at(t, i + k + 1),
            None if elsewhere => Object::OtherChannel,
            None => match object_at(t, i + 1) {
                Object::Topic | Object::Unknown => Object::Nothing,
                other => other,
            },
        };
        match (object, negated(t, i)) {
            (Object::OtherChannel, false) => out.push(Finding::Revoke(Scope::OtherChannel, rule)),
            (Object::Topic, false) => {}
            (Object::Subscription, false) => out.push(Finding::Unsure("subscription-or-account")),
            (_, false) => out.push(Finding::Revoke(Scope::Messaging, rule)),
            (_, true) => out.push(Finding::Keep(Scope::Messaging)),
        }
        return;
    }
    // "refrain from texting me", "desist from contacting me"
    if t.get(i + 1) == Some(&"from") {
        about(t, i + 1, mentioned, rule, out);
        return;
    }
    // "withdraw me from texts", "unenroll me from this program": the place decides, as for "remove me from"
    if t.get(i + 1) == Some(&"me") && t.get(i + 2) == Some(&"from") {
        match (target_of(t, i + 3), negated(t, i)) {
            (Object::Messaging, false) => out.push(Finding::Revoke(Scope::Messaging, rule)),
            (Object::OtherChannel, false) => out.push(Finding::Revoke(Scope::OtherChannel, rule)),
            _ => {}
        }
        return;
    }
    about(t, i, mentioned, rule, out);
}

/// "remove me (from X)", "delete my number", "take me off your list",
/// "put me on your do not text list", "count me out".
fn removal(t: &[&str], i: usize, out: &mut Vec<Finding>) {
    let w = t[i];
    let rest = &t[i + 1..];
    let me = rest.first().is_some_and(|v| ["me", "us"].contains(v));
    let number_words =
        ["number", "phone", "contact", "cell", "mobile", "info", "information", "details", "data", "name"];
    let number = rest.iter().take(3).any(|v| number_words.contains(v))
        && rest.first().is_some_and(|v| ["my", "this", "our", "the"].contains(v));
    let neg = negated(t, i);
    // A phone number on a "mailing list" is on the texting list; only an e-mail list is e-mail.
    let email_named = rest.iter().any(|v| ["email", "emails", "emailing", "newsletter"].contains(v));
    let revoke = |out: &mut Vec<Finding>, target: Object| match (target, neg) {
        (Object::OtherChannel, false) if number && !email_named => {
            out.push(Finding::Revoke(Scope::Messaging, "remove-me"))
        }
        (Object::OtherChannel, false) => out.push(Finding::Revoke(Scope::OtherChannel, "remove-me")),
        (Object::Topic, _) => {}
        (Object::Subscription, false) => out.push(Finding::Unsure("subscription-or-account")),
        (_, false) => out.push(Finding::Revoke(Scope::Messaging, "remove-me")),
        (_, true) => {}
    };
    match w {
        "put" | "add" => {
            // "put me on your do not text list", "add my number to your opt-out list"
            if (me || number) && rest.contains(&"list") && rest.iter().any(|v| ["not", "optout"].contains(v)) {
                revoke(out, Object::Messaging);
            }
        }
        "count" => {
            if me && rest.get(1) == Some(&"out") {
                revoke(out, target_of(t, i + 3));
            }
        }
        "take" | "get" => {
            // "take me off", "get my number off your list", "take my number out of your system"
            if let Some(k) = rest.iter().take(4).position(|v| ["off", "out", "of"].contains(v))
                && (me
                    || number
                    || k == 0 && rest.get(1).is_some_and(|v| ["this", "your", "the", "these", "all"].contains(v)))
            {
                let at = i + 1 + k + 1;
                let at = if t.get(at) == Some(&"of") { at + 1 } else { at };
                revoke(out, target_of(t, at));
            }
        }
        _ => {
            if me || number {
                // "remove me from the waitlist": the list decides.
                let skip =
                    if me { 1 } else { rest.iter().take(3).position(|v| number_words.contains(v)).unwrap_or(0) + 1 };
                let mut at = i + 1 + skip;
                // "my contact info from…", "my phone number off…"
                while t.get(at).is_some_and(|v| number_words.contains(v)) {
                    at += 1;
                }
                let target = match t.get(at) {
                    Some(&("from" | "off" | "out" | "of")) => {
                        let at = if t.get(at + 1) == Some(&"of") { at + 2 } else { at + 1 };
                        target_of(t, at)
                    }
                    // "remove me as the account holder"
                    _ if t[at.min(t.len())..].iter().any(|v| TOPICS.contains(v) || SUBSCRIPTIONS.contains(v)) => {
                        Object::Topic
                    }
                    _ => Object::Nothing,
                };
                if w != "get" || target != Object::Nothing {
                    revoke(out, target);
                }
            } else if matches!(rest.first(), Some(&("from" | "off")))
                && ["remove", "delete", "take", "drop"].contains(&w)
            {
                // "remove from list", "remove from cart"
                revoke(out, target_of(t, i + 2));
            } else if rest.is_empty() || rest.iter().all(|v| FILLER.contains(v)) {
                // "Wrong person, please remove", "remove please"
                if w == "remove" {
                    revoke(out, Object::Nothing);
                }
            } else if w == "remove" || w == "delete" {
                // "delete my account", "remove the item from my cart"
                if object_at(t, i + 1) == Object::Subscription && !neg {
                    out.push(Finding::Unsure("subscription-or-account"));
                }
            }
        }
    }
}

/// What a list or place after "from" / "off" names.
fn target_of(t: &[&str], at: usize) -> Object {
    let phrase: Vec<&str> = t[at.min(t.len())..].iter().copied().take(5).collect();
    if phrase.iter().any(|v| is_messaging(v) || MESSAGING_VERBS.contains(v)) {
        return Object::Messaging;
    }
    if phrase.iter().any(|v| ["email", "emails", "mailing", "newsletter", "mail"].contains(v)) {
        return Object::OtherChannel;
    }
    // ("this program" is the texting program; "the rewards program" is not.)
    let business =
        ["waitlist", "order", "cart", "account", "group", "rewards", "loyalty", "points", "chat", "referral"];
    if phrase.iter().any(|v| business.contains(v)) {
        return Object::Topic;
    }
    Object::Messaging
}

/// "don't want these texts", "no longer wish to receive", "don't want to
/// hear from you", and the reverse: "I don't want to unsubscribe".
fn negated_want(t: &[&str], i: usize, out: &mut Vec<Finding>) {
    let negated_by = i >= 1 && (NEGATORS.contains(&t[i - 1]) || t[i - 1] == "longer")
        || i >= 2 && NEGATORS.contains(&t[i - 2]) && ["really", "even", "ever", "longer", "do"].contains(&t[i - 1]);
    if !negated_by {
        // "I want off this list", "I want to be removed", "I'd like my number removed"
        let rest = &t[i + 1..];
        if rest.first() == Some(&"off") || rest.first() == Some(&"out") && rest.get(1) == Some(&"of") {
            out.push(Finding::Revoke(Scope::Messaging, "remove-me"));
        }
        if rest.iter().take(4).any(|v| *v == "removed") && !negated(t, i) {
            out.push(Finding::Revoke(Scope::Messaging, "remove-me"));
        }
        return;
    }
    negated_object(t, i + 1, out, "negated-want");
}

fn negated_object(t: &[&str], from: usize, out: &mut Vec<Finding>, rule: &'static str) {
    let mut j = from;
    let infinitive = t.get(j) == Some(&"to");
    while j < t.len() && ["to", "you", "u", "any", "anymore", "further", "be", "ever"].contains(&t[j]) {
        // "be texted", "be contacted": the verb after "be" decides
        if t[j] == "be" && t.get(j + 1).is_some_and(|v| ["on", "in"].contains(v)) {
            out.push(Finding::Revoke(Scope::Messaging, rule));
            return;
        }
        j += 1;
    }
    let Some(&w) = t.get(j) else {
        return;
    };
    // "I don't want texts about my order to stop": a wish to keep them
    if t[j..].windows(2).take(6).any(|p| p[0] == "to" && ["stop", "end"].contains(&p[1])) {
        if t[j..].iter().take(6).any(|v| is_messaging(v)) {
            out.push(Finding::Keep(Scope::Messaging));
        }
        return;
    }
    // "I do not want this number contacted again"
    // (not "I don't need a receipt texted": the receipt is what would be sent)
    if let Some(k) = t[j..].iter().take(4).position(|v| ["texted", "contacted", "messaged", "spammed"].contains(v))
        && t[j..j + k].iter().all(|v| ["this", "my", "number", "phone", "me", "us", "the", "again"].contains(v))
    {
        out.push(Finding::Revoke(Scope::Messaging, rule));
        return;
    }
    // "I don't want to be part of this list"
    if w == "part" && t[j..].iter().take(5).any(|v| ["list", "program", "texts", "messages"].contains(v)) {
        out.push(Finding::Revoke(Scope::Messaging, rule));
        return;
    }
    let revocation_verbs = ["unsubscribe", "optout", "stop", "cancel", "remove", "unsub", "opt", "end", "quit"];
    if revocation_verbs.contains(&w) {
        // "I don't want to unsubscribe", "I do not want to stop getting texts"
        if !["cancel", "end"].contains(&w) || matches!(object_at(t, j + 1), Object::Messaging) {
            out.push(Finding::Keep(Scope::Messaging));
        }
        return;
    }
    // "I don't want to miss any deals": an infinitive of some other verb.
    let known =
        SENDING_VERBS.contains(&w) || MESSAGING_VERBS.contains(&w) || is_messaging(w) || OTHER_CHANNELS.contains(&w);
    if infinitive
        && !known
        && !["texted", "contacted", "messaged", "bothered", "called", "emailed", "sent", "spammed", "disturbed"]
            .contains(&w)
    {
        return;
    }
    let is_passive_contact = |v: &str| {
        ["texted", "contacted", "messaged", "bothered", "called", "emailed", "sent", "spammed", "disturbed"]
            .contains(&v)
    };
    let object = if SENDING_VERBS.contains(&w) {
        if w == "hear" || w == "hearing" {
            Object::Messaging
        } else {
            match object_at(t, j + 1) {
                Object::Nothing | Object::Pronoun => Object::Messaging,
                Object::Unknown if ["receive", "receiving"].contains(&w) => Object::Messaging,
                other => other,
            }
        }
    } else if is_passive_contact(w) {
        if ["called", "emailed"].contains(&w) { Object::OtherChannel } else { Object::Messaging }
    } else if MESSAGING_VERBS.contains(&w) || is_messaging(w) {
        Object::Messaging
    } else {
        match object_at(t, j) {
            Object::Pronoun if t[j..].iter().any(|v| ["them", "these", "those"].contains(v)) => Object::Messaging,
            other => other,
        }
    };
    match object {
        Object::Messaging => out.push(Finding::Revoke(Scope::Messaging, rule)),
        Object::OtherChannel => out.push(Finding::Revoke(Scope::OtherChannel, rule)),
        _ => {}
    }
}

/// "don't text me", "do not contact this number", "never send me another
/// text", "don't send me anything else", "don't call me".
fn prohibition(t: &[&str], i: usize, out: &mut Vec<Finding>) {
    let w = t[i];
    // "you may no longer text me"
    let no_longer = w == "longer" && i >= 1 && t[i - 1] == "no";
    // "I'd rather you didn't text me", "I wish you wouldn't message me",
    // "I'd appreciate it if you didn't text me": a request, not the past.
    let wished = ["didnt", "wouldnt"].contains(&w)
        && t[i.saturating_sub(4)..i].iter().any(|v| ["rather", "prefer", "wish", "appreciate", "grateful"].contains(v));
    if !["dont", "not", "never"].contains(&w) && !no_longer && !wished {
        return;
    }
    // "I didn't text you" is the past; "if you don't text me" is a condition.
    if conditional(t, i) && !wished {
        return;
    }
    let mut j = i + 1;
    while j < t.len() && ["ever", "even", "please", "to", "again", "u", "you", "dare"].contains(&t[j]) {
        j += 1;
    }
    let Some(&verb) = t.get(j) else {
        return;
    };
    let target_me = |k: usize| {
        t.get(k).is_none_or(|v| {
            ["me", "us", "this", "my", "again", "anymore", "ever", "or", "and", "here", "at", "please", "list"]
                .contains(v)
        })
    };
    let obj_after = j + 1;
    // "don't bother texting me again", "don't try to contact me", "never keep messaging me"
    if ["bother", "try", "keep"].contains(&verb)
        && t[j + 1..].iter().take(2).any(|v| {
            MESSAGING_VERBS.contains(v) && !["bother", "contact"].contains(v) || *v == "contacting" || *v == "contact"
        })
    {
        out.push(Finding::Revoke(Scope::Messaging, "do-not-contact"));
        return;
    }
    match verb {
        "text" | "txt" | "message" | "msg" | "contact" | "sms" | "spam" | "bother" | "ping" | "write" | "reach"
            if target_me(obj_after) || t.get(obj_after) == Some(&"out") =>
        {
            if object_at(t, obj_after + usize::from(t.get(obj_after) == Some(&"my"))) == Object::OtherPerson {
                out.push(Finding::Unsure("third-party"));
            } else if via_other_channel(&t[j..]) {
                // "don't message me on WhatsApp"
                out.push(Finding::Revoke(Scope::OtherChannel, "do-not-contact"));
            } else {
                out.push(Finding::Revoke(Scope::Messaging, "do-not-contact"));
            }
        }
        "send" => match object_at(t, obj_after) {
            Object::Messaging | Object::Nothing | Object::Pronoun => {
                out.push(Finding::Revoke(Scope::Messaging, "do-not-contact"))
            }
            Object::OtherChannel => out.push(Finding::Revoke(Scope::OtherChannel, "do-not-contact")),
            _ => {}
        },
        "call" | "email" | "mail" => {
            if t.get(j + 1) == Some(&"list") {
                // The do-not-call list stands for all marketing contact.
                out.push(Finding::Revoke(Scope::Messaging, "do-not-contact"));
            } else if target_me(obj_after) {
                if t[obj_after..].iter().any(|v| ["text", "txt", "message"].contains(v))
                    && !t[obj_after..].contains(&"instead")
                {
                    out.push(Finding::Revoke(Scope::Messaging, "do-not-contact"));
                } else {
                    out.push(Finding::Revoke(Scope::OtherChannel, "do-not-contact"));
                }
            }
        }
        _ => {}
    }
}

/// "I revoke my consent", "consent withdrawn", "I do not consent to these
/// messages", "you don't have my consent", "retiro mi consentimiento".
fn consent(t: &[&str], i: usize, out: &mut Vec<Finding>) {
    let w = t[i];
    if !["consent", "consented", "permission", "consentimiento", "autorizo", "authorization"].contains(&w) {
        return;
    }
    // "the authorization on my old card" is about a payment.
    if t.iter().any(|v| TOPICS.contains(v)) && !t.iter().any(|v| is_messaging(v) || MESSAGING_VERBS.contains(v)) {
        return;
    }
    let withdrawn = t.iter().any(|v| {
        ["revok", "withdr", "rescind", "retir", "revoc", "pull", "cancel"].iter().any(|p| v.starts_with(p))
            || *v == "longer"
    }) || negated(t, i)
        || (i >= 1 && ["dont", "not", "never", "no"].contains(&t[i - 1]))
        || has(t, &["dont", "have", "my"]);
    if !withdrawn {
        return;
    }
    let other = t.iter().any(|v| OTHER_CHANNELS.contains(v)) && !t.iter().any(|v| is_messaging(v));
    out.push(Finding::Revoke(if other { Scope::OtherChannel } else { Scope::Messaging }, "consent-withdrawn"));
}

// ---------------------------------------------------------------- Spanish

/// Spanish send verbs in the imperative or subjunctive (not the past:
/// "no me mandaron el código" is a complaint about a missing code).
#[rustfmt::skip]
const ES_SEND_COMMANDS: &[&str] = &[
    "envien", "envies", "envie", "manden", "mandes", "mande", "escriban", "escribas", "escriba", "contacten",
    "contactes", "contacte", "molesten", "molestes", "moleste", "texteen", "textees", "mensajeen", "sigan", "sigas", "esten", "estes",
    "vuelvan", "vuelvas", "vuelva",
];
#[rustfmt::skip]
const ES_CALL_COMMANDS: &[&str] = &["llamen", "llames", "llame"];
#[rustfmt::skip]
const ES_STOP_VERBS: &[&str] = &[
    "detener", "detengan", "deten", "detenga", "paren", "parar", "pare", "cancelar", "cancelen", "cancela", "cancele",
    "cancelo", "retiren", "retira", "retirar", "retire", "suspendan", "suspender", "suspende", "desactiven", "desactivar", "desactiva", "quiten", "eliminen",
    "borren", "saquen", "elimina", "borra", "quita", "saca",
];

fn es_send(w: &str) -> Option<Scope> {
    let messaging = ["envi", "mand", "escrib", "contact", "molest", "text", "mensaj", "recib"];
    if w.starts_with("llam") {
        Some(Scope::OtherChannel)
    } else if messaging.iter().any(|p| w.starts_with(p)) {
        Some(Scope::Messaging)
    } else {
        None
    }
}

fn spanish(t: &[&str], out: &mut Vec<Finding>) {
    for (i, &w) in t.iter().enumerate() {
        let neg = negated(t, i);
        // "dejen de enviarme mensajes", "paren de escribirme", "deja de molestarme"
        if ["dejen", "deja", "dejar", "deje", "dejes", "paren", "parar", "para", "pare", "terminen"].contains(&w)
            && t.get(i + 1) == Some(&"de")
            && let Some(scope) = t.get(i + 2).and_then(|v| es_send(v))
            // "dejé de recibir los mensajes" is a complaint; "quiero dejar de recibir" a wish
            && (!t[i + 2].starts_with("recib") || ["dejar", "parar"].contains(&w))
        {
            let object = object_at(t, i + 3);
            match (scope, object, neg) {
                (_, Object::Topic, _) => {}
                (_, Object::OtherChannel, false) => out.push(Finding::Revoke(Scope::OtherChannel, "es-dejen-de")),
                (Scope::Messaging, _, false) => out.push(Finding::Revoke(Scope::Messaging, "es-dejen-de")),
                (Scope::Messaging, _, true) => out.push(Finding::Keep(Scope::Messaging)),
                (Scope::OtherChannel, _, false) => out.push(Finding::Revoke(Scope::OtherChannel, "es-dejen-de")),
                _ => {}
            }
        }
        // "no me envíen más mensajes", "no me escriban", "nunca más me escriban", "no me vuelvan a escribir"
        if ["no", "nunca"].contains(&w) {
            let mut j = i + 1;
            while j < t.len()
                && ["mas", "me", "nos", "vuelvan", "vuelvas", "a", "sigan", "ya", "esten", "estes"].contains(&t[j])
            {
                if ["vuelvan", "vuelvas", "sigan", "esten", "estes"].contains(&t[j]) {
                    break;
                }
                j += 1;
            }
            let had_me = t[i + 1..j.min(t.len())].contains(&"me") || t.get(j).is_some_and(|v| v.ends_with("me"));
            if let Some(&verb) = t.get(j) {
                let mut verb_at = j;
                if ["vuelvan", "vuelvas", "sigan", "esten", "estes"].contains(&verb) {
                    // "no me vuelvan a escribir", "no me sigan mandando", "no me estén escribiendo"
                    verb_at = j + 1 + usize::from(t.get(j + 1) == Some(&"a"));
                }
                let verb2 = t.get(verb_at).copied().unwrap_or("");
                let command = ES_SEND_COMMANDS.contains(&verb) && (verb_at == j || es_send(verb2).is_some());
                let infinitive =
                    es_send(verb).is_some() && (verb.ends_with("ar") || verb.ends_with("ir") || verb.ends_with("er"));
                if (command && (had_me || verb_at != j)) || infinitive {
                    let scope = if verb_at != j { es_send(verb2) } else { es_send(verb) };
                    let object = match object_at(t, verb_at + 1) {
                        // "no me manden el recibo por correo"
                        Object::Unknown if t.iter().any(|v| OTHER_CHANNELS.contains(v)) => Object::OtherChannel,
                        // "no me escriban por WhatsApp"
                        Object::Nothing | Object::Pronoun | Object::Messaging if via_other_channel(&t[verb_at..]) => {
                            Object::OtherChannel
                        }
                        other => other,
                    };
                    match (scope, object) {
                        (_, Object::Topic) => {}
                        (Some(Scope::Messaging), Object::OtherChannel) => {
                            out.push(Finding::Revoke(Scope::OtherChannel, "es-no-me-envien"))
                        }
                        (Some(Scope::Messaging), Object::Nothing | Object::Pronoun) if infinitive && !had_me => {}
                        (Some(Scope::Messaging), _) => out.push(Finding::Revoke(Scope::Messaging, "es-no-me-envien")),
                        (Some(Scope::OtherChannel), _) => {
                            out.push(Finding::Revoke(Scope::OtherChannel, "es-no-me-envien"))
                        }
                        _ => {}
                    }
                }
                if ES_CALL_COMMANDS.contains(&verb) && had_me {
                    out.push(Finding::Revoke(Scope::OtherChannel, "es-no-me-llamen"));
                }
            }
        }
        // "no más mensajes", "ya no más sms", "basta de mensajes"
        let basta_de =
            w == "basta" && (t.get(i + 1) == Some(&"de") || t.get(i + 1) == Some(&"ya") && t.get(i + 2) == Some(&"de"));
        if (w == "mas" && i >= 1 && t[i - 1] == "no" || basta_de)
            && let Some(object) = Some(object_at(t, i + 1))
        {
            match object {
                Object::Messaging => out.push(Finding::Revoke(Scope::Messaging, "es-no-mas-mensajes")),
                Object::OtherChannel => out.push(Finding::Revoke(Scope::OtherChannel, "es-no-mas-mensajes")),
                _ => {}
            }
        }
        // "no quiero recibir más mensajes", "ya no deseo recibir", "no quiero que me manden mensajes"
        if ["quiero", "deseo", "queremos", "necesito"].contains(&w) && i >= 1 && t[i - 1] == "no" {
            let rest = &t[i + 1..];
            match rest.first() {
                Some(&"que") => {
                    let at =
                        rest.iter().skip(1).position(|v| !["me", "nos", "sigan", "ya"].contains(v)).map(|k| i + 2 + k);
                    let verb = at.and_then(|k| t.get(k));
                    match (verb.and_then(|v| es_send(v)), at.map(|k| object_at(t, k + 1))) {
                        (_, Some(Object::Topic)) => {}
                        (Some(Scope::Messaging), Some(Object::OtherChannel)) => {
                            out.push(Finding::Revoke(Scope::OtherChannel, "es-no-quiero"))
                        }
                        (Some(scope), _) => out.push(Finding::Revoke(scope, "es-no-quiero")),
                        (None, _) => {}
                    }
                }
                // "ya no quiero ser contactado"
                // "ya no quiero ser parte de la lista"
                Some(&"ser") if rest.get(1) == Some(&"parte") => {
                    out.push(Finding::Revoke(Scope::Messaging, "es-no-quiero"))
                }
                Some(&"ser") if rest.get(1).is_some_and(|v| es_send(v).is_some()) => {
                    out.push(Finding::Revoke(es_send(rest[1]).unwrap_or(Scope::Messaging), "es-no-quiero"))
                }
                Some(&("recibir" | "mas")) | Some(&("ningun" | "ningún")) => match object_at(t, i + 2) {
                    Object::Topic => {}
                    Object::OtherChannel => out.push(Finding::Revoke(Scope::OtherChannel, "es-no-quiero")),
                    _ => out.push(Finding::Revoke(Scope::Messaging, "es-no-quiero")),
                },
                Some(v) if v.starts_with("darme") || v.starts_with("desuscrib") || *v == "cancelar" => {
                    if !v.starts_with("cancel") || object_at(t, i + 2) == Object::Messaging {
                        out.push(Finding::Keep(Scope::Messaging));
                    }
                }
                _ => match object_at(t, i + 1) {
                    Object::Messaging => out.push(Finding::Revoke(Scope::Messaging, "es-no-quiero")),
                    Object::OtherChannel => out.push(Finding::Revoke(Scope::OtherChannel, "es-no-quiero")),
                    _ => {}
                },
            }
        }
        // "detengan los mensajes", "cancelen las notificaciones", "eliminen mi número"
        if ES_STOP_VERBS.contains(&w) && !neg {
            let number = t[i + 1..].iter().take(2).any(|v| *v == "numero");
            match object_at(t, i + 1) {
                Object::Messaging => out.push(Finding::Revoke(Scope::Messaging, "es-parar-mensajes")),
                Object::Subscription => out.push(Finding::Unsure("subscription-or-account")),
                Object::OtherChannel => out.push(Finding::Revoke(Scope::OtherChannel, "es-parar-mensajes")),
                _ if number => out.push(Finding::Revoke(Scope::Messaging, "es-borrar")),
                _ => {}
            }
        }
        // "darme de baja", "denme de baja", "dar de baja mi número" (not "mi tarjeta")
        if w == "baja" && i >= 1 && t[i - 1] == "de" {
            let object = match t.get(i + 1) {
                Some(&"de") => target_of(t, i + 2),
                _ => match object_at(t, i + 1) {
                    Object::Nothing | Object::Pronoun => Object::Messaging,
                    Object::Topic | Object::Unknown if t[i + 1..].contains(&"numero") => Object::Messaging,
                    other => other,
                },
            };
            let kept =
                t[..i].iter().any(|v| ["no"].contains(v)) && t[..i].iter().any(|v| ["quiero", "deseo"].contains(v));
            match object {
                _ if kept => out.push(Finding::Keep(Scope::Messaging)),
                Object::Messaging => out.push(Finding::Revoke(Scope::Messaging, "es-darse-de-baja")),
                Object::Subscription => out.push(Finding::Unsure("subscription-or-account")),
                _ => {}
            }
        }
        if w.starts_with("desuscrib") && !neg {
            out.push(Finding::Revoke(Scope::Messaging, "es-darse-de-baja"));
        }
        // "bórrenme de la lista", "sáquenme de su lista" — not "quítenme el cargo extra"
        if [
            "borrenme",
            "borrame",
            "borreme",
            "saquenme",
            "sacame",
            "saqueme",
            "quitenme",
            "quitame",
            "quiteme",
            "eliminenme",
            "eliminame",
            "elimineme",
        ]
        .contains(&w)
        {
            match t.get(i + 1) {
                None | Some(&"de") | Some(&"por") | Some(&"ya") => {
                    out.push(Finding::Revoke(Scope::Messaging, "es-borrar"))
                }
                _ => {}
            }
        }
        // "quiero que me quiten de la lista", "bájenme de la lista"
        let removal = ["quit", "saq", "sac", "borr", "elimin", "baj", "retir"].iter().any(|p| w.starts_with(p));
        if removal && !neg && t[i + 1..].iter().take(4).any(|v| ["lista", "listas", "base"].contains(v)) {
            out.push(Finding::Revoke(Scope::Messaging, "es-borrar"));
        }
        if w == "salir" && t.get(i + 1) == Some(&"de") && t[i + 2..].contains(&"lista") {
            out.push(Finding::Revoke(Scope::Messaging, "es-borrar"));
        }
        // "retiro mi consentimiento", "ya no autorizo que me envíen mensajes"
        if w == "autorizo" && i >= 1 && t[i - 1] == "no" {
            out.push(Finding::Revoke(Scope::Messaging, "consent-withdrawn"));
        }
        if ["dejenme", "dejame", "dejeme"].contains(&w) && t.get(i + 1) == Some(&"en") && t.get(i + 2) == Some(&"paz") {
            out.push(Finding::Revoke(Scope::Messaging, "leave-me-alone"));
        }
        // "número equivocado", "se equivocaron de número", "este no es el número de Carlos"
        if w == "numero" && t.get(i + 1) == Some(&"equivocado")
            || ["equivocaron", "equivocado"].contains(&w) && t[i + 1..].iter().take(2).any(|v| *v == "numero")
            || w == "numero" && i >= 2 && t[i - 2..i] == ["es", "el"] && i >= 3 && t[i - 3] == "no"
            || w == "numero" && i >= 2 && t[i - 2..i] == ["es", "mi"] && i >= 3 && t[i - 3] == "no"
        {
            out.push(Finding::Revoke(Scope::Messaging, "wrong-number"));
        }
        // "ya les dije que paren", "ya me di de baja" (handled above)
        if ["dije", "dijimos", "pedi"].contains(&w)
            && t.get(i + 1) == Some(&"que")
            && t.get(i + 2).is_some_and(|v| ["paren", "pararan", "dejen", "dejaran", "no"].contains(v))
        {
            out.push(Finding::Revoke(Scope::Messaging, "repeated-request"));
        }
    }
}

// ---------------------------------------------------------------- unsure

/// Clauses an agent should read: short stop requests without an object,
/// "not interested", complaints, requests for fewer texts.
fn unsure(t: &[&str], mentioned: bool, out: &mut Vec<Finding>) {
    let short_words = ["stop", "quit", "cancel", "end"];
    if t.len() <= 6 {
        for (i, w) in t.iter().enumerate() {
            let lead = [
                "omg", "ugh", "wait", "can", "could", "you", "make", "it", "how", "do", "i", "please", "just", "ok",
                "okay", "oh", "pls", "plz", "will", "would", "and", "hey", "so", "now",
            ];
            if short_words.contains(w)
                && !negated(t, i)
                && !conditional(t, i)
                && t[..i].iter().all(|v| lead.contains(v))
            {
                let after = &t[i + 1..];
                if after.iter().all(|a| FILLER.contains(a) || ["it", "this", "that", "me"].contains(a)) {
                    // "I no longer need the appointment, please cancel it" is about the appointment.
                    let name =
                        if ["cancel", "end"].contains(w) { "short-cancel-request" } else { "short-stop-request" };
                    out.push(Finding::Unsure(name));
                }
            }
        }
    }
    // "I have no interest in these texts"
    if let Some(i) = find(t, &["interest", "in"])
        && i >= 1
        && ["no", "zero", "any", "little"].contains(&t[i - 1])
        && object_at(t, i + 2) == Object::Messaging
    {
        out.push(Finding::Revoke(Scope::Messaging, "not-interested-in-messages"));
    }
    if let Some(i) = find(t, &["not", "interested"]).or_else(|| find(t, &["longer", "interested"])) {
        match object_at(t, i + 3) {
            Object::Messaging => out.push(Finding::Revoke(Scope::Messaging, "not-interested-in-messages")),
            Object::Topic | Object::Subscription => {}
            _ if t.get(i + 2) == Some(&"in") => {}
            _ => out.push(Finding::Unsure("not-interested")),
        }
    }
    // "no me interesa" (an agent reads it), "ya no me interesa recibir mensajes" (an opt-out), "… el producto" (neither)
    if let Some(i) = find(t, &["me", "interesa"])
        && t.contains(&"no")
    {
        match object_at(t, i + 2) {
            Object::Messaging => out.push(Finding::Revoke(Scope::Messaging, "not-interested-in-messages")),
            Object::Nothing | Object::Pronoun => out.push(Finding::Unsure("not-interested")),
            _ => {}
        }
    }
    let why = has(t, &["why"]) && t.iter().any(|v| ["you", "keep", "getting", "receiving", "still", "u"].contains(v));
    let complaint = why && (mentioned || t.iter().any(|v| MESSAGING_VERBS.contains(v)))
        || has(t, &["you", "keep"]) && t.iter().any(|v| MESSAGING_VERBS.contains(v) || SENDING_VERBS.contains(v))
        || (has(t, &["keep", "getting"]) || has(t, &["keep", "receiving"]))
            && !has(t, &["to", "keep"])
            && (mentioned || t.iter().any(|v| ["these", "them", "this"].contains(v)))
        || has(t, &["how", "many"]) && t.iter().any(|v| is_messaging(v))
        || t.iter().any(|v| {
            ["annoying", "irritating", "spammy", "excessive", "harassment", "harassing", "ridiculous"].contains(v)
        }) && (mentioned || t.iter().any(|v| MESSAGING_VERBS.contains(v)))
        || has(t, &["too", "many"]) && t.iter().any(|v| is_messaging(v))
        || has(t, &["too", "much"]) && t.iter().any(|v| MESSAGING_VERBS.contains(v))
        || has(t, &["who", "gave"]) && t.contains(&"number")
        || (has(t, &["gave", "you", "my", "number"])
            || has(t, &["get", "my", "number"])
            || has(t, &["got", "my", "number"])
            || has(t, &["have", "my", "number"]))
            && t.iter().any(|v| ["never", "how", "where", "who", "didnt", "why"].contains(v))
        || has(t, &["sign", "up"]) && t.iter().any(|v| NEGATORS.contains(v))
        || has(t, &["signed", "up"]) && t.iter().any(|v| NEGATORS.contains(v))
        || has(t, &["por", "que", "me"]) && t.iter().any(|v| es_send(v) == Some(Scope::Messaging))
        || has(t, &["quien", "les", "dio"])
        || t.iter().any(|v| ["demasiados", "demasiado"].contains(v)) && t.iter().any(|v| is_messaging(v));
    if complaint {
        out.push(Finding::Unsure("complaint"));
    }
    let fewer = t.iter().any(|v| ["fewer", "less"].contains(v))
        && t.iter().any(|v| is_messaging(v) || MESSAGING_VERBS.contains(v));
    if fewer {
        out.push(Finding::Unsure("fewer-messages"));
    }
    // "only text me about orders, not promos", "I only want order texts"
    if let Some(i) = t.iter().position(|v| *v == "only") {
        let verb = t.get(i + 1).is_some_and(|v| MESSAGING_VERBS.contains(v) || *v == "send");
        let qualified = t[i + 1..].iter().take(4).position(|v| is_messaging(v)).is_some_and(|k| {
            t[i + 1..i + 1 + k]
                .iter()
                .any(|v| !["want", "like", "need", "get", "receive", "the", "your", "to"].contains(v))
        });
        if verb || qualified {
            out.push(Finding::Unsure("scoped-revocation"));
        }
    }
    let dismissal = [
        &["go", "away"][..],
        &["enough"],
        &["enough", "already"],
        &["im", "done"],
        &["para"],
        &["ya", "para"],
        &["end", "it"],
        &["f", "off"],
        &["fuck", "off"],
    ];
    if dismissal.contains(&t) {
        out.push(Finding::Unsure("dismissal"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(text: &str) -> Verdict {
        check(text, &Keywords::default()).verdict
    }

    #[test]
    fn the_issue_examples() {
        for text in [
            "please stop texting me",
            "remove me from this list",
            "unsubscribe me",
            "no more texts",
            "cancel these texts",
            "end the messages",
            "I revoke my consent",
            "I withdraw consent to be texted",
            "I no longer want to receive these messages",
            "I no longer wish to receive texts",
            "never text me again",
            "never contact me again",
        ] {
            assert_eq!(verdict(text), Verdict::OptOut, "{text}");
        }
        assert_eq!(verdict("no más mensajes"), Verdict::OptOut);
        for text in [
            "don't stop the refund",
            "when does the store stop selling it?",
            "stop by tomorrow?",
            "cancel my order",
            "stop by the store",
            "stop sending the wrong size",
            "unsubscribe me from e-mails, texts are fine",
            "don't stop",
        ] {
            assert_eq!(verdict(text), Verdict::None, "{text}");
        }
    }

    #[test]
    fn reasons_name_the_keyword_or_rule() {
        let k = Keywords::default();
        assert_eq!(check("Stop!", &k).reason, Reason::Keyword("STOP".into()));
        assert_eq!(check("please stop texting me", &k).reason, Reason::Rule("stop-messaging"));
        assert_eq!(check("Thanks for everything. STOP", &k).reason, Reason::Rule("keyword-sentence"));
        assert_eq!(check("I don't want these texts", &k).reason, Reason::Rule("negated-want"));
        assert_eq!(check("stop emailing me", &k).reason, Reason::Rule("other-channel"));
        assert_eq!(check("where is my order", &k).reason, Reason::Nothing);
    }

    #[test]
    fn typos_and_stretching_read_as_the_word() {
        for (typo, word) in
            [("stoooop", "stop"), ("stoppp", "stop"), ("unsubscibe", "unsubscribe"), ("txting", "texting")]
        {
            assert_eq!(canonical(typo), word, "{typo}");
        }
        assert_eq!(canonical("testing"), "testing", "a real word is not a typo");
        assert_eq!(edit_distance("stpo", "stop"), 1);
    }

    /// Every input a stranger can send gets a verdict: word salad built from the
    /// detector's own vocabulary (where the index arithmetic lives), punctuation
    /// and symbols, never a panic.
    #[test]
    fn word_salad_never_panics() {
        let mut words: Vec<&str> =
            [MESSAGING, MESSAGING_VERBS, SENDING_VERBS, OTHER_CHANNELS, TOPICS, FILLER, NEGATORS].concat();
        words.extend(DETERMINERS.iter().chain(BOUNDARIES).chain(KEYWORD_TOKENS).chain(STOP_VERBS).chain(REMOVE_VERBS));
        words.extend([
            "de", "baja", "no", "me", "que", "quiero", "dejen", "off", "out", "opt", "#", ",", "!", "🛑", "e",
        ]);
        let mut state = 0x2545_f491_u64;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        for _ in 0..20_000 {
            let len = next(9);
            let text: Vec<&str> = (0..len).map(|_| words[next(words.len())]).collect();
            let _ = check(&text.join(" "), &Keywords::default());
        }
    }

    #[test]
    fn a_tenant_keyword_as_a_sentence_is_an_opt_out() {
        let k = Keywords { opt_out: vec!["ALTO YA".into()], ..Keywords::default() };
        assert_eq!(check("Gracias. Alto ya", &k).verdict, Verdict::OptOut);
    }
}
