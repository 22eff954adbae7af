//! Just enough HTTP/1.1 for S3: one request per connection (`Connection: close`), plain TCP or
//! TLS, directly or through an HTTP proxy, and responses framed by `Content-Length`, chunked
//! encoding or the end of the connection.
//!
//! Everything read from the peer is bounded (head size, line length, XML body size) and checked:
//! a malformed or truncated response is an error, never a panic or a short object.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::error::{Result, S3Error};

/// Longest response head (status line and headers) accepted.
const MAX_HEAD: usize = 64 << 10;
/// Longest chunk-size or trailer line accepted.
const MAX_LINE: usize = 4 << 10;

/// A byte stream to the peer, plain or TLS.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Where requests go: the S3 endpoint (`host[:port]`, http or https).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub secure: bool,
}

impl Endpoint {
    /// Parses minio's `endpoint` argument: `host`, `host:port` or `[v6]:port`, no scheme, no path.
    pub fn parse(domain: &str, secure: bool) -> Result<Endpoint> {
        let bad = |why: &str| S3Error::Config(format!("s3_endpoint_domain {domain:?}: {why}"));
        if domain.contains("://") {
            return Err(bad("give host[:port] without a scheme (use --s3_insecure_connection for http)"));
        }
        if domain.is_empty()
            || domain.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control() || b"/?#@".contains(&b))
        {
            return Err(bad("expected host[:port]"));
        }
        let default_port = if secure { 443 } else { 80 };
        let (host, port) = if let Some(rest) = domain.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
            match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None if after.is_empty() => (host, None),
                None => return Err(bad("expected host[:port]")),
            }
        } else {
            match domain.rsplit_once(':') {
                Some((host, port)) if !host.contains(':') => (host, Some(port)),
                Some(_) => return Err(bad("an IPv6 address needs brackets")),
                None => (domain, None),
            }
        };
        let port = match port {
            Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| bad("invalid port"))?,
            None => default_port,
        };
        if host.is_empty() {
            return Err(bad("empty host"));
        }
        Ok(Endpoint { host: host.to_owned(), port, secure })
    }

    /// The `Host` header: the port only when it is not the scheme's default.
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        let default = if self.secure { 443 } else { 80 };
        if self.port == default { host } else { format!("{host}:{}", self.port) }
    }

    fn authority(&self) -> String {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        format!("{host}:{}", self.port)
    }

    fn scheme(&self) -> &'static str {
        if self.secure { "https" } else { "http" }
    }
}

/// An HTTP proxy (`s3_proxy_url`): `http://[user:password@]host[:port]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    pub endpoint: Endpoint,
    /// `Proxy-Authorization` value when the URL carries credentials.
    authorization: Option<String>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("endpoint", &self.endpoint)
            .field("authorization", &self.authorization.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Proxy {
    /// Parses an `http://` proxy URL. An `https://` proxy (TLS to the proxy itself) is refused.
    pub fn parse(url: &str) -> Result<Proxy> {
        let bad = |why: &str| S3Error::Config(format!("s3_proxy_url: {why}"));
        let rest = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, _)) => {
                return Err(bad(&format!("scheme {scheme:?} is not supported (only http:// proxies)")));
            }
            None => url,
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (userinfo, hostport) = match rest.rsplit_once('@') {
            Some((user, host)) => (Some(user), host),
            None => (None, rest),
        };
        let endpoint = Endpoint::parse(hostport, false)
            .map_err(|_| bad("expected http://[user:password@]host[:port]"))?;
        let authorization = userinfo.map(|info| {
            let decoded = percent_encoding::percent_decode_str(info).decode_utf8_lossy();
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(decoded.as_bytes()))
        });
        Ok(Proxy { endpoint, authorization })
    }
}

/// Time limits of one request.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    /// Longest wait for any single read or write.
    pub io: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts { connect: Duration::from_secs(30), io: Duration::from_secs(120) }
    }
}

/// Opens connections to one endpoint.
#[derive(Clone)]
pub struct Connector {
    pub endpoint: Endpoint,
    pub proxy: Option<Proxy>,
    pub timeouts: Timeouts,
}

/// A request without a body.
pub struct Request<'a> {
    pub method: &'a str,
    /// Encoded path plus `?query` when there is one.
    pub path_and_query: &'a str,
    /// Headers to send besides `Connection` (`Host` included).
    pub headers: &'a [(String, String)],
}

