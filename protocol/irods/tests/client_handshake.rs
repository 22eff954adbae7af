//! The Rust client's whole session (startup, negotiation, authentication, a query, disconnect)
//! checked by the same loopback peer that captured python-irodsclient's session
//! (tests/python/capture.py --serve-once). The peer decodes every request with PRC's own message
//! classes and verifies the native digest independently, so these tests fail if the client's bytes
//! differ from what PRC-compatible servers expect.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use irods_proto::config::{IrodsConfig, Password};
use irods_proto::{Connection, api};
use serde_json::Value;

/// Starts the peer; returns the child, its port, and a reader for the final report.
fn start_peer(release: &str) -> (std::process::Child, u16, BufReader<std::process::ChildStdout>) {
    start_peer_with(release, &[])
}

fn start_peer_with(
    release: &str,
    tls: &[&Path],
) -> (std::process::Child, u16, BufReader<std::process::ChildStdout>) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/capture.py");
    let mut child = Command::new(test_support::venv_python())
        .arg(script)
        .args(["--serve-once", release])
        .args(tls)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the venv python");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let port = line.trim().parse().expect("the peer prints its port first");
    (child, port, out)
}

fn report(mut child: std::process::Child, mut out: BufReader<std::process::ChildStdout>) -> Value {
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(child.wait().unwrap().success());
    serde_json::from_str(&line).expect("the peer reports JSON")
}

#[tokio::test]
async fn framework_auth_with_negotiation_and_proxy_user() {
    let (child, port, out) = start_peer("rods4.3.4");
    let mut config = IrodsConfig::new("127.0.0.1", port, "rods", "tempZone", Password::new("rods"));
    config.request_negotiation = true;
    config.client_user = Some(irods_proto::messages::UserIdentity::new("alice", "tempZone"));
    let mut conn = Connection::connect(&config).await.expect("connect and authenticate");
    assert_eq!(conn.server_version().rel_version, "rods4.3.4");
    assert!(
        !conn.collection_exists("/tempZone/home/it's & <odd>").await.unwrap(),
        "CAT_NO_ROWS_FOUND means absent"
    );
    conn.disconnect().await.unwrap();

    let seen = report(child, out);
    assert_eq!(seen.get("error"), None);
    assert_eq!(seen["digest_ok"], true, "the peer must accept the client's native digest");
    let req = seen["requests"].as_array().unwrap();
    let kinds: Vec<(&str, i64)> =
        req.iter().map(|r| (r["type"].as_str().unwrap(), r["intInfo"].as_i64().unwrap())).collect();
    let auth = api::AUTHENTICATION_APN as i64;
    assert_eq!(
        kinds,
        vec![
            ("RODS_CONNECT", 0),
            ("RODS_CS_NEG_T", 0),
            ("RODS_API_REQ", auth),
            ("RODS_API_REQ", auth),
            ("RODS_API_REQ", 702),
            ("RODS_DISCONNECT", 0)
        ]
    );
    assert_eq!(req[0]["proxyUser"], "rods");
    assert_eq!(req[0]["clientUser"], "alice");
    assert_eq!(req[0]["irodsProt"], 1);
    assert!(req[0]["option"].as_str().unwrap().ends_with("request_server_negotiation"));
    assert_eq!(req[1]["result"], "cs_neg_result_kw=CS_NEG_USE_TCP;");
    assert_eq!(req[2]["json"]["next_operation"], "auth_agent_auth_request");
    assert_eq!(req[3]["json"]["next_operation"], "auth_agent_auth_response");
    assert_eq!(req[3]["json"]["user_name"], "rods");
    assert_eq!(req[4]["conditions"][0], "= '/tempZone/home/it's & <odd>'");
}

#[tokio::test]
async fn legacy_auth_against_an_older_server() {
    let (child, port, out) = start_peer("rods4.2.11");
    let config = IrodsConfig::new("127.0.0.1", port, "rods", "tempZone", Password::new("rods"));
    let conn = Connection::connect(&config).await.expect("connect and authenticate");
    conn.disconnect().await.unwrap();
    let seen = report(child, out);
    assert_eq!(seen["digest_ok"], true);
    let ints: Vec<i64> =
        seen["requests"].as_array().unwrap().iter().map(|r| r["intInfo"].as_i64().unwrap()).collect();
    assert_eq!(ints, vec![0, api::AUTH_REQUEST_AN as i64, api::AUTH_RESPONSE_AN as i64, 0]);
    assert_eq!(seen["requests"][2]["username"], "rods#tempZone");
}

#[tokio::test]
async fn wrong_password_is_refused_by_the_digest_check() {
    let (child, port, out) = start_peer("rods4.3.4");
    let config = IrodsConfig::new("127.0.0.1", port, "rods", "tempZone", Password::new("not-rods"));
    // The scripted peer does not refuse, it only records whether the digest matched.
    let conn = Connection::connect(&config).await.unwrap();
    conn.disconnect().await.unwrap();
    assert_eq!(report(child, out)["digest_ok"], false);
}

/// A self-signed certificate (its own CA) for `san`, e.g. `IP:127.0.0.1`; returns (cert, key).
fn self_signed(dir: &Path, name: &str, san: &str) -> (PathBuf, PathBuf) {
    let cert = dir.join(format!("{name}.pem"));
    let key = dir.join(format!("{name}.key"));
    let status = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=irods-test"])
        .arg("-addext")
        .arg(format!("subjectAltName={san}"))
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(status.success());
    (cert, key)
}

