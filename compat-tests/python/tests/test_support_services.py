"""The Python test helpers start real, private services that real clients can use."""

import socket

import redis
from irods.session import iRODSSession

from conftest import release_binary
from ingest_testsupport import IrodsTestServer, RedisServer


def test_private_redis_servers_are_separate_and_stop_with_their_guard():
    with RedisServer() as first, RedisServer() as second:
        assert first.port != second.port
        redis.Redis.from_url(first.url(2)).set("only-here", "1")
        assert redis.Redis.from_url(first.url(2)).get("only-here") == b"1"
        assert redis.Redis.from_url(second.url(2)).get("only-here") is None
        port = first.port
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0


def test_irods_test_server_accepts_python_irodsclient_from_env_file_and_variables():
    with IrodsTestServer(release_binary("irods-testserver")) as server:
        with iRODSSession(irods_env_file=server.env_file) as session:
            home = session.collections.get("/tempZone/home/rods")
            session.collections.create(home.path + "/made-by-env-file")
        env = server.environ()
        with iRODSSession(host=env["IRODS_HOST"], port=int(env["IRODS_PORT"]), user=env["IRODS_USER_NAME"],
                          password=env["IRODS_PASSWORD"], zone=env["IRODS_ZONE_NAME"]) as session:
            names = [c.name for c in session.collections.get("/tempZone/home/rods").subcollections]
            assert "made-by-env-file" in names