impl Connector {
    fn peer(&self) -> String {
        self.endpoint.authority()
    }

    /// Sends `request` on a new connection and reads the response head.
    pub async fn send(&self, request: &Request<'_>) -> Result<Response> {
        let peer = self.peer();
        let (stream, absolute_form) = self.connect().await?;
        let target = if absolute_form {
            format!("{}://{}{}", self.endpoint.scheme(), self.endpoint.host_header(), request.path_and_query)
        } else {
            request.path_and_query.to_owned()
        };
        let mut head = format!("{} {target} HTTP/1.1\r\n", request.method);
        for (name, value) in request.headers {
            if value.bytes().any(|b| b == b'\r' || b == b'\n')
                || name.bytes().any(|b| !b.is_ascii_graphic() || b == b':')
            {
                return Err(S3Error::Config(format!("header {name:?} has characters HTTP cannot carry")));
            }
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if absolute_form && let Some(auth) = self.proxy.as_ref().and_then(|p| p.authorization.as_ref()) {
            head.push_str(&format!("Proxy-Authorization: {auth}\r\n"));
        }
        head.push_str("Connection: close\r\n\r\n");
        let mut stream = BufReader::new(stream);
        timed(&peer, "sending the request", self.timeouts.io, async {
            stream.get_mut().write_all(head.as_bytes()).await?;
            stream.get_mut().flush().await
        })
        .await?;
        read_response(stream, &peer, self.timeouts.io, request.method == "HEAD").await
    }

    /// A stream to the endpoint, through the proxy if there is one; `true` when requests must use
    /// the absolute form (plain HTTP through a proxy).
    async fn connect(&self) -> Result<(Box<dyn Stream>, bool)> {
        let Some(proxy) = &self.proxy else {
            let tcp = self.tcp(&self.endpoint).await?;
            return Ok((self.maybe_tls(tcp).await?, false));
        };
        let tcp = self.tcp(&proxy.endpoint).await?;
        if !self.endpoint.secure {
            return Ok((Box::new(tcp), true));
        }
        // HTTPS through a proxy: a CONNECT tunnel, then TLS with the endpoint inside it.
        let peer = proxy.endpoint.authority();
        let authority = self.endpoint.authority();
        let mut head = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
        if let Some(auth) = &proxy.authorization {
            head.push_str(&format!("Proxy-Authorization: {auth}\r\n"));
        }
        head.push_str("\r\n");
        let mut reader = BufReader::new(tcp);
        timed(&peer, "sending CONNECT", self.timeouts.io, reader.get_mut().write_all(head.as_bytes()))
            .await?;
        let (status, reason, _) = read_head(&mut reader, &peer, self.timeouts.io).await?;
        if status != 200 {
            return Err(S3Error::Service {
                operation: "CONNECT",
                resource: authority,
                status,
                code: "ProxyError".into(),
                message: format!("the proxy refused the tunnel: {reason}"),
            });
        }
        if !reader.buffer().is_empty() {
            return Err(S3Error::Malformed { peer, message: "data after the CONNECT response".into() });
        }
        Ok((self.maybe_tls(reader.into_inner()).await?, false))
    }

    async fn tcp(&self, to: &Endpoint) -> Result<TcpStream> {
        let peer = to.authority();
        let stream = timed(
            &peer,
            "connecting",
            self.timeouts.connect,
            TcpStream::connect((to.host.as_str(), to.port)),
        )
        .await?;
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }

    async fn maybe_tls(&self, tcp: TcpStream) -> Result<Box<dyn Stream>> {
        if !self.endpoint.secure {
            return Ok(Box::new(tcp));
        }
        let host = &self.endpoint.host;
        let tls_error = |message: String| S3Error::Tls { host: host.clone(), message };
        let config = tls_config().map_err(|e| tls_error(e.clone()))?;
        let name =
            ServerName::try_from(host.clone()).map_err(|e| tls_error(format!("invalid server name: {e}")))?;
        let connect = tokio_rustls::TlsConnector::from(config).connect(name, tcp);
        match tokio::time::timeout(self.timeouts.connect, connect).await {
            Ok(Ok(tls)) => Ok(Box::new(tls)),
            Ok(Err(e)) => Err(tls_error(format!("handshake failed: {e}"))),
            Err(_) => Err(S3Error::Timeout { peer: self.peer(), what: "TLS handshake" }),
        }
    }
}

/// Client TLS settings with the system's CA certificates (`SSL_CERT_FILE` first), loaded once.
fn tls_config() -> std::result::Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<std::result::Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let candidates =
                std::env::var_os("SSL_CERT_FILE").map(std::path::PathBuf::from).into_iter().chain(
                    [
                        "/etc/ssl/certs/ca-certificates.crt",
                        "/etc/pki/tls/certs/ca-bundle.crt",
                        "/etc/ssl/cert.pem",
                    ]
                    .map(std::path::PathBuf::from),
                );
            let mut roots = RootCertStore::empty();
            for path in candidates {
                let Ok(certs) = CertificateDer::pem_file_iter(&path) else { continue };
                for cert in certs.flatten() {
                    let _ = roots.add(cert);
                }
                if !roots.is_empty() {
                    break;
                }
            }
            if roots.is_empty() {
                return Err("no CA certificates found (set SSL_CERT_FILE to a PEM bundle)".into());
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Ok(Arc::new(config))
        })
        .clone()
}

