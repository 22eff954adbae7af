//! `irods-ingest profile LOG... -o timeline.html`: the `--profile` events of a job drawn as one
//! self-contained HTML page (inline CSS and SVG, no script, nothing fetched): one row per worker
//! slot (`hostname` + `index`), one bar per task from `task_prerun` to `task_postrun` labelled
//! with the task's name, its directory listing (`list_dir`) as a thin bar inside it, failures in
//! red. The reference's `profile/profile.py` pairs the same events by `event_id`.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::BufRead as _;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use celery_proto::json::PyValue;

#[derive(clap::Args, Debug)]
pub struct ProfileArgs {
    /// Profile logs (the `--profile_filename` files of a job run with `--profile`).
    #[arg(value_name = "LOG", required = true)]
    logs: Vec<PathBuf>,
    /// Where to write the page.
    #[arg(short = 'o', long = "output", default_value = "timeline.html")]
    output: PathBuf,
}

pub fn run(args: ProfileArgs) -> anyhow::Result<u8> {
    let mut events = Vec::new();
    for log in &args.logs {
        let file = std::fs::File::open(log).with_context(|| format!("cannot open {}", log.display()))?;
        for line in std::io::BufReader::new(file).lines() {
            let line = line.with_context(|| format!("reading {}", log.display()))?;
            if let Some(event) = Event::parse(&line) {
                events.push(event);
            }
        }
    }
    let timeline = Timeline::pair(events);
    if timeline.bars.is_empty() {
        bail!(
            "no task_prerun/task_postrun events in {} (was the job started with --profile?)",
            names(&args.logs)
        );
    }
    std::fs::write(&args.output, timeline.html(&names(&args.logs)))
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    eprintln!(
        "irods-ingest: {} tasks on {} slots -> {}",
        timeline.bars.len(),
        timeline.rows().len(),
        args.output.display()
    );
    Ok(0)
}

fn names(logs: &[PathBuf]) -> String {
    logs.iter().map(|l| l.display().to_string()).collect::<Vec<_>>().join(", ")
}

/// One profile line.
#[derive(Debug, Clone)]
struct Event {
    kind: String,
    id: String,
    name: String,
    path: String,
    hostname: String,
    index: i64,
    state: Option<String>,
    /// Seconds since the epoch.
    at: f64,
}

impl Event {
    fn parse(line: &str) -> Option<Self> {
        let value = PyValue::from_json(line.trim().as_bytes()).ok()?;
        let d = value.as_dict()?;
        let text = |k: &str| d.get(k).and_then(PyValue::as_str).map(str::to_owned);
        let kind = text("event")?;
        if !matches!(kind.as_str(), "task_prerun" | "task_postrun" | "list_dir_prerun" | "list_dir_postrun") {
            return None;
        }
        let at = chrono::DateTime::parse_from_rfc3339(&text("@timestamp")?).ok()?;
        Some(Event {
            kind,
            id: text("event_id")?,
            name: text("event_name").unwrap_or_default(),
            path: text("path").unwrap_or_default(),
            hostname: text("hostname").unwrap_or_default(),
            index: d.get("index").and_then(PyValue::as_i64).unwrap_or(0),
            state: text("state"),
            at: at.timestamp_micros() as f64 / 1e6,
        })
    }
}

/// A task from prerun to postrun (or to the last event seen, if it never ended).
#[derive(Debug, Clone)]
struct Bar {
    row: (String, i64),
    name: String,
    path: String,
    state: String,
    start: f64,
    end: f64,
    list_dir: Option<(f64, f64)>,
}

struct Timeline {
    bars: Vec<Bar>,
    start: f64,
    end: f64,
}

impl Timeline {
    fn pair(events: Vec<Event>) -> Self {
        let last = events.iter().map(|e| e.at).fold(f64::MIN, f64::max);
        let mut open: HashMap<String, Bar> = HashMap::new();
        let mut bars = Vec::new();
        let mut listings: HashMap<String, (Option<f64>, Option<f64>)> = HashMap::new();
        for e in events {
            match e.kind.as_str() {
                "task_prerun" => {
                    open.insert(
                        e.id.clone(),
                        Bar {
                            row: (e.hostname, e.index),
                            name: e.name,
                            path: e.path,
                            state: "RUNNING".into(),
                            start: e.at,
                            end: e.at,
                            list_dir: None,
                        },
                    );
                }
                "task_postrun" => {
                    if let Some(mut bar) = open.remove(&e.id) {
                        bar.end = e.at;
                        bar.state = e.state.unwrap_or_else(|| "SUCCESS".into());
                        bars.push((e.id, bar));
                    }
                }
                "list_dir_prerun" => listings.entry(task_of(&e.id)).or_default().0 = Some(e.at),
                _ => listings.entry(task_of(&e.id)).or_default().1 = Some(e.at),
            }
        }
        for (id, mut bar) in open {
            bar.end = last;
            bars.push((id, bar));
        }
        let mut bars: Vec<Bar> = bars
            .into_iter()
            .map(|(id, mut bar)| {
                if let Some((Some(from), Some(to))) = listings.get(&id) {
                    bar.list_dir = Some((*from, *to));
                }
                bar
            })
            .collect();
        bars.sort_by(|a, b| a.start.total_cmp(&b.start));
        let start = bars.iter().map(|b| b.start).fold(f64::MAX, f64::min);
        let end = bars.iter().map(|b| b.end).fold(f64::MIN, f64::max);
        Timeline { bars, start, end }
    }

