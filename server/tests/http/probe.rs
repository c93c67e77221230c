//! The pin tool's live probe end to end (`domain::certs::probe` through `server::probe`): a real rustls server on 127.0.0.1 presents rcgen chains
//! and the probe must return them byte for byte and in order; the SSRF guard refuses special
//! addresses before any connection (each such probe is bounded far below the connect timeout,
//! so an attempt to connect would show as a failure); bad targets, dead ports, silent servers and
//! servers that cannot prove their key fail with their stable codes.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use domain::certs::cert_info;
use domain::certs::probe::{
    fetch_presented_chain, PresentedChain, ProbeError, ProbePolicy, ProbeStage, RefusedReason,
    MAX_PRESENTED_CERTS,
};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ServerConfig, SupportedProtocolVersion};
use server::probe::NetProbe;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

// ---------------------------------------------------------------------------------------------
// A local TLS server that presents a given chain and records the SNI of each ClientHello.

#[derive(Debug)]
struct Presenter {
    key: Arc<CertifiedKey>,
    sni: Mutex<Vec<Option<String>>>,
}

impl ResolvesServerCert for Presenter {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.sni
            .lock()
            .expect("sni lock")
            .push(hello.server_name().map(str::to_string));
        Some(self.key.clone())
    }
}

struct Server {
    addr: SocketAddr,
    presenter: Arc<Presenter>,
}

impl Server {
    fn target(&self) -> String {
        self.addr.to_string()
    }

    fn sni_seen(&self) -> Vec<Option<String>> {
        self.presenter.sni.lock().expect("sni lock").clone()
    }
}

/// Serves `chain` with `key` (which need not match the leaf: the server then signs with the
/// wrong key) on 127.0.0.1, port chosen by the OS, for the rest of the test.
async fn serve(
    chain: Vec<CertificateDer<'static>>,
    key: &KeyPair,
    versions: &[&'static SupportedProtocolVersion],
) -> Server {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let signing_key = provider
        .key_provider
        .load_private_key(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            key.serialize_der(),
        )))
        .expect("rcgen key loads");
    let presenter = Arc::new(Presenter {
        key: Arc::new(CertifiedKey::new(chain, signing_key)),
        sni: Mutex::default(),
    });
    let config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .expect("versions")
        .with_no_client_auth()
        .with_cert_resolver(presenter.clone());
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _ = acceptor.accept(tcp).await;
            });
        }
    });
    Server { addr, presenter }
}

const BOTH: &[&SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];
const TLS12_ONLY: &[&SupportedProtocolVersion] = &[&rustls::version::TLS12];

fn self_signed(name: &str) -> (CertificateDer<'static>, KeyPair) {
    let ck = rcgen::generate_simple_self_signed(vec![name.to_string()]).expect("self-signed");
    (ck.cert.der().clone(), ck.signing_key)
}

/// A root CA and a leaf for `localhost` issued by it: ([leaf, ca], leaf key).
fn ca_and_leaf() -> (Vec<CertificateDer<'static>>, KeyPair) {
    let (chain, key, _) = ca_and_leaf_with_ca_pem();
    (chain, key)
}

/// [`ca_and_leaf`] and the CA certificate as PEM (for a client that must trust it).
pub(crate) fn ca_and_leaf_with_ca_pem() -> (Vec<CertificateDer<'static>>, KeyPair, String) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Probe Test Root");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca =
        CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("ca key")).expect("ca");
    let leaf_key = KeyPair::generate().expect("leaf key");
    let leaf = CertificateParams::new(vec!["localhost".to_string()])
        .expect("leaf params")
        .signed_by(&leaf_key, &ca)
        .expect("leaf");
    (
        vec![leaf.der().clone(), ca.der().clone()],
        leaf_key,
        ca.pem(),
    )
}

