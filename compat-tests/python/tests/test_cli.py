"""The Rust job CLI (``irods-ingest start|stop|list|watch``) against the reference's ``irods_sync``.

Both CLIs run as programs on the same redis-server, in both directions: what one starts the other
watches, lists and stops, with Python, Rust and mixed worker fleets, and every mix must give the
same catalog. Also: the main task message and the Redis state ``start`` leaves are the
reference's (normalised only where the reference itself is random), ``list`` prints the same
line, bad inputs get the reference's exit status and queue nothing, periodic jobs started by one
CLI end when the other stops them, and a Rust ``stop`` ends a periodic job even when no worker
was online to receive the revocation.
"""

import base64
import json
import os
import re
import signal
import subprocess
import time

import pytest

from ingest_testsupport import Fleet, RedisServer
from ingest_testsupport.fleet import VENV_BIN, ZONE_HOME, rust_worker_binary

pytestmark = pytest.mark.timeout(300)

PYTHON_CLI = [os.path.join(VENV_BIN, "python"), "-m", "irods_capability_automated_ingest.irods_sync"]
CLIS = {"python": PYTHON_CLI, "rust": None}


def cli_command(cli):
    return PYTHON_CLI if cli == "python" else [rust_worker_binary()]


def run(cli, args, url, cwd=None, timeout=60):
    env = {k: v for k, v in os.environ.items() if k != "CELERY_BROKER_URL"}
    if url is not None:
        env["CELERY_BROKER_URL"] = url
    return subprocess.run(cli_command(cli) + list(args), env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def restart_messages(r, queue="restart"):
    return [json.loads(raw) for raw in r.lrange(queue, 0, -1)]


def normalised_message(message):
    """The main-task message with what the reference itself draws at random replaced."""
    body = json.loads(base64.b64decode(message["body"]))
    meta = body[0][0]
    handler_key = meta["event_handler_key"]
    assert re.fullmatch(rf"custom_event_handler:/{re.escape(meta['job_name'])}::[0-9a-f]{{32}}", handler_key)
    meta["event_handler_key"] = "<key>"
    meta["config"]["redis"]["db"] = "<db>"
    headers = dict(message["headers"])
    assert re.fullmatch(r"gen\d+@.+", headers["origin"])
    headers["origin"] = "<origin>"
    # argsrepr is truncated at 1024 characters, possibly inside the key's uuid.
    headers["argsrepr"] = re.sub(r"::[0-9a-f]{1,32}", "::<uuid>", headers["argsrepr"])
    periodic = meta["interval"] is not None
    for key in ("id", "root_id"):
        if periodic:
            assert headers[key] == meta["job_name"]
        else:
            assert re.fullmatch(r"[0-9a-f-]{36}", headers[key])
            headers[key] = "<uuid4>"
    props = dict(message["properties"])
    assert re.fullmatch(r"[0-9a-f-]{36}", props["reply_to"]) and re.fullmatch(r"[0-9a-f-]{36}", props["delivery_tag"])
    props["reply_to"] = props["delivery_tag"] = "<uuid>"
    props["correlation_id"] = headers["id"]
    return {"keys": list(message), "headers": list(headers.items()), "properties": list(props.items()),
            "body": body, "encoding": (message["content-type"], message["content-encoding"])}


def state(r):
    """Every key but the random handler key, with its value."""
    out = {}
    for key in sorted(r.keys("*")):
        # The handler key's name is random; the queue holds the messages compared above; the lock's
        # wake-up list expires after 1 s; kombu 5.7's `_permanent` binding twin is declared by our
        # producer on purpose (kombu < 5.7 does not write it, both read the plain one).
        if (key.startswith(b"custom_event_handler:/") or key == b"restart" or key.startswith(b"lock-signal:")
                or key.startswith(b"_kombu.binding_permanent.")):
            continue
        kind = r.type(key)
        out[key] = r.lrange(key, 0, -1) if kind == b"list" else sorted(r.smembers(key)) if kind == b"set" else r.get(key)
    return out


def test_start_writes_what_the_reference_writes(tmp_path):
    """Message bytes, Redis state and ``list`` line of both CLIs, and the bad inputs' exit statuses."""
    import redis

    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_text("x")
    handler = tmp_path / "handler.py"
    handler.write_text("from irods_capability_automated_ingest.core import Core\n"
                       "class event_handler(Core):\n    @staticmethod\n    def character_map():\n"
                       "        return {'a': 'b'}\n")
    starts = [
        ["start", "src", "/tempZone/home/rods/t", "--job_name", "single"],
        ["start", "src/../src", "/tempZone/home/rods/p", "--job_name", "periodic", "-i", "30",
         "--event_handler", str(handler), "--files_per_task", "7", "--exclude_file_type", "link, socket",
         "--exclude_file_name", r"(\S+)\.tmp", "x.*", "--ignore_cache", "--initial_ingest",
         "--restart_queue", "restart", "--log_filename", "/tmp/x.log", "--log_level", "INFO",
         "--irods_idle_disconnect_seconds", "5", "--profile"],
    ]
    with RedisServer() as server:
        dbs = {"python": 1, "rust": 2}
        conns = {cli: redis.Redis.from_url(server.url(db)) for cli, db in dbs.items()}
        for args in starts:
            for cli, db in dbs.items():
                done = run(cli, args, server.url(db), cwd=tmp_path)
                assert done.returncode == 0, (cli, done.stdout, done.stderr)
                assert done.stdout == ""
        messages = {cli: [normalised_message(m) for m in restart_messages(conns[cli])] for cli in dbs}
        assert len(messages["python"]) == 2
        for ours, theirs in zip(messages["rust"], messages["python"]):
            assert json.dumps(ours, indent=1).splitlines() == json.dumps(theirs, indent=1).splitlines()
        assert state(conns["rust"]) == state(conns["python"])
        handler_texts = {cli: sorted(conns[cli].get(k) for k in conns[cli].keys("custom_event_handler:/*"))
                         for cli in dbs}
        assert handler_texts["rust"] == handler_texts["python"]

        # `list`: either CLI on either database prints the same line.
        lines = {(cli, db_cli): run(cli, ["list"], server.url(dbs[db_cli])).stdout
                 for cli in dbs for db_cli in dbs}
        assert len(set(lines.values())) == 1, lines
        assert lines[("rust", "rust")].startswith('{"periodic": [{"job_name": "periodic", "total_tasks": 0,')
        table = run("rust", ["list", "--format", "table"], server.url(2)).stdout.splitlines()
        assert table[0].split()[:3] == ["KIND", "JOB", "TOTAL"] and len(table) == 3

        # Bad inputs: the reference's exit status, one line from ours, nothing queued or stored.
        bad_handler = tmp_path / "bad.py"
        bad_handler.write_text("class event_handler:\n    @staticmethod\n    def character_map():\n"
                               "        return {'ab': 'c'}\n")
        broken_handler = tmp_path / "broken.py"
        broken_handler.write_text("import no_such_module_anywhere\n")
        cases = [
            (["start", "src", "/tempZone/home/rods/t", "--job_name", "single"], 1, "job single already exists"),
            (["start", "src", "/", "--job_name", "root"], 1, "Root may only contain collections which represent zones"),
            (["start", "src", "/t", "--job_name", "b", "--event_handler", str(bad_handler)], 1,
             "single-character substitutions"),
            (["start", "src", "/t", "--job_name", "b", "--event_handler", str(broken_handler)], 1,
             "No module named 'no_such_module_anywhere'"),
            (["stop", "no.such.job"], 1, "job [no.such.job] does not exist"),
            (["watch", "no.such.job"], 1, "job [no.such.job] does not exist"),
            (["start", "src", "/t", "--s3_multipart_chunksize_in_mib", "2"], 2, "5"),
            (["start", "src"], 2, "TARGET_COLLECTION"),
        ]
        before = {cli: (state(conns[cli]), conns[cli].llen("restart")) for cli in dbs}
        for args, status, text in cases:
            for cli, db in dbs.items():
                done = run(cli, args, server.url(db), cwd=tmp_path)
                assert done.returncode == status, (cli, args, done.stdout, done.stderr)
                assert text in done.stderr, (cli, args, done.stderr)
                if cli == "rust":
                    assert len(done.stderr.strip().splitlines()) == (1 if status == 1 else len(done.stderr.strip().splitlines())), done.stderr
                    assert "Traceback" not in done.stderr
        assert {cli: (state(conns[cli]), conns[cli].llen("restart")) for cli in dbs} == before

        # The broker URL: unset, unreachable, with a password the reference cannot parse.
        unset = run("rust", ["list"], None)
        assert unset.returncode == 1 and unset.stderr.strip().splitlines() == [
            "irods-ingest: CELERY_BROKER_URL is not set; set it to the broker of the workers, e.g. redis://127.0.0.1:6379/0"]
        assert run("python", ["list"], None).returncode == 1
        unreachable = run("rust", ["list"], "redis://:secret@127.0.0.1:1/0")
        assert unreachable.returncode == 1 and "secret" not in unreachable.stderr
        assert len(unreachable.stderr.strip().splitlines()) == 1, unreachable.stderr
        nodb = run("rust", ["list"], f"redis://127.0.0.1:{server.port}")
        assert nodb.returncode == 0 and nodb.stdout == '{"periodic": [], "singlepass": [], "stopped": []}\n'


def make_tree(src, files=12):
    os.makedirs(os.path.join(src, "sub"), exist_ok=True)
    for i in range(files):
        with open(os.path.join(src, "sub" if i % 2 else "", f"file{i}.txt"), "w") as f:
            f.write(f"content {i}\n" * (i + 1))


def catalog_shape(fleet, target):
    """The catalog below ``target`` with the target's own path cut off (jobs use different targets)."""
    snapshot = fleet.catalog(target)
    text = json.dumps(snapshot, sort_keys=True).replace(target, "<target>").replace(fleet.dir, "<fleet>")
    text = re.sub(r'"modify_time": [^,}]+', '"modify_time": 0', text)
    return json.loads(text)


def without_elapsed(line):
    jobs = json.loads(line)
    for kind in jobs.values():
        for job in kind:
            job["elapsed_time"] = "-"
    return jobs


CATALOGS = {}

SLOW_HANDLER = """
import time
from irods_capability_automated_ingest.core import Core
from irods_capability_automated_ingest.utils import Operation

class event_handler(Core):
    @staticmethod
    def operation(session, meta, **options):
        return Operation.REGISTER_SYNC

    @staticmethod
    def pre_data_obj_create(hdlr_mod, logger, session, meta, *args, **options):
        time.sleep(1)
"""


@pytest.mark.parametrize("workers", ["python", "rust", "mixed"])
def test_either_cli_starts_watches_and_lists_for_any_fleet(workers, tmp_path):
    with Fleet(workers=workers, concurrency=2) as fleet:
        src = os.path.join(fleet.dir, "src")
        make_tree(src)
        # Slow enough (1 s per file) for `watch` to find the job running.
        slow = fleet.write_file("slow.py", SLOW_HANDLER)
        shapes = {}
        for starter, watcher in (("rust", "python"), ("python", "rust")):
            job = f"{starter}-started"
            target = f"{ZONE_HOME}/{job}"
            started = fleet.start_job(src, target, job, synchronous=False, cli=starter, event_handler=slow,
                                      extra=["--files_per_task", "3"])
            assert started.returncode == 0, started.output
            wait_for(lambda: fleet.redis.get(f"irods_ingest_job_start_time:/{job}") is not None, 30, "the pass")
            assert fleet.job_counters(job)["cleanup"] is not None, "the job ended before it could be watched"
            watched = fleet.run_cli(watcher, "watch", job, timeout=120)
            assert watched.returncode == 0, watched.output
            if watcher == "rust":
                # Not a terminal: plain lines, the last one with nothing remaining.
                assert re.search(rf"job {job}: total \d+ remaining 0 failed 0", watched.stdout), watched.output
            counters = fleet.wait_job(job, timeout=60)
            assert counters["failures"] is None and counters["cleanup"] is None, counters
            shapes[job] = catalog_shape(fleet, target)
        # --synchronous --progress with the Rust CLI: the main task runs in the CLI process.
        sync = fleet.start_job(src, f"{ZONE_HOME}/sync", "sync", cli="rust", extra=["--progress", "--files_per_task", "3"])
        assert sync.returncode == 0, sync.output
        assert re.search(r"job sync: total \d+ remaining 0 failed 0", sync.stdout), sync.output
        shapes["sync"] = catalog_shape(fleet, f"{ZONE_HOME}/sync")
        assert len(shapes["rust-started"]["data_objects"]) == 12
        assert shapes["rust-started"] == shapes["python-started"] == shapes["sync"]

        lists = [fleet.run_cli(cli, "list") for cli in ("python", "rust")]
        assert all(done.returncode == 0 for done in lists), [d.output for d in lists]
        assert without_elapsed(lists[0].stdout) == without_elapsed(lists[1].stdout)
        assert re.sub(r'"elapsed_time": "[^"]*"', "", lists[0].stdout) == re.sub(r'"elapsed_time": "[^"]*"', "", lists[1].stdout)

        # A job with failures: --synchronous exits 255 with either CLI.
        for cli in ("python", "rust"):
            failing = fleet.start_job(src, f"/noSuchZone/{cli}", f"fail-{cli}", cli=cli)
            if cli == "python" and failing.returncode == 1 and "does not exist" in failing.output:
                # The reference's own race: its --synchronous monitor starts after enqueueing and
                # says "job does not exist" when fast workers have already ended the job.
                assert fleet.job_counters(f"fail-{cli}")["failures"] is not None, failing.output
                continue
            assert failing.returncode == 255, failing.output
        CATALOGS[workers] = shapes["rust-started"]
    if len(CATALOGS) > 1:
        first = next(iter(CATALOGS.values()))
        assert all(shape == first for shape in CATALOGS.values()), "the fleets' catalogs differ"


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def job_messages(fleet, job):
    """Messages of ``job`` still queued or reserved anywhere in the broker."""
    r = fleet.redis
    found = []
    raws = [raw for q in ("restart", "path", "file") for k in [q] + [f"{q}\x06\x16{p}" for p in (3, 6, 9)]
            for raw in r.lrange(k, 0, -1)]
    raws += [json.dumps(json.loads(v)[0]).encode() for v in r.hvals("unacked")]
    for raw in raws:
        body = json.loads(base64.b64decode(json.loads(raw)["body"]))
        if body[0][0].get("job_name") == job:
            found.append(json.loads(raw)["headers"]["task"])
    return found


def first_pass_done(fleet, job):
    c = fleet.job_counters(job)
    return c["count"] > 0 and c["tasks"] == 0


def test_periodic_jobs_started_by_one_cli_end_when_the_other_stops_them():
    with Fleet(workers="mixed", concurrency=2) as fleet:
        src = os.path.join(fleet.dir, "src")
        make_tree(src, files=4)
        for starter, stopper in (("rust", "python"), ("python", "rust")):
            job = f"periodic-{starter}"
            target = f"{ZONE_HOME}/{job}"
            started = fleet.start_job(src, target, job, synchronous=False, cli=starter, extra=["-i", "2"])
            assert started.returncode == 0, started.output
            wait_for(lambda: first_pass_done(fleet, job), 60, f"first pass of {job}")
            if starter == "rust":
                # Ctrl-C in watch: watching stops, the job does not.
                watcher = subprocess.Popen(fleet.cli_command("rust") + ["watch", job], env=fleet.env,
                                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                time.sleep(2)
                watcher.send_signal(signal.SIGINT)
                out, err = watcher.communicate(timeout=20)
                assert watcher.returncode == 0, (out, err)
                assert "the job keeps running" in err, err
                assert fleet.job_counters(job)["periodic"]
            stopped = fleet.run_cli(stopper, "stop", job)
            assert stopped.returncode == 0, stopped.output
            with open(os.path.join(src, f"late-{starter}.txt"), "w") as f:
                f.write("after the stop\n")
            time.sleep(6)  # three intervals
            counters = fleet.job_counters(job)
            assert not counters["periodic"] and counters["cleanup"] is None and counters["count"] == 0, counters
            names = fleet.catalog(target)["data_objects"]
            assert not any(f"late-{starter}" in name for name in names), names
            assert job_messages(fleet, job) == []
            listed = json.loads(fleet.run_cli("python", "list").stdout)
            assert [j["job_name"] for j in listed["stopped"]][-1] == job
            assert job not in [j["job_name"] for j in listed["periodic"]]


def test_rust_stop_ends_a_periodic_job_no_worker_was_online_for():
    """The reference's stop only revokes, reaching online workers; ours also removes the queued
    and reserved messages, so a Python worker that comes up later does not revive the job."""
    with Fleet(workers="rust", concurrency=2) as fleet:
        src = os.path.join(fleet.dir, "src")
        make_tree(src, files=2)
        job = "offline-stop"
        started = fleet.start_job(src, f"{ZONE_HOME}/{job}", job, synchronous=False, cli="rust", extra=["-i", "3"])
        assert started.returncode == 0, started.output
        wait_for(lambda: first_pass_done(fleet, job), 60, "first pass")
        wait_for(lambda: job_messages(fleet, job) != [], 10, "the next firing to be queued")
        fleet.stop_worker(fleet.workers[0])
        assert job_messages(fleet, job), "the next firing is queued or reserved while no worker runs"
        stopped = fleet.run_cli("rust", "stop", job, "--grace", "1")
        assert stopped.returncode == 0, stopped.output
        assert job_messages(fleet, job) == []
        with open(os.path.join(src, "late.txt"), "w") as f:
            f.write("after the stop\n")
        fleet.add_worker("python")
        time.sleep(8)
        counters = fleet.job_counters(job)
        assert counters["count"] == 0 and counters["tasks"] is None and not counters["periodic"], counters
        assert not any("late" in n for n in fleet.catalog(f"{ZONE_HOME}/{job}")["data_objects"])


class Sentinel:
    """A real Redis Sentinel (``redis-server --sentinel``) on a free loopback port, watching ``master``."""

    def __init__(self, master_port, directory, name="ingestmaster"):
        from ingest_testsupport import free_port

        self.name = name
        self.port = free_port()
        conf = os.path.join(directory, f"sentinel-{self.port}.conf")
        with open(conf, "w") as f:
            f.write(f"port {self.port}\nbind 127.0.0.1\ndir {directory}\n"
                    f"sentinel monitor {name} 127.0.0.1 {master_port} 1\n")
        program = os.environ.get("REDIS_SERVER", "redis-server")
        self.process = subprocess.Popen([program, conf, "--sentinel"], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port)
        wait_for(lambda: self._answers(client), 10, "the sentinel")

    def _answers(self, client):
        try:
            return client.execute_command("SENTINEL", "get-master-addr-by-name", self.name) is not None
        except Exception:
            return False

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=10)


def test_sentinel_broker_urls_reach_the_master():
    """kombu's ``sentinel://`` URLs (master name as a transport option) for the Rust CLI and worker,
    next to a Python worker and the Python CLI on the plain URL of the same server."""
    with Fleet(workers="python", concurrency=2) as fleet:
        first, second = Sentinel(fleet.redis_server.port, fleet.dir), Sentinel(fleet.redis_server.port, fleet.dir)
        try:
            plain = fleet.env["CELERY_BROKER_URL"]
            # A dead first sentinel, then two live ones; the db from the first URL.
            url = (f"sentinel://127.0.0.1:1/0;sentinel://127.0.0.1:{first.port};"
                   f"sentinel://127.0.0.1:{second.port}")
            fleet.env["CELERY_BROKER_URL"] = url
            fleet.env["CELERY_BROKER_TRANSPORT_OPTIONS"] = json.dumps({"master_name": first.name})
            fleet.add_worker("rust")
            fleet.stop_worker(fleet.workers[0])  # the job below runs on the sentinel-connected worker alone
            src = os.path.join(fleet.dir, "src")
            make_tree(src, files=6)
            started = fleet.start_job(src, f"{ZONE_HOME}/sentinel", "sentinel", synchronous=True, cli="rust")
            assert started.returncode == 0, started.output
            assert len(fleet.catalog(f"{ZONE_HOME}/sentinel")["data_objects"]) == 6
            ours = fleet.run_cli("rust", "list")
            theirs = fleet.run_cli("python", "list", env={"CELERY_BROKER_URL": plain})
            assert ours.returncode == 0 and without_elapsed(ours.stdout) == without_elapsed(theirs.stdout), (ours.output, theirs.output)
            # The master name in the URL's query instead; a wrong name is one clear line.
            query = fleet.run_cli("rust", "list", env={"CELERY_BROKER_URL": f"sentinel://127.0.0.1:{second.port}/0?master_name={first.name}",
                                                       "CELERY_BROKER_TRANSPORT_OPTIONS": ""})
            assert query.returncode == 0 and without_elapsed(query.stdout) == without_elapsed(ours.stdout), query.output
            wrong = fleet.run_cli("rust", "list", env={"CELERY_BROKER_TRANSPORT_OPTIONS": '{"master_name": "nope"}'})
            assert wrong.returncode == 1 and len(wrong.stderr.strip().splitlines()) == 1 and "nope" in wrong.stderr, wrong.output
        finally:
            first.stop()
            second.stop()


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium(*args, profile_dir):
    program = os.environ.get("CHROMIUM", "chromium")
    return subprocess.run([program, *CHROMIUM_FLAGS, f"--user-data-dir={profile_dir}", *args],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_profile_events_drawn_as_a_timeline_in_a_browser(tmp_path):
    """``--profile`` events written by Rust workers, ``irods-ingest profile`` makes the page, and
    headless Chromium renders it: one bar per task, the task names, rows per worker slot."""
    with Fleet(workers="rust", concurrency=3) as fleet:
        src = os.path.join(fleet.dir, "src")
        make_tree(src, files=20)
        profile_log = os.path.join(fleet.dir, "profile.log")
        run_ = fleet.start_job(src, f"{ZONE_HOME}/profiled", "profiled", cli="rust",
                               extra=["--profile", "--profile_filename", profile_log, "--profile_level", "INFO",
                                      "--files_per_task", "2"])
        assert run_.returncode == 0, run_.output
        kept = tmp_path / "profile.log"
        kept.write_bytes(open(profile_log, "rb").read())
    profile_log = str(kept)
    events = [json.loads(line) for line in open(profile_log)]
    ended = [e for e in events if e["event"] == "task_postrun"]
    assert ended and all(e["state"] == "SUCCESS" for e in ended)
    assert {e["event"] for e in events} == {"task_prerun", "task_postrun", "list_dir_prerun", "list_dir_postrun"}
    assert sum(e["event"] == "task_prerun" for e in events) == len(ended)
    page = tmp_path / "timeline.html"
    made = subprocess.run([rust_worker_binary(), "profile", profile_log, "-o", str(page)], capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    html = page.read_text()
    assert "<script" not in html and "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")

    dom = chromium("--dump-dom", page.as_uri(), profile_dir=tmp_path / "chrome-dom")
    assert dom.returncode == 0, dom.stderr
    assert dom.stdout.count('<g class="task"') == len(ended), dom.stdout[:2000]
    assert "filesystem_sync_files" in dom.stdout and "filesystem_sync_path" in dom.stdout
    slots = {(e["hostname"], e["index"]) for e in ended}
    assert dom.stdout.count('class="slot"') == len(slots)
    shot = tmp_path / "timeline.png"
    taken = chromium(f"--screenshot={shot}", "--window-size=1400,500", page.as_uri(), profile_dir=tmp_path / "chrome-png")
    assert taken.returncode == 0 and shot.stat().st_size > 5000, taken.stderr
    if os.environ.get("INGEST_TIMELINE_PNG"):
        import shutil
        shutil.copy(shot, os.environ["INGEST_TIMELINE_PNG"])


def test_watch_says_when_redis_lost_the_jobs_state():
    """A Redis restarted without persistence comes back empty: `watch` must not take the vanished
    counter for a finished job (exit 0), but say so in one line and exit non-zero. Against a real
    redis-server, killed and restarted on the same port without an AOF."""
    with RedisServer() as server:
        url = server.url(0)
        import redis as redis_py
        r = redis_py.Redis.from_url(url)
        job = "lost.job"
        r.set(f"cleanup:/{job}", "[]")
        r.rpush("singlepass", job)
        r.set(f"irods_ingest_job_start_time:/{job}", repr(time.time()))
        r.set(f"tasks:/{job}", 3)
        r.rpush(f"count:/{job}", "a", "b", "c")
        env = {k: v for k, v in os.environ.items() if k != "CELERY_BROKER_URL"}
        env["CELERY_BROKER_URL"] = url
        watch = subprocess.Popen([rust_worker_binary(), "watch", job], env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        try:
            time.sleep(2.0)
            assert watch.poll() is None, "watch ended while the job runs"
            server.crash()
            server.restart()
            out, err = watch.communicate(timeout=60)
        finally:
            if watch.poll() is None:
                watch.kill()
        assert watch.returncode not in (0, None), (watch.returncode, out, err)
        lines = [line for line in err.splitlines() if "vanished" in line]
        assert len(lines) == 1, err
        assert "Redis restarted without persistence" in lines[0], err
