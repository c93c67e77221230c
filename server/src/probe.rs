//! The network side of the pin tool's live probe ([`domain::certs::probe::ProbeNetwork`]):
//! resolve with the system resolver, connect over TCP, and complete a TLS handshake with rustls
//! (ring provider) that reads the presented chain without trusting it. What may be reached is
//! decided by the domain before [`NetProbe::handshake`] is called: only vetted addresses are
//! ever connected to, never the name again (no DNS rebinding between vetting and connecting).

use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use domain::certs::probe::{ProbeError, ProbeNetwork, ProbePolicy, ProbeStage};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::Resumption;
use rustls::crypto::{ring as ring_provider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};
use tokio_rustls::TlsConnector;

/// The real network, with the ranges the operator allowed beyond public addresses.
#[derive(Clone, Debug, Default)]
pub struct NetProbe {
    pub allow: Vec<policy::cidr::Cidr>,
}

#[async_trait]
impl ProbeNetwork for NetProbe {
    fn allowed_ranges(&self) -> Vec<policy::cidr::Cidr> {
        self.allow.clone()
    }

    async fn resolve(
        &self,
        name: &str,
        port: u16,
        policy: &ProbePolicy,
    ) -> Result<Vec<SocketAddr>, ProbeError> {
        let found = timeout(
            policy.resolve_timeout,
            tokio::net::lookup_host((name, port)),
        )
        .await
        .map_err(|_| ProbeError::Timeout {
            stage: ProbeStage::Resolve,
            target: name.to_owned(),
            after: policy.resolve_timeout,
        })?
        .map_err(|e| ProbeError::Resolve(format!("{name} could not be resolved: {e}")))?;
        Ok(found.collect())
    }

    async fn handshake(
        &self,
        addresses: &[SocketAddr],
        server_name: Option<&str>,
        target: &str,
        policy: &ProbePolicy,
    ) -> Result<(SocketAddr, Vec<Vec<u8>>), ProbeError> {
        let (tcp, address) = connect(addresses, policy).await?;
        let certs = handshake(tcp, address, server_name, target, policy).await?;
        Ok((address, certs))
    }
}

/// Tries the vetted addresses in resolver order until one accepts, all within one deadline.
/// A refused connection and a filtered one (no answer until the deadline) end in the same
/// error, after the same wait: the answer must not tell a closed port from a filtered one.
async fn connect(
    addresses: &[SocketAddr],
    policy: &ProbePolicy,
) -> Result<(TcpStream, SocketAddr), ProbeError> {
    let deadline = Instant::now() + policy.connect_timeout;
    for &address in addresses {
        match tokio::time::timeout_at(deadline, TcpStream::connect(address)).await {
            Ok(Ok(tcp)) => return Ok((tcp, address)),
            Ok(Err(_)) => continue,
            Err(_) => break,
        }
    }
    tokio::time::sleep_until(deadline).await;
    let list: Vec<String> = addresses.iter().map(ToString::to_string).collect();
    Err(ProbeError::Connect(format!(
        "no TLS server answered at {} (refused, filtered or unreachable)",
        list.join(", ")
    )))
}

async fn handshake(
    tcp: TcpStream,
    address: SocketAddr,
    server_name: Option<&str>,
    target: &str,
    policy: &ProbePolicy,
) -> Result<Vec<Vec<u8>>, ProbeError> {
    let tls_error =
        |detail: String| ProbeError::Tls(format!("TLS with {address} failed: {detail}"));
    let provider = Arc::new(ring_provider::default_provider());
    let verifier = Arc::new(PresentedChainReader {
        algorithms: provider.signature_verification_algorithms,
    });
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    // A full handshake every time: a resumed one presents no certificate.
    config.resumption = Resumption::disabled();
    // With an IP address rustls sends no SNI (RFC 6066 §3 forbids literal addresses there).
    let name = match server_name {
        Some(name) => ServerName::try_from(name.to_owned()).map_err(|_| {
            ProbeError::BadTarget(format!("\"{name}\" is not a valid DNS name for TLS (SNI)"))
        })?,
        None => ServerName::IpAddress(address.ip().into()),
    };
    let connector = TlsConnector::from(Arc::new(config));
    let tls = timeout(policy.handshake_timeout, connector.connect(name, tcp))
        .await
        .map_err(|_| ProbeError::Timeout {
            stage: ProbeStage::Handshake,
            target: target.to_owned(),
            after: policy.handshake_timeout,
        })?
        .map_err(|e| tls_error(e.to_string()))?;
    let (_, connection) = tls.get_ref();
    Ok(connection
        .peer_certificates()
        .map(|certs| certs.iter().map(|c| c.as_ref().to_vec()).collect())
        .unwrap_or_default())
}

/// A [`ServerCertVerifier`] that accepts any presented chain, because the probe only *reads* it
/// (see `domain::certs::probe`), but verifies the handshake signature with the ring provider's
/// algorithms, so the peer proved possession of the leaf's private key.
#[derive(Debug)]
struct PresentedChainReader {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PresentedChainReader {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