fn ders(chain: &[CertificateDer<'static>]) -> Vec<Vec<u8>> {
    chain.iter().map(|c| c.to_vec()).collect()
}

async fn probe(target: &str, policy: &ProbePolicy) -> Result<PresentedChain, ProbeError> {
    // Far above any local handshake, far below anything that could hang the suite.
    tokio::time::timeout(
        Duration::from_secs(20),
        fetch_presented_chain(&NetProbe::default(), target, policy),
    )
    .await
    .unwrap_or_else(|_| panic!("probe of {target} did not end"))
}

/// A probe that must be refused before any I/O: it has to answer well inside a second.
async fn probe_refused(target: &str, policy: &ProbePolicy) -> ProbeError {
    let result = tokio::time::timeout(
        Duration::from_secs(1),
        fetch_presented_chain(&NetProbe::default(), target, policy),
    )
    .await
    .unwrap_or_else(|_| panic!("{target}: no answer within 1 s, so the probe tried the network"));
    match result {
        Ok(chain) => panic!(
            "{target}: expected a refusal, got a chain from {}",
            chain.address
        ),
        Err(e) => e,
    }
}

/// The console's policy with loopback named in `--probe-allow`, as for the local test servers;
/// a short connect deadline (a refused connection waits for it, like a filtered one).
fn local() -> ProbePolicy {
    ProbePolicy {
        allow_ranges: vec![
            "127.0.0.0/8".parse().expect("cidr"),
            "::1/128".parse().expect("cidr"),
        ],
        connect_timeout: Duration::from_millis(500),
        ..ProbePolicy::default()
    }
}

fn strict() -> ProbePolicy {
    ProbePolicy {
        allow_link_local: false,
        allow_loopback: false,
        allow_private: false,
        ..ProbePolicy::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Reading the presented chain.

#[tokio::test]
async fn returns_a_self_signed_leaf_as_presented() {
    let (cert, key) = self_signed("localhost");
    let server = serve(vec![cert.clone()], &key, BOTH).await;
    let chain = probe(&server.target(), &local()).await.expect("probe");
    assert_eq!(chain.certs_der, vec![cert.to_vec()]);
    assert_eq!(chain.address, server.addr);
    assert_eq!(chain.server_name, None);
}

#[tokio::test]
async fn returns_leaf_then_ca_in_order_with_their_pins() {
    let (presented, key) = ca_and_leaf();
    let server = serve(presented.clone(), &key, BOTH).await;
    let chain = probe(&server.target(), &local()).await.expect("probe");
    assert_eq!(chain.certs_der, ders(&presented));
    let pins = chain.pins();
    assert_eq!(pins.len(), 2);
    for (found, der) in pins.iter().zip(&presented) {
        let found = found.as_ref().expect("presented certificate parses");
        let info = cert_info(der).expect("cert info");
        assert_eq!(found.pin, info.spki_pin);
    }
    assert_eq!(
        pins[1].as_ref().expect("ca").description,
        "CN=Probe Test Root"
    );
    assert_ne!(
        pins[0].as_ref().expect("leaf").pin,
        pins[1].as_ref().expect("ca").pin
    );
}

#[tokio::test]
async fn reads_an_unordered_chain_over_tls12_without_validating_it() {
    // Leaf, an unrelated self-signed certificate, then the CA: a validating client would reject
    // this; the probe reports it exactly as sent.
    let (mut presented, key) = ca_and_leaf();
    presented.insert(1, self_signed("unrelated.example").0);
    let server = serve(presented.clone(), &key, TLS12_ONLY).await;
    let chain = probe(&server.target(), &local()).await.expect("probe");
    assert_eq!(chain.certs_der, ders(&presented));
}

#[tokio::test]
async fn sends_sni_for_a_host_name_and_none_for_an_address() {
    let (presented, key) = ca_and_leaf();
    let server = serve(presented.clone(), &key, BOTH).await;
    let by_name = probe(&format!("LocalHost:{}", server.addr.port()), &local())
        .await
        .expect("by name");
    assert_eq!(by_name.server_name.as_deref(), Some("localhost"));
    assert_eq!(
        by_name.address, server.addr,
        "connected to the vetted 127.0.0.1 address"
    );
    assert_eq!(by_name.certs_der, ders(&presented));
    probe(&server.target(), &local()).await.expect("by address");
    assert_eq!(server.sni_seen(), vec![Some("localhost".to_string()), None]);
}

#[tokio::test]
async fn a_server_without_the_leaf_key_fails_the_handshake() {
    // The certificate is accepted whatever it is, but the handshake signature must verify: a
    // server replaying someone else's chain is not reported as presenting it.
    let (presented, _leaf_key) = ca_and_leaf();
    let impostor = KeyPair::generate().expect("impostor key");
    for (versions, label) in [(BOTH, "TLS 1.3"), (TLS12_ONLY, "TLS 1.2")] {
        let server = serve(presented.clone(), &impostor, versions).await;
        let err = probe(&server.target(), &local()).await.expect_err(label);
        assert_eq!(err.code(), "probe.tls_failed", "{label}: {err}");
        assert!(
            err.to_string().contains(&server.addr.to_string()),
            "{label}: {err}"
        );
    }
}

#[tokio::test]
async fn caps_the_number_of_presented_certificates() {
    let (leaf, key) = self_signed("localhost");
    let extras: Vec<_> = (0..MAX_PRESENTED_CERTS)
        .map(|i| self_signed(&format!("extra{i}.example")).0)
        .collect();

    let mut at_limit = vec![leaf.clone()];
    at_limit.extend(extras[..MAX_PRESENTED_CERTS - 1].iter().cloned());
    let server = serve(at_limit.clone(), &key, BOTH).await;
    let chain = probe(&server.target(), &local())
        .await
        .expect("16 certificates are read");
    assert_eq!(chain.certs_der, ders(&at_limit));

    let mut over = vec![leaf];
    over.extend(extras.iter().cloned());
    assert_eq!(over.len(), MAX_PRESENTED_CERTS + 1);
    let server = serve(over, &key, BOTH).await;
    let err = probe(&server.target(), &local())
        .await
        .expect_err("17 certificates");
    assert_eq!(
        err,
        ProbeError::ChainTooLong {
            count: 17,
            limit: 16
        }
    );
    assert_eq!(err.code(), "probe.chain_too_long");
}

// ---------------------------------------------------------------------------------------------
// The SSRF guard.

#[tokio::test]
async fn refuses_metadata_link_local_and_never_probed_addresses() {
    let cases = [
        (
            "169.254.169.254:80",
            "169.254.169.254",
            RefusedReason::CloudMetadata,
        ),
        (
            "169.254.169.254",
            "169.254.169.254",
            RefusedReason::CloudMetadata,
        ),
        (
            "100.100.100.200:80",
            "100.100.100.200",
            RefusedReason::CloudMetadata,
        ),
        (
            "[fd00:ec2::254]:80",
            "fd00:ec2::254",
            RefusedReason::CloudMetadata,
        ),
        (
            "[::ffff:169.254.169.254]:443",
            "::ffff:169.254.169.254",
            RefusedReason::CloudMetadata,
        ),
        (
            "[::ffff:a9fe:a9fe]:443",
            "::ffff:169.254.169.254",
            RefusedReason::CloudMetadata,
        ),
        (
            "[64:ff9b::169.254.169.254]:443",
            "64:ff9b::a9fe:a9fe",
            RefusedReason::CloudMetadata,
        ),
        ("[fe80::1]:443", "fe80::1", RefusedReason::LinkLocal),
        (
            "169.254.10.20:443",
            "169.254.10.20",
            RefusedReason::LinkLocal,
        ),
        (
            "[::ffff:169.254.10.20]:443",
            "::ffff:169.254.10.20",
            RefusedReason::LinkLocal,
        ),
        ("0.0.0.0:443", "0.0.0.0", RefusedReason::Unspecified),
        ("[::]:443", "::", RefusedReason::Unspecified),
        (
            "[::ffff:0.0.0.0]:443",
            "::ffff:0.0.0.0",
            RefusedReason::Unspecified,
        ),
        (
            "255.255.255.255:443",
            "255.255.255.255",
            RefusedReason::Broadcast,
        ),
        ("224.0.0.1:443", "224.0.0.1", RefusedReason::Multicast),
        (
            "239.255.255.250:1900",
            "239.255.255.250",
            RefusedReason::Multicast,
        ),
        ("[ff02::1]:443", "ff02::1", RefusedReason::Multicast),
        (
            "[::ffff:224.0.0.1]:443",
            "::ffff:224.0.0.1",
            RefusedReason::Multicast,
        ),
        ("240.0.0.1:443", "240.0.0.1", RefusedReason::Reserved),
    ];
    for (target, address, reason) in cases {
        let err = probe_refused(target, &ProbePolicy::default()).await;
        let expected = ProbeError::Refused {
            host: address.to_string(),
            address: address.parse().expect("ip"),
            reason,
        };
        assert_eq!(err, expected, "{target}: {err}");
        assert_eq!(err.code(), "probe.refused_address");
    }
}

#[tokio::test]
async fn the_cli_policy_still_refuses_addresses_that_are_never_servers() {
    for target in [
        "0.0.0.0:443",
        "[::]:443",
        "255.255.255.255:443",
        "224.0.0.1:443",
        "[ff02::1]:443",
    ] {
        let err = probe_refused(target, &ProbePolicy::cli()).await;
        assert_eq!(err.code(), "probe.refused_address", "{target}: {err}");
    }
}

#[tokio::test]
async fn refuses_loopback_when_the_policy_does_not_allow_it() {
    let (cert, key) = self_signed("localhost");
    let server = serve(vec![cert], &key, BOTH).await;
    let port = server.addr.port();
    let no_loopback = ProbePolicy {
        allow_loopback: false,
        ..ProbePolicy::default()
    };
    for target in [
        server.target(),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        format!("[::ffff:127.0.0.1]:{port}"),
    ] {
        let err = probe_refused(&target, &no_loopback).await;
        match &err {
            ProbeError::Refused {
                reason: RefusedReason::Loopback,
                ..
            } => {}
            other => panic!("{target}: expected a loopback refusal, got {other:?}"),
        }
    }
    let err = probe_refused(&format!("localhost:{port}"), &no_loopback).await;
    assert!(
        err.to_string().starts_with("localhost resolves to "),
        "{err}"
    );
    assert!(
        server.sni_seen().is_empty(),
        "no ClientHello reached the server"
    );
    // The same server is reachable when loopback is named in the allow-list, so the list made
    // the difference; the console's default refuses it.
    probe(&server.target(), &local())
        .await
        .expect("allowed by --probe-allow");
    assert!(matches!(
        probe_refused(&server.target(), &ProbePolicy::default()).await,
        ProbeError::Refused {
            reason: RefusedReason::Loopback,
            ..
        }
    ));
}

#[tokio::test]
async fn refuses_private_networks_when_the_policy_does_not_allow_them() {
    for target in [
        "10.0.0.1:443",
        "172.16.5.4",
        "192.168.1.1:8443",
        "100.64.0.1:443",
        "[fd12:3456::1]:443",
        "[::ffff:10.1.1.1]:443",
    ] {
        let err = probe_refused(target, &strict()).await;
        assert!(
            matches!(
                err,
                ProbeError::Refused {
                    reason: RefusedReason::Private,
                    ..
                }
            ),
            "{target}: {err:?}"
        );
    }
}

fn local_and_private() -> ProbePolicy {
    ProbePolicy {
        allow_ranges: [
            "127.0.0.0/8",
            "::1/128",
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "fc00::/7",
        ]
        .iter()
        .map(|c| c.parse().expect("cidr"))
        .collect(),
        ..ProbePolicy::default()
    }
}

#[test]
fn policies_classify_addresses() {
    let console = ProbePolicy::default();
    let cli = ProbePolicy::cli();
    let strict = strict();
    let ip = |s: &str| -> IpAddr { s.parse().expect("ip") };
    for a in [
        "8.8.8.8",
        "2606:4700::1111",
        "172.32.0.1",
        "100.128.0.1",
        "64:ff9b::8.8.8.8",
    ] {
        assert_eq!(strict.check(ip(a)), Ok(()), "{a} is public");
    }
    for a in [
        "127.0.0.1",
        "::1",
        "10.0.0.1",
        "172.31.255.255",
        "192.168.0.1",
        "fd12::1",
        "fc00::1",
    ] {
        assert!(
            matches!(
                console.check(ip(a)),
                Err(RefusedReason::Loopback | RefusedReason::Private)
            ),
            "{a}: the console refuses loopback and private by default"
        );
        assert_eq!(
            local_and_private().check(ip(a)),
            Ok(()),
            "{a}: allowed once its range is named"
        );
    }
    assert_eq!(
        console.check(ip("169.254.169.254")),
        Err(RefusedReason::CloudMetadata)
    );
    assert_eq!(
        console.check(ip("169.254.170.2")),
        Err(RefusedReason::CloudMetadata)
    );
    assert_eq!(
        console.check(ip("::169.254.169.254")),
        Err(RefusedReason::CloudMetadata)
    );
    assert_eq!(console.check(ip("febf::1")), Err(RefusedReason::LinkLocal));
    assert_eq!(
        console.check(ip("0.1.2.3")),
        Err(RefusedReason::Unspecified)
    );
    for a in [
        "169.254.169.254",
        "fd00:ec2::254",
        "fe80::1",
        "127.0.0.1",
        "10.0.0.1",
    ] {
        assert_eq!(cli.check(ip(a)), Ok(()), "{a}: the CLI allows it");
    }
    // IPv6 transition ranges are vetted by the IPv4 address they reach: 6to4, Teredo (the
    // client address, inverted), NAT64 local-use (RFC 8215, /48 layout).
    for (a, reason) in [
        ("2002:7f00:1::1", RefusedReason::Loopback),
        ("2002:a9fe:a9fe::", RefusedReason::CloudMetadata),
        ("2002:c0a8:101::1", RefusedReason::Private),
        (
            "2001:0:4136:e378:8000:63bf:80ff:fffe",
            RefusedReason::Loopback,
        ),
        (
            "2001:0:4136:e378:8000:63bf:f5ff:fffe",
            RefusedReason::Private,
        ),
        ("64:ff9b:1:7f00:0:100::", RefusedReason::Loopback),
        ("64:ff9b:1:a9fe:a9:fe00::", RefusedReason::CloudMetadata),
    ] {
        assert_eq!(console.check(ip(a)), Err(reason), "{a}");
    }
    assert_eq!(
        console.check(ip("2002:808:808::1")),
        Ok(()),
        "6to4 of 8.8.8.8 is public"
    );
    assert_eq!(console.handshake_timeout, Duration::from_secs(5));
    assert_eq!(console.connect_timeout, Duration::from_secs(5));
}

// ---------------------------------------------------------------------------------------------
// Targets.

#[tokio::test]
async fn refuses_malformed_targets_with_a_precise_message() {
    let cases = [
        ("", "empty"),
        ("   ", "empty"),
        ("https://api.example.com/", "is a URL"),
        ("api.example.com/health", "path"),
        ("admin@api.example.com", "user name"),
        ("host:0", "out of range"),
        ("host:99999", "out of range"),
        ("host:", "port is missing"),
        ("host:https", "not a number"),
        (":443", "host is missing"),
        ("::1", "in brackets"),
        ("2001:db8::1:443", "in brackets"),
        ("[::1", "without closing"),
        ("[::1]443", "after ']'"),
        ("[10.0.0.1]:443", "not an IPv6 address"),
        ("[fe80::1%eth0]:443", "zone"),
        ("a..b", "empty label"),
        ("-a.example", "starts or ends with '-'"),
        ("api!.example", "contains '!'"),
        ("bücher.example", "punycode"),
        ("127.1", "neither a valid IPv4"),
        ("1.2.3.999:443", "neither a valid IPv4"),
    ];
    for (target, needle) in cases {
        let err = probe_refused(target, &ProbePolicy::default()).await;
        assert_eq!(err.code(), "probe.bad_target", "{target:?}: {err}");
        assert!(
            err.to_string().contains(needle),
            "{target:?}: {err} (expected to mention {needle:?})"
        );
    }
    let err = probe_refused("https://api.example.com:8443/x", &ProbePolicy::default()).await;
    assert!(
        err.to_string().contains("(api.example.com:8443)"),
        "the URL message suggests the target: {err}"
    );

    let label = format!("{}.example", "a".repeat(64));
    assert_eq!(
        probe_refused(&label, &ProbePolicy::default()).await.code(),
        "probe.bad_target"
    );
    let long = format!("{}.example", vec!["a".repeat(61); 4].join("."));
    assert!(long.len() > 253);
    assert_eq!(
        probe_refused(&long, &ProbePolicy::default()).await.code(),
        "probe.bad_target"
    );
}

#[tokio::test]
async fn accepts_the_documented_target_forms() {
    let (cert, key) = self_signed("localhost");
    let server = serve(vec![cert.clone()], &key, BOTH).await;
    let port = server.addr.port();
    for target in [
        format!("127.0.0.1:{port}"),
        format!("[::ffff:127.0.0.1]:{port}"),
        format!(" localhost.:{port} "),
    ] {
        let chain = probe(&target, &local())
            .await
            .unwrap_or_else(|e| panic!("{target}: {e}"));
        assert_eq!(chain.certs_der, vec![cert.to_vec()], "{target}");
    }
    // A bare host means port 443; nothing listens there on a test machine's 127.0.0.1, so the
    // probe must get as far as connecting (not a bad-target error).
    match probe("127.0.0.1", &local()).await {
        Ok(chain) => assert_eq!(chain.address.port(), 443),
        Err(e) => {
            assert!(
                matches!(
                    e.code(),
                    "probe.connect_failed" | "probe.tls_failed" | "probe.timeout"
                ),
                "{e}"
            );
            assert!(e.to_string().contains("127.0.0.1:443"), "{e}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Network failures.

#[tokio::test]
async fn a_silent_server_hits_the_handshake_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tcp); // accepted, never answered
        }
    });
    let policy = ProbePolicy {
        handshake_timeout: Duration::from_millis(300),
        ..local()
    };
    let started = Instant::now();
    let err = probe(&addr.to_string(), &policy)
        .await
        .expect_err("silent server");
    let elapsed = started.elapsed();
    assert_eq!(
        err,
        ProbeError::Timeout {
            stage: ProbeStage::Handshake,
            target: addr.to_string(),
            after: Duration::from_millis(300)
        }
    );
    assert_eq!(err.code(), "probe.timeout");
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(3),
        "took {elapsed:?}"
    );
    assert!(
        err.to_string().contains("did not finish within 300ms"),
        "{err}"
    );
}

#[tokio::test]
async fn a_closed_port_is_a_connect_failure() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let err = probe(&addr.to_string(), &local())
        .await
        .expect_err("closed port");
    assert_eq!(err.code(), "probe.connect_failed", "{err}");
    assert!(err.to_string().contains(&addr.to_string()), "{err}");
}

