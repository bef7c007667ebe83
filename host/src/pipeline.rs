//! The inbound flow as an explicit list of stages, run by background workers
//! that claim processing jobs.
//!
//! [`STAGES`] is the order: consent first (the slot where STOP/START/HELP will
//! be handled before any plugin runs), then identify, enrich, route, classify,
//! respond and act. A stage either continues or stops the flow; "act" turns
//! the decision into an outcome, and a worker writes the outcomes of the jobs
//! it claimed together — replies (once per inbound message, by idempotency
//! key), conversation changes, traces and job completion — in one transaction. A plugin failure of
//! any kind becomes a handoff to a human with the reason — the message is
//! never dropped. Processing is at-least-once: a worker that dies leaves its
//! job's lease to expire and another worker redoes it.

pub mod bindings;
pub mod breaker;
pub mod ingest;
pub mod kv;

use crate::consent::{self, ConsentState, EventKind, Purpose, Source};
use crate::domain::{ConversationContext, CustomerProfile, Decision, Handoff, InboundMessage, Intent, Priority};
use crate::messaging::segments;
use crate::plugins::PluginError;
use crate::store::{ClaimedJob, ConversationRow, InboundRow, NewConsentEvent, NewOutbound, NewTrace, Outcome, Store};
use crate::tenants::Tenants;
use bindings::{Bindings, TenantPlugins};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// A step of the inbound flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Consent keywords (STOP/START/HELP) — handled by the host before any plugin.
    Consent,
    /// Find or create the contact and its open conversation.
    Identify,
    /// CRM plugins fill in the customer's profile (cached per contact).
    Enrich,
    /// A conversation owned by a human goes no further: bots stay silent.
    Route,
    /// Classifier plugins label the message.
    Classify,
    /// The responder plugin decides.
    Respond,
    /// The host applies the decision.
    Act,
}

impl Stage {
    /// Its name, for metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Consent => "consent",
            Stage::Identify => "identify",
            Stage::Enrich => "enrich",
            Stage::Route => "route",
            Stage::Classify => "classify",
            Stage::Respond => "respond",
            Stage::Act => "act",
        }
    }
}

/// The stages, in order.
pub const STAGES: [Stage; 7] =
    [Stage::Consent, Stage::Identify, Stage::Enrich, Stage::Route, Stage::Classify, Stage::Respond, Stage::Act];

/// What the pipeline needs from the rest of the host.
#[derive(Clone)]
pub struct Pipeline {
    /// The database.
    pub store: Store,
    /// Tenants.
    pub tenants: Arc<Tenants>,
    /// Plugins per tenant.
    pub bindings: Arc<Bindings>,
    /// Woken when jobs are stored.
    pub jobs: Arc<Notify>,
    /// Woken when replies are queued.
    pub outbox: Arc<Notify>,
    /// How long a cached CRM profile is trusted.
    pub profile_ttl: Duration,
    /// Live ticket events (for the web inbox).
    pub events: crate::events::Events,
    /// Where shadow comparisons go (recorded in batches, off the message path).
    pub shadow: tokio::sync::mpsc::Sender<crate::store::ShadowResult>,
}

/// Most jobs a worker claims at once; their outcomes share one transaction.
const BATCH: i64 = 32;

/// Turns of history a plugin sees.
const HISTORY: i64 = 50;

/// A claimed message with its conversation and the turns before it.
struct Identified {
    message: InboundRow,
    conversation: ConversationRow,
    history: Vec<crate::domain::Turn>,
    /// The sender's consent before this message (earlier messages of the batch included).
    consent: ConsentState,
    consent_decision: Option<consent::InboundConsent>,
}

