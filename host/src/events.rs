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

/// The broadcast channel.
#[derive(Debug, Clone)]
pub struct Events {
    tx: broadcast::Sender<TicketEvent>,
}

impl Default for Events {
    fn default() -> Self {
        // A slow subscriber that falls this far behind is told to reload.
        Events { tx: broadcast::channel(1024).0 }
    }
}

impl Events {
    /// Tell subscribers (none listening is fine).
    pub fn publish(&self, tenant: &str, ticket: i64, kind: &'static str) {
        let _ = self.tx.send(TicketEvent { tenant: tenant.to_string(), ticket, kind });
    }

    /// Is anyone listening (skip the work of finding what changed if not)?
    pub fn listening(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    /// Listen.
    pub fn subscribe(&self) -> broadcast::Receiver<TicketEvent> {
        self.tx.subscribe()
    }
}
