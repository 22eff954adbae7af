"""Drives the reference's own job bookkeeping (sync_job, redis_key, utils.enqueue_task and the
IrodsTask hooks) through a fixed scenario, so the Rust tests can compare the Redis state it leaves
with the state the Rust `JobStore` leaves after the same scenario.

Usage: python job_probe.py <scenario> <redis port> <db> <job name> [args...]

Scenarios:
  singlepass <start time> <sync time>   one pass of a single-pass job (see the Rust test)
  periodic <start time>                 a periodic job with a busy second pass and a stop flag
  asdict <now>                          prints sync_job(job).asdict() as JSON with time.time() = now
  actions <verb:id>...                  enqueue / finish / fail task ids through the reference
"""

import json
import os
import sys
import time
import uuid


def main():
    scenario, port, db, job_name = sys.argv[1:5]
    extra = sys.argv[5:]
    config = {
        "log": {"filename": os.devnull, "when": None, "interval": None, "level": None},
        "profile": {"filename": None, "when": None, "interval": None, "level": None},
        "redis": {"host": "127.0.0.1", "port": int(port), "db": int(db)},
    }
    os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:%s/%s" % (port, db))

    from irods_capability_automated_ingest import utils
    from irods_capability_automated_ingest.redis_key import sync_time_key_handle
    from irods_capability_automated_ingest.redis_utils import get_redis
    from irods_capability_automated_ingest.sync_job import sync_job
    from irods_capability_automated_ingest.tasks import filesystem_tasks

    r = get_redis(config)
    job = sync_job(job_name, r)

    if scenario == "asdict":
        now = float(extra[0])
        time.time = lambda: now
        print(json.dumps(job.asdict()))
        return

    handler_uuid = uuid.uuid4().hex
    handler_key = "custom_event_handler:/" + job_name + "::" + handler_uuid
    meta = {
        "job_name": job_name,
        "config": config,
        "event_handler_key": handler_key,
        "task": "filesystem_sync_dir",
        "path": "/src",
        "queue_name": "file",
    }

    class FakeSignature:
        def apply_async(self, queue, task_id, soft_time_limit):
            pass  # publishing is not part of the job state under test

    class FakeTask:
        name = "fake"

        def s(self, meta):
            return FakeSignature()

    ids = iter(["id-%d" % i for i in range(1, 100)])
    utils.uuid1 = lambda: next(ids)
    hooks = filesystem_tasks.filesystem_sync_dir

    def finish(task_id, failed=False):
        if failed:
            hooks.on_failure(RuntimeError("boom"), task_id, (meta,), {}, None)
        hooks.after_return("FAILURE" if failed else "SUCCESS", None, task_id, (meta,), {}, None)

    try:
        r.set(handler_key, "from irods_capability_automated_ingest.core import Core\nclass event_handler(Core):\n    pass\n")
        if scenario == "singlepass":
            start, sync_t = float(extra[0]), float(extra[1])
            r.rpush("singlepass", job_name.encode("utf-8"))
            r.set("cleanup:/" + job_name, "[]")
            if not job.periodic() or job.done():
                job.reset()
                job.start_time_handle().set_value(start)
            for _ in range(3):
                utils.enqueue_task(FakeTask(), meta)
            hooks.on_retry(RuntimeError("again"), "id-1", (meta,), {}, None)
            finish("id-1")
            finish("id-2", failed=True)
            sync_time_key_handle(r, "/src/a:/tempZone/t").set_value(str(sync_t))
            finish("id-3")
        elif scenario == "periodic":
            start = float(extra[0])
            r.rpush("periodic", job_name.encode("utf-8"))
            r.set("cleanup:/" + job_name, "[]")
            if not job.periodic() or job.done():
                job.reset()
                job.start_time_handle().set_value(start)
            utils.enqueue_task(FakeTask(), meta)
            if not job.periodic() or job.done():
                raise AssertionError("second pass must be skipped while tasks are outstanding")
            finish("id-1")
            job.stop_handle().set_value("")
            utils.enqueue_task(FakeTask(), meta)
            job.stop_handle().reset()
        elif scenario == "actions":
            # Each argument is enqueue:<id>, finish:<id> or fail:<id>, run through the reference.
            for action in extra:
                verb, task_id = action.split(":", 1)
                if verb == "enqueue":
                    utils.uuid1 = lambda task_id=task_id: task_id
                    utils.enqueue_task(FakeTask(), meta)
                elif verb == "finish":
                    finish(task_id)
                elif verb == "fail":
                    finish(task_id, failed=True)
                else:
                    raise ValueError(action)
        else:
            raise ValueError(scenario)
    finally:
        r.delete(handler_key)
        module = "event_handler" + job_name.replace(".", "__") + handler_uuid
        try:
            os.remove("/tmp/" + module + ".py")
        except FileNotFoundError:
            pass


if __name__ == "__main__":
    main()