/// The state carried from stage to stage for one message.
struct Flow {
    job: ClaimedJob,
    message: InboundRow,
    plugins: Arc<TenantPlugins>,
    conversation: Option<ConversationRow>,
    profile: Option<CustomerProfile>,
    history: Vec<crate::domain::Turn>,
    /// The sender's consent before this message.
    consent: ConsentState,
    /// What the consent stage decided, before the stages ran.
    consent_decision: Option<consent::InboundConsent>,
    /// Ledger events this message causes.
    consent_events: Vec<NewConsentEvent>,
    /// The host's own reply (confirmation or HELP), instead of a plugin's.
    host_reply: Option<(Purpose, String)>,
    intents: Vec<Intent>,
    decision: Option<Decision>,
    traces: Vec<NewTrace>,
    profile_cache: Option<(i64, String)>,
    outcome: Option<Outcome>,
}

enum Next {
    Continue,
    /// Stop here; the job is done.
    Done,
}

impl Pipeline {
    /// Run `n` workers until the process ends.
    /// Start `n` workers; they stop claiming work when `stop` becomes
    /// `true`, and end when the batch they hold is done.
    pub fn spawn_workers(
        &self,
        n: usize,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        (0..n)
            .map(|_| {
                let pipeline = self.clone();
                let stop = stop.clone();
                tokio::spawn(async move { pipeline.work(stop).await })
            })
            .collect()
    }

    async fn work(self, stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                return;
            }
            let notified = self.jobs.notified();
            match self.run_once().await {
                Ok(0) => {
                    // Wait for new work, but look again now and then for
                    // leases that expired (a worker or process that died).
                    let _ = tokio::time::timeout(Duration::from_millis(500), notified).await;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e, "claiming a job failed");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }

    /// Claim one batch of jobs and carry it through: what each worker does
    /// in a loop (and what a test steps one batch at a time). Returns how
    /// many jobs it claimed (0: nothing was due).
    pub async fn run_once(&self) -> Result<usize, crate::store::StoreError> {
        let jobs = self.store.claim_jobs(crate::store::LEASE_MS, BATCH).await?;
        let claimed = jobs.len();
        if claimed == 0 {
            return Ok(0);
        }

        // Identify the batch in one transaction, run each message
        // through the stages, then write every outcome of the batch
        // in one transaction.
        let identified = match self.identify(&jobs).await {
            Ok(identified) => self.consent_in_order(identified),
            Err(e) => {
                tracing::error!(error = %e, "identifying a batch failed; will retry");
                for job in &jobs {
                    let _ = self.store.retry_job(job.id, 1_000, &e).await;
                }
                return Ok(claimed);
            }
        };
        // The messages of a batch are independent until their
        // outcomes are written, so their plugin calls run
        // concurrently (on every core the runtime has).
        let mut running = tokio::task::JoinSet::new();
        for (job, identified) in jobs.into_iter().zip(identified) {
            let pipeline = self.clone();
            running.spawn(async move {
                let id = job.id;
                (id, pipeline.process(job, identified).await)
            });
        }
        let mut outcomes = Vec::with_capacity(running.len());
        while let Some(done) = running.join_next().await {
            match done {
                Ok((_, Ok(outcome))) => outcomes.push(outcome),
                Ok((id, Err(e))) => {
                    tracing::error!(job = id, error = %e, "processing failed; will retry");
                    let _ = self.store.retry_job(id, 1_000, &e).await;
                }
                // A panic in the host's own code: the job's lease
                // expires and it is claimed again.
                Err(e) => tracing::error!(error = %e, "a processing task failed"),
            }
        }
        // Outcomes are applied in message order.
        outcomes.sort_by_key(|o| o.job_id);
        let replies = outcomes.iter().any(|o| o.reply.is_some() || !o.notices.is_empty());
        match self.store.apply_outcomes(&outcomes).await {
            Ok(()) => {
                if replies {
                    self.outbox.notify_waiters();
                }
                for o in &outcomes {
                    self.events.publish(&o.tenant_id, o.conversation_id, "message");
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "recording outcomes failed; will retry");
                for o in &outcomes {
                    let _ = self.store.retry_job(o.job_id, 1_000, &e.to_string()).await;
                }
            }
        }
        Ok(claimed)
    }

