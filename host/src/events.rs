//! Live ticket events for the web inbox: whoever changes a ticket (the
//! pipeline, the outbox, an agent, housekeeping) publishes "ticket N of
//! tenant T changed"; each inbox connection receives its own tenant's only.
//! Events carry no content — the inbox reads the ticket through the API,
//! which applies the user's permissions.

use serde::Serialize;
use tokio::sync::broadcast;

/// Something about a ticket changed.
#[derive(Debug, Clone, Serialize)]
pub struct TicketEvent {
    /// The tenant.
    #[serde(skip)]
    pub tenant: String,
    /// The ticket (conversation) id.
    pub ticket: i64,
    /// `message` (a message came in or went out, or its status moved) or `ticket` (anything else).
    pub kind: &'static str,
}

/// The broadcast channel, and (with several replicas) the relay that
/// passes this replica's events to the others.
#[derive(Debug, Clone)]
pub struct Events {
    tx: broadcast::Sender<TicketEvent>,
    relay: Option<tokio::sync::mpsc::Sender<TicketEvent>>,
}

impl Default for Events {
    fn default() -> Self {
        // A slow subscriber that falls this far behind is told to reload.
        Events { tx: broadcast::channel(1024).0, relay: None }
    }
}

/// Events waiting for the relay before new ones are dropped (they are hints).
const RELAY_BACKLOG: usize = 4096;

impl Events {
    /// Events that other replicas hear too: the receiver is the relay's
    /// (`cluster::spawn_relay`).
    pub fn relayed() -> (Events, tokio::sync::mpsc::Receiver<TicketEvent>) {
        let (relay, rx) = tokio::sync::mpsc::channel(RELAY_BACKLOG);
        (Events { relay: Some(relay), ..Events::default() }, rx)
    }

    /// Tell subscribers here and on every other replica (none listening is fine).
    pub fn publish(&self, tenant: &str, ticket: i64, kind: &'static str) {
        let event = TicketEvent { tenant: tenant.to_string(), ticket, kind };
        if let Some(relay) = &self.relay {
            let _ = relay.try_send(event.clone());
        }
        let _ = self.tx.send(event);
    }

    /// Tell this replica's subscribers only (an event another replica relayed).
    pub fn publish_here(&self, tenant: &str, ticket: i64, kind: &'static str) {
        let _ = self.tx.send(TicketEvent { tenant: tenant.to_string(), ticket, kind });
    }

    /// Is anyone listening (skip the work of finding what changed if not)?
    /// With other replicas, someone may be, there.
    pub fn listening(&self) -> bool {
        self.relay.is_some() || self.tx.receiver_count() > 0
    }

    /// Listen.
    pub fn subscribe(&self) -> broadcast::Receiver<TicketEvent> {
        self.tx.subscribe()
    }
}
