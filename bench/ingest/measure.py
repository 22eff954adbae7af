"""What the ingest benchmark reads from /proc and from Redis while a job runs.

Everything here observes from the outside, so the same code measures the Python Celery fleet and
the Rust fleet: CPU time and memory of a process *tree* (Celery's prefork pool lives in forked
children; a Rust worker may run threads or processes), and Redis's own command counters.
"""

import os
import threading
import time

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def _stat_fields(pid):
    """The fields of /proc/<pid>/stat after the command name, or None if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    # The command name is in parentheses and may contain spaces or ')'; split after the last ')'.
    return text.rsplit(")", 1)[1].split()


def _children(pid):
    """Direct children of ``pid`` from /proc/<pid>/task/*/children (any thread may be the parent)."""
    found = []
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in threads:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                found.extend(int(child) for child in f.read().split())
        except OSError:
            pass
    return found


def process_tree(root):
    """``root`` and all its live descendants."""
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(_children(pid))
    return tree


def cpu_seconds(pids):
    """utime + stime of the live processes plus cutime + cstime, i.e. including every child they
    have already reaped. A child that exits between two readings moves from its own counters into
    its parent's c-counters, so a before/after difference over the tree stays complete (a child
    that has exited but is not yet reaped is missed until it is)."""
    total = 0
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is not None:
            total += sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
    return total / CLOCK_TICKS


def rss_bytes(pids):
    """Sum of resident set sizes. Forked children share pages with their parent, so for a prefork
    pool this over-counts; ``pss_bytes`` is the fair share."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * PAGE_SIZE
        except OSError:
            pass
    return total


def pss_bytes(pids):
    """Sum of proportional set sizes (shared pages divided among their sharers)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            pass
    return total


class TreeMemorySampler:
    """Samples the memory of a process tree in a background thread and keeps the peaks: RSS every
    ``interval`` seconds, PSS (dearer to read: the kernel walks the page tables) every
    ``pss_every``-th sample. ``reset()`` starts a new measurement window."""

    def __init__(self, root, interval=0.1, pss_every=5):
        self.root = root
        self.interval = interval
        self.pss_every = pss_every
        self.peak_rss = 0
        self.peak_pss = 0
        self.max_processes = 0
        self._samples = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-sampler", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def reset(self):
        with self._lock:
            self.peak_rss = self.peak_pss = self.max_processes = 0
        self.sample(with_pss=True)

    def sample(self, with_pss=False):
        pids = process_tree(self.root)
        rss = rss_bytes(pids)
        pss = pss_bytes(pids) if with_pss else 0
        with self._lock:
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_pss = max(self.peak_pss, pss)
            self.max_processes = max(self.max_processes, len(pids))

    def peaks(self):
        self.sample(with_pss=True)
        with self._lock:
            return self.peak_rss, self.peak_pss, self.max_processes

    def stop(self):
        self._stop.set()
        self._thread.join()

    def _run(self):
        while not self._stop.wait(self.interval):
            self._samples += 1
            self.sample(with_pss=self._samples % self.pss_every == 0)


def machine_busy_seconds():
    """CPU seconds all cores spent not idle since boot (/proc/stat: user nice system irq softirq
    steal; guest time is already inside user)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def redis_command_calls(client):
    """Calls per command from ``INFO commandstats`` as {name: calls}. Subcommands keep Redis's
    spelling (``client|list``). Commands run by Lua scripts are counted too (Redis 7)."""
    stats = client.info("commandstats")
    calls = {}
    for key, fields in stats.items():
        if key.startswith("cmdstat_"):
            calls[key[len("cmdstat_"):]] = int(fields["calls"])
    return calls


def diff_counts(after, before):
    return {name: n - before.get(name, 0) for name, n in after.items() if n != before.get(name, 0)}


class Stopwatch:
    """Monotonic wall time with a readable call site."""

    def __init__(self):
        self.began = time.monotonic()

    def elapsed(self):
        return time.monotonic() - self.began