    /// Load the claimed messages, find (or open) their conversations and
    /// read each one's history: a few statements for the whole batch.
    async fn identify(&self, jobs: &[ClaimedJob]) -> Result<Vec<Identified>, String> {
        let ids: Vec<i64> = jobs.iter().map(|j| j.message_id).collect();
        let messages = self.store.inbound_batch(&ids).await.map_err(|e| e.to_string())?;
        let window = |tenant: &str| {
            self.tenants.get(tenant).map(|t| t.config.tickets.reopen_window_hours * 3_600_000).unwrap_or(0)
        };
        let conversations = self.store.identify_batch(&messages, &window).await.map_err(|e| e.to_string())?;
        let wanted: Vec<(i64, i64)> = messages.iter().zip(&conversations).map(|(m, c)| (c.id, m.id)).collect();
        let histories = self.store.history_batch(&wanted, HISTORY).await.map_err(|e| e.to_string())?;
        let senders: Vec<(&str, &str)> = messages.iter().map(|m| (m.tenant_id.as_str(), m.from.as_str())).collect();
        let events = self.store.consent_events_for(&senders).await.map_err(|e| e.to_string())?;
        drop(senders);
        Ok(messages
            .into_iter()
            .zip(conversations)
            .zip(histories)
            .map(|((message, conversation), history)| {
                let key = (message.tenant_id.clone(), message.from.clone());
                let consent = ConsentState::derive(events.get(&key).into_iter().flatten());
                Identified { message, conversation, history, consent, consent_decision: None }
            })
            .collect())
    }

    /// The consent stage for a whole batch, in message order: each message
    /// sees the consent its sender's earlier messages in the batch left (a
    /// START then a STOP in one batch must end opted out, confirmed). Pure
    /// and cheap; the plugin stages then run concurrently.
    fn consent_in_order(&self, mut batch: Vec<Identified>) -> Vec<Identified> {
        let mut running: std::collections::HashMap<(String, String), ConsentState> = Default::default();
        for item in &mut batch {
            let m = &item.message;
            let state = running.entry((m.tenant_id.clone(), m.from.clone())).or_insert_with(|| item.consent.clone());
            item.consent = state.clone();
            let Some(tenant) = self.tenants.get(&m.tenant_id) else { continue };
            let c = &tenant.config;
            let support = c.consent.support_contact.as_deref().unwrap_or(&m.to);
            let brand = consent::Brand { name: &c.name, help_text: c.help_text.as_deref(), support_contact: support };
            let decided = consent::on_inbound(&m.body, state, &c.consent.keywords, &brand);
            if let Some((event, purpose)) = decided.event {
                state.apply(event, purpose, Some(m.id));
            }
            item.consent_decision = Some(decided);
        }
        batch
    }

    /// Run the stages for one identified message; the caller writes the outcome.
    async fn process(&self, job: ClaimedJob, identified: Identified) -> Result<Outcome, String> {
        let Identified { message, conversation, history, consent, consent_decision } = identified;
        let plugins = self.bindings.get(&message.tenant_id);
        let mut flow = Flow {
            job,
            message,
            plugins,
            conversation: Some(conversation),
            profile_cache: None,
            profile: None,
            history,
            consent,
            consent_decision,
            consent_events: Vec::new(),
            host_reply: None,
            intents: Vec::new(),
            decision: None,
            traces: Vec::new(),
            outcome: None,
        };
        for stage in STAGES {
            let started = Instant::now();
            let next = self.run(stage, &mut flow).await?;
            crate::metrics::observe(
                "smsdesk_pipeline_stage_duration_seconds",
                &[("stage", stage.as_str())],
                started.elapsed().as_secs_f64(),
            );
            match next {
                Next::Continue => {}
                Next::Done => break,
            }
        }
        flow.outcome.ok_or_else(|| "the pipeline ended without an outcome".to_string())
    }

