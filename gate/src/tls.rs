//! HTTPS on the gate (`--tls-listen`) with the certificates the console sends it: each
//! certificate's chain and private key arrive sealed to this gate with the bundle
//! ([`policy::secrets::SecretCertificate`]), are loaded when the bundle is applied (the key
//! checked against the leaf) and become part of the same [`crate::state::Enforcement`] swap as
//! everything else. A rotation on the console therefore reaches the gate as a new bundle, and
//! every handshake after the swap presents the new chain while connections already open keep
//! theirs: no connection or request is dropped.
//!
//! rustls with the `ring` provider, TLS 1.2 and 1.3, AEAD cipher suites only (AES-GCM and
//! ChaCha20-Poly1305, ECDHE key exchange), ALPN `h2` and `http/1.1`. The certificate is chosen
//! by SNI among those delivered (exact name, then a `*.` wildcard one label deep), else the
//! first; with none delivered yet the handshake fails (there is nothing to serve).

use std::sync::Arc;

use rustls::crypto::ring as provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;

use crate::apply::Shared;

/// Marks a request that arrived over TLS (a request extension), so the proxy tells the
/// upstream `X-Forwarded-Proto: https`.
#[derive(Clone, Copy, Debug)]
pub struct Https;

/// One served certificate: the names it covers and the loaded chain and key.
pub struct ServedCert {
    pub hostname: String,
    /// Lowercase DNS names of the leaf's subjectAltName, as delivered by the console.
    pub names: Vec<String>,
    pub key: Arc<CertifiedKey>,
}

impl std::fmt::Debug for ServedCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServedCert")
            .field("hostname", &self.hostname)
            .field("names", &self.names)
            .finish()
    }
}

impl ServedCert {
    /// Base64 SHA-256 of the leaf's DER, as the bundle names the certificate.
    pub fn cert_sha256(&self) -> String {
        use base64::{engine::general_purpose::STANDARD, Engine as _};
        use sha2::{Digest, Sha256};
        STANDARD.encode(Sha256::digest(self.key.cert[0].as_ref()))
    }
}

/// Loads a delivered chain (PEM, leaf first) and PKCS #8 private key (DER), refusing a key that
/// is not the leaf's.
pub fn load(
    hostname: &str,
    names: &[String],
    chain_pem: &str,
    pkcs8: &[u8],
) -> Result<ServedCert, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("certificate of {hostname}: the chain is not PEM ({e})"))?;
    if chain.is_empty() {
        return Err(format!("certificate of {hostname}: the chain is empty"));
    }
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pkcs8.to_vec()));
    let signing = provider::sign::any_supported_type(&key)
        .map_err(|e| format!("certificate of {hostname}: the private key is not usable ({e})"))?;
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().map_err(|e| {
        format!("certificate of {hostname}: the private key is not the leaf's ({e})")
    })?;
    Ok(ServedCert {
        hostname: hostname.to_owned(),
        names: names.iter().map(|n| n.to_ascii_lowercase()).collect(),
        key: Arc::new(certified),
    })
}

/// The certificate for a handshake naming `sni`: exact name, then wildcard, else the first.
pub fn choose<'a>(certs: &'a [ServedCert], sni: Option<&str>) -> Option<&'a ServedCert> {
    if let Some(sni) = sni.map(str::to_ascii_lowercase) {
        if let Some(c) = certs.iter().find(|c| c.names.contains(&sni)) {
            return Some(c);
        }
        if let Some((_, parent)) = sni.split_once('.') {
            let wildcard = format!("*.{parent}");
            if let Some(c) = certs.iter().find(|c| c.names.contains(&wildcard)) {
                return Some(c);
            }
        }
    }
    certs.first()
}

/// Resolves every handshake against the applied state.
struct FromBundle(Arc<Shared>);

impl std::fmt::Debug for FromBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FromBundle")
    }
}

impl ResolvesServerCert for FromBundle {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let st = self.0.current()?;
        choose(&st.certificates, hello.server_name()).map(|c| c.key.clone())
    }
}

/// The server configuration of the TLS listener.
pub fn server_config(shared: Arc<Shared>) -> Result<Arc<ServerConfig>, String> {
    let mut p = provider::default_provider();
    // Every suite ring offers is AEAD; keep that a checked fact rather than an assumption.
    p.cipher_suites.retain(|s| {
        let name = format!("{:?}", s.suite());
        name.contains("_GCM_") || name.contains("CHACHA20_POLY1305")
    });
    let mut config = ServerConfig::builder_with_provider(Arc::new(p))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("TLS configuration: {e}"))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(FromBundle(shared)));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