async fn timed<T>(
    peer: &str,
    what: &'static str,
    limit: Duration,
    io: impl std::future::Future<Output = std::io::Result<T>>,
) -> Result<T> {
    match tokio::time::timeout(limit, io).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(source)) => Err(S3Error::Io { peer: peer.to_owned(), source }),
        Err(_) => Err(S3Error::Timeout { peer: peer.to_owned(), what }),
    }
}

/// A response: status, headers, and the body still on the wire.
pub struct Response {
    pub status: u16,
    pub reason: String,
    headers: Vec<(String, String)>,
    pub body: Body,
}

impl Response {
    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

type Reader = BufReader<Box<dyn Stream>>;

/// Reads one line ending in `\n` (at most `MAX_LINE` bytes), without the line end.
async fn read_line<R: AsyncBufReadExt + Unpin>(
    reader: &mut R,
    peer: &str,
    limit: Duration,
    max: usize,
) -> Result<Vec<u8>> {
    let mut line = Vec::new();
    let mut limited = (&mut *reader).take(max as u64 + 1);
    let n = timed(peer, "reading the response", limit, limited.read_until(b'\n', &mut line)).await?;
    if n == 0 {
        return Err(S3Error::Malformed {
            peer: peer.to_owned(),
            message: "connection closed before the response ended".into(),
        });
    }
    if !line.ends_with(b"\n") {
        return Err(S3Error::Malformed {
            peer: peer.to_owned(),
            message: format!("a response line is longer than {max} bytes"),
        });
    }
    line.pop();
    if line.ends_with(b"\r") {
        line.pop();
    }
    Ok(line)
}

/// Reads a status line and headers; returns the status, the reason and the headers.
async fn read_head<R: AsyncBufReadExt + Unpin>(
    reader: &mut R,
    peer: &str,
    limit: Duration,
) -> Result<(u16, String, Vec<(String, String)>)> {
    let malformed = |message: String| S3Error::Malformed { peer: peer.to_owned(), message };
    let mut budget = MAX_HEAD;
    let status_line = read_line(reader, peer, limit, budget).await?;
    budget = budget.saturating_sub(status_line.len());
    let status_line = String::from_utf8_lossy(&status_line).into_owned();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let code = parts.next().unwrap_or_default();
    let reason = parts.next().unwrap_or_default().to_owned();
    if !version.starts_with("HTTP/1.") || code.len() != 3 {
        return Err(malformed(format!("not an HTTP/1.x status line: {:?}", truncate(&status_line))));
    }
    let status = code.parse::<u16>().map_err(|_| malformed(format!("bad status code {code:?}")))?;
    let mut headers = Vec::new();
    loop {
        if budget == 0 {
            return Err(malformed(format!("response head larger than {MAX_HEAD} bytes")));
        }
        let line = read_line(reader, peer, limit, budget).await?;
        budget = budget.saturating_sub(line.len() + 2);
        if line.is_empty() {
            return Ok((status, reason, headers));
        }
        let line = String::from_utf8_lossy(&line);
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| malformed(format!("bad header line {:?}", truncate(&line))))?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(120).collect()
}

async fn read_response(
    mut reader: Reader,
    peer: &str,
    limit: Duration,
    head_request: bool,
) -> Result<Response> {
    let malformed = |message: String| S3Error::Malformed { peer: peer.to_owned(), message };
    loop {
        let (status, reason, headers) = read_head(&mut reader, peer, limit).await?;
        if (100..200).contains(&status) {
            continue; // interim responses (100 Continue) carry no body
        }
        let find = |name: &str| {
            headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
        };
        let chunked = find("transfer-encoding").iter().any(|v| v.to_ascii_lowercase().contains("chunked"));
        let lengths = find("content-length");
        let framing = if head_request || status == 204 || status == 304 {
            Framing::Length(0)
        } else if chunked {
            Framing::Chunked { remaining: 0, finished: false, started: false }
        } else if let Some(first) = lengths.first() {
            if lengths.iter().any(|l| l != first) {
                return Err(malformed("conflicting Content-Length headers".into()));
            }
            Framing::Length(first.parse().map_err(|_| malformed(format!("bad Content-Length {first:?}")))?)
        } else {
            Framing::UntilClose { finished: false }
        };
        let body = Body { reader, framing, peer: peer.to_owned(), limit };
        return Ok(Response { status, reason, headers, body });
    }
}

#[derive(Clone, Copy)]
enum Framing {
    Length(u64),
    Chunked { remaining: u64, finished: bool, started: bool },
    UntilClose { finished: bool },
}

/// A response body being read.
pub struct Body {
    reader: Reader,
    framing: Framing,
    peer: String,
    limit: Duration,
}

impl Body {
    fn malformed(&self, message: impl Into<String>) -> S3Error {
        S3Error::Malformed { peer: self.peer.clone(), message: message.into() }
    }