    async fn run(&self, stage: Stage, flow: &mut Flow) -> Result<Next, String> {
        match stage {
            // Keywords and revocations, before any plugin sees the message.
            Stage::Consent => {
                // Decided for the whole batch in message order (see `consent_in_order`).
                let decided = flow.consent_decision.take().ok_or("no consent decision")?;
                if let Some((event, purpose)) = decided.event {
                    let matched = match &decided.check.reason {
                        consent::Reason::Keyword(k) => k.clone(),
                        consent::Reason::Rule(r) => r.to_string(),
                        consent::Reason::Nothing => String::new(),
                    };
                    flow.consent_events.push(self.consent_event(flow, event, purpose, matched));
                }
                flow.host_reply = decided.reply;
                if decided.continue_bot {
                    return Ok(Next::Continue);
                }
                let decision = match decided.flag {
                    Some(reason) => Decision {
                        handoff: Some(Handoff { reason, priority: Priority::High, team: None }),
                        add_tags: vec!["consent-review".into()],
                        ..Decision::default()
                    },
                    None => Decision::default(),
                };
                self.finish(flow, decision);
                Ok(Next::Done)
            }
            // The worker identified its whole batch (contact, conversation,
            // history) before the stages ran. An answer to a satisfaction
            // survey was recorded as the ticket's rating there: nothing more.
            Stage::Identify => {
                if flow.conversation.as_ref().is_some_and(|c| c.csat_rating.is_some()) {
                    let outcome = self.outcome(flow, Decision::default(), true);
                    flow.outcome = Some(outcome);
                    return Ok(Next::Done);
                }
                Ok(Next::Continue)
            }
            Stage::Enrich => {
                let conversation = flow.conversation.as_ref().expect("identified");
                let contact_id = conversation.contact_id;
                let ttl = self.profile_ttl.as_millis() as i64;
                if let Some((json, at)) = &conversation.profile
                    && self.store.now() - at < ttl
                {
                    flow.profile = serde_json::from_str(json).ok().flatten();
                    return Ok(Next::Continue);
                }
                for bound in flow.plugins.crm.clone() {
                    let started = Instant::now();
                    let result = guarded(&bound, bound.plugin.lookup(&bound.call, &flow.message.from)).await;
                    self.trace(flow, &bound.plugin, "crm", started, result.as_ref().err(), None);
                    match result {
                        Ok(Some(profile)) => {
                            flow.profile = Some(profile);
                            break;
                        }
                        Ok(None) => {}
                        Err(e) => {
                            flow.decision = Some(failure_handoff(&e));
                            return Ok(Next::Continue);
                        }
                    }
                }
                let json = serde_json::to_string(&flow.profile).unwrap_or_else(|_| "null".into());
                flow.profile_cache = Some((contact_id, json));
                Ok(Next::Continue)
            }
            Stage::Route => {
                let conversation = flow.conversation.as_ref().expect("identified");
                if conversation.owner == "human" {
                    // A person is handling it: no plugin sees or answers the message.
                    let outcome = self.outcome(flow, Decision::default(), true);
                    flow.outcome = Some(outcome);
                    return Ok(Next::Done);
                }
                Ok(Next::Continue)
            }
            Stage::Classify => {
                if flow.decision.is_some() {
                    return Ok(Next::Continue);
                }
                let (message, context) = self.inputs(flow);
                let started_stage = Instant::now();
                let mut intents: Vec<Intent> = Vec::new();
                for bound in flow.plugins.classifiers.clone() {
                    let started = Instant::now();
                    let result = guarded(&bound, bound.plugin.classify(&bound.call, &message, &context)).await;
                    let summary = result.as_ref().ok().map(|i| summarize_intents(i));
                    self.trace(flow, &bound.plugin, "classifier", started, result.as_ref().err(), summary);
                    match result {
                        Ok(found) => merge_intents(&mut intents, found),
                        Err(e) => {
                            flow.decision = Some(failure_handoff(&e));
                            return Ok(Next::Continue);
                        }
                    }
                }
                self.shadow_classify(flow, &message, &context, &intents, started_stage.elapsed());
                flow.intents = intents;
                Ok(Next::Continue)
            }
            Stage::Respond => {
                if flow.decision.is_some() {
                    return Ok(Next::Continue);
                }
                // A classifier may add an opt-out signal; the host acts on it.
                let brand =
                    self.tenants.get(&flow.message.tenant_id).map(|t| t.config.name.clone()).unwrap_or_default();
                if let Some(signal) = consent::plugin_signal(&flow.intents, &flow.consent, &brand) {
                    let confidence = flow.intents.iter().find(|i| i.label == "opt-out").map(|i| i.confidence);
                    let matched = format!("plugin signal opt-out={:.2}", confidence.unwrap_or_default());
                    let event = self.consent_event(flow, EventKind::RevocationDetected, "all", matched);
                    flow.consent_events.push(event);
                    flow.host_reply = signal.reply;
                    self.finish(flow, Decision::default());
                    return Ok(Next::Done);
                }
                let Some(bound) = flow.plugins.responder.clone() else {
                    flow.decision = Some(Decision {
                        handoff: Some(Handoff {
                            reason: "No responder plugin is configured for this tenant".into(),
                            priority: Priority::Normal,
                            team: None,
                        }),
                        ..Decision::default()
                    });
                    return Ok(Next::Continue);
                };
                let (message, context) = self.inputs(flow);
                let started = Instant::now();
                let result =
                    guarded(&bound, bound.plugin.respond(&bound.call, &message, &context, &flow.intents)).await;
                let summary = result.as_ref().ok().map(summarize_decision);
                self.trace(flow, &bound.plugin, "responder", started, result.as_ref().err(), summary);
                if let Ok(decision) = &result {
                    let active = crate::replay::decision_action(decision);
                    self.shadow_respond(flow, &message, &context, active, started.elapsed());
                }
                flow.decision = Some(match result {
                    Ok(decision) => decision,
                    Err(e) => failure_handoff(&e),
                });
                Ok(Next::Continue)
            }
            Stage::Act => {
                let decision = flow.decision.clone().unwrap_or_default();
                self.finish(flow, decision);
                Ok(Next::Done)
            }
        }
    }

