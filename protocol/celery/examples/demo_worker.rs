//! A demo worker with six tasks, to show (and test) that Python Celery cannot tell it from a
//! Python worker.
//!
//! ```text
//! demo_worker --broker redis://127.0.0.1:6380/0 -Q q1,q2 -c 4 [--result-backend redis://...] [-n w1@host]
//! ```
//!
//! Tasks: `demo.add(x, y)`, `demo.echo(value)`, `demo.sleep(seconds)`, `demo.fail(message)`,
//! `demo.retry(times)`, `demo.spawn(queue, n)`.

use std::time::Duration;

use anyhow::Context;
use celery_proto::json::{BigInt, PyDict, PyValue};
use celery_proto::worker::{
    CancelReason, Recovery, TaskContext, TaskError, TaskFailure, TaskOptions, TaskRegistry, TaskRequest,
    TaskResult, UnknownTaskPolicy, Worker, WorkerConfig,
};
use clap::Parser;

#[derive(Parser, Debug)]
#[command(about = "Celery-compatible demo worker (demo.add/echo/sleep/fail/retry/spawn)")]
struct Args {
    /// Broker URL (redis://host:port/db).
    #[arg(long, env = "CELERY_BROKER_URL")]
    broker: String,
    /// Comma-separated queues to consume.
    #[arg(short = 'Q', long = "queues", value_delimiter = ',', default_value = "celery")]
    queues: Vec<String>,
    /// Number of tasks running at once.
    #[arg(short = 'c', long, default_value_t = 1)]
    concurrency: usize,
    /// Result backend URL (results are not stored without one).
    #[arg(long, env = "CELERY_RESULT_BACKEND")]
    result_backend: Option<String>,
    /// Node name; `%h`, `%n`, `%d` expand as in Celery's `-n` (default `demo@%h`).
    #[arg(short = 'n', long)]
    hostname: Option<String>,
    /// Ack after the task ends instead of when it starts.
    #[arg(long)]
    acks_late: bool,
    /// Send task events (like celery worker -E).
    #[arg(short = 'E', long)]
    events: bool,
    /// Prefetch multiplier (prefetch = concurrency x multiplier).
    #[arg(long, default_value_t = 4)]
    prefetch_multiplier: usize,
    /// Rust-only fleet: restore a dead worker's messages after this many seconds (default: kombu's
    /// 3600 s visibility timeout, safe next to Python workers).
    #[arg(long)]
    rust_only_visibility_timeout: Option<f64>,
    /// Restore the messages of a worker of this crate silent for this many seconds (default 30).
    #[arg(long)]
    dead_peer_after: Option<f64>,
    /// kombu global_keyprefix.
    #[arg(long, default_value = "")]
    global_keyprefix: String,
    /// What to do with unregistered task names.
    #[arg(long, value_parser = ["dead-letter", "requeue"], default_value = "dead-letter")]
    unknown_tasks: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let mut config = WorkerConfig::new(&args.broker, args.queues.clone());
    config.result_backend = args.result_backend.clone();
    config.concurrency = args.concurrency.max(1);
    config.prefetch_multiplier = args.prefetch_multiplier.max(1);
    config.nodename = celery_proto::worker::expand_nodename(args.hostname.as_deref().unwrap_or("demo@%h"));
    config.task_events = args.events;
    config.transport.global_keyprefix = args.global_keyprefix.clone();
    if let Some(secs) = args.dead_peer_after {
        config.dead_peer_after = Some(std::time::Duration::from_secs_f64(secs));
    }
    if let Some(secs) = args.rust_only_visibility_timeout {
        config.recovery = Recovery::RustOnly { visibility_timeout: Duration::from_secs_f64(secs) };
    }
    config.unknown_tasks = if args.unknown_tasks == "requeue" {
        UnknownTaskPolicy::Requeue
    } else {
        UnknownTaskPolicy::DeadLetter
    };

    let worker = Worker::new(config, registry(args.acks_late)).await.context("starting the worker")?;
    worker.run_until_signal().await.context("running the worker")?;
    Ok(())
}

fn registry(acks_late: bool) -> TaskRegistry {
    let options = TaskOptions { acks_late, ..TaskOptions::default() };
    let mut tasks = TaskRegistry::new();
    tasks
        .register("demo.add", options.clone(), |req, _ctx| async move { add(&req) })
        .register(
            "demo.echo",
            options.clone(),
            |req, _ctx| async move { Ok(required(&req, 0, "value")?.clone()) },
        )
        .register("demo.sleep", options.clone(), sleep)
        .register("demo.fail", options.clone(), |req, _ctx| async move {
            let message = required(&req, 0, "message")?;
            let text = message.as_py_str().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            Err(TaskError::failure("ValueError", text))
        })
        .register("demo.retry", options.clone(), retry)
        .register("demo.spawn", options, spawn);
    tasks
}

fn required<'a>(req: &'a TaskRequest, index: usize, name: &str) -> Result<&'a PyValue, TaskError> {
    req.arg(index, name).ok_or_else(|| {
        TaskError::failure("TypeError", format!("{}() missing required argument: '{name}'", req.name))
    })
}

fn add(req: &TaskRequest) -> TaskResult {
    let (x, y) = (required(req, 0, "x")?, required(req, 1, "y")?);
    match (x, y) {
        (PyValue::Int(a), PyValue::Int(b)) if a.checked_add(*b).is_some() => Ok(PyValue::Int(a + b)),
        // Python's ints are unbounded: a sum beyond 64 bits stays an exact int, never a float.
        (PyValue::Int(_) | PyValue::BigInt(_), PyValue::Int(_) | PyValue::BigInt(_)) => {
            Ok(int_value(&add_decimal(&int_digits(x), &int_digits(y))))
        }
        _ => match (x.as_f64(), y.as_f64()) {
            (Some(a), Some(b)) => Ok(PyValue::Float(a + b)),
            _ => Err(TaskError::failure(
                "TypeError",
                format!("unsupported operand type(s) for +: '{}' and '{}'", x.type_name(), y.type_name()),
            )),
        },
    }
}

