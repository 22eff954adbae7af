"""Tables for the ingest benchmark: plain text for the terminal, Markdown for BENCHMARKS.md."""

import re
import statistics
import textwrap

SECTION_TITLE = "Ingest workers"
SCENARIO_LABELS = {
    "register": "register (REGISTER_SYNC, new files)",
    "rescan": "rescan (unchanged tree, all skipped)",
    "put": "put (4 KiB files uploaded)",
    "hooks": "hooks (register; pre/post_data_obj_create, one AVU per file)",
}

# (heading, key in a result, format) for one row per fleet and scenario.
COLUMNS = [
    ("files", "files", "{:.0f}"),
    ("job s", "job_s", "{:.2f}"),
    ("CLI s", "cli_s", "{:.1f}"),
    ("files/s", "files_per_s", "{:.0f}"),
    ("files/s/core", "files_per_s_per_core", "{:.0f}"),
    ("worker CPU ms/file", "worker_cpu_ms_per_file", "{:.3f}"),
    ("Redis cmds/file", "redis_commands_per_file", "{:.1f}"),
    ("peak RSS MiB", "peak_rss_mib", "{:.0f}"),
    ("peak PSS MiB", "peak_pss_mib", "{:.0f}"),
    ("server CPU ms/file", "server_cpu_ms_per_file", "{:.3f}"),
    ("other load (cores)", "other_load_cores", "{:.2f}"),
]

# (heading, key, True when a larger value is better) for the Rust/Python ratios.
RATIOS = [
    ("files/s", "files_per_s", True),
    ("worker CPU/file", "worker_cpu_ms_per_file", False),
    ("Redis cmds/file", "redis_commands_per_file", False),
    ("peak RSS", "peak_rss_mib", False),
    ("peak PSS", "peak_pss_mib", False),
]


def _summaries(run):
    """{(fleet, scenario): summary}: the median of every figure over the repeats, or the first
    failure when any repeat failed (a failure is never averaged away)."""
    grouped = {}
    for result in run["results"]:
        grouped.setdefault((result["fleet"], result["scenario"]), []).append(result)
    summaries = {}
    for key, results in grouped.items():
        failed = [r for r in results if r["status"] != "ok"]
        if failed:
            summaries[key] = failed[0]
            continue
        summary = {"status": "ok", "runs": len(results)}
        for name, value in results[0].items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                summary[name] = statistics.median(r[name] for r in results)
        summaries[key] = summary
    return summaries


def _rows(run):
    """One row (list of strings) per fleet and scenario, in run order, plus ratio rows."""
    by_key = _summaries(run)
    fleets = list(run["fleets"])
    rows, ratio_rows = [], []
    for scenario in run["scenarios"]:
        for fleet in fleets:
            info = run["fleets"][fleet]
            result = by_key.get((fleet, scenario))
            if info["status"] != "available":
                rows.append([scenario, fleet, "not available: " + info["reason"]])
            elif result is None or result["status"] != "ok":
                reason = result["reason"].splitlines()[0] if result else "not run"
                rows.append([scenario, fleet, "failed: " + reason])
            else:
                result = dict(result, files_per_s_per_core=result["files_per_s"] / run["concurrency"])
                rows.append([scenario, fleet] + [fmt.format(result[key]) if key in result else "–"
                                                 for _, key, fmt in COLUMNS])
        python, rust = by_key.get(("python", scenario)), by_key.get(("rust", scenario))
        if python and rust and python["status"] == rust["status"] == "ok":
            ratio_rows.append([scenario] + [_ratio(rust[key], python[key]) for _, key, _ in RATIOS])
    return rows, ratio_rows


def _ratio(rust, python):
    if python == 0:
        return "n/a"
    return f"{rust / python:.2f}"


def text_table(run):
    rows, ratio_rows = _rows(run)
    headings = ["scenario", "fleet"] + [h for h, _, _ in COLUMNS]
    widths = [max(len(h), 8) for h in headings]
    lines = ["  ".join(h.rjust(w) for h, w in zip(headings, widths))]
    for row in rows:
        if len(row) == 3:  # not available / failed: free text after scenario and fleet
            lines.append("  ".join([row[0].rjust(widths[0]), row[1].rjust(widths[1]), row[2]]))
        else:
            lines.append("  ".join(cell.rjust(w) for cell, w in zip(row, widths)))
    text = "\n".join(lines)
    if run.get("repeat", 1) > 1:
        text += f"\n\nmedians of {run['repeat']} runs"
    text += (f"\n\n-c {run['concurrency']} for both fleets; files/s = files / job s (job start in Redis .. task "
             "counter back to 0); CLI s = the whole irods_sync start --synchronous.")
    if ratio_rows:
        headings = ["Rust/Python"] + [h for h, _, _ in RATIOS]
        widths = [max(len(h), 8) for h in headings]
        text += "\n\n" + "  ".join(h.rjust(w) for h, w in zip(headings, widths))
        for row in ratio_rows:
            text += "\n" + "  ".join(cell.rjust(w) for cell, w in zip(row, widths))
    return text


def _md_table(headings, rows, text_columns=2):
    align = ["---" if i < text_columns else "---:" for i in range(len(headings))]
    out = ["| " + " | ".join(headings) + " |", "|" + "|".join(align) + "|"]
    for row in rows:
        if len(row) == 3:
            row = row + [""] * (len(headings) - 3)
        out.append("| " + " | ".join(row) + " |")
    return "\n".join(out)


