//! The Python threads, the calls they run, and interrupting a call from outside.
//!
//! Each runtime owns `threads` OS threads that stay attached to the interpreter for their whole
//! life (one thread state each, so `threading.local` data and thread ids are stable) and detach
//! while they wait on the job channel. A call is a closure sent over that channel; its result
//! comes back through a oneshot, so the async caller only ever awaits. How many calls run at once:
//! at most `threads`, and only one of them executes Python bytecode at any moment (the GIL); the
//! others are blocked in I/O with the GIL released, typically inside the operation (the iRODS
//! transfer between `pre_*` and `post_*`) or in a hook's own I/O. See the README for sizing.
//!
//! Interrupts (soft time limit, terminate) go through a separate interrupter thread: it takes the
//! GIL, and if the call is still running raises `SoftTimeLimitExceeded`/`Terminated` in that
//! thread with `PyThreadState_SetAsyncExc`, wakes an interruptible `time.sleep`, and stops a Rust
//! operation the call is waiting on. Call phases change only under the GIL, so an interrupt can
//! never hit the next call of the same thread.

use std::os::raw::c_long;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use pyo3::ffi;
use pyo3::prelude::*;
use tokio::sync::{Notify, oneshot};
use tokio_util::sync::CancellationToken;

use crate::error::HandlerError;
use crate::handler::python_error;
use crate::interpreter::globals;
use crate::operation::OperationError;

/// Limits for one call, usually the task's: Celery's soft time limit as a deadline, and a token
/// for `revoke(terminate=True)`. A deadline is watched by the awaiting future, so calls with one
/// must be awaited on a tokio runtime with timers enabled.
#[derive(Debug, Clone, Default)]
pub struct CallLimits {
    /// When reached while the call runs (or waits for a thread), `SoftTimeLimitExceeded` is raised
    /// in the hook. A deadline already past fails the call before it starts.
    pub soft_deadline: Option<Instant>,
    /// When cancelled, `Terminated` is raised in the hook.
    pub terminate: Option<CancellationToken>,
}

impl CallLimits {
    pub fn none() -> Self {
        Self::default()
    }

    pub fn soft_deadline(deadline: Instant) -> Self {
        CallLimits { soft_deadline: Some(deadline), terminate: None }
    }
}

/// Why a call is interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupt {
    SoftTimeLimit,
    Terminate,
}

enum Phase {
    Queued,
    Running { thread: std::os::raw::c_ulong, wake: Py<PyAny> },
    Done,
}

/// Shared between the caller, the Python thread running the call and the interrupter.
pub(crate) struct CallState {
    phase: Mutex<Phase>,
    /// The first interrupt that hit the call.
    fired: Mutex<Option<Interrupt>>,
    /// Counts interrupts; an operation is stopped by one that fires while it runs.
    generation: AtomicU64,
    notify: Notify,
    /// The exception raised for a failed Rust operation, to recognise it at the top.
    pub(crate) operation_error: Mutex<Option<(Py<PyAny>, OperationError)>>,
}

impl CallState {
    fn new() -> Self {
        CallState {
            phase: Mutex::new(Phase::Queued),
            fired: Mutex::new(None),
            generation: AtomicU64::new(0),
            notify: Notify::new(),
            operation_error: Mutex::new(None),
        }
    }