    /// The next piece of the body (at most `max` bytes), `None` at its end. A connection that
    /// closes before the announced length is an error.
    pub async fn next_chunk(&mut self, max: usize) -> Result<Option<Vec<u8>>> {
        let max = max.max(1) as u64;
        loop {
            match self.framing {
                Framing::Length(0)
                | Framing::UntilClose { finished: true }
                | Framing::Chunked { finished: true, .. } => return Ok(None),
                Framing::Length(remaining) => {
                    let data = self.read_some(remaining.min(max) as usize).await?;
                    if data.is_empty() {
                        return Err(
                            self.malformed(format!("connection closed with {remaining} body bytes missing"))
                        );
                    }
                    self.framing = Framing::Length(remaining - data.len() as u64);
                    return Ok(Some(data));
                }
                Framing::UntilClose { finished: false } => {
                    let data = self.read_some(max as usize).await?;
                    if data.is_empty() {
                        self.framing = Framing::UntilClose { finished: true };
                        return Ok(None);
                    }
                    return Ok(Some(data));
                }
                Framing::Chunked { remaining: 0, started, .. } => {
                    if started {
                        // The CRLF that ends the previous chunk's data.
                        let end = read_line(&mut self.reader, &self.peer, self.limit, MAX_LINE).await?;
                        if !end.is_empty() {
                            return Err(self.malformed("chunk data longer than its size"));
                        }
                    }
                    let line = read_line(&mut self.reader, &self.peer, self.limit, MAX_LINE).await?;
                    let text = String::from_utf8_lossy(&line);
                    let size_text = text.split(';').next().unwrap_or_default().trim();
                    let size = u64::from_str_radix(size_text, 16)
                        .map_err(|_| self.malformed(format!("bad chunk size {:?}", truncate(&text))))?;
                    if size == 0 {
                        self.skip_trailers().await?;
                        self.framing = Framing::Chunked { remaining: 0, finished: true, started: true };
                        return Ok(None);
                    }
                    self.framing = Framing::Chunked { remaining: size, finished: false, started: true };
                }
                Framing::Chunked { remaining, .. } => {
                    let data = self.read_some(remaining.min(max) as usize).await?;
                    if data.is_empty() {
                        return Err(self.malformed("connection closed inside a chunk"));
                    }
                    self.framing = Framing::Chunked {
                        remaining: remaining - data.len() as u64,
                        finished: false,
                        started: true,
                    };
                    return Ok(Some(data));
                }
            }
        }
    }

    /// Trailer lines after the last chunk, up to the empty line.
    async fn skip_trailers(&mut self) -> Result<()> {
        let mut total = 0usize;
        loop {
            let trailer = read_line(&mut self.reader, &self.peer, self.limit, MAX_LINE).await?;
            if trailer.is_empty() {
                return Ok(());
            }
            total += trailer.len();
            if total > MAX_HEAD {
                return Err(self.malformed("chunked trailers too large"));
            }
        }
    }

