"""Python twins of the Rust demo tasks, so a real Celery worker can run what the Rust producer sends.

Configured from the environment: CELERY_BROKER_URL, CELERY_RESULT_BACKEND (optional),
DEMO_VISIBILITY_TIMEOUT (seconds), DEMO_KEYPREFIX (kombu global_keyprefix), DEMO_ACKS_LATE.
"""
import os
import time

from celery import Celery

app = Celery("demo_app", broker=os.environ["CELERY_BROKER_URL"], backend=os.environ.get("CELERY_RESULT_BACKEND"))
transport_options = {}
if os.environ.get("DEMO_KEYPREFIX"):
    transport_options["global_keyprefix"] = os.environ["DEMO_KEYPREFIX"]
if os.environ.get("DEMO_VISIBILITY_TIMEOUT"):
    transport_options["visibility_timeout"] = float(os.environ["DEMO_VISIBILITY_TIMEOUT"])
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    broker_transport_options=transport_options,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    task_acks_late=bool(os.environ.get("DEMO_ACKS_LATE")),
)


@app.task(name="demo.add")
def add(x, y):
    return x + y


@app.task(name="demo.echo")
def echo(value):
    return value


@app.task(name="demo.sleep")
def sleep(seconds):
    time.sleep(seconds)
    return seconds


@app.task(name="demo.fail")
def fail(message):
    raise ValueError(message)


@app.task(name="demo.retry", bind=True, max_retries=None)
def retry(self, times):
    if self.request.retries < times:
        raise self.retry(countdown=1)
    return self.request.retries


@app.task(name="demo.spawn", bind=True)
def spawn(self, queue, n):
    return [add.apply_async((i, i), queue=queue).id for i in range(n)]


@app.task(name="demo.py_only")
def py_only():
    """A task only Python workers implement (the Rust demo worker does not register it)."""
    return "python"