    /// End the flow with `decision` (the host's own reply, if any, wins over a plugin's).
    fn finish(&self, flow: &mut Flow, decision: Decision) {
        let outcome = self.outcome(flow, decision, false);
        flow.outcome = Some(outcome);
    }

    fn outcome(&self, flow: &mut Flow, decision: Decision, human_owned: bool) -> Outcome {
        let conversation_id = flow.conversation.as_ref().map(|c| c.id).unwrap_or_default();
        let m = &flow.message;
        let reply_to = |purpose: Purpose, text: &str, key: String| {
            let info = segments::analyze(text);
            NewOutbound {
                tenant_id: m.tenant_id.clone(),
                conversation_id: Some(conversation_id),
                idempotency_key: key,
                author: if matches!(purpose, Purpose::Conversational) { "bot" } else { "system" },
                category: purpose.as_str(),
                from: m.to.clone(),
                to: m.from.clone(),
                body: text.to_string(),
                encoding: info.encoding.as_str(),
                segments: info.segments,
                subject: None,
                answers_message_id: matches!(purpose, Purpose::OptOutConfirmation).then_some(m.id),
                expires_at: None,
            }
        };
        let reply = match (&flow.host_reply, &decision.reply) {
            (Some((purpose, text)), _) => Some(reply_to(*purpose, text, format!("consent:{}", m.id))),
            (None, Some(text)) if !human_owned => {
                Some(reply_to(Purpose::Conversational, text, format!("reply:{}", m.id)))
            }
            _ => None,
        };
        // The helpdesk's part: SLA due times for a handoff, the after-hours
        // notice when people own the conversation and are away (never while a
        // bot handles it), the survey when automation resolves (if asked for).
        let mut sla = None;
        let mut notices = Vec::new();
        let rating = flow.conversation.as_ref().is_some_and(|c| c.csat_rating.is_some());
        if let Some(tenant) = self.tenants.get(&m.tenant_id)
            && !rating
            && flow.host_reply.is_none()
            && flow.consent_events.is_empty()
            // A possible opt-out waits for a person, with nothing automatic sent.
            && !decision.add_tags.iter().any(|t| t == "consent-review")
        {
            let tickets = &tenant.config.tickets;
            let now = jiff::Timestamp::from_millisecond(self.store.now()).unwrap_or_else(|_| jiff::Timestamp::now());
            let hours = &tenant.business_hours;
            if let Some(h) = &decision.handoff {
                let first = hours.add_business(now, tickets.sla.first_response.get(h.priority));
                let resolution = hours.add_business(now, tickets.sla.resolution.get(h.priority));
                sla = Some((first.as_millisecond(), resolution.as_millisecond()));
            }
            let people_own = decision.handoff.is_some() || human_owned;
            if people_own && !tickets.after_hours_reply.is_empty() && !hours.is_open(now) {
                let back = hours.next_open(now);
                let when = hours.describe(now, back);
                let mut vars = std::collections::BTreeMap::new();
                vars.insert("next_open".to_string(), when);
                if let Ok(text) = crate::messaging::template::render(&tickets.after_hours_reply, &vars) {
                    let key = format!("after-hours:{conversation_id}:{}", back.as_millisecond());
                    let mut notice = reply_to(Purpose::Conversational, &text, key);
                    notice.author = "system";
                    notices.push(notice);
                }
            }
            if decision.resolve
                && decision.handoff.is_none()
                && !human_owned
                && tickets.csat.on == crate::tickets::CsatOn::All
            {
                let mut survey =
                    reply_to(Purpose::Conversational, &tickets.csat.text, format!("csat:{conversation_id}"));
                survey.author = "system";
                notices.push(survey);
            }
        }
        let what = if rating {
            "csat"
        } else if flow.host_reply.is_some() || !flow.consent_events.is_empty() {
            "consent"
        } else if human_owned {
            "human-owned"
        } else if decision.handoff.is_some() {
            "handoff"
        } else if decision.resolve {
            "resolved"
        } else if decision.reply.is_some() {
            "reply"
        } else {
            "no-action"
        };
        crate::metrics::count("smsdesk_pipeline_messages_total", &[("tenant", &m.tenant_id), ("outcome", what)], 1);
        Outcome {
            tenant_id: m.tenant_id.clone(),
            sla,
            notices,
            job_id: flow.job.id,
            message_id: m.id,
            conversation_id,
            intents: std::mem::take(&mut flow.intents),
            decision,
            reply,
            traces: std::mem::take(&mut flow.traces),
            human_owned,
            profile_cache: flow.profile_cache.take(),
            consent: std::mem::take(&mut flow.consent_events),
        }
    }

