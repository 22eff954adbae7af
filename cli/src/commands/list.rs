//! `irods-ingest list`: `irods_sync list` — one line of JSON, byte for byte the reference's (Python
//! tooling parses it), or `--format table` for people.

use irods_ingest::job::{JobListing, JobSummary};

use super::common::{self, CommonArgs, Endpoints};

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// `json`: the reference's line; `table`: one row per job.
    #[arg(long = "format", default_value = "json", value_parser = ["json", "table"])]
    format: String,
    #[command(flatten)]
    common: CommonArgs,
}

pub fn run(args: ListArgs) -> anyhow::Result<u8> {
    let endpoints = Endpoints::from_env(&args.common)?;
    let listing = common::runtime()?.block_on(async {
        let control = common::job_control(&endpoints).await?;
        let listing = control.list(common::now()).await?;
        anyhow::Ok(listing)
    })?;
    if args.format == "table" {
        print!("{}", table(&listing));
    } else {
        println!("{}", listing.to_json());
    }
    Ok(0)
}

/// The listing as aligned columns: kind, name, counts, elapsed and start time.
fn table(listing: &JobListing) -> String {
    let mut rows: Vec<[String; 8]> = vec![
        ["KIND", "JOB", "TOTAL", "REMAINING", "FAILED", "RETRIED", "ELAPSED", "STARTED"].map(str::to_owned),
    ];
    let row = |kind: &str, j: &JobSummary| {
        [
            kind.to_owned(),
            j.job_name.clone(),
            j.total_tasks.to_string(),
            j.remaining_tasks.to_string(),
            j.failed_tasks.to_string(),
            j.retried_tasks.to_string(),
            j.elapsed_time.clone(),
            j.start_time.clone(),
        ]
    };
    rows.extend(listing.periodic.iter().map(|j| row("periodic", j)));
    rows.extend(listing.singlepass.iter().map(|j| row("singlepass", j)));
    for record in &listing.stopped {
        match JobSummary::from_py(record) {
            Some(j) => rows.push(row("stopped", &j)),
            None => rows.push([
                "stopped".into(),
                record.to_json(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]),
        }
    }
    let widths: Vec<usize> =
        (0..8).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for r in &rows {
        let cells: Vec<String> = r.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
