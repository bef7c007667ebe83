//! Replicas on one database (PostgreSQL): what each tells the others — a
//! tenant's plugin set changed, tickets changed — and which one runs
//! housekeeping. On SQLite there is one process: announcements go nowhere
//! and it always leads.
//!
//! Announcements carry what changed, never a secret or a message's text:
//! `{"from": PROCESS, "tenant": T|null}` on the plugins channel (the
//! receiver reads the new set from the database), `{"from": PROCESS,
//! "events": [[TENANT, TICKET, KIND], …]}` on the tickets channel. A replica
//! ignores its own.

use crate::events::{Events, TicketEvent};
use crate::pipeline::bindings::Bindings;
use crate::store::{Channel, Heard, MAX_ANNOUNCEMENT, Store};
use crate::tenants::Tenants;
use serde::Deserialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// What this replica says about itself to a load balancer (`/readyz`).
#[derive(Debug, Default)]
pub struct Status {
    /// It runs housekeeping now.
    pub housekeeping: AtomicBool,
    /// It is shutting down: it takes no new work and should get no traffic.
    pub draining: AtomicBool,
}

/// How often housekeeping runs (and a replica that does not lead tries to).
pub const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(2);

/// Tell every replica that `tenant`'s plugin set changed (every tenant's
/// with `None`). This replica has already swapped its own. A failure is
/// logged: the change is stored, and a replica that missed it reloads
/// everything when its listening connection comes back.
pub async fn announce_plugins(store: &Store, tenant: Option<&str>) {
    let payload = serde_json::json!({ "from": store.process(), "tenant": tenant }).to_string();
    if let Err(e) = store.announce(Channel::Plugins, &payload).await {
        tracing::error!(error = %e, "announcing a plugin change to the other replicas failed");
    }
}

#[derive(Deserialize)]
struct PluginsChanged {
    from: String,
    tenant: Option<String>,
}

#[derive(Deserialize)]
struct TicketsChanged {
    from: String,
    events: Vec<(String, i64, String)>,
}

