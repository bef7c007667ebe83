//! Group commit for inbound messages: webhook handlers hand their message to
//! one writer task, which stores whatever has queued up (up to a batch) in a
//! single transaction and answers each handler once its row is durable. One
//! fsync then covers many messages, so `synchronous=FULL` stays fast.

use crate::store::{InboundOutcome, NewInbound, Store};
use std::sync::Arc;
use tokio::sync::{Notify, mpsc, oneshot};

/// Most messages per transaction.
const MAX_BATCH: usize = 256;

type Request = (NewInbound, oneshot::Sender<Result<InboundOutcome, String>>);

/// The handle webhook handlers use.
#[derive(Clone, Debug)]
pub struct Ingest {
    tx: mpsc::Sender<Request>,
}

impl Ingest {
    /// Start the writer task. `jobs` is notified after each commit that stored something.
    pub fn start(store: Store, jobs: Arc<Notify>) -> Ingest {
        let (tx, mut rx) = mpsc::channel::<Request>(4096);
        tokio::spawn(async move {
            let mut batch: Vec<Request> = Vec::with_capacity(MAX_BATCH);
            while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
                let messages: Vec<NewInbound> = batch.iter().map(|(m, _)| m.clone()).collect();
                match store.insert_inbound_batch(&messages).await {
                    Ok(outcomes) => {
                        if outcomes.iter().any(|o| matches!(o, InboundOutcome::Stored(_))) {
                            jobs.notify_waiters();
                        }
                        for ((_, reply), outcome) in batch.drain(..).zip(outcomes) {
                            let _ = reply.send(Ok(outcome));
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "storing inbound messages failed");
                        for (_, reply) in batch.drain(..) {
                            let _ = reply.send(Err(e.to_string()));
                        }
                    }
                }
            }
        });
        Ingest { tx }
    }

    /// Store one message durably (with its job); resolves after the commit.
    pub async fn store(&self, message: NewInbound) -> Result<InboundOutcome, String> {
        let (reply, done) = oneshot::channel();
        self.tx.send((message, reply)).await.map_err(|_| "the ingest writer has stopped".to_string())?;
        done.await.map_err(|_| "the ingest writer has stopped".to_string())?
    }
}
