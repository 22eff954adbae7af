"""Exceptions raised into hooks when Celery's (billiard's) classes are not installed."""


class SoftTimeLimitExceeded(Exception):
    """The task's soft time limit was exceeded (same name and text as billiard's)."""

    def __str__(self):
        return "SoftTimeLimitExceeded%s" % (self.args,)


class Terminated(Exception):
    """The task was terminated (revoked with terminate=True)."""


class OperationFailed(RuntimeError):
    """The worker's operation (register, put, ...) failed; raised where ``func(...)`` was called."""
