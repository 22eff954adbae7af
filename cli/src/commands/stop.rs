//! `irods-ingest stop JOB_NAME`: `irods_sync stop` (reference §4.3, §5.4), made to really stop.
//!
//! The reference, under the jobs lock, records the job as stopped, sets `stop:/<job>`, revokes the
//! outstanding task ids (terminate) and the job name (the periodic main task's id), deletes the
//! flag and the job's keys. Revocation reaches only workers online at that moment and the flag
//! lives only during the revoke loop, so queued tasks and tasks still running keep the job going
//! (reference issues #53, #210). This command does the same steps, in the same order and with the
//! same Redis effects (so Python tooling sees a stopped job exactly as it knows it), and adds:
//!
//! * every queued message of the job (any task, any queue bound in the broker) is removed from
//!   the queue lists, so no worker, online or not, receives it later;
//! * every reserved message of the job is removed from kombu's `unacked` bookkeeping, so a
//!   worker that held one and dies does not bring it back (its holder discards it: revoked);
//! * the stop flag stays set for `--grace` seconds after the revocation (default 5), so tasks
//!   that were running, including on workers that ignore termination, cannot enqueue children;
//!   then the queues are swept once more before the job's keys are deleted.
//!
//! Once `stop` returns no task of the job starts; a task that was running ends when its worker
//! terminates it (Python: SIGTERM to the pool process; Rust: cancelled at its next await point),
//! or, for a worker that does not act on revocation, finishes the entries it holds without
//! enqueueing more. A periodic job's next firing is removed with the queues, discarded by the
//! workers holding it (revoked id), and refused by Rust workers because the job no longer exists.

use std::collections::HashSet;
use std::io::IsTerminal as _;
use std::time::Duration;

use anyhow::anyhow;
use celery_proto::json::{PyDict, PyValue};
use celery_proto::message::{ControlMessage, ControlRequest, Envelope, PIDBOX_EXCHANGE};
use celery_proto::transport::Broker;
use irods_ingest::job::JobError;

use super::common::{self, CommonArgs, Endpoints};

#[derive(clap::Args, Debug)]
pub struct StopArgs {
    /// job name
    job_name: String,
    /// Seconds the stop flag stays set after revocation, so that running tasks cannot enqueue more.
    #[arg(long = "grace", default_value_t = 5, value_name = "SECONDS")]
    grace: u64,
    #[command(flatten)]
    common: CommonArgs,
}

pub fn run(args: StopArgs) -> anyhow::Result<u8> {
    let endpoints = Endpoints::from_env(&args.common)?;
    let job = args.job_name.as_str();
    common::runtime()?.block_on(async {
        let control = common::job_control(&endpoints).await?;
        let broker = common::broker(&endpoints).await?;
        let stop = control.begin_stop(job, common::now()).await.map_err(|e| match e {
            JobError::DoesNotExist(name) => anyhow!("job [{name}] does not exist"),
            other => anyhow::Error::from(other),
        })?;
        let verbose = std::io::stderr().is_terminal();
        let result = async {
            let mut clock = 1;
            for id in &stop.outstanding {
                revoke(&broker, id, true, clock).await?;
                clock += 1;
            }
            revoke(&broker, job, false, clock).await?;
            let mut removed = remove_queued(&broker, job).await?;
            tokio::time::sleep(Duration::from_secs(args.grace)).await;
            removed += remove_queued(&broker, job).await?;
            if verbose {
                eprintln!(
                    "irods-ingest: job [{job}] stopped: {} task(s) revoked, {removed} queued message(s) removed",
                    stop.outstanding.len()
                );
            }
            anyhow::Ok(())
        }
        .await;
        control.finish_stop(stop).await?;
        result?;
        Ok(0)
    })
}

/// `app.control.revoke(task_id, terminate=..)`: a broadcast on `celery.pidbox`, as Celery sends it.
async fn revoke(broker: &Broker, task_id: &str, terminate: bool, clock: i64) -> anyhow::Result<()> {
    let mut arguments = PyDict::with_capacity(3);
    arguments.insert("task_id", task_id);
    arguments.insert("terminate", terminate);
    arguments.insert("signal", "SIGTERM");
    let request = ControlRequest::new("revoke", arguments);
    let envelope = ControlMessage::build(&request, clock, Some(common::now() + 1.0));
    broker.publish_fanout(PIDBOX_EXCHANGE, "", &envelope.to_bytes()).await?;
    Ok(())
}

/// Removes the job's messages from every bound queue's lists and from kombu's `unacked` hash;
/// returns how many messages were removed.
async fn remove_queued(broker: &Broker, job: &str) -> anyhow::Result<usize> {
    let names = broker.names();
    let mut conn = broker.conn();
    let mut queues: HashSet<String> = ["restart", "path", "file"].map(str::to_owned).into();
    let binding_keys: Vec<String> = scan(&mut conn, &format!("{}_kombu.binding.*", names.prefix())).await?;
    for key in binding_keys {
        let members: Vec<Vec<u8>> = redis::cmd("SMEMBERS").arg(&key).query_async(&mut conn).await?;
        for member in members {
            let member = String::from_utf8_lossy(&member);
            if let Some((_, _, queue)) = names.parse_binding_member(&member) {
                queues.insert(queue.to_owned());
            }
        }
    }
    let mut removed = 0;
    for queue in &queues {
        for key in names.all_queue_keys(queue) {
            let messages: Vec<Vec<u8>> =
                redis::cmd("LRANGE").arg(&key).arg(0).arg(-1).query_async(&mut conn).await?;
            for raw in messages {
                if message_job(&raw).as_deref() == Some(job) {
                    let n: i64 = redis::cmd("LREM").arg(&key).arg(1).arg(&raw).query_async(&mut conn).await?;
                    removed += n as usize;
                }
            }
        }
    }
    // Reserved messages: `unacked` maps a delivery tag to `[envelope, exchange, routing_key]`.
    let unacked: Vec<(Vec<u8>, Vec<u8>)> =
        redis::cmd("HGETALL").arg(names.unacked()).query_async(&mut conn).await?;
    for (tag, value) in unacked {
        let envelope = match PyValue::from_json(&value) {
            Ok(PyValue::List(parts)) if !parts.is_empty() => parts[0].to_json().into_bytes(),
            _ => continue,
        };
        if message_job(&envelope).as_deref() == Some(job) {
            let n: i64 = redis::cmd("HDEL").arg(names.unacked()).arg(&tag).query_async(&mut conn).await?;
            let _: i64 =
                redis::cmd("ZREM").arg(names.unacked_index()).arg(&tag).query_async(&mut conn).await?;
            removed += n as usize;
        }
    }
    Ok(removed)
}

async fn scan(conn: &mut redis::aio::ConnectionManager, pattern: &str) -> anyhow::Result<Vec<String>> {
    let mut cursor: u64 = 0;
    let mut keys = Vec::new();
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(500)
            .query_async(conn)
            .await?;
        keys.extend(batch);
        if next == 0 {
            return Ok(keys);
        }
        cursor = next;
    }
}

/// `args[0]["job_name"]` of an ingest task message; `None` for anything else.
fn message_job(raw: &[u8]) -> Option<String> {
    let envelope = Envelope::decode(raw).ok()?;
    let body = envelope.body_json().ok()?;
    let meta = body.as_list()?.first()?.as_list()?.first()?.as_dict()?;
    meta.get("job_name").and_then(PyValue::as_str).map(str::to_owned)
}
