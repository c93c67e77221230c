//! HTTPS at the gate (issue 12, item 2, gate side): the certificate and key sealed to the gate
//! with the bundle are served on `--tls-listen`; a rotation (a new bundle with the next key's
//! certificate) under a bounded loop of HTTPS requests, on new and on kept-alive connections,
//! fails none of them; `openssl s_client` then sees the new chain, whose SPKI pin is the next
//! key's (computed independently with the openssl CLI); TLS 1.1 and non-AEAD suites are
//! refused; a key that is not the leaf's is refused with the bundle.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use bytes::Bytes;
use common::*;
use gate::Gate;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;

use policy::secrets::{GateSecrets, SecretCertificate};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, PublicKeyData};
use rustls::pki_types::{CertificateDer, ServerName};
use sha2::{Digest, Sha256};

const HOST: &str = "api.test";

struct Pki {
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

/// A leaf for [`HOST`] under the test CA: chain PEM, PKCS #8 DER, SPKI pin (base64 SHA-256).
struct Leaf {
    der: Vec<u8>,
    chain_pem: String,
    pkcs8: Vec<u8>,
    pin: String,
}

fn pki() -> Pki {
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Palisade test CA");
    let ca = params.self_signed(&key).expect("CA");
    Pki {
        ca_pem: ca.pem(),
        ca_der: ca.der().clone(),
        issuer: Issuer::new(params, key),
    }
}

fn leaf(pki: &Pki) -> Leaf {
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(vec![HOST.to_string()]).expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, HOST);
    let cert = params.signed_by(&key, &pki.issuer).expect("leaf");
    let pin = base64::engine::general_purpose::STANDARD
        .encode(Sha256::digest(key.subject_public_key_info()));
    Leaf {
        der: cert.der().to_vec(),
        chain_pem: format!("{}{}", cert.pem(), pki.ca_pem),
        pkcs8: key.serialize_der(),
        pin,
    }
}

fn secrets(l: &Leaf) -> GateSecrets {
    GateSecrets {
        signing_keys: vec![],
        certificates: vec![SecretCertificate {
            hostname: HOST.into(),
            names: vec![HOST.into()],
            chain_pem: l.chain_pem.clone(),
            pkcs8: URL_SAFE_NO_PAD.encode(&l.pkcs8),
        }],
    }
}

async fn tls_gate(dir: &Path, console: &Console) -> (Gate, String) {
    enrolled_gate(dir, console, |s| {
        s.tls_listen = Some("127.0.0.1:0".parse().expect("addr"));
    })
    .await
}

fn client_config(pki: &Pki) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca_der.clone()).expect("root");
    Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth(),
    )
    .tap_resumption_off()
}

/// Session resumption off: each handshake then shows the certificate the gate serves now.
trait NoResumption {
    fn tap_resumption_off(self) -> Self;
}

