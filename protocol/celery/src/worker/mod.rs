//! A Celery-compatible worker: consume, prefetch, ack (early or late), ETA, retries, expiry, time
//! limits, revoke, remote control, events and results — with the tasks supplied by the caller.
//!
//! The flow of one message:
//!
//! 1. the consumer BRPOPs it (only while the prefetch window has room) and immediately records it
//!    in `unacked`/`unacked_index`, as kombu does;
//! 2. it is decoded; anything malformed goes, raw, to the dead-letter list;
//! 3. a revoked or expired message is acked and stored as REVOKED;
//! 4. a message with a future ETA waits in a timer (not counted against the prefetch window);
//! 5. otherwise it is reserved and runs when one of the `concurrency` slots is free;
//! 6. the message is acked when the task starts (default) or ends (`acks_late`).
//!
//! Warm shutdown (first SIGINT/SIGTERM, or `celery control shutdown`) stops consuming, puts every
//! reserved and ETA-held message back at the front of its queue (RPUSH, as kombu does) and waits
//! for running tasks. A second signal cancels running tasks and restores late-ack messages.

mod config;
mod consume;
mod decode;
mod execute;
mod nodename;
mod remote;
mod revoked;
mod state;
mod task;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{error, info, warn};

pub use config::{Recovery, UnknownTaskPolicy, WorkerConfig};
pub use nodename::expand_nodename;
pub use revoked::{REVOKE_EXPIRES, REVOKES_MAX, RevokedSet};
pub use task::{
    CancelReason, RetryRequest, TaskContext, TaskError, TaskFailure, TaskOptions, TaskRegistry, TaskRequest,
    TaskResult,
};

use crate::control::Mailbox;
use crate::events::{EventDispatcher, LamportClock};
use crate::producer::Producer;
use crate::results::ResultBackend;
use crate::transport::{Broker, TransportError};
use state::WorkerState;

/// Failures that stop a worker from starting.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("invalid worker configuration: {0}")]
    Config(String),
}

/// A worker: build it with [`Worker::new`], run it with [`Worker::run`].
pub struct Worker {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub config: WorkerConfig,
    pub registry: TaskRegistry,
    pub broker: Broker,
    pub backend: Option<ResultBackend>,
    pub producer: Producer,
    pub events: EventDispatcher,
    pub clock: LamportClock,
    state: Mutex<WorkerState>,
    /// Warm shutdown requested.
    pub shutdown: CancellationToken,
    /// Cold shutdown requested (running tasks are cancelled).
    pub cold: CancellationToken,
    pub prefetch: Arc<Semaphore>,
    pub slots: Arc<Semaphore>,
    pub tasks: TaskTracker,
    pub started: Instant,
}

impl Inner {
    pub(crate) fn state(&self) -> MutexGuard<'_, WorkerState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn nodename(&self) -> &str {
        &self.config.nodename
    }
}

impl Worker {
    /// Connects to the broker (and result backend, if configured).
    pub async fn new(config: WorkerConfig, registry: TaskRegistry) -> Result<Self, WorkerError> {
        if config.queues.is_empty() {
            return Err(WorkerError::Config("no queues to consume".into()));
        }
        if !config.nodename.contains('@') {
            return Err(WorkerError::Config(format!(
                "node name {:?} must look like name@host",
                config.nodename
            )));
        }
        // Like Celery at start-up, wait for a broker that is restarting or not up yet.
        let transport = config.effective_transport();
        let patience = transport.outage_patience;
        let broker = crate::transport::retry_while_transient("connect to the broker", patience, || {
            Broker::connect(&config.broker_url, transport.clone())
        })
        .await?
        .for_node(&config.nodename);
        let backend = match &config.result_backend {
            Some(url) => Some(ResultBackend::connect(url, config.backend_options.clone()).await?),
            None => None,
        };
        let clock = LamportClock::default();
        let producer = Producer::new(broker.clone(), config.nodename.clone());
        let events =
            EventDispatcher::new(broker.clone(), &config.nodename, clock.clone(), config.task_events);
        let inner = Inner {
            prefetch: Arc::new(Semaphore::new(config.prefetch_count())),
            slots: Arc::new(Semaphore::new(config.concurrency.max(1))),
            config,
            registry,
            broker,
            backend,
            producer,
            events,
            clock,
            state: Mutex::default(),
            shutdown: CancellationToken::new(),
            cold: CancellationToken::new(),
            tasks: TaskTracker::new(),
            started: Instant::now(),
        };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// Cancel this token to request a warm shutdown (what SIGTERM does).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.inner.shutdown.clone()
    }

