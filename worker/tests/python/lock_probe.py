"""python-redis-lock peer for the lock interop tests.

Usage: python lock_probe.py <port> <db> <mode> <lock name>
  hold: acquire, print "held <id>", wait for a line on stdin, release, print "released"
  wait: print "waiting", acquire (blocking), print "acquired <id>", release, print "released"
  try:  print "acquired" or "busy" for one non-blocking attempt (released again at once)
  script: print the SHA1 and the base64 of redis_lock.UNLOCK_SCRIPT
"""

import base64
import hashlib
import sys

import redis
import redis_lock


def main():
    port, db, mode, name = sys.argv[1:5]
    r = redis.StrictRedis(host="127.0.0.1", port=int(port), db=int(db))
    if mode == "script":
        print(hashlib.sha1(redis_lock.UNLOCK_SCRIPT).hexdigest(), base64.b64encode(redis_lock.UNLOCK_SCRIPT).decode())
        return
    lock = redis_lock.Lock(r, name)
    if mode == "hold":
        lock.acquire()
        print("held", lock.id, flush=True)
        sys.stdin.readline()
        lock.release()
        print("released", flush=True)
    elif mode == "wait":
        print("waiting", flush=True)
        lock.acquire()
        print("acquired", lock.id, flush=True)
        lock.release()
        print("released", flush=True)
    elif mode == "try":
        if lock.acquire(blocking=False):
            print("acquired", flush=True)
            lock.release()
        else:
            print("busy", flush=True)
    else:
        raise ValueError(mode)


if __name__ == "__main__":
    main()