    /// Shadow classifiers: called with the same inputs after the active
    /// ones, in their own task; the message does not wait for them and
    /// nothing they say is used — only compared and recorded.
    fn shadow_classify(
        &self,
        flow: &Flow,
        message: &InboundMessage,
        context: &ConversationContext,
        active: &[Intent],
        active_time: Duration,
    ) {
        for shadow in flow.plugins.shadows.iter().filter(|s| s.bound.role == crate::domain::Role::Classifier) {
            let (shadow, message, context, tx) =
                (shadow.clone(), message.clone(), context.clone(), self.shadow.clone());
            let active = crate::replay::intents_action(active);
            tokio::spawn(async move {
                let started = Instant::now();
                let result = shadow.bound.plugin.classify(&shadow.bound.call, &message, &context).await;
                let candidate = result.as_ref().ok().map(|i| crate::replay::intents_action(i));
                record_shadow(
                    &tx,
                    shadow.run_id,
                    &message,
                    active,
                    candidate,
                    result.err(),
                    active_time,
                    started.elapsed(),
                );
            });
        }
    }

    /// Shadow responders: as [`Pipeline::shadow_classify`], given the intents the active classifiers found.
    fn shadow_respond(
        &self,
        flow: &Flow,
        message: &InboundMessage,
        context: &ConversationContext,
        active: crate::replay::Action,
        active_time: Duration,
    ) {
        for shadow in flow.plugins.shadows.iter().filter(|s| s.bound.role == crate::domain::Role::Responder) {
            let (shadow, message, context, tx) =
                (shadow.clone(), message.clone(), context.clone(), self.shadow.clone());
            let (intents, active) = (flow.intents.clone(), active.clone());
            tokio::spawn(async move {
                let started = Instant::now();
                let result = shadow.bound.plugin.respond(&shadow.bound.call, &message, &context, &intents).await;
                let candidate = result.as_ref().ok().map(crate::replay::decision_action);
                record_shadow(
                    &tx,
                    shadow.run_id,
                    &message,
                    active,
                    candidate,
                    result.err(),
                    active_time,
                    started.elapsed(),
                );
            });
        }
    }

