//! Framing: every iRODS message is a 4-byte big-endian header length, an XML `MsgHeader_PI`, then
//! `msgLen` bytes of body, `errorLen` bytes of `RError_PI`, and `bsLen` bytes of raw data.
//!
//! Reading is bounded by [`FrameLimits`]: a hostile length never makes us allocate more than what
//! actually arrives plus a small chunk, and lengths above the limits are refused before reading.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::{DecodeError, FrameError};
use crate::pi::PackStruct;
use crate::xml::{self, Element};

/// The server refuses headers longer than `MAX_NAME_LEN` (1088 bytes); so do we.
pub const MAX_HEADER_LEN: usize = 1088;

/// Message types carried in `MsgHeader_PI.type`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MsgType {
    Connect,
    Version,
    CsNeg,
    ApiReq,
    ApiReply,
    Disconnect,
    Reauth,
    Reconnect,
    Heartbeat,
    /// Sent after TLS is set up to carry the encryption shared secret.
    SharedSecret,
    Other(String),
}

impl MsgType {
    pub fn as_str(&self) -> &str {
        match self {
            MsgType::Connect => "RODS_CONNECT",
            MsgType::Version => "RODS_VERSION",
            MsgType::CsNeg => "RODS_CS_NEG_T",
            MsgType::ApiReq => "RODS_API_REQ",
            MsgType::ApiReply => "RODS_API_REPLY",
            MsgType::Disconnect => "RODS_DISCONNECT",
            MsgType::Reauth => "RODS_REAUTH",
            MsgType::Reconnect => "RODS_RECONNECT",
            MsgType::Heartbeat => "HEARTBEAT",
            MsgType::SharedSecret => "SHARED_SECRET",
            MsgType::Other(s) => s,
        }
    }

    pub fn parse(s: &str) -> MsgType {
        match s {
            "RODS_CONNECT" => MsgType::Connect,
            "RODS_VERSION" => MsgType::Version,
            "RODS_CS_NEG_T" => MsgType::CsNeg,
            "RODS_API_REQ" => MsgType::ApiReq,
            "RODS_API_REPLY" => MsgType::ApiReply,
            "RODS_DISCONNECT" => MsgType::Disconnect,
            "RODS_REAUTH" => MsgType::Reauth,
            "RODS_RECONNECT" => MsgType::Reconnect,
            "HEARTBEAT" => MsgType::Heartbeat,
            "SHARED_SECRET" => MsgType::SharedSecret,
            other => MsgType::Other(other.to_string()),
        }
    }
}

/// `MsgHeader_PI` = `str type[128]; int msgLen; int errorLen; int bsLen; int intInfo;`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MsgHeader {
    pub msg_type: MsgType,
    pub msg_len: i32,
    pub error_len: i32,
    pub bs_len: i32,
    /// API number in requests; status (>= 0) or error code (< 0) in replies.
    pub int_info: i32,
}

impl PackStruct for MsgHeader {
    const PI_NAME: &'static str = "MsgHeader_PI";

    fn to_element(&self) -> Element {
        let mut el = Element::new(Self::PI_NAME);
        el.push_str("type", self.msg_type.as_str())
            .push_int("msgLen", self.msg_len)
            .push_int("errorLen", self.error_len)
            .push_int("bsLen", self.bs_len)
            .push_int("intInfo", self.int_info);
        el
    }

    fn from_element(el: &Element) -> Result<Self, DecodeError> {
        Ok(MsgHeader {
            msg_type: MsgType::parse(&el.get_str("type")),
            msg_len: el.get_int("msgLen")?,
            error_len: el.get_int("errorLen")?,
            bs_len: el.get_int("bsLen")?,
            int_info: el.get_int("intInfo")?,
        })
    }
}

/// Upper bounds for the parts of one incoming message.
#[derive(Clone, Copy, Debug)]
pub struct FrameLimits {
    pub max_body: usize,
    pub max_error: usize,
    pub max_bs: usize,
}

impl Default for FrameLimits {
    /// Bodies are XML (GenQuery replies of 500 rows × 50 columns stay well below 64 MiB); the
    /// byte stream carries file chunks (python-irodsclient writes up to 8 MiB, reads may ask for
    /// more), so it gets a larger bound.
    fn default() -> Self {
        FrameLimits { max_body: 64 << 20, max_error: 4 << 20, max_bs: 512 << 20 }
    }
}

/// One complete message: header fields plus its three payload sections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    pub msg_type: MsgType,
    pub int_info: i32,
    /// The packed main struct (XML), possibly empty.
    pub body: Vec<u8>,
    /// A packed `RError_PI`, possibly empty.
    pub error: Vec<u8>,
    /// Raw data (file contents for writes and read replies).
    pub bs: Vec<u8>,
}

