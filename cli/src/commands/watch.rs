//! `irods-ingest watch JOB_NAME`: `irods_sync watch` (`monitor_job(job, progress=True)`, reference
//! §5.3), also what `start --synchronous` waits with.
//!
//! Polls the job's counters once a second until it is done (and no longer periodic). On a
//! terminal a live bar (indicatif) shows done/total, remaining, failed, retried, tasks/s, ETA and
//! the job's elapsed time; otherwise one plain line every ten seconds and a last one. Exit status
//! as the reference: 255 when the job has failures, else 0; Ctrl-C stops watching only (the job
//! keeps running) and exits 0.

use std::io::IsTerminal as _;
use std::time::{Duration, Instant};

use anyhow::bail;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use irods_ingest::job::{JobControl, JobStore as _, JobSummary};

use super::common::{self, CommonArgs, Endpoints};

#[derive(clap::Args, Debug)]
pub struct WatchArgs {
    /// job name
    job_name: String,
    #[command(flatten)]
    common: CommonArgs,
}

pub fn run(args: WatchArgs) -> anyhow::Result<u8> {
    let endpoints = Endpoints::from_env(&args.common)?;
    common::runtime()?.block_on(async {
        let control = common::job_control(&endpoints).await?;
        monitor(&control, &args.job_name, true).await
    })
}

/// How often the plain (non-terminal) output prints a line.
const PLAIN_EVERY: Duration = Duration::from_secs(10);

/// `monitor_job`: wait for the job, showing progress if asked; the exit status.
pub async fn monitor(control: &JobControl, job: &str, progress: bool) -> anyhow::Result<u8> {
    let store = control.store();
    if store.cleanup_value(job).await?.is_none() {
        bail!("job [{job}] does not exist");
    }
    if progress && store.counters(job).await?.start_time.is_none() {
        eprintln!("irods-ingest: Job [{job}] has no start time. Cannot display progress.");
        return Ok(255);
    }
    let mut display = progress.then(|| Display::new(job));
    let interrupted = tokio::select! {
        result = poll_until_done(control, job, display.as_mut()) => { result?; false }
        _ = tokio::signal::ctrl_c() => true,
    };
    if interrupted {
        if let Some(display) = &mut display {
            display.finish();
        }
        eprintln!(
            "irods-ingest: stopped watching job [{job}]; the job keeps running (`irods-ingest stop {job}` stops it)"
        );
        return Ok(0);
    }
    let stopped = control.is_stopped(job).await?;
    let counters = store.counters(job).await?;
    if !stopped && counters.start_time.is_none() && counters.tasks.is_none() {
        // An ended job keeps its counter (at 0) and start time; a stopped one is recorded as
        // stopped. Neither: the keys were lost under the job.
        bail!(
            "job [{job}]'s state vanished from Redis while it ran (Redis restarted without persistence?); it did not finish: start it again"
        );
    }
    if stopped {
        eprintln!("irods-ingest: Job [{job}] was stopped and may not have finished.");
    } else if let Some(display) = &mut display {
        display.update(&store.summary(job, common::now()).await?);
    }
    if let Some(display) = &mut display {
        display.finish();
    }
    let failures = store.counters(job).await?.failures.unwrap_or(0);
    Ok(if failures != 0 { 255 } else { 0 })
}

async fn poll_until_done(
    control: &JobControl,
    job: &str,
    mut display: Option<&mut Display>,
) -> anyhow::Result<()> {
    let store = control.store();
    loop {
        let done = store.is_done(job).await? && !store.is_periodic(job).await?;
        if done {
            return Ok(());
        }
        if let Some(display) = display.as_deref_mut() {
            display.update(&store.summary(job, common::now()).await?);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The live bar on a terminal, plain lines elsewhere.
struct Display {
    job: String,
    bar: Option<ProgressBar>,
    started: Instant,
    last_line: Option<Instant>,
    last: Option<JobSummary>,
}

impl Display {
    fn new(job: &str) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "[{prefix}] {wide_bar} {pos}/{len} tasks  {per_sec}  ETA {eta}  {msg}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            bar
        });
        Self { job: job.to_owned(), bar, started: Instant::now(), last_line: None, last: None }
    }

    fn update(&mut self, summary: &JobSummary) {
        let done = (summary.total_tasks - summary.remaining_tasks).clamp(0, summary.total_tasks.max(0));
        if let Some(bar) = &self.bar {
            bar.set_length(summary.total_tasks.max(0) as u64);
            bar.set_position(done as u64);
            bar.set_prefix(summary.elapsed_time.clone());
            bar.set_message(format!(
                "remaining: {} failed: {} retried: {}",
                summary.remaining_tasks, summary.failed_tasks, summary.retried_tasks
            ));
        } else if self.last_line.is_none_or(|t| t.elapsed() >= PLAIN_EVERY) {
            self.last_line = Some(Instant::now());
            println!("{}", self.plain_line(summary, done));
        }
        self.last = Some(summary.clone());
    }

    fn plain_line(&self, s: &JobSummary, done: i64) -> String {
        let seconds = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = done as f64 / seconds;
        let eta = if rate > 0.0 && s.remaining_tasks > 0 {
            format!("{:.0}s", s.remaining_tasks as f64 / rate)
        } else {
            "-".to_owned()
        };
        format!(
            "job {}: total {} remaining {} failed {} retried {} elapsed {} rate {:.1} tasks/s ETA {}",
            self.job,
            s.total_tasks,
            s.remaining_tasks,
            s.failed_tasks,
            s.retried_tasks,
            s.elapsed_time,
            rate,
            eta
        )
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish();
        } else if let Some(last) = self.last.take() {
            let done = (last.total_tasks - last.remaining_tasks).clamp(0, last.total_tasks.max(0));
            println!("{}", self.plain_line(&last, done));
        }
    }
}
