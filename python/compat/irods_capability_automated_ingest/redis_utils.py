"""``get_redis(config)``: a redis-py client for ``config["redis"]``, one pool per URL."""

_pools = {}


def get_redis(config):
    from redis import ConnectionPool, StrictRedis

    settings = config["redis"]
    host, port, db = settings["host"], settings["port"], settings["db"]
    url = "redis://%s:%s/%s" % (host, port, db)
    pool = _pools.get(url)
    if pool is None:
        pool = _pools[url] = ConnectionPool(host=host, port=port, db=db)
    return StrictRedis(connection_pool=pool)
