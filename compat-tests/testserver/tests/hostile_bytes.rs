//! Garbage and hostile messages get an error reply or a closed connection, never a crash: after
//! every attack the server still serves a well-behaved client.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::TestServer;
use irods_proto::messages::{AuthRequestOut, AuthResponseInp, StartupPack, UserIdentity};
use irods_proto::{FrameLimits, MsgType, Packet};

fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream
}

fn send(stream: &mut TcpStream, packet: &Packet) {
    stream.write_all(&packet.to_bytes()).expect("send");
}

/// Reads one packet; `None` if the server closed the connection.
fn receive(stream: &mut TcpStream) -> Option<Packet> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        if let Ok(Some((packet, _))) = Packet::parse(&buf, &FrameLimits::default()) {
            return Some(packet);
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn startup() -> Packet {
    let pack = StartupPack {
        irods_prot: 1,
        reconn_flag: 0,
        connect_cnt: 0,
        proxy: UserIdentity::new("rods", "tempZone"),
        client: UserIdentity::new("rods", "tempZone"),
        rel_version: "rods4.3.4".into(),
        api_version: "d".into(),
        option: String::new(),
    };
    Packet::with_message(MsgType::Connect, 0, &pack)
}

/// Connects and authenticates as rods with the legacy native flow.
fn authenticated(port: u16) -> TcpStream {
    let mut stream = connect(port);
    send(&mut stream, &startup());
    let version = receive(&mut stream).expect("version");
    assert_eq!(version.msg_type, MsgType::Version);
    send(&mut stream, &Packet::api_request_empty(703));
    let challenge: AuthRequestOut =
        receive(&mut stream).expect("challenge").decode_body().expect("challenge body");
    let response = AuthResponseInp {
        response: irods_proto::auth::native_digest(&challenge.challenge, "rods").to_vec(),
        username: "rods".into(),
    };
    send(&mut stream, &Packet::api_request(704, &response));
    let reply = receive(&mut stream).expect("auth reply");
    assert_eq!(reply.int_info, 0, "authentication failed");
    stream
}

/// The server still accepts and authenticates a normal client.
fn assert_alive(server: &TestServer) {
    let mut stream = authenticated(server.port);
    send(&mut stream, &Packet::api_request_empty(700));
    let reply = receive(&mut stream).expect("server info reply");
    assert_eq!(reply.int_info, 0);
}

#[test]
fn garbage_before_and_after_the_handshake_never_takes_the_server_down() {
    let server = TestServer::start(&[]);
    let attacks: Vec<Vec<u8>> = vec![
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        vec![0xff; 64],
        0i32.to_be_bytes().to_vec(),
        (-5i32).to_be_bytes().to_vec(),
        i32::MAX.to_be_bytes().to_vec(),
        {
            let header = b"<MsgHeader_PI><type>RODS_CONNECT</type><msgLen>2000000000</msgLen></MsgHeader_PI>";
            let mut v = (header.len() as i32).to_be_bytes().to_vec();
            v.extend_from_slice(header);
            v
        },
        {
            let header = b"<MsgHeader_PI><type>RODS_CONNECT</type><msgLen>10</msgLen>";
            let mut v = (header.len() as i32).to_be_bytes().to_vec();
            v.extend_from_slice(header);
            v.extend_from_slice(b"<<<<<<<<<<");
            v
        },
        {
            let mut p = Packet::new(MsgType::Connect, 0);
            p.body = b"<StartupPack_PI><irodsProt>banana</irodsProt>".to_vec();
            p.to_bytes()
        },
    ];
    for attack in attacks {
        let mut stream = connect(server.port);
        let _ = stream.write_all(&attack);
        let _ = stream.shutdown(std::net::Shutdown::Write);
        let mut sink = Vec::new();
        let _ = stream.read_to_end(&mut sink);
        assert_alive(&server);
    }
}

#[test]
fn malformed_api_bodies_get_error_replies() {
    let server = TestServer::start(&[]);
    let apis = [
        601, 602, 615, 622, 627, 629, 630, 632, 633, 652, 673, 674, 675, 676, 679, 681, 696, 700, 701, 702,
        703, 704, 706, 707, 714, 722, 625, 801, 802, 20000, 20002, 20004, 20007, 110000, 99999,
    ];
    let bodies: [&[u8]; 6] = [
        b"",
        b"\x00\x01\x02garbage",
        b"<DataObjInp_PI><objPath>relative</objPath></DataObjInp_PI>",
        b"<GenQueryInp_PI><maxRows>10</maxRows><InxIvalPair_PI><iiLen>1</iiLen><inx>99999</inx><ivalue>1</ivalue></InxIvalPair_PI></GenQueryInp_PI>",
        b"<BinBytesBuf_PI><buflen>4</buflen><buf>!!!!</buf></BinBytesBuf_PI>",
        b"<OpenedDataObjInp_PI><l1descInx>99999999</l1descInx><len>-7</len></OpenedDataObjInp_PI>",
    ];
    let mut stream = authenticated(server.port);
    for api in apis {
        for body in bodies {
            let mut packet = Packet::new(MsgType::ApiReq, api);
            packet.body = body.to_vec();
            send(&mut stream, &packet);
            match receive(&mut stream) {
                Some(reply) => {
                    assert_eq!(reply.msg_type, MsgType::ApiReply);
                    if api != 700 && api != 801 && api != 703 {
                        assert!(reply.int_info < 0, "API {api} accepted {:?}", String::from_utf8_lossy(body));
                    }
                }
                None => {
                    // A closed connection is an acceptable answer; carry on with a new one.
                    stream = authenticated(server.port);
                }
            }
        }
    }
    assert_alive(&server);
}

#[test]
fn apis_before_authentication_are_refused() {
    let server = TestServer::start(&[]);
    let mut stream = connect(server.port);
    send(&mut stream, &startup());
    receive(&mut stream).expect("version");
    let query = irods_proto::messages::GenQueryInp { max_rows: 10, ..Default::default() };
    send(&mut stream, &Packet::api_request(702, &query));
    let reply = receive(&mut stream).expect("reply");
    assert_eq!(reply.int_info, -13000, "SYS_NO_API_PRIV expected");
    // A wrong password is CAT_INVALID_AUTHENTICATION.
    send(&mut stream, &Packet::api_request_empty(703));
    let challenge: AuthRequestOut = receive(&mut stream).expect("challenge").decode_body().expect("body");
    let response = AuthResponseInp {
        response: irods_proto::auth::native_digest(&challenge.challenge, "wrong").to_vec(),
        username: "rods".into(),
    };
    send(&mut stream, &Packet::api_request(704, &response));
    assert_eq!(receive(&mut stream).expect("reply").int_info, -826000);
    assert_alive(&server);
}