/// Listen to the other replicas (PostgreSQL): swap a tenant's plugin set
/// when one announces a change, reload every set after a lost connection
/// (announcements may have been missed), and pass their ticket events to
/// this replica's inbox connections. `listener` is made (`Store::listen`)
/// before the plugin sets are first read, so no change falls between.
pub fn spawn_listener(
    store: &Store,
    listener: Option<crate::store::Listener>,
    bindings: Arc<Bindings>,
    events: Events,
) {
    let Some(mut listener) = listener else { return };
    let me = store.process().to_string();
    tokio::spawn(async move {
        loop {
            match listener.next().await {
                Err(e) => {
                    tracing::warn!(error = %e, "listening to the other replicas failed; reconnecting");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Ok(Heard::Reconnected) => {
                    tracing::info!("listening to the other replicas again; reloading every tenant's plugins");
                    if let Err(e) = bindings.reload(None).await {
                        tracing::error!(error = %format!("{e:#}"), "reloading plugins failed; keeping the running sets");
                    }
                }
                Ok(Heard::Announcement { channel: Channel::Plugins, payload }) => {
                    let Ok(change) = serde_json::from_str::<PluginsChanged>(&payload) else {
                        tracing::warn!("ignoring an announcement that is not smsdesk's");
                        continue;
                    };
                    if change.from == me {
                        continue;
                    }
                    let tenant = change.tenant.as_deref().filter(|t| bindings.has_tenant(t));
                    if change.tenant.is_some() && tenant.is_none() {
                        continue;
                    }
                    match bindings.reload(tenant).await {
                        Ok(()) => {
                            tracing::info!(tenant = tenant.unwrap_or("*"), from = %change.from, "plugins changed on another replica; swapped in")
                        }
                        Err(e) => {
                            tracing::error!(error = %format!("{e:#}"), "reloading plugins failed; keeping the running set")
                        }
                    }
                }
                Ok(Heard::Announcement { channel: Channel::Tickets, payload }) => {
                    let Ok(change) = serde_json::from_str::<TicketsChanged>(&payload) else { continue };
                    if change.from == me {
                        continue;
                    }
                    for (tenant, ticket, kind) in change.events {
                        events.publish_here(&tenant, ticket, if kind == "message" { "message" } else { "ticket" });
                    }
                }
            }
        }
    });
}

/// Pass this replica's ticket events to the others, a batch per
/// announcement (events are hints for inbox connections, which read the
/// ticket through the API: one lost in a failure costs a stale view until
/// the next event, not data).
pub fn spawn_relay(store: Store, mut relay: tokio::sync::mpsc::Receiver<TicketEvent>) {
    tokio::spawn(async move {
        let me = store.process().to_string();
        while let Some(first) = relay.recv().await {
            let mut batch = vec![first];
            while let Ok(e) = relay.try_recv() {
                batch.push(e);
                if batch.len() >= 64 {
                    break;
                }
            }
            batch.sort_by(|a, b| (&a.tenant, a.ticket, a.kind).cmp(&(&b.tenant, b.ticket, b.kind)));
            batch.dedup_by(|a, b| a.tenant == b.tenant && a.ticket == b.ticket && a.kind == b.kind);
            let mut events: Vec<(&str, i64, &str)> = Vec::new();
            let mut size = me.len() + 32;
            for e in &batch {
                let one = e.tenant.len() + 32;
                if size + one > MAX_ANNOUNCEMENT && !events.is_empty() {
                    send(&store, &me, &events).await;
                    events.clear();
                    size = me.len() + 32;
                }
                size += one;
                events.push((&e.tenant, e.ticket, e.kind));
            }
            send(&store, &me, &events).await;
        }
    });
    async fn send(store: &Store, me: &str, events: &[(&str, i64, &str)]) {
        let payload = serde_json::json!({ "from": me, "events": events }).to_string();
        if let Err(e) = store.announce(Channel::Tickets, &payload).await {
            tracing::warn!(error = %e, "passing ticket events to the other replicas failed");
        }
    }
}

/// Every two seconds, on the one replica that leads housekeeping: wake
/// snoozed tickets whose time came, close resolved ones past their reopen
/// window. A replica that does not lead tries to every period, so when the
/// leader dies (its lock's connection ends with it) another takes over
/// within a period or two. `status` says whether this one does (for
/// `/readyz`). A draining replica stops leading.
pub fn spawn_housekeeping(store: Store, tenants: Arc<Tenants>, events: Events, status: Arc<Status>) {
    let windows: Vec<(String, i64)> =
        tenants.all().map(|t| (t.config.id.clone(), t.config.tickets.reopen_window_hours * 3_600_000)).collect();
    tokio::spawn(async move {
        let mut leadership = None;
        loop {
            tokio::time::sleep(HOUSEKEEPING_EVERY).await;
            if status.draining.load(Ordering::Relaxed) {
                // Dropping the lock's connection hands housekeeping on.
                leadership = None;
                status.housekeeping.store(false, Ordering::Relaxed);
                continue;
            }
            if leadership.is_none() {
                match store.lead("housekeeping").await {
                    Ok(Some(l)) => {
                        tracing::info!(process = store.process(), "this replica now runs housekeeping");
                        leadership = Some(l);
                    }
                    Ok(None) => continue,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot tell whether this replica should run housekeeping");
                        continue;
                    }
                }
            }
            let held = match leadership.as_mut() {
                Some(l) => l.held().await,
                None => false,
            };
            if !held {
                tracing::warn!("this replica lost the housekeeping lock; another one takes over");
                leadership = None;
                status.housekeeping.store(false, Ordering::Relaxed);
                continue;
            }
            status.housekeeping.store(true, Ordering::Relaxed);
            match store.sweep_tickets(&windows).await {
                Ok(changed) => {
                    crate::metrics::count("smsdesk_housekeeping_runs_total", &[], 1);
                    for (tenant, ticket) in changed {
                        events.publish(&tenant, ticket, "ticket");
                    }
                }
                Err(e) => tracing::error!(error = %e, "ticket housekeeping failed"),
            }
        }
    });
}