    fn consent_event(&self, flow: &Flow, event: EventKind, purpose: &str, matched: String) -> NewConsentEvent {
        let m = &flow.message;
        NewConsentEvent {
            tenant_id: m.tenant_id.clone(),
            phone: m.from.clone(),
            program: m.to.clone(),
            purpose: purpose.to_string(),
            event,
            source: Source::Customer,
            matched: (!matched.is_empty()).then_some(matched),
            message_id: Some(m.id),
            text: Some(m.body.clone()),
            disclosure_version: (event == EventKind::OptIn).then(|| consent::SMS_OPT_IN_DISCLOSURE.to_string()),
        }
    }

    fn inputs(&self, flow: &Flow) -> (InboundMessage, ConversationContext) {
        let m = &flow.message;
        let message = m.to_message();
        let context = ConversationContext {
            conversation_id: flow.conversation.as_ref().map(|c| c.id.to_string()).unwrap_or_default(),
            history: flow.history.clone(),
            profile: flow.profile.clone(),
        };
        (message, context)
    }

    fn trace(
        &self,
        flow: &mut Flow,
        plugin: &crate::plugins::LoadedPlugin,
        role: &'static str,
        started: Instant,
        error: Option<&PluginError>,
        summary: Option<String>,
    ) {
        let elapsed = started.elapsed();
        let (tenant, plugin_name) = (flow.message.tenant_id.as_str(), plugin.name());
        let outcome = error.map(|e| e.kind.as_str()).unwrap_or("ok");
        let labels = [("tenant", tenant), ("plugin", plugin_name), ("role", role)];
        crate::metrics::observe("smsdesk_plugin_call_duration_seconds", &labels, elapsed.as_secs_f64());
        crate::metrics::count(
            "smsdesk_plugin_calls_total",
            &[("tenant", tenant), ("plugin", plugin_name), ("role", role), ("outcome", outcome)],
            1,
        );
        flow.traces.push(NewTrace {
            tenant_id: flow.message.tenant_id.clone(),
            message_id: flow.message.id,
            conversation_id: flow.conversation.as_ref().map(|c| c.id),
            plugin: plugin.name().to_string(),
            version: plugin.manifest().version.clone(),
            role,
            duration_us: started.elapsed().as_micros() as i64,
            error_kind: error.map(|e| e.kind.as_str()),
            detail: error.map(|e| e.to_string()).or(summary),
        });
    }
}