    fn rows(&self) -> Vec<(String, i64)> {
        let mut rows: Vec<(String, i64)> = self.bars.iter().map(|b| b.row.clone()).collect();
        rows.sort();
        rows.dedup();
        rows
    }

    fn html(&self, source: &str) -> String {
        const LABEL: f64 = 230.0;
        const WIDTH: f64 = 1100.0;
        const ROW: f64 = 26.0;
        const TOP: f64 = 30.0;
        let rows = self.rows();
        let row_of: BTreeMap<&(String, i64), usize> = rows.iter().enumerate().map(|(i, r)| (r, i)).collect();
        let span = (self.end - self.start).max(1e-3);
        let x = |t: f64| LABEL + (t - self.start) / span * WIDTH;
        let height = TOP + ROW * rows.len() as f64 + 10.0;
        let mut colours: BTreeMap<String, &str> = BTreeMap::new();
        const PALETTE: [&str; 8] =
            ["#4e79a7", "#59a14f", "#f28e2b", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#bab0ac"];
        for bar in &self.bars {
            let next = PALETTE[colours.len() % PALETTE.len()];
            colours.entry(short_name(&bar.name).to_owned()).or_insert(next);
        }

        let mut svg = String::new();
        let _ = write!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{height}" font-family="sans-serif" font-size="11">"#,
            w = LABEL + WIDTH + 20.0
        );
        for (i, (host, index)) in rows.iter().enumerate() {
            let y = TOP + ROW * i as f64;
            let _ = write!(
                svg,
                r##"<rect x="0" y="{y}" width="{w}" height="{ROW}" fill="{fill}"/><text x="6" y="{ty}" class="slot">{label}</text>"##,
                w = LABEL + WIDTH + 20.0,
                fill = if i % 2 == 0 { "#f6f6f6" } else { "#ffffff" },
                ty = y + ROW * 0.65,
                label = escape(&format!("{host} #{index}")),
            );
        }
        for tick in ticks(span) {
            let tx = x(self.start + tick);
            let _ = write!(
                svg,
                r##"<line x1="{tx}" y1="{TOP}" x2="{tx}" y2="{bottom}" stroke="#ddd"/><text x="{tx}" y="{ly}" text-anchor="middle" fill="#555">{label}</text>"##,
                bottom = height - 10.0,
                ly = TOP - 8.0,
                label = format_seconds(tick),
            );
        }
        for bar in &self.bars {
            let y = TOP + ROW * row_of[&bar.row] as f64 + 3.0;
            let (x0, x1) = (x(bar.start), x(bar.end).max(x(bar.start) + 1.5));
            let failed = bar.state != "SUCCESS";
            let fill = if failed { "#e15759" } else { colours[short_name(&bar.name)] };
            let short = short_name(&bar.name);
            let _ = write!(
                svg,
                r##"<g class="task" data-task="{short}" data-state="{state}"><title>{title}</title><rect x="{x0:.2}" y="{y}" width="{w:.2}" height="{h}" rx="2" fill="{fill}" stroke="#333" stroke-width="0.3"/>"##,
                state = escape(&bar.state),
                title = escape(&format!(
                    "{}\n{}\n{:.3} s, {}",
                    bar.name,
                    bar.path,
                    bar.end - bar.start,
                    bar.state
                )),
                w = x1 - x0,
                h = ROW - 6.0,
            );
            if let Some((from, to)) = bar.list_dir {
                let _ = write!(
                    svg,
                    r##"<rect class="list_dir" x="{lx:.2}" y="{ly}" width="{lw:.2}" height="4" fill="#222" opacity="0.6"/>"##,
                    lx = x(from),
                    ly = y + ROW - 11.0,
                    lw = (x(to) - x(from)).max(1.0),
                );
            }
            // The name inside the bar when it fits (about 6 px a character).
            if x1 - x0 > 6.0 * short.len() as f64 + 6.0 {
                let _ = write!(
                    svg,
                    r##"<text x="{tx:.2}" y="{ty}" fill="#fff">{short}</text>"##,
                    tx = x0 + 3.0,
                    ty = y + ROW * 0.5,
                );
            }
            svg.push_str("</g>");
        }
        svg.push_str("</svg>");

        let mut legend = String::new();
        for (name, colour) in &colours {
            let count = self.bars.iter().filter(|b| short_name(&b.name) == name).count();
            let _ = write!(
                legend,
                r#"<span><i style="background:{colour}"></i>{} ({count})</span>"#,
                escape(name)
            );
        }
        let failed = self.bars.iter().filter(|b| b.state != "SUCCESS").count();
        if failed > 0 {
            let _ = write!(
                legend,
                r#"<span><i style="background:#e15759"></i>failed or retried ({failed})</span>"#
            );
        }
        format!(
            r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>ingest timeline</title>
<style>
body {{ font-family: sans-serif; margin: 16px; color: #222; }}
h1 {{ font-size: 18px; margin: 0 0 4px; }}
p.summary {{ margin: 0 0 10px; color: #555; font-size: 13px; }}
.legend span {{ margin-right: 14px; font-size: 12px; }}
.legend i {{ display: inline-block; width: 10px; height: 10px; margin-right: 4px; vertical-align: middle; }}
.slot {{ fill: #333; }}
</style></head>
<body>
<h1>Ingest timeline</h1>
<p class="summary">{tasks} tasks on {slots} worker slots over {span}; from {source}</p>
<p class="legend">{legend}</p>
{svg}
</body></html>
"#,
            tasks = self.bars.len(),
            slots = rows.len(),
            span = format_seconds(span),
            source = escape(source),
        )
    }
}

/// The task id a `"<task id>:list_dir"` event belongs to.
fn task_of(event_id: &str) -> String {
    event_id.strip_suffix(":list_dir").unwrap_or(event_id).to_owned()
}

/// `irods_capability_automated_ingest.tasks.filesystem_tasks.filesystem_sync_files` → `filesystem_sync_files`.
fn short_name(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}

/// Tick offsets (seconds from the start) at a round step, about ten of them.
fn ticks(span: f64) -> Vec<f64> {
    let raw = span / 10.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(raw);
    (0..).map(|i| i as f64 * step).take_while(|t| *t <= span + 1e-9).collect()
}

fn format_seconds(seconds: f64) -> String {
    if seconds >= 60.0 {
        format!("{}m{:02.0}s", (seconds / 60.0).floor(), seconds % 60.0)
    } else if seconds >= 1.0 || seconds == 0.0 {
        format!("{seconds:.1}s")
    } else {
        format!("{:.0}ms", seconds * 1000.0)
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(kind: &str, id: &str, at: &str, extra: &str) -> String {
        format!(
            r#"{{"event_id": "{id}", "event_name": "pkg.tasks.filesystem_sync_files", "path": "/p<1>", "hostname": "w1@h", "index": 1{extra}, "event": "{kind}", "logger": "irods_sync//tmp/p.log/", "level": "info", "@timestamp": "{at}"}}"#
        )
    }

    #[test]
    fn pairs_events_into_bars_per_slot() {
        let lines = [
            line("task_prerun", "a", "2026-12-07T10:00:00.000+00:00", ""),
            line("list_dir_prerun", "a:list_dir", "2026-12-07T10:00:00.100+00:00", ""),
            line("list_dir_postrun", "a:list_dir", "2026-12-07T10:00:00.200+00:00", ""),
            line("task_postrun", "a", "2026-12-07T10:00:01.500+00:00", r#", "state": "SUCCESS""#),
            line("task_prerun", "b", "2026-12-07T11:00:01.000+01:00", ""),
            line("task_postrun", "b", "2026-12-07T11:00:02.000+01:00", r#", "state": "FAILURE""#),
            "not json".to_owned(),
        ];
        let timeline = Timeline::pair(lines.iter().filter_map(|l| Event::parse(l)).collect());
        assert_eq!(timeline.bars.len(), 2);
        assert_eq!(timeline.rows(), vec![("w1@h".to_owned(), 1)]);
        assert!((timeline.bars[0].end - timeline.bars[0].start - 1.5).abs() < 1e-6);
        assert!(timeline.bars[0].list_dir.is_some());
        assert!((timeline.end - timeline.start - 2.0).abs() < 1e-6, "time zones are honoured");
        let html = timeline.html("p.log");
        assert_eq!(html.matches(r#"<g class="task""#).count(), 2);
        assert!(html.contains("/p&lt;1&gt;") && !html.contains("http://") || html.contains("xmlns"));
        assert!(!html.contains("<script") && !html.contains("src="));
    }
}