fn tls_config(port: u16, ca: &Path, verify: &str) -> IrodsConfig {
    let mut config = IrodsConfig::new("127.0.0.1", port, "rods", "tempZone", Password::new("rods"));
    config.request_negotiation = true;
    config.cs_policy = irods_proto::config::CsPolicy::DontCare;
    config.tls.ca_certificate_file = Some(ca.to_path_buf());
    config.tls.verify_server = verify.into();
    config
}

#[tokio::test]
async fn tls_when_the_server_requires_it() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path(), "server", "IP:127.0.0.1");
    let (child, port, out) = start_peer_with("rods4.3.4", &[&cert, &key]);
    let mut conn = Connection::connect(&tls_config(port, &cert, "hostname")).await.expect("TLS session");
    assert!(!conn.collection_exists("/tempZone/home/x").await.unwrap());
    conn.disconnect().await.unwrap();
    let seen = report(child, out);
    assert_eq!(seen.get("error"), None);
    assert_eq!(seen["digest_ok"], true, "authentication ran over TLS");
    assert_eq!(seen["requests"][1]["result"], "cs_neg_result_kw=CS_NEG_USE_SSL;");
    let tls = &seen["tls"];
    assert_eq!(tls["algorithm"], "AES-256-CBC");
    assert_eq!(
        (tls["key_size"].as_i64(), tls["salt_size"].as_i64(), tls["hash_rounds"].as_i64()),
        (Some(32), Some(8), Some(16))
    );
    assert_eq!(tls["secret_type"], "SHARED_SECRET");
    assert_eq!(tls["secret_len"], 32);
}

#[tokio::test]
async fn tls_verify_cert_ignores_the_name_but_hostname_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path(), "other", "DNS:elsewhere.example");
    let (child, port, out) = start_peer_with("rods4.3.4", &[&cert, &key]);
    let conn = Connection::connect(&tls_config(port, &cert, "cert")).await.expect("chain-only verification");
    conn.disconnect().await.unwrap();
    assert_eq!(report(child, out)["digest_ok"], true);

    let (child, port, _out) = start_peer_with("rods4.3.4", &[&cert, &key]);
    let err = Connection::connect(&tls_config(port, &cert, "hostname")).await.unwrap_err();
    assert!(matches!(err, irods_proto::Error::Tls(_)), "{err}");
    drop(child.wait_with_output());
}

#[tokio::test]
async fn tls_with_an_unknown_ca_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path(), "server", "IP:127.0.0.1");
    let (stranger, _) = self_signed(dir.path(), "stranger", "IP:127.0.0.1");
    let (child, port, _out) = start_peer_with("rods4.3.4", &[&cert, &key]);
    let err = Connection::connect(&tls_config(port, &stranger, "hostname")).await.unwrap_err();
    assert!(matches!(err, irods_proto::Error::Tls(_)), "{err}");
    drop(child.wait_with_output());
}

#[tokio::test]
async fn refusing_client_against_a_requiring_server_fails_negotiation() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path(), "server", "IP:127.0.0.1");
    let (child, port, _out) = start_peer_with("rods4.3.4", &[&cert, &key]);
    let mut config = tls_config(port, &cert, "hostname");
    config.cs_policy = irods_proto::config::CsPolicy::Refuse;
    let err = Connection::connect(&config).await.unwrap_err();
    assert!(matches!(err, irods_proto::Error::Negotiation(_)), "{err}");
    drop(child.wait_with_output());
}

#[tokio::test]
async fn collection_removal_progress_replies_are_acknowledged() {
    let (child, port, out) = start_peer("rods4.3.4");
    let config = IrodsConfig::new("127.0.0.1", port, "rods", "tempZone", Password::new("rods"));
    let mut conn = Connection::connect(&config).await.unwrap();
    let how = irods_proto::client::RemoveCollection { recursive: true, force: true, unregister: false };
    conn.remove_collection("/tempZone/home/rods/big", how)
        .await
        .expect("final reply after the progress reply");
    assert!(conn.is_usable());
    conn.disconnect().await.unwrap();
    let seen = report(child, out);
    assert_eq!(seen["coll_stat_ack"], 99999997);
    assert_eq!(
        seen["requests"].as_array().unwrap().last().unwrap()["type"],
        "RODS_DISCONNECT",
        "stream stayed in sync"
    );
}

#[tokio::test]
async fn an_unanswered_request_times_out_and_retires_the_connection() {
    let (mut child, port, _out) = start_peer("rods4.3.4");
    let mut config = IrodsConfig::new("127.0.0.1", port, "rods", "tempZone", Password::new("rods"));
    config.request_timeout = Some(std::time::Duration::from_millis(300));
    let mut conn = Connection::connect(&config).await.unwrap();
    let err = conn.server_info().await.unwrap_err();
    assert!(matches!(&err, irods_proto::Error::Io(e) if e.kind() == std::io::ErrorKind::TimedOut), "{err}");
    assert!(!conn.is_usable(), "a late reply would put the stream out of step");
    drop(conn);
    child.wait().unwrap();
}

#[tokio::test]
async fn a_silent_peer_fails_the_connect_within_the_connect_timeout() {
    // Accepts the TCP connection and reads the startup pack, but never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut sink = Vec::new();
        let _ = tokio::io::AsyncReadExt::read_to_end(&mut socket, &mut sink).await;
    });
    let mut config = IrodsConfig::new("127.0.0.1", port, "rods", "tempZone", Password::new("rods"));
    config.connect_timeout = std::time::Duration::from_millis(300);
    let err = Connection::connect(&config).await.unwrap_err();
    assert!(matches!(&err, irods_proto::Error::Io(e) if e.kind() == std::io::ErrorKind::TimedOut), "{err}");
    silent.await.unwrap();
}