    /// Up to `want` bytes (fewer only at the end of the stream).
    async fn read_some(&mut self, want: usize) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; want];
        let mut filled = 0;
        while filled < want {
            let n = timed(&self.peer, "reading the body", self.limit, self.reader.read(&mut buf[filled..]))
                .await?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        buf.truncate(filled);
        Ok(buf)
    }

    /// The whole body, refusing more than `max` bytes.
    pub async fn read_to_end(&mut self, max: usize) -> Result<Vec<u8>> {
        let mut all = Vec::new();
        while let Some(piece) = self.next_chunk(64 << 10).await? {
            all.extend_from_slice(&piece);
            if all.len() > max {
                return Err(self.malformed(format!("response body larger than {max} bytes")));
            }
        }
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `bytes` through the response reader as if a server had sent them.
    async fn parse(bytes: &[u8], head: bool) -> Result<(Response, Vec<u8>)> {
        let (mut server, client) = tokio::io::duplex(1 << 20);
        server.write_all(bytes).await.unwrap();
        drop(server);
        let reader: Reader = BufReader::new(Box::new(client));
        let mut response = read_response(reader, "test", Duration::from_secs(5), head).await?;
        let body = response.body.read_to_end(1 << 20).await?;
        Ok((response, body))
    }

    #[tokio::test]
    async fn content_length_body() {
        let (r, body) =
            parse(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nETag: \"x\"\r\n\r\nhello", false).await.unwrap();
        assert_eq!((r.status, r.header("etag"), body.as_slice()), (200, Some("\"x\""), &b"hello"[..]));
    }

    #[tokio::test]
    async fn chunked_body_with_extensions_and_trailers() {
        let wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n";
        let (_, body) = parse(wire, false).await.unwrap();
        assert_eq!(body, b"abcde");
    }

    #[tokio::test]
    async fn until_close_and_interim_responses() {
        let (r, body) =
            parse(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\n\r\nrest of it", false).await.unwrap();
        assert_eq!((r.status, body.as_slice()), (200, &b"rest of it"[..]));
    }

    #[tokio::test]
    async fn head_response_has_no_body() {
        let (r, body) = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", true).await.unwrap();
        assert_eq!((r.header("content-length"), body.len()), (Some("1000"), 0));
    }

    #[tokio::test]
    async fn hostile_responses_are_errors() {
        for wire in [
            &b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n",
            b"SSH-2.0-OpenSSH\r\n",
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
            b"",
            b"HTTP/1.1 200 OK\r\n",
        ] {
            assert!(parse(wire, false).await.is_err(), "{:?}", String::from_utf8_lossy(wire));
        }
        let mut huge = b"HTTP/1.1 200 OK\r\n".to_vec();
        huge.extend(std::iter::repeat_n(b'a', MAX_HEAD + 10));
        assert!(parse(&huge, false).await.is_err());
        let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
        for _ in 0..10_000 {
            many.extend_from_slice(b"X: y\r\n");
        }
        assert!(parse(&many, false).await.is_err());
    }

    #[test]
    fn endpoints() {
        let e = Endpoint::parse("minio:19000", false).unwrap();
        assert_eq!((e.host.as_str(), e.port, e.host_header()), ("minio", 19000, "minio:19000".to_owned()));
        let e = Endpoint::parse("s3.amazonaws.com", true).unwrap();
        assert_eq!((e.port, e.host_header()), (443, "s3.amazonaws.com".to_owned()));
        let e = Endpoint::parse("[::1]:9000", false).unwrap();
        assert_eq!((e.host.as_str(), e.host_header()), ("::1", "[::1]:9000".to_owned()));
        for bad in ["", "http://x:1", "x:0", "x:99999", "x/y", "a b", "::1", "u@h", "x:"] {
            assert!(Endpoint::parse(bad, false).is_err(), "{bad}");
        }
    }

    #[test]
    fn proxies() {
        let p = Proxy::parse("http://user:p%40ss@proxy:3128/").unwrap();
        assert_eq!((p.endpoint.host.as_str(), p.endpoint.port), ("proxy", 3128));
        assert_eq!(p.authorization.as_deref(), Some("Basic dXNlcjpwQHNz"));
        assert!(!format!("{p:?}").contains("dXNl"));
        assert_eq!(Proxy::parse("proxy:8080").unwrap().endpoint.port, 8080);
        assert!(Proxy::parse("https://proxy:443").is_err());
        assert!(Proxy::parse("socks5://proxy:1080").is_err());
    }
}
