"""Handles on the framework's Redis keys: ``"<category>:/<identifier>"``.

Every Redis call is retried on any exception, sleeping one second between attempts; after
``MAX_RETRIES`` retries ``RuntimeError("max retries")`` is raised (the reference's behaviour).
"""

import time

MAX_RETRIES = 10


class redis_key_handle(object):
    def __init__(self, redis_handle, key_category, identifier, delimiter=":/"):
        self.redis_handle = redis_handle
        self.category = key_category
        self.identifier = identifier
        self.delimiter = delimiter

    def retry(self, func, *args, max_retries=MAX_RETRIES):
        for _attempt in range(max_retries + 1):
            try:
                return func(*args)
            except Exception:
                time.sleep(1)
        raise RuntimeError("max retries")

    def get_key(self):
        return str(self.category + self.delimiter + self.identifier)

    def get_value(self):
        return self.retry(self.redis_handle.get, self.get_key())

    def set_value(self, value):
        self.retry(self.redis_handle.set, self.get_key(), value)

    def reset(self):
        self.retry(self.redis_handle.delete, self.get_key())


def _converted(convert):
    """A ``get_value`` that applies ``convert`` to a present value and passes None through."""

    def get_value(self):
        value = redis_key_handle.get_value(self)
        return None if value is None else convert(value)

    return get_value


class incremental_redis_key_handle(redis_key_handle):
    get_value = _converted(int)

    def incrby(self, amount=1):
        self.retry(self.redis_handle.incrby, self.get_key(), amount)

    def incr(self):
        self.retry(self.redis_handle.incr, self.get_key())

    def decrby(self, amount=1):
        self.retry(self.redis_handle.decrby, self.get_key(), amount)

    def decr(self):
        return self.retry(self.redis_handle.decr, self.get_key())


class json_redis_key_handle(redis_key_handle):
    pass


class list_redis_key_handle(redis_key_handle):
    get_value = _converted(list)

    def rpush(self, value):
        self.retry(self.redis_handle.rpush, self.get_key(), value)

    def lrange(self, start, end):
        return self.retry(self.redis_handle.lrange, self.get_key(), start, end)

    def llen(self):
        return self.retry(self.redis_handle.llen, self.get_key())


class float_redis_key_handle(redis_key_handle):
    get_value = _converted(float)


class sync_time_key_handle(float_redis_key_handle):
    """Float: the last time a path was synced."""

    def __init__(self, redis_handle, path):
        super().__init__(redis_handle, "sync_time", path)


class cleanup_key_handle(json_redis_key_handle):
    """JSON list of files to remove when the job ends."""

    def __init__(self, redis_handle, job_name):
        super().__init__(redis_handle, "cleanup", job_name)


class stop_key_handle(redis_key_handle):
    """Empty string, present while the job is being stopped."""

    def __init__(self, redis_handle, job_name_to_stop):
        super().__init__(redis_handle, "stop", job_name_to_stop)

    get_value = _converted(str)


class tasks_key_handle(incremental_redis_key_handle):
    """Integer: the job's outstanding task count."""

    def __init__(self, redis_handle, job_name):
        super().__init__(redis_handle, "tasks", job_name)


class count_key_handle(list_redis_key_handle):
    """List of the ids of every task the job enqueued."""

    def __init__(self, redis_handle, job_name):
        super().__init__(redis_handle, "count", job_name)


class dequeue_key_handle(list_redis_key_handle):
    """List of the ids of the job's finished tasks."""

    def __init__(self, redis_handle, job_name):
        super().__init__(redis_handle, "dequeue", job_name)


class failures_key_handle(incremental_redis_key_handle):
    """Integer: the job's failed task count."""

    def __init__(self, redis_handle, job_name):
        super().__init__(redis_handle, "failures", job_name)


class retries_key_handle(incremental_redis_key_handle):
    """Integer: how often the job's tasks were retried."""

    def __init__(self, redis_handle, job_name):
        super().__init__(redis_handle, "retries", job_name)


class stopped_jobs_key_handle(json_redis_key_handle):
    """JSON list of stopped jobs' summaries."""

    def __init__(self, redis_handle):
        super().__init__(redis_handle, "irods_ingest_stopped_jobs", "")