    pub(crate) fn fired(&self) -> Option<Interrupt> {
        *lock(&self.fired)
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Resolves at the first interrupt after generation `since`.
    pub(crate) async fn interrupted_after(&self, since: u64) -> Interrupt {
        loop {
            let notified = self.notify.notified();
            if self.generation() > since {
                return self.fired().unwrap_or(Interrupt::SoftTimeLimit);
            }
            notified.await;
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The exception class raised for an interrupt.
pub(crate) fn exception_class(py: Python<'_>, reason: Interrupt) -> Bound<'_, PyAny> {
    let g = globals();
    match reason {
        Interrupt::SoftTimeLimit => g.soft_time_limit.bind(py).clone(),
        Interrupt::Terminate => g.terminated.bind(py).clone(),
    }
}

/// Drops a pending asynchronous exception of the current thread (set just as a call ended).
pub(crate) fn clear_pending_interrupt(_py: Python<'_>) {
    // SAFETY: attached (the `Python` token proves it); NULL clears the thread's pending exception.
    unsafe {
        ffi::PyThreadState_SetAsyncExc(ffi::PyThread_get_thread_ident() as c_long, std::ptr::null_mut());
    }
}

type Job = Box<dyn for<'py> FnOnce(Python<'py>) + Send>;
type InterruptRequest = (Arc<CallState>, Interrupt);

/// What a call's body gets besides the GIL.
pub(crate) struct CallContext {
    pub state: Arc<CallState>,
    pub tokio: Option<tokio::runtime::Handle>,
}

pub(crate) struct Pool {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    interrupts: Mutex<Option<mpsc::Sender<InterruptRequest>>>,
    threads: usize,
}

impl Pool {
    pub(crate) fn start(threads: usize, runtime_id: u64) -> std::io::Result<Pool> {
        let threads = threads.max(1);
        let (job_tx, job_rx) = mpsc::channel::<Job>();
        let job_rx = Arc::new(Mutex::new(job_rx));
        for index in 0..threads {
            let job_rx = job_rx.clone();
            std::thread::Builder::new()
                .name(format!("py-handler-{runtime_id}-{index}"))
                .spawn(move || python_thread(job_rx, runtime_id))?;
        }
        let (int_tx, int_rx) = mpsc::channel();
        std::thread::Builder::new()
            .name(format!("py-interrupt-{runtime_id}"))
            .spawn(move || interrupter_thread(int_rx))?;
        Ok(Pool { jobs: Mutex::new(Some(job_tx)), interrupts: Mutex::new(Some(int_tx)), threads })
    }

    pub(crate) fn threads(&self) -> usize {
        self.threads
    }

    /// Closes the channels; threads finish their current call and exit.
    pub(crate) fn shut_down(&self) {
        lock(&self.jobs).take();
        lock(&self.interrupts).take();
    }

    fn interrupt(&self, state: &Arc<CallState>, reason: Interrupt) {
        if let Some(tx) = lock(&self.interrupts).as_ref() {
            let _ = tx.send((state.clone(), reason));
        }
    }

    /// Runs `body` on a Python thread and waits for it without blocking the executor.
    pub(crate) async fn call<R, F>(&self, limits: &CallLimits, body: F) -> Result<R, HandlerError>
    where
        R: Send + 'static,
        F: for<'py> FnOnce(Python<'py>, &CallContext) -> Result<R, HandlerError> + Send + 'static,
    {
        let state = Arc::new(CallState::new());
        // Too late already: the call fails on its thread before any Python runs.
        if limits.soft_deadline.is_some_and(|deadline| deadline <= Instant::now()) {
            *lock(&state.fired) = Some(Interrupt::SoftTimeLimit);
        } else if limits.terminate.as_ref().is_some_and(CancellationToken::is_cancelled) {
            *lock(&state.fired) = Some(Interrupt::Terminate);
        }
        let context = CallContext { state: state.clone(), tokio: tokio::runtime::Handle::try_current().ok() };
        let (tx, mut rx) = oneshot::channel();
        let job: Job = Box::new(move |py| {
            let result = run_call(py, &context, body);
            let _ = tx.send(result);
        });
        {
            let jobs = lock(&self.jobs);
            let sender =
                jobs.as_ref().ok_or_else(|| HandlerError::RuntimeStopped("runtime shut down".into()))?;
            sender.send(job).map_err(|_| HandlerError::RuntimeStopped("Python threads exited".into()))?;
        }

        let deadline = limits.soft_deadline.map(tokio::time::Instant::from_std);
        let terminate = limits.terminate.clone();
        let mut soft_fired = false;
        let mut terminate_fired = false;
        loop {
            tokio::select! {
                result = &mut rx => {
                    return result.unwrap_or_else(|_| Err(HandlerError::RuntimeStopped(
                        "the Python thread running the call panicked".into())));
                }
                _ = sleep_until(deadline), if !soft_fired => {
                    soft_fired = true;
                    self.interrupt(&state, Interrupt::SoftTimeLimit);
                }
                _ = cancelled(&terminate), if !terminate_fired => {
                    terminate_fired = true;
                    self.interrupt(&state, Interrupt::Terminate);
                }
            }
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

async fn cancelled(token: &Option<CancellationToken>) {
    match token {
        Some(token) => token.cancelled().await,
        None => std::future::pending().await,
    }
}

/// The Python side of one call: mark it running, run the body, make sure no interrupt leaks out.
fn run_call<R>(
    py: Python<'_>,
    context: &CallContext,
    body: impl FnOnce(Python<'_>, &CallContext) -> Result<R, HandlerError>,
) -> Result<R, HandlerError> {
    let state = &context.state;
    let g = globals();
    // No Python runs while `phase` is locked: Python code may hand the GIL to the interrupter,
    // which would then wait for `phase` while holding the GIL.
    let wake = g.begin_call.call0(py).map_err(|e| python_error(py, e, state))?;
    let fired = {
        let mut phase = lock(&state.phase);
        match state.fired() {
            Some(reason) => {
                *phase = Phase::Done;
                Some(reason)
            }
            None => {
                // SAFETY: attached; returns the current thread's identifier.
                let thread = unsafe { ffi::PyThread_get_thread_ident() };
                *phase = Phase::Running { thread, wake };
                None
            }
        }
    };
    if let Some(reason) = fired {
        let _ = g.end_call.call0(py);
        let err = match exception_class(py, reason).call0() {
            Ok(instance) => PyErr::from_value(instance),
            Err(err) => err,
        };
        return Err(python_error(py, err, state));
    }
    let result = body(py, context);
    // Still attached, so the interrupter cannot run between these two steps: no interrupt can
    // be left pending for the thread's next call.
    clear_pending_interrupt(py);
    let finished = std::mem::replace(&mut *lock(&state.phase), Phase::Done);
    drop(finished);
    let _ = g.end_call.call0(py);
    result
}

fn python_thread(jobs: Arc<Mutex<mpsc::Receiver<Job>>>, runtime_id: u64) {
    Python::attach(|py| {
        if let Err(err) = globals().set_thread_runtime.call1(py, (runtime_id,)) {
            tracing::warn!(target: "ingest_pyhandlers", %err, "cannot tag the Python thread");
        }
        loop {
            let job = py.detach(|| lock(&jobs).recv());
            let Ok(job) = job else { break };
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(py)));
            if outcome.is_err() {
                tracing::error!(target: "ingest_pyhandlers", "a handler call panicked");
            }
        }
    });
}

fn interrupter_thread(requests: mpsc::Receiver<InterruptRequest>) {
    while let Ok((state, reason)) = requests.recv() {
        Python::attach(|py| deliver(py, &state, reason));
    }
}

fn deliver(py: Python<'_>, state: &CallState, reason: Interrupt) {
    let phase = lock(&state.phase);
    if matches!(*phase, Phase::Done) {
        return;
    }
    lock(&state.fired).get_or_insert(reason);
    state.generation.fetch_add(1, Ordering::SeqCst);
    state.notify.notify_waiters();
    if let Phase::Running { thread, wake } = &*phase {
        let class = exception_class(py, reason);
        // SAFETY: attached; `class` is a live exception type; the call does not steal it.
        unsafe {
            ffi::PyThreadState_SetAsyncExc(*thread as c_long, class.as_ptr());
        }
        // Wakes an interruptible time.sleep; fails harmlessly when nobody sleeps.
        let _ = wake.bind(py).call_method0("release");
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shut_down();
    }
}