impl Packet {
    pub fn new(msg_type: MsgType, int_info: i32) -> Self {
        Packet { msg_type, int_info, body: Vec::new(), error: Vec::new(), bs: Vec::new() }
    }

    /// A packet whose body is `message` packed as XML.
    pub fn with_message(msg_type: MsgType, int_info: i32, message: &impl PackStruct) -> Self {
        Packet { body: message.encode(), ..Packet::new(msg_type, int_info) }
    }

    /// An API request with an input struct.
    pub fn api_request(api_number: i32, input: &impl PackStruct) -> Self {
        Self::with_message(MsgType::ApiReq, api_number, input)
    }

    /// An API request without input (e.g. AUTH_REQUEST_AN, GET_MISC_SVR_INFO_AN).
    pub fn api_request_empty(api_number: i32) -> Self {
        Packet::new(MsgType::ApiReq, api_number)
    }

    /// An API reply with an output struct.
    pub fn api_reply(int_info: i32, output: &impl PackStruct) -> Self {
        Self::with_message(MsgType::ApiReply, int_info, output)
    }

    /// An API reply with no body (status only, or an error code).
    pub fn api_reply_empty(int_info: i32) -> Self {
        Packet::new(MsgType::ApiReply, int_info)
    }

    /// Attaches raw data.
    pub fn with_bs(mut self, bs: Vec<u8>) -> Self {
        self.bs = bs;
        self
    }

    /// Attaches an `RError_PI` error stack.
    pub fn with_error(mut self, error: &crate::messages::RError) -> Self {
        self.error = error.encode();
        self
    }

    pub fn header(&self) -> MsgHeader {
        MsgHeader {
            msg_type: self.msg_type.clone(),
            msg_len: self.body.len() as i32,
            error_len: self.error.len() as i32,
            bs_len: self.bs.len() as i32,
            int_info: self.int_info,
        }
    }

    /// Decodes the body as `T`.
    pub fn decode_body<T: PackStruct>(&self) -> Result<T, DecodeError> {
        T::decode(&self.body)
    }

    /// Decodes the error section, if present.
    pub fn decode_error(&self) -> Option<crate::messages::RError> {
        if self.error.is_empty() { None } else { crate::messages::RError::decode(&self.error).ok() }
    }

    /// The complete wire encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = self.header().encode();
        let mut out =
            Vec::with_capacity(4 + header.len() + self.body.len() + self.error.len() + self.bs.len());
        out.extend_from_slice(&(header.len() as i32).to_be_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(&self.body);
        out.extend_from_slice(&self.error);
        out.extend_from_slice(&self.bs);
        out
    }

    /// Parses one packet from the front of `buf`. Returns `Ok(None)` if `buf` holds an incomplete
    /// packet, else the packet and the number of bytes it used.
    pub fn parse(buf: &[u8], limits: &FrameLimits) -> Result<Option<(Packet, usize)>, FrameError> {
        let Some(len_bytes) = buf.get(..4) else { return Ok(None) };
        let header_len = checked_header_len(i32::from_be_bytes(len_bytes.try_into().expect("4 bytes")))?;
        let Some(header_bytes) = buf.get(4..4 + header_len) else { return Ok(None) };
        let header = decode_header(header_bytes)?;
        let (body_len, error_len, bs_len) = checked_section_lens(&header, limits)?;
        let mut at = 4 + header_len;
        let total = at + body_len + error_len + bs_len;
        if buf.len() < total {
            return Ok(None);
        }
        let mut take = |n: usize| {
            let part = buf[at..at + n].to_vec();
            at += n;
            part
        };
        let packet = Packet {
            msg_type: header.msg_type,
            int_info: header.int_info,
            body: take(body_len),
            error: take(error_len),
            bs: take(bs_len),
        };
        Ok(Some((packet, total)))
    }
}

fn checked_header_len(len: i32) -> Result<usize, FrameError> {
    if len <= 0 || len as usize > MAX_HEADER_LEN {
        return Err(FrameError::HeaderLength(len));
    }
    Ok(len as usize)
}

fn decode_header(bytes: &[u8]) -> Result<MsgHeader, FrameError> {
    let el = xml::parse(bytes)?;
    if el.name != MsgHeader::PI_NAME {
        return Err(DecodeError::UnexpectedRoot { expected: MsgHeader::PI_NAME, found: el.name }.into());
    }
    Ok(MsgHeader::from_element(&el)?)
}

fn checked_section_lens(
    header: &MsgHeader,
    limits: &FrameLimits,
) -> Result<(usize, usize, usize), FrameError> {
    let check = |part: &'static str, len: i32, limit: usize| {
        if len < 0 || len as usize > limit {
            Err(FrameError::TooLarge { part, len: len as i64, limit })
        } else {
            Ok(len as usize)
        }
    };
    Ok((
        check("body", header.msg_len, limits.max_body)?,
        check("error", header.error_len, limits.max_error)?,
        check("byte stream", header.bs_len, limits.max_bs)?,
    ))
}

