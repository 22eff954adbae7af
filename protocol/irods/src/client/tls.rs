//! TLS after a negotiation that ended in `CS_NEG_USE_SSL`.
//!
//! iRODS switches to TLS after the (clear-text) RODS_VERSION reply. The client then sends two
//! header-only messages over TLS: one whose type is the encryption algorithm
//! (msgLen = key size, errorLen = salt size, bsLen = hash rounds), then `SHARED_SECRET` followed by
//! that many random key bytes (used by the server for encrypted parallel transfers).
//!
//! Certificate checks follow python-irodsclient, so one environment file behaves the same for
//! both clients: without `irods_ssl_ca_certificate_file` or with `irods_ssl_verify_server` =
//! `none` the server certificate is not verified; `cert` verifies the chain only; `hostname`
//! (default) verifies chain and name. A server certificate listed in the CA file is trusted as is
//! (self-signed deployments), as OpenSSL does.

use std::sync::Arc;

use rand::RngCore;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{WebPkiServerVerifier, verify_server_name};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::error::{Error, Result};
use crate::config::TlsSettings;
use crate::frame::{MsgHeader, MsgType};
use crate::pi::PackStruct;

/// Performs the TLS handshake over `io` and sends the encryption settings and shared secret.
pub(crate) async fn start_tls<IO>(
    io: IO,
    host: &str,
    settings: &TlsSettings,
) -> Result<tokio_rustls::client::TlsStream<IO>>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = verifier(settings, provider.clone())?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| Error::Tls(format!("invalid server name {host:?}: {e}")))?;
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, io)
        .await
        .map_err(|e| Error::Tls(format!("handshake with {host} failed: {e}")))?;

    let settings_header = MsgHeader {
        msg_type: MsgType::Other(settings.encryption_algorithm.clone()),
        msg_len: settings.encryption_key_size as i32,
        error_len: settings.encryption_salt_size as i32,
        bs_len: settings.encryption_num_hash_rounds as i32,
        int_info: 0,
    };
    let mut key = vec![0u8; settings.encryption_key_size];
    rand::rng().fill_bytes(&mut key);
    let secret_header = MsgHeader {
        msg_type: MsgType::SharedSecret,
        msg_len: key.len() as i32,
        error_len: 0,
        bs_len: 0,
        int_info: 0,
    };
    let mut out = Vec::new();
    for header in [&settings_header, &secret_header] {
        let encoded = header.encode();
        out.extend_from_slice(&(encoded.len() as i32).to_be_bytes());
        out.extend_from_slice(&encoded);
    }
    out.extend_from_slice(&key);
    tls.write_all(&out).await?;
    tls.flush().await?;
    Ok(tls)
}

fn verifier(settings: &TlsSettings, provider: Arc<CryptoProvider>) -> Result<Arc<dyn ServerCertVerifier>> {
    let Some(ca_file) = settings.ca_certificate_file.as_ref().filter(|_| settings.verify_server != "none")
    else {
        return Ok(Arc::new(AcceptAnyCertificate(provider)));
    };
    let mut roots = RootCertStore::empty();
    let mut pinned = Vec::new();
    let certs = CertificateDer::pem_file_iter(ca_file)
        .map_err(|e| Error::Tls(format!("cannot read {}: {e}", ca_file.display())))?;
    for cert in certs {
        let cert = cert.map_err(|e| Error::Tls(format!("bad certificate in {}: {e}", ca_file.display())))?;
        roots
            .add(cert.clone())
            .map_err(|e| Error::Tls(format!("unusable CA certificate in {}: {e}", ca_file.display())))?;
        pinned.push(cert);
    }
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| Error::Tls(e.to_string()))?;
    Ok(Arc::new(ConfiguredCa { webpki, pinned, check_name: settings.verify_server != "cert" }))
}

/// `irods_ssl_verify_server` = `none` (or no CA configured, as in python-irodsclient).
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Verification against the configured CA file.
///
/// Besides ordinary chain building, a server certificate that is itself one of the configured
/// certificates is accepted, as OpenSSL (and so python-irodsclient and iRODS) accepts it: many
/// iRODS deployments point `irods_ssl_ca_certificate_file` at their self-signed server
/// certificate, which webpki alone refuses as "CA used as end entity". With `check_name` false
/// (`irods_ssl_verify_server` = `cert`) a name mismatch is tolerated.
#[derive(Debug)]
struct ConfiguredCa {
    webpki: Arc<WebPkiServerVerifier>,
    pinned: Vec<CertificateDer<'static>>,
    check_name: bool,
}

impl ServerCertVerifier for ConfiguredCa {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let name_mismatch = |e: &rustls::Error| {
            matches!(
                e,
                rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
                )
            )
        };
        match self.webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Ok(ok) => Ok(ok),
            Err(e) if name_mismatch(&e) && !self.check_name => Ok(ServerCertVerified::assertion()),
            // Pinned: trusted as configured (its validity period is not checked, as for an anchor).
            Err(_) if self.pinned.iter().any(|p| p.as_ref() == end_entity.as_ref()) => {
                if self.check_name {
                    verify_server_name(&ParsedCertificate::try_from(end_entity)?, server_name)?;
                }
                Ok(ServerCertVerified::assertion())
            }
            Err(e) => Err(e),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}
