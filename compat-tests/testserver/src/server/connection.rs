//! One client connection: startup pack, optional negotiation, version, then requests until the
//! client disconnects or sends something that is not a well-formed iRODS message.

use std::sync::Arc;

use irods_proto::messages::{CsNeg, StartupPack, Version, XML_PROT};
use irods_proto::{FrameLimits, MsgType, PackStruct, Packet, read_packet, write_packet};
use tokio::io::{BufReader, BufWriter};
use tokio::net::TcpStream;
use tracing::{debug, warn};

use super::session::Session;
use super::{API_VERSION, REL_VERSION, ServerState};
use crate::error::codes;

/// This server never does TLS, so it refuses SSL in negotiation; PRC then proceeds in the clear.
const SERVER_NEGOTIATION_POLICY: &str = "CS_NEG_REFUSE";

pub async fn run(stream: TcpStream, state: Arc<ServerState>) {
    let (reader, writer) = stream.into_split();
    let mut reader = BufReader::with_capacity(256 * 1024, reader);
    let mut writer = BufWriter::with_capacity(256 * 1024, writer);
    let limits = FrameLimits::default();

    let Some(startup) = handshake(&mut reader, &mut writer, &limits).await else { return };
    let mut session = Session::new(state, startup);

    loop {
        let packet = match read_packet(&mut reader, &limits).await {
            Ok(packet) => packet,
            Err(irods_proto::FrameError::Closed) => break,
            Err(error) => {
                debug!(%error, "unreadable message; closing");
                // Tell the client why before closing, when the stream is still usable.
                let reply = Packet::api_reply_empty(codes::SYS_HEADER_READ_LEN_ERR);
                let _ = write_packet(&mut writer, &reply).await;
                break;
            }
        };
        match packet.msg_type {
            MsgType::ApiReq => {
                let outcome = tokio::task::spawn_blocking(move || {
                    let reply = session.dispatch(&packet);
                    (session, reply)
                })
                .await;
                let reply = match outcome {
                    Ok((returned, reply)) => {
                        session = returned;
                        reply
                    }
                    Err(error) => {
                        warn!(%error, "request handler failed; closing the connection");
                        return;
                    }
                };
                if write_packet(&mut writer, &reply).await.is_err() {
                    break;
                }
            }
            MsgType::Disconnect => break,
            MsgType::Heartbeat => {
                if write_packet(&mut writer, &Packet::new(MsgType::Heartbeat, 0)).await.is_err() {
                    break;
                }
            }
            other => {
                debug!(msg_type = other.as_str(), "unexpected message type; closing");
                break;
            }
        }
    }
    // Descriptors left open by a vanished client are closed as iRODS agents do on exit.
    let _ = tokio::task::spawn_blocking(move || session.close_all()).await;
}

/// Reads the startup pack, negotiates if asked, and sends the version. `None` means the client
/// went away or spoke something else, and the connection should end.
async fn handshake<R, W>(reader: &mut R, writer: &mut W, limits: &FrameLimits) -> Option<StartupPack>
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    let first = read_packet(reader, limits).await.ok()?;
    if first.msg_type != MsgType::Connect {
        debug!(msg_type = first.msg_type.as_str(), "expected RODS_CONNECT");
        return None;
    }
    let startup = match StartupPack::decode(&first.body) {
        Ok(startup) => startup,
        Err(error) => {
            debug!(%error, "bad startup pack");
            let _ = write_packet(writer, &version_packet(codes::SYS_PACK_INSTRUCT_FORMAT_ERR)).await;
            return None;
        }
    };
    if startup.irods_prot != XML_PROT {
        let _ = write_packet(writer, &version_packet(codes::SYS_INVALID_PROTOCOL_TYPE)).await;
        return None;
    }
    if startup.requests_negotiation() {
        let offer = CsNeg { status: 1, result: SERVER_NEGOTIATION_POLICY.to_string() };
        write_packet(writer, &Packet::with_message(MsgType::CsNeg, 0, &offer)).await.ok()?;
        let answer = read_packet(reader, limits).await.ok()?;
        let answer = CsNeg::decode(&answer.body).ok()?;
        if answer.status != 1 || !answer.result.contains("CS_NEG_USE_TCP") {
            debug!(result = %answer.result, "negotiation did not settle on plain TCP");
            return None;
        }
    }
    write_packet(writer, &version_packet(0)).await.ok()?;
    Some(startup)
}

fn version_packet(status: i32) -> Packet {
    let version = Version {
        status,
        rel_version: REL_VERSION.to_string(),
        api_version: API_VERSION.to_string(),
        reconn_port: 0,
        reconn_addr: String::new(),
        cookie: 0,
    };
    Packet::with_message(MsgType::Version, 0, &version)
}