/// An int as (negative, decimal digits of its magnitude without leading zeros).
fn int_digits(value: &PyValue) -> (bool, String) {
    let text = match value {
        PyValue::Int(i) => i.to_string(),
        PyValue::BigInt(b) => b.as_str().to_owned(),
        _ => unreachable!("int_digits is only called on ints"),
    };
    match text.strip_prefix('-') {
        Some(magnitude) => (true, magnitude.to_owned()),
        None => (false, text),
    }
}

/// Exact sum of two signed decimal ints, as digits (with a leading `-` when negative).
fn add_decimal(a: &(bool, String), b: &(bool, String)) -> String {
    let (magnitude, negative) = if a.0 == b.0 {
        (add_magnitudes(&a.1, &b.1), a.0)
    } else if compare_magnitudes(&a.1, &b.1).is_ge() {
        (sub_magnitudes(&a.1, &b.1), a.0)
    } else {
        (sub_magnitudes(&b.1, &a.1), b.0)
    };
    if negative && magnitude != "0" { format!("-{magnitude}") } else { magnitude }
}

fn compare_magnitudes(a: &str, b: &str) -> std::cmp::Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn add_magnitudes(a: &str, b: &str) -> String {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut out = Vec::with_capacity(a.len().max(b.len()) + 1);
    let mut carry = 0;
    for i in 0..a.len().max(b.len()) {
        let da = if i < a.len() { a[a.len() - 1 - i] - b'0' } else { 0 };
        let db = if i < b.len() { b[b.len() - 1 - i] - b'0' } else { 0 };
        let sum = da + db + carry;
        out.push(b'0' + sum % 10);
        carry = sum / 10;
    }
    if carry > 0 {
        out.push(b'0' + carry);
    }
    digits_from_reversed(out)
}

/// `a - b` for magnitudes with `a >= b`.
fn sub_magnitudes(a: &str, b: &str) -> String {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut out = Vec::with_capacity(a.len());
    let mut borrow = 0;
    for i in 0..a.len() {
        let da = (a[a.len() - 1 - i] - b'0') as i8;
        let db = if i < b.len() { (b[b.len() - 1 - i] - b'0') as i8 } else { 0 };
        let mut diff = da - db - borrow;
        borrow = 0;
        if diff < 0 {
            diff += 10;
            borrow = 1;
        }
        out.push(b'0' + diff as u8);
    }
    digits_from_reversed(out)
}

fn digits_from_reversed(mut reversed: Vec<u8>) -> String {
    while reversed.len() > 1 && reversed.last() == Some(&b'0') {
        reversed.pop();
    }
    reversed.reverse();
    String::from_utf8(reversed).expect("ASCII digits")
}

/// An int result as Python would send it back: 64-bit when it fits, exact digits otherwise.
fn int_value(digits: &str) -> PyValue {
    match digits.parse::<i64>() {
        Ok(small) => PyValue::Int(small),
        Err(_) => PyValue::BigInt(BigInt::parse(digits).expect("canonical decimal digits")),
    }
}

/// Sleeps `seconds`, returning them; stops early on revoke/terminate or the soft time limit.
async fn sleep(req: TaskRequest, ctx: TaskContext) -> TaskResult {
    let seconds = required(&req, 0, "seconds")?.clone();
    let secs = seconds.as_f64().filter(|s| s.is_finite() && *s >= 0.0).ok_or_else(|| {
        TaskError::failure(
            "TypeError",
            format!("seconds must be a non-negative number, not {}", seconds.type_name()),
        )
    })?;
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_secs_f64(secs)) => Ok(seconds),
        _ = ctx.cancellation().cancelled() => match ctx.cancel_reason() {
            Some(CancelReason::SoftTimeLimit) => Err(TaskError::Failure(TaskFailure::celery(
                "SoftTimeLimitExceeded",
                "SoftTimeLimitExceeded()",
            ))),
            _ => Err(TaskError::failure("RuntimeError", "cancelled")),
        },
    }
}

/// Retries itself `times` times with a 1 s countdown, then returns how many retries it saw.
async fn retry(req: TaskRequest, ctx: TaskContext) -> TaskResult {
    let times = required(&req, 0, "times")?
        .as_i64()
        .ok_or_else(|| TaskError::failure("TypeError", "times must be an int"))?;
    if i64::from(ctx.retries()) < times {
        return Err(ctx.retry(Duration::from_secs(1), TaskFailure::celery("Retry", "Retry in 1s")));
    }
    Ok(PyValue::from(ctx.retries()))
}

/// Sends `n` children `demo.add(i, i)` to `queue` and returns their ids.
async fn spawn(req: TaskRequest, ctx: TaskContext) -> TaskResult {
    let queue = required(&req, 0, "queue")?
        .as_str()
        .ok_or_else(|| TaskError::failure("TypeError", "queue must be a str"))?
        .to_string();
    let n = required(&req, 1, "n")?
        .as_i64()
        .ok_or_else(|| TaskError::failure("TypeError", "n must be an int"))?;
    let mut ids = Vec::new();
    for i in 0..n.max(0) {
        let id = ctx
            .producer()
            .send_task(
                "demo.add",
                vec![PyValue::Int(i), PyValue::Int(i)],
                PyDict::new(),
                ctx.child_options(&queue),
            )
            .await
            .map_err(|e| TaskError::failure("OSError", e.to_string()))?;
        ids.push(PyValue::from(id));
    }
    Ok(PyValue::List(ids))
}
