//! The private redis-server helper really starts a server that answers, on a port of its own.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;

#[test]
fn two_private_servers_answer_on_distinct_ports() {
    let first = test_support::RedisServer::start();
    let second = test_support::RedisServer::start();
    assert_ne!(first.port(), second.port());
    for server in [&first, &second] {
        let mut stream = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
        stream.write_all(b"SET probe 1\r\nGET probe\r\n").unwrap();
        let mut reader = BufReader::new(stream);
        let mut lines = Vec::new();
        for _ in 0..3 {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            lines.push(line);
        }
        assert_eq!(lines, ["+OK\r\n", "$1\r\n", "1\r\n"]);
    }
    let port = first.port();
    drop(first);
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err(), "the server stops with its guard");
}