/// Reads one packet. A clean end of stream before the first byte is [`FrameError::Closed`].
pub async fn read_packet<R: AsyncRead + Unpin>(
    reader: &mut R,
    limits: &FrameLimits,
) -> Result<Packet, FrameError> {
    let mut len_bytes = [0u8; 4];
    let first = reader.read(&mut len_bytes).await?;
    if first == 0 {
        return Err(FrameError::Closed);
    }
    reader.read_exact(&mut len_bytes[first..]).await?;
    let header_len = checked_header_len(i32::from_be_bytes(len_bytes))?;
    let mut header_bytes = vec![0u8; header_len];
    reader.read_exact(&mut header_bytes).await?;
    let header = decode_header(&header_bytes)?;
    let (body_len, error_len, bs_len) = checked_section_lens(&header, limits)?;
    Ok(Packet {
        msg_type: header.msg_type,
        int_info: header.int_info,
        body: read_section(reader, body_len).await?,
        error: read_section(reader, error_len).await?,
        bs: read_section(reader, bs_len).await?,
    })
}

/// Reads exactly `len` bytes, growing the buffer as data arrives rather than trusting `len`.
async fn read_section<R: AsyncRead + Unpin>(reader: &mut R, len: usize) -> Result<Vec<u8>, FrameError> {
    let mut out = Vec::with_capacity(len.min(1 << 20));
    (&mut *reader).take(len as u64).read_to_end(&mut out).await?;
    if out.len() != len {
        return Err(FrameError::Io(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("stream ended after {} of {len} bytes", out.len()),
        )));
    }
    Ok(out)
}

/// Writes one packet and flushes.
pub async fn write_packet<W: AsyncWrite + Unpin>(writer: &mut W, packet: &Packet) -> std::io::Result<()> {
    let header = packet.header().encode();
    writer.write_all(&(header.len() as i32).to_be_bytes()).await?;
    writer.write_all(&header).await?;
    writer.write_all(&packet.body).await?;
    writer.write_all(&packet.error).await?;
    writer.write_all(&packet.bs).await?;
    writer.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_server_layout_header_with_trailing_newlines() {
        let header = b"<MsgHeader_PI>\n<type>RODS_VERSION</type>\n<msgLen>3</msgLen>\n<errorLen>0</errorLen>\n<bsLen>2</bsLen>\n<intInfo>0</intInfo>\n</MsgHeader_PI>\n";
        let mut wire = (header.len() as i32).to_be_bytes().to_vec();
        wire.extend_from_slice(header);
        wire.extend_from_slice(b"abcXY");
        for cut in 0..wire.len() {
            assert!(Packet::parse(&wire[..cut], &FrameLimits::default()).unwrap().is_none());
        }
        let (packet, used) = Packet::parse(&wire, &FrameLimits::default()).unwrap().unwrap();
        assert_eq!(used, wire.len());
        assert_eq!(packet.msg_type, MsgType::Version);
        assert_eq!(packet.body, b"abc");
        assert_eq!(packet.bs, b"XY");
    }

    #[test]
    fn refuses_bad_lengths() {
        let limits = FrameLimits::default();
        assert!(matches!(Packet::parse(&0i32.to_be_bytes(), &limits), Err(FrameError::HeaderLength(0))));
        assert!(matches!(
            Packet::parse(&5000i32.to_be_bytes(), &limits),
            Err(FrameError::HeaderLength(5000))
        ));
        let mut p = Packet::new(MsgType::ApiReply, 0).to_bytes();
        let header = b"<MsgHeader_PI><type>X</type><msgLen>-5</msgLen></MsgHeader_PI>";
        p.clear();
        p.extend_from_slice(&(header.len() as i32).to_be_bytes());
        p.extend_from_slice(header);
        assert!(matches!(Packet::parse(&p, &limits), Err(FrameError::TooLarge { .. })));
    }

    #[tokio::test]
    async fn async_round_trip() {
        let packet =
            Packet { body: b"<x></x>".to_vec(), bs: vec![1, 2, 3], ..Packet::new(MsgType::ApiReq, 676) };
        let (mut a, mut b) = tokio::io::duplex(64);
        let sent = packet.clone();
        let writer = tokio::spawn(async move { write_packet(&mut a, &sent).await });
        let got = read_packet(&mut b, &FrameLimits::default()).await.unwrap();
        writer.await.unwrap().unwrap();
        assert_eq!(got, packet);
        assert!(matches!(read_packet(&mut b, &FrameLimits::default()).await, Err(FrameError::Closed)));
    }
}