#[tokio::test]
async fn a_refused_connection_reads_and_waits_like_a_filtered_one() {
    // A closed port answers at once with a reset; a filtered one never answers. The probe waits
    // for its connect deadline either way and says the same thing, so its answers cannot map
    // which ports of a host are open, closed or filtered.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let started = std::time::Instant::now();
    let err = probe(&addr.to_string(), &local())
        .await
        .expect_err("closed port");
    assert!(
        started.elapsed() >= Duration::from_millis(480),
        "answered after {:?}, before the deadline",
        started.elapsed()
    );
    assert_eq!(
        err.to_string(),
        format!("no TLS server answered at {addr} (refused, filtered or unreachable)")
    );
}

#[tokio::test]
async fn a_server_that_hangs_up_is_a_tls_failure() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            drop(tcp);
        }
    });
    let err = probe(&addr.to_string(), &local())
        .await
        .expect_err("hang-up");
    assert_eq!(err.code(), "probe.tls_failed", "{err}");
}

#[tokio::test]
async fn an_unknown_name_is_a_resolution_failure() {
    // `.invalid` never resolves (RFC 6761 §6.4). Without a reachable resolver the lookup may
    // instead run out of time; both are resolution-stage failures, nothing else is.
    let policy = ProbePolicy {
        resolve_timeout: Duration::from_secs(3),
        ..ProbePolicy::default()
    };
    let err = probe("no-such-host.invalid:443", &policy)
        .await
        .expect_err("unknown name");
    match &err {
        ProbeError::Resolve(m) => assert!(
            m.starts_with("no-such-host.invalid could not be resolved"),
            "{m}"
        ),
        ProbeError::Timeout {
            stage: ProbeStage::Resolve,
            ..
        } => {}
        other => panic!("expected a resolution failure, got {other:?}"),
    }
}

#[test]
fn refusal_messages_name_the_host_the_address_and_the_class() {
    let e = ProbeError::Refused {
        host: "evil.example".into(),
        address: "169.254.169.254".parse().expect("ip"),
        reason: RefusedReason::CloudMetadata,
    };
    assert_eq!(
        e.to_string(),
        "evil.example resolves to 169.254.169.254, a cloud metadata service address, where instance credentials are \
         served; this console's configuration does not allow probing it"
    );
    let e = ProbeError::Refused {
        host: "0.0.0.0".into(),
        address: "0.0.0.0".parse().expect("ip"),
        reason: RefusedReason::Unspecified,
    };
    assert_eq!(e.to_string(), "0.0.0.0 is the unspecified address (0.0.0.0/8 or ::), which stands for this host; it cannot be probed");
}