    /// Cancel this token (after the warm one) to cancel running tasks (a second SIGTERM).
    pub fn cold_shutdown_token(&self) -> CancellationToken {
        self.inner.cold.clone()
    }

    /// `<node>#<nonce>`: this process life as the fleet knows it (see `transport::peers`). It is
    /// announced in [`Worker::peers_key`] while the worker runs and removed when it stops or is
    /// taken for dead, so other state (locks) can be tied to it.
    pub fn instance(&self) -> &str {
        self.inner.broker.instance()
    }

    /// The Redis key of the hash of live instances.
    pub fn peers_key(&self) -> String {
        self.inner.broker.names().key(crate::transport::PEERS_HASH)
    }

    /// A producer that sends as this worker (origin = node name).
    pub fn producer(&self) -> Producer {
        self.inner.producer.clone()
    }

    /// Runs until SIGINT/SIGTERM (warm shutdown; a second signal goes cold).
    pub async fn run_until_signal(self) -> Result<(), WorkerError> {
        let warm = self.shutdown_token();
        let cold = self.cold_shutdown_token();
        tokio::spawn(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut term), Ok(mut int)) =
                (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
            else {
                warn!("cannot install signal handlers");
                return;
            };
            for stage in 0..2 {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
                if stage == 0 {
                    info!("warm shutdown requested (send the signal again to cancel running tasks)");
                    warm.cancel();
                } else {
                    info!("cold shutdown: cancelling running tasks");
                    cold.cancel();
                }
            }
        });
        self.run().await
    }

    /// Runs until a shutdown is requested through [`Worker::shutdown_token`] or remote control.
    pub async fn run(self) -> Result<(), WorkerError> {
        let w = self.inner;
        // Start-up commands wait out a Redis that is restarting (it answers LOADING for a while):
        // a worker restarted by its supervisor at that moment must not exit again.
        for queue in &w.config.queues {
            let broker = &w.broker;
            broker.retrying("declare queue", || broker.declare_queue(queue)).await?;
        }

        let background = CancellationToken::new();
        let mailbox = Mailbox::new(w.broker.clone(), w.nodename(), w.clock.clone());
        w.broker.retrying("declare the mailbox", || mailbox.declare()).await?;
        let mailbox_ready = CancellationToken::new();
        let control = tokio::spawn({
            let handler = remote::handler(w.clone());
            let (stop, ready) = (background.clone(), mailbox_ready.clone());
            async move { mailbox.listen(handler, stop, ready).await }
        });
        tokio::select! {
            _ = mailbox_ready.cancelled() => {}
            _ = tokio::time::sleep(Duration::from_secs(10)) => warn!("remote control not subscribed yet; continuing"),
        }

        // Announced before the first take, so that from the first message on a crash of this
        // process is seen by the fleet; earlier lives of this node are recovered first, so that
        // what they took and held runs again now, not after a timeout.
        w.broker.retrying("announce", || w.broker.announce_peer()).await?;
        let mut epoch = None;
        if let Err(e) = w.broker.check_epoch(&mut epoch).await {
            warn!(error = %e, "could not read the fleet's epoch");
        }
        let earlier_lives_recovered =
            match w.broker.recover_dead_peers(Some(w.nodename()), w.config.dead_peer_after).await {
                Ok(n) => {
                    if n > 0 {
                        info!(restored = n, "gave back the messages of earlier or dead workers");
                    }
                    true
                }
                Err(e) => {
                    warn!(error = %e, "dead-worker recovery failed; retrying in the background");
                    false
                }
            };

        w.send_worker_event("worker-online").await;
        let heartbeat = tokio::spawn(heartbeat_loop(w.clone(), background.clone()));
        let restorer = tokio::spawn(restore_loop(w.clone(), background.clone()));
        let refresher = tokio::spawn(refresh_loop(w.clone(), background.clone()));
        let peers = tokio::spawn(peer_loop(w.clone(), background.clone(), earlier_lives_recovered, epoch));

        let (ready_tx, ready_rx) = tokio::sync::mpsc::unbounded_channel();
        let consumer = tokio::spawn(consume::consume_loop(w.clone(), ready_tx));
        let dispatcher = tokio::spawn(consume::dispatch_loop(w.clone(), ready_rx));
        info!(
            node = w.nodename(),
            queues = ?w.config.queues,
            concurrency = w.config.concurrency,
            prefetch = w.config.prefetch_count(),
            "worker ready"
        );

        w.shutdown.cancelled().await;
        info!("warm shutdown: no new messages; restoring reserved and scheduled ones");
        let _ = consumer.await;
        consume::restore_scheduled(&w).await;
        let _ = dispatcher.await;
        let cold_watch = tokio::spawn({
            let w = w.clone();
            async move {
                w.cold.cancelled().await;
                execute::cancel_all(&w, task::CancelReason::Shutdown);
            }
        });
        w.tasks.close();
        w.tasks.wait().await;
        cold_watch.abort();

        // Messages still held (none after a clean shutdown) are restored now, like kombu's
        // restore of unacked messages when the channel closes.
        let leftover: Vec<String> = w.state().held.drain().collect();
        for tag in leftover {
            if let Err(e) = w.broker.restore(&tag, crate::transport::RestoreEnd::Front).await {
                warn!(tag, error = %e, "could not restore a held message at shutdown");
            }
        }
        w.send_worker_event("worker-offline").await;
        background.cancel();
        for handle in [control, heartbeat, restorer, refresher, peers] {
            let _ = handle.await;
        }
        match w.broker.retire_peer().await {
            Ok(0) => {}
            Ok(n) => warn!(restored = n, "gave back messages still recorded for this worker at shutdown"),
            Err(e) => warn!(error = %e, "could not remove this worker's announcement; the fleet recovers it"),
        }
        info!("worker stopped");
        Ok(())
    }
}