/// Call a bound plugin through its circuit breaker: a suspended binding is
/// not called (the failure says why), and every call's outcome is recorded.
async fn guarded<T>(
    bound: &bindings::Bound,
    call: impl std::future::Future<Output = Result<T, PluginError>>,
) -> Result<T, PluginError> {
    if let Err(why) = bound.breaker.allow(Instant::now()) {
        return Err(PluginError::new(
            bound.plugin.name(),
            Some(bound.role),
            crate::plugins::FailureKind::Suspended,
            why,
        ));
    }
    let result = call.await;
    let error = result.as_ref().err().map(|e| format!("{}: {}", e.kind.as_str(), e.detail));
    bound.breaker.record(Instant::now(), error.as_deref());
    result
}

/// Queue one shadow comparison for the recorder (dropped, with a metric, if it is full).
#[allow(clippy::too_many_arguments)]
fn record_shadow(
    tx: &tokio::sync::mpsc::Sender<crate::store::ShadowResult>,
    run_id: i64,
    message: &InboundMessage,
    active: crate::replay::Action,
    candidate: Option<crate::replay::Action>,
    error: Option<PluginError>,
    active_time: Duration,
    candidate_time: Duration,
) {
    let agrees = candidate.as_ref().is_some_and(|c| c.kind == active.kind);
    let result = crate::store::ShadowResult {
        run_id,
        message_id: message.id.parse().unwrap_or_default(),
        active: (active.kind, active.text),
        candidate: candidate.map(|c| (c.kind, c.text)),
        candidate_error: error.map(|e| e.kind.as_str().to_string()),
        agrees,
        active_us: active_time.as_micros() as i64,
        candidate_us: candidate_time.as_micros() as i64,
    };
    let outcome = if tx.try_send(result).is_ok() { "recorded" } else { "dropped" };
    crate::metrics::count("smsdesk_shadow_results_total", &[("tenant", &message.tenant), ("result", outcome)], 1);
}

/// A failed plugin call becomes a handoff that says what failed.
fn failure_handoff(e: &PluginError) -> Decision {
    Decision {
        handoff: Some(Handoff {
            reason: format!("Automation failed: {e}").chars().take(500).collect(),
            priority: Priority::Normal,
            team: None,
        }),
        ..Decision::default()
    }
}

/// Add `found` to `intents`, keeping the highest confidence per label, most confident first.
fn merge_intents(intents: &mut Vec<Intent>, found: Vec<Intent>) {
    for intent in found {
        match intents.iter_mut().find(|i| i.label == intent.label) {
            Some(existing) => existing.confidence = existing.confidence.max(intent.confidence),
            None => intents.push(intent),
        }
    }
    intents.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
}

fn summarize_intents(intents: &[Intent]) -> String {
    let parts: Vec<String> = intents.iter().take(5).map(|i| format!("{}={:.2}", i.label, i.confidence)).collect();
    if parts.is_empty() { "no intents".into() } else { parts.join(", ") }
}

fn summarize_decision(d: &Decision) -> String {
    match (&d.reply, &d.handoff) {
        (_, Some(h)) => format!("handoff: {}", h.reason),
        (Some(_), None) if d.resolve => "reply and resolve".into(),
        (Some(_), None) => "reply".into(),
        (None, None) => "no action".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consent_runs_first_and_act_last() {
        assert_eq!(STAGES.first(), Some(&Stage::Consent));
        assert_eq!(STAGES.last(), Some(&Stage::Act));
        let pos = |s| STAGES.iter().position(|x| *x == s).unwrap();
        assert!(pos(Stage::Consent) < pos(Stage::Classify));
        assert!(pos(Stage::Route) < pos(Stage::Classify));
    }

    #[test]
    fn intents_merge_by_label() {
        let mut intents = vec![Intent { label: "a".into(), confidence: 0.5 }];
        merge_intents(
            &mut intents,
            vec![Intent { label: "a".into(), confidence: 0.7 }, Intent { label: "b".into(), confidence: 0.9 }],
        );
        assert_eq!(intents[0].label, "b");
        assert_eq!(intents[1].confidence, 0.7);
    }
}