def _sizes_sentence(run):
    sizes, scenarios = run["sizes"], run["scenarios"]
    parts = []
    if "register" in scenarios:
        names = "register and rescan" if "rescan" in scenarios else "register"
        parts.append(f"{names} **{sizes['register_files']:,} files** ({sizes['files_per_dir']} per directory)")
    if "put" in scenarios:
        parts.append(f"put **{sizes['put_files']:,} files of {sizes['put_file_bytes'] // 1024} KiB**")
    if "hooks" in scenarios and sizes.get("hook_files"):
        parts.append(f"hooks **{sizes['hook_files']:,} files** registered through pre/post_data_obj_create "
                     "(the post hook adds one AVU through the hooks' python-irodsclient session)")
    quick = " (the `--quick` smoke size)" if sizes.get("quick") else ""
    return "Sizes: " + ", ".join(parts) + quick + ". "


def _built(run, binary):
    mtime = run["binaries"][binary]["mtime"]
    return mtime.replace("T", " ")[:16] if mtime else "(missing)"


def _ceiling_quote(text):
    """The table of the existing test-server section, so the fleet numbers are read against it."""
    match = re.search(r"^## [^\n]*test server[^\n]*\n(.*?)(?=^## |\Z)", text, re.S | re.M | re.I)
    if not match:
        return None
    title = match.group(0).splitlines()[0][3:].strip()
    table = [line for line in match.group(1).splitlines() if line.startswith("|")]
    return title, table


def markdown_section(run, benchmarks_text):
    rows, ratio_rows = _rows(run)
    m = run["machine"]
    parts = [f"## {SECTION_TITLE}", ""]
    parts.append(
        "`bench/ingest/run` — the reference CLI (`irods_sync start --synchronous`) drives the same jobs through "
        "the reference's Python Celery workers (`celery -A irods_capability_automated_ingest worker`) and "
        "through `irods-ingest worker`, at the same `-c`, in one run, each fleet and scenario on freshly "
        "started private instances of the same redis-server and irods-testserver binaries. "
        "See [bench/ingest/README.md](bench/ingest/README.md) for what each column measures.")
    parts.append("")
    load = run.get("load_avg_at_end")
    parts.append(
        f"Measured {run['date'][:10]} on {m['nproc']} cores ({m['cpu_model']}), `-c {run['concurrency']}`, "
        f"revision `{run['revision']}`; load average {m['load_avg_at_start'][0]:.1f} at the start"
        + (f", {load[0]:.1f} at the end" if load else "") + ". "
        + _sizes_sentence(run)
        + f"Binaries: irods-ingest built {_built(run, 'rust_worker')}, irods-testserver built {_built(run, 'testserver')}. "
        + (f"Every figure is the median of {run['repeat']} runs, the fleet going first alternating. "
           if run.get("repeat", 1) > 1 else "")
        + "Data: [bench/ingest/published.json](bench/ingest/published.json).")
    parts.append("")
    headings = ["scenario", "fleet"] + [h for h, _, _ in COLUMNS]
    parts.append(_md_table(headings, rows))
    parts.append("")
    if ratio_rows:
        parts.append("Rust / Python (above 1 is more for files/s, below 1 is less for the costs):")
        parts.append("")
        parts.append(_md_table(["scenario"] + [h for h, _, _ in RATIOS], ratio_rows, text_columns=1))
        parts.append("")
    parts.append(
        "files/s is files / job s: from the job's start (the `start_time:/<job>` the reference's main task "
        "records just before it enqueues the first task) until the job's task counter is back to zero, polled "
        "every 20 ms. CLI s is the whole `irods_sync start --synchronous`, with the CLI's Python start-up and "
        "its once-a-second completion poll. files/s/core divides by `-c`. Worker CPU is the whole worker process tree (Celery's forked pool "
        "included). Redis commands are every command the broker executed during the job (workers, the CLI's "
        "job set-up and its once-a-second poll, and commands run inside Lua scripts), from `INFO commandstats`. "
        "Peak RSS sums the tree and counts pages a prefork pool shares with its parent once per process; "
        "PSS divides them. Server CPU is irods-testserver's, for context. Other load is the CPU that every "
        "other process on the machine used during the job (from /proc/stat, ours taken out), in cores. Workers, redis-server, the test "
        "server and the CLI share the cores, and so do other jobs on this machine: wall-clock figures move "
        "with the load average, while CPU and Redis commands per file are the steadier comparison.")
    quote = _ceiling_quote(benchmarks_text)
    if quote:
        title, table = quote
        parts.append("")
        parts.append(f"For context, the test server's own ceiling (from \"{title}\" above):")
        parts.append("")
        parts.extend("> " + line for line in table)
    return "\n".join(_wrap(part) for part in parts) + "\n"


def _wrap(paragraph, width=115):
    """Prose wrapped like the rest of BENCHMARKS.md; tables and quotes stay one line per row."""
    if not paragraph or paragraph.startswith(("|", ">", "#")) or "\n" in paragraph:
        return paragraph
    return textwrap.fill(paragraph, width=width, break_long_words=False, break_on_hyphens=False)


def write_markdown_section(path, run):
    """Replaces the '## Ingest workers' section (up to the next '## ' heading), or appends it."""
    with open(path) as f:
        text = f.read()
    section = markdown_section(run, text)
    pattern = re.compile(rf"^## {re.escape(SECTION_TITLE)}[ \t]*\n.*?(?=^## |\Z)", re.S | re.M)
    match = pattern.search(text)
    if match:
        followed = match.end() < len(text)  # another section comes after: keep a blank line before it
        new_text = text[:match.start()] + section + ("\n" if followed else "") + text[match.end():]
    else:
        new_text = text.rstrip("\n") + "\n\n" + section
    with open(path, "w") as f:
        f.write(new_text)