impl Inner {
    pub(crate) async fn send_worker_event(&self, event_type: &str) {
        let (active, processed) = {
            let s = self.state();
            (s.active.len(), s.processed)
        };
        let freq = self.config.heartbeat_interval.as_secs_f64();
        let fields = EventDispatcher::worker_fields(freq, active, processed);
        if let Err(e) = self.events.send(event_type, fields).await {
            warn!(event_type, error = %e, "could not send worker event");
        }
    }
}

async fn heartbeat_loop(w: Arc<Inner>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(w.config.heartbeat_interval);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => w.send_worker_event("worker-heartbeat").await,
        }
    }
}

/// kombu's `restore_visible` cadence: once at start, then every `restore_interval`.
async fn restore_loop(w: Arc<Inner>, stop: CancellationToken) {
    let interval = w.broker.options().restore_interval;
    loop {
        if let Err(e) = w.broker.restore_visible().await {
            warn!(error = %e, "restore_visible failed");
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

/// Announce this worker; recover the messages of announced workers that went silent. The
/// announcement comes at least four times per dead-peer limit, so a live worker is never taken
/// for dead on a single late tick.
async fn peer_loop(
    w: Arc<Inner>,
    stop: CancellationToken,
    mut earlier_lives_recovered: bool,
    mut epoch: Option<String>,
) {
    let dead_after = w.config.dead_peer_after;
    let every = match dead_after {
        Some(limit) => w.config.heartbeat_interval.min(limit / 4),
        None => w.config.heartbeat_interval,
    };
    let interval = every.max(Duration::from_millis(200));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        let data_lost = match w.broker.check_epoch(&mut epoch).await {
            Ok(crate::transport::Epoch::Lost) => {
                error!(
                    "Redis lost its data (restarted without persistence?): messages queued and job state written before are gone; jobs that were running cannot end and must be started again"
                );
                true
            }
            Ok(crate::transport::Epoch::Same) => false,
            Err(e) => {
                warn!(error = %e, "could not read the fleet's epoch");
                false
            }
        };
        match w.broker.announce_peer().await {
            Ok(true) => {}
            Ok(false) if data_lost => {}
            Ok(false) => error!(
                instance = w.broker.instance(),
                "this worker's announcement had vanished: another worker took it for dead (raise --dead-worker-after; what it held may run twice) or Redis lost its data"
            ),
            Err(e) => warn!(error = %e, "could not announce this worker"),
        }
        if dead_after.is_none() && earlier_lives_recovered {
            continue;
        }
        let earlier_lives_of = (!earlier_lives_recovered).then(|| w.nodename());
        match w.broker.recover_dead_peers(earlier_lives_of, dead_after).await {
            Ok(n) => {
                earlier_lives_recovered = true;
                if n > 0 {
                    info!(restored = n, "restored messages of dead workers");
                }
            }
            Err(e) => warn!(error = %e, "dead-worker recovery failed"),
        }
    }
}

/// Rust-only recovery: keep the scores of everything this worker holds fresh.
async fn refresh_loop(w: Arc<Inner>, stop: CancellationToken) {
    let Some(interval) = w.config.refresh_interval() else { return };
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        let tags: Vec<String> = w.state().held.iter().cloned().collect();
        if let Err(e) = w.broker.refresh_held(&tags).await {
            warn!(error = %e, "could not refresh unacked scores");
        }
    }
}
