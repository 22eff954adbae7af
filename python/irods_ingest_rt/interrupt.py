"""Soft time limits for hooks that sleep.

Rust interrupts a running hook with ``PyThreadState_SetAsyncExc``, which takes effect at the next
bytecode the thread executes. A thread blocked inside ``time.sleep`` executes none until the sleep
ends, so Celery's soft limit (a signal to the pool process) has no direct equivalent on a worker
thread. We therefore replace ``time.sleep`` by a version that, on the runtime's own threads, waits
on a per-call lock that Rust releases when it interrupts the call; the sleep returns early and the
pending exception is raised right after. On any other thread, and for arguments the real
``time.sleep`` would reject, the real function runs unchanged.
"""

import _thread
import math
import threading
import time

_real_sleep = time.sleep
_state = threading.local()


def begin_call():
    """Arms a fresh wake-up lock for the call starting on this thread and returns it to Rust."""
    wake = _thread.allocate_lock()
    wake.acquire()
    _state.wake = wake
    return wake


def end_call():
    _state.wake = None


def sleep(seconds):
    wake = getattr(_state, "wake", None)
    if (
        wake is None
        or type(seconds) not in (int, float)
        or not math.isfinite(seconds)
        or seconds < 0
    ):
        return _real_sleep(seconds)
    deadline = time.monotonic() + seconds
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        # acquire() succeeds only when Rust releases the lock to interrupt this call; the
        # pending asynchronous exception is raised as soon as this frame runs again.
        if wake.acquire(True, min(remaining, _thread.TIMEOUT_MAX)):
            return None


sleep.__doc__ = _real_sleep.__doc__


def install():
    time.sleep = sleep