impl NoResumption for Arc<rustls::ClientConfig> {
    fn tap_resumption_off(self) -> Self {
        let mut c = (*self).clone();
        c.resumption = rustls::client::Resumption::disabled();
        Arc::new(c)
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;

/// A verified TLS connection to the gate; returns the HTTP sender and the served leaf (DER).
async fn connect(
    addr: SocketAddr,
    cfg: Arc<rustls::ClientConfig>,
) -> Result<(Sender, Vec<u8>), String> {
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let tls = tokio_rustls::TlsConnector::from(cfg)
        .connect(ServerName::try_from(HOST).expect("name"), tcp)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let leaf = tls.get_ref().1.peer_certificates().expect("certs")[0].to_vec();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    Ok((sender, leaf))
}

/// The base64 SHA-256 of a certificate's SubjectPublicKeyInfo, computed by the openssl CLI (an
/// implementation independent of the gate's and of rcgen's).
fn openssl_pin(x509_args: &[&str]) -> String {
    let pubkey = Command::new("openssl")
        .args(x509_args)
        .args(["-pubkey", "-noout"])
        .output()
        .expect("openssl x509");
    assert!(
        pubkey.status.success(),
        "{}",
        String::from_utf8_lossy(&pubkey.stderr)
    );
    let mut der = Command::new("openssl")
        .args(["pkey", "-pubin", "-outform", "der"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("openssl pkey");
    use std::io::Write as _;
    der.stdin
        .take()
        .expect("stdin")
        .write_all(&pubkey.stdout)
        .expect("pipe");
    let out = der.wait_with_output().expect("pkey");
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&out.stdout))
}

async fn get(sender: &mut Sender) -> Result<u16, String> {
    sender.ready().await.map_err(|e| e.to_string())?;
    let req = http::Request::get("/public/x")
        .header(http::header::HOST, HOST)
        .body(Empty::<Bytes>::new())
        .expect("request");
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    resp.into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?;
    Ok(status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_under_load_fails_no_request_and_serves_the_next_pin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let console = Console::new();
    let (gate, recipient) = tls_gate(dir.path(), &console).await;
    let addr = gate.tls_addr.expect("TLS listener");
    let pki = pki();
    let (current, next) = (leaf(&pki), leaf(&pki));
    assert_ne!(current.pin, next.pin);

    // Before any certificate is delivered, there is nothing to serve: the handshake fails.
    assert!(connect(addr, client_config(&pki)).await.is_err());

    let b1 = bundle(1, vec![], vec![]);
    let (status, body) = push(
        &gate,
        deliver(
            &console,
            &b1,
            Some((&secrets(&current), GATE_ID, &recipient)),
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (mut s, served) = connect(addr, client_config(&pki)).await.expect("connects");
    assert_eq!(served, current.der);
    assert_eq!(get(&mut s).await, Ok(200));

    // The loop: 4 workers on fresh connections (a handshake each), 4 on one kept-alive
    // connection each, for at most 4 s; the rotation lands in the middle.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let seen_next = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for w in 0..8 {
        let (stop, ok, failed, seen_next) =
            (stop.clone(), ok.clone(), failed.clone(), seen_next.clone());
        let cfg = client_config(&pki);
        let next_der = next.der.clone();
        workers.push(tokio::spawn(async move {
            let mut kept: Option<Sender> = None;
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) && n < 5_000 {
                n += 1;
                let result = if w % 2 == 0 {
                    match connect(addr, cfg.clone()).await {
                        Ok((mut s, served)) => {
                            if served == next_der {
                                seen_next.fetch_add(1, Ordering::Relaxed);
                            }
                            get(&mut s).await
                        }
                        Err(e) => Err(e),
                    }
                } else {
                    if kept.is_none() {
                        kept = connect(addr, cfg.clone()).await.ok().map(|(s, _)| s);
                    }
                    match kept.as_mut() {
                        Some(s) => get(s).await,
                        None => Err("no connection".into()),
                    }
                };
                match result {
                    Ok(200) => ok.fetch_add(1, Ordering::Relaxed),
                    other => {
                        eprintln!("worker {w}: {other:?}");
                        failed.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let b2 = bundle(2, vec![], vec![]);
    let (status, body) = push(
        &gate,
        deliver(&console, &b2, Some((&secrets(&next), GATE_ID, &recipient))),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.expect("worker");
    }
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    println!("HTTPS across a rotation: {ok} requests answered 200, {failed} failed; {} handshakes saw the next certificate", seen_next.load(Ordering::Relaxed));
    assert_eq!(failed, 0);
    assert!(ok > 200, "the loop barely ran ({ok})");
    assert!(
        seen_next.load(Ordering::Relaxed) > 10,
        "the new certificate was never served"
    );

    // openssl s_client sees the new chain; its pin, computed by openssl, is the next key's.
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &pki.ca_pem).expect("ca");
    let out = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &addr.to_string(),
            "-servername",
            HOST,
            "-CAfile",
        ])
        .arg(&ca_file)
        .args(["-verify_return_error", "-showcerts"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("openssl s_client");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Verify return code: 0 (ok)"), "{text}");
    let leaf_pem: String = {
        let start = text
            .find("-----BEGIN CERTIFICATE-----")
            .expect("a certificate");
        let end = text[start..]
            .find("-----END CERTIFICATE-----")
            .expect("its end")
            + start
            + 25;
        text[start..end].to_string()
    };
    let leaf_file = dir.path().join("served.pem");
    std::fs::write(&leaf_file, format!("{leaf_pem}\n")).expect("leaf");
    assert_eq!(
        openssl_pin(&["x509", "-in", leaf_file.to_str().expect("utf-8")]),
        next.pin
    );

    // Only TLS 1.2 and 1.3, only AEAD suites.
    for args in [
        vec!["-tls1_1"],
        vec![
            "-tls1_2",
            "-cipher",
            "AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA",
        ],
    ] {
        let out = Command::new("openssl")
            .args([
                "s_client",
                "-connect",
                &addr.to_string(),
                "-servername",
                HOST,
            ])
            .args(&args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("openssl s_client");
        assert!(!out.status.success(), "{args:?} was accepted");
    }
    let tls12 = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &addr.to_string(),
            "-servername",
            HOST,
            "-tls1_2",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("openssl s_client");
    assert!(
        tls12.status.success(),
        "TLS 1.2 with an AEAD suite is accepted"
    );
    gate.stop().await;
}

#[tokio::test]
async fn a_key_that_is_not_the_leafs_is_refused_with_the_bundle() {
    let dir = tempfile::tempdir().expect("tempdir");
    let console = Console::new();
    let (gate, recipient) = tls_gate(dir.path(), &console).await;
    let pki = pki();
    let (a, b) = (leaf(&pki), leaf(&pki));
    let mut mixed = secrets(&a);
    mixed.certificates[0].pkcs8 = URL_SAFE_NO_PAD.encode(&b.pkcs8);
    let (status, body) = push(
        &gate,
        deliver(
            &console,
            &bundle(1, vec![], vec![]),
            Some((&mixed, GATE_ID, &recipient)),
        ),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["reason"]
            .as_str()
            .expect("reason")
            .contains("not the leaf's"),
        "{body}"
    );
    gate.stop().await;
}
