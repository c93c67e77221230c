//! Malformed-input corpus for the PEM / DER / key / CSR parsers (QUALITY.md, parser row):
//! every case must return `Err` with one of its expected stable codes, never panic, and the
//! whole corpus must finish in bounded time. Cases that need the `openssl` CLI (curves and
//! encrypted PKCS #8 as OpenSSL writes them) are added when it is installed; hand-made
//! equivalents of each are always present.

use std::process::Command;
use std::time::{Duration as StdDuration, Instant};

use chrono::Utc;
use der::asn1::{AnyRef, ObjectIdentifier, OctetStringRef};
use der::Encode;
use domain::certs::*;
use secrecy::ExposeSecret;

#[derive(Clone, Copy, Debug)]
enum Target {
    /// `import_chain(input, None)`.
    Chain,
    /// `import_chain(valid chain, Some(input))`.
    Key,
    /// `pins_in_pem(input)`.
    Pins,
    /// `parse_csr(input)` (DER).
    Csr,
}

struct Case {
    name: String,
    target: Target,
    input: Vec<u8>,
    expect: &'static [&'static str],
}

const TRUNCATED: &[&str] = &[
    "pem.unterminated",
    "pem.malformed",
    "chain.empty",
    "pem.no_blocks",
    "key.missing",
];
const CORRUPT_CERT: &[&str] = &[
    "x509.malformed",
    "chain.bad_signature",
    "chain.broken",
    "chain.order",
    "chain.issuer_not_ca",
    "cert.expired",
    "cert.not_yet_valid",
    "pem.bad_base64",
    "key.unsupported_algorithm",
    "key.unsupported_curve",
];

fn case(
    cases: &mut Vec<Case>,
    name: impl Into<String>,
    target: Target,
    input: impl Into<Vec<u8>>,
    expect: &'static [&'static str],
) {
    cases.push(Case {
        name: name.into(),
        target,
        input: input.into(),
        expect,
    });
}

fn openssl(args: &str) -> Option<Vec<u8>> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("openssl {args}"))
        .output()
        .ok()?;
    out.status.success().then_some(out.stdout)
}

/// DER length octets (X.690 §8.1.3).
fn der_len(n: usize) -> Vec<u8> {
    if n < 0x80 {
        return vec![n as u8];
    }
    let bytes: Vec<u8> = n
        .to_be_bytes()
        .iter()
        .copied()
        .skip_while(|&b| b == 0)
        .collect();
    let mut out = vec![0x80 | bytes.len() as u8];
    out.extend(bytes);
    out
}

/// `depth` SEQUENCEs nested in each other around a NULL, definite lengths, built outside-in.
fn nested_sequences(depth: usize) -> Vec<u8> {
    let mut sizes = vec![2usize];
    for k in 1..=depth {
        let inner = sizes[k - 1];
        sizes.push(1 + der_len(inner).len() + inner);
    }
    let mut out = Vec::with_capacity(sizes[depth]);
    for k in (1..=depth).rev() {
        out.push(0x30);
        out.extend(der_len(sizes[k - 1]));
    }
    out.extend([0x05, 0x00]);
    out
}

fn ec_sec1(curve: &str, scalar: &[u8], public: Option<&[u8]>) -> Vec<u8> {
    sec1::EcPrivateKey {
        private_key: scalar,
        parameters: Some(sec1::EcParameters::NamedCurve(
            ObjectIdentifier::new_unwrap(curve),
        )),
        public_key: public,
    }
    .to_der()
    .expect("encodes")
}

fn pkcs8_of(alg: &str, params: Option<AnyRef<'_>>, private_key: &[u8]) -> Vec<u8> {
    pkcs8::PrivateKeyInfo::new(
        pkcs8::AlgorithmIdentifierRef {
            oid: ObjectIdentifier::new_unwrap(alg),
            parameters: params,
        },
        private_key,
    )
    .to_der()
    .expect("encodes")
}

fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let body: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("ascii"))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        body.join("\n")
    )
}

#[test]
fn malformed_inputs_are_refused_with_stable_codes_fast_and_without_panic() {
    let root = create_root_ca(&CaParams::root("Corpus Root")).expect("root");
    let leaf = issue_server_cert(
        &root.ca_material(),
        &ServerCertParams::new(parse_sans(&["api.example.com"]).expect("sans")),
    )
    .expect("leaf");
    let leaf_pem = leaf.cert_pem.clone();
    let key_pem = encode_pem(PemLabel::PrivateKey, leaf.key_pkcs8.expose_secret());
    let chain = format!("{leaf_pem}{}", root.cert_pem);
    let now = Utc::now();
    let mut cases: Vec<Case> = Vec::new();

    // 1. Truncated PEM, at every 7th byte (a cut that only drops the final newline still parses).
    for cut in (0..leaf_pem.len() - 1).step_by(7) {
        case(
            &mut cases,
            format!("certificate PEM cut at {cut}"),
            Target::Chain,
            &leaf_pem.as_bytes()[..cut],
            TRUNCATED,
        );
    }
    for cut in (0..key_pem.len() - 1).step_by(7) {
        case(
            &mut cases,
            format!("key PEM cut at {cut}"),
            Target::Key,
            &key_pem.as_bytes()[..cut],
            TRUNCATED,
        );
    }
    // 2. Truncated DER, at every 7th byte.
    let der = leaf.info.der.clone();
    for cut in (1..der.len()).step_by(7) {
        case(
            &mut cases,
            format!("certificate DER cut at {cut}"),
            Target::Pins,
            &der[..cut],
            &["x509.malformed"],
        );
    }
    // 3. One base64 character changed, at 40 places across the body.
    let body_start = leaf_pem.find('\n').expect("BEGIN line") + 1;
    let body_end = leaf_pem.rfind("-----END").expect("END line");
    let positions: Vec<usize> = (body_start..body_end)
        .filter(|&i| leaf_pem.as_bytes()[i] != b'\n' && leaf_pem.as_bytes()[i] != b'=')
        .collect();
    for k in 0..40 {
        let at = positions[k * positions.len() / 40];
        let mut bytes = leaf_pem.clone().into_bytes();
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        let mut input = bytes;
        input.extend_from_slice(root.cert_pem.as_bytes());
        case(
            &mut cases,
            format!("base64 changed at byte {at}"),
            Target::Chain,
            input,
            CORRUPT_CERT,
        );
    }
    // 4. Labels.
    case(
        &mut cases,
        "CRL label",
        Target::Chain,
        leaf_pem.replace("CERTIFICATE", "X509 CRL"),
        &["pem.unknown_label"],
    );
    case(
        &mut cases,
        "lower-case label",
        Target::Chain,
        leaf_pem.replace("CERTIFICATE", "certificate"),
        &["pem.unknown_label"],
    );
    case(
        &mut cases,
        "OpenSSH key",
        Target::Key,
        key_pem.replace("PRIVATE KEY", "OPENSSH PRIVATE KEY"),
        &["pem.unknown_label"],
    );
    case(
        &mut cases,
        "BEGIN/END mismatch",
        Target::Chain,
        leaf_pem.replace("END CERTIFICATE", "END CERTIFICATE REQUEST"),
        &["pem.label_mismatch"],
    );
    case(
        &mut cases,
        "certificate labelled CSR",
        Target::Pins,
        leaf_pem.replace("CERTIFICATE", "CERTIFICATE REQUEST"),
        &["csr.malformed"],
    );
    case(
        &mut cases,
        "certificate labelled key",
        Target::Pins,
        leaf_pem.replace("CERTIFICATE", "PRIVATE KEY"),
        &["key.malformed"],
    );
    case(
        &mut cases,
        "key labelled certificate",
        Target::Pins,
        key_pem.replace("PRIVATE KEY", "CERTIFICATE"),
        &["x509.malformed"],
    );
    case(
        &mut cases,
        "key labelled public key",
        Target::Pins,
        key_pem.replace("PRIVATE KEY", "PUBLIC KEY"),
        &["x509.malformed"],
    );
    case(
        &mut cases,
        "certificate as RSA public key",
        Target::Pins,
        leaf_pem.replace("CERTIFICATE", "RSA PUBLIC KEY"),
        &["x509.malformed"],
    );
    case(
        &mut cases,
        "CSR in the chain",
        Target::Chain,
        leaf_pem.replace("CERTIFICATE", "CERTIFICATE REQUEST"),
        &["pem.unexpected_block"],
    );
    case(
        &mut cases,
        "key in the chain",
        Target::Chain,
        format!("{leaf_pem}{key_pem}"),
        &["pem.unexpected_block"],
    );
    case(
        &mut cases,
        "truncated BEGIN line",
        Target::Chain,
        leaf_pem.replacen("-----BEGIN CERTIFICATE-----", "-----BEGIN CERTIFICATE", 1),
        &["pem.malformed"],
    );
    case(
        &mut cases,
        "END without BEGIN",
        Target::Chain,
        "-----END CERTIFICATE-----\n",
        &["pem.malformed"],
    );
    // 5. Two PEMs.
    case(
        &mut cases,
        "two keys",
        Target::Key,
        format!("{key_pem}{key_pem}"),
        &["key.multiple"],
    );
    case(
        &mut cases,
        "certificate in the key input",
        Target::Key,
        format!("{leaf_pem}{key_pem}"),
        &["pem.unexpected_block"],
    );
    case(
        &mut cases,
        "END and BEGIN on one line",
        Target::Chain,
        chain.replacen(
            "-----END CERTIFICATE-----\n",
            "-----END CERTIFICATE-----",
            1,
        ),
        &["pem.label_mismatch"],
    );
    case(
        &mut cases,
        "second PEM is garbage",
        Target::Chain,
        format!("{leaf_pem}-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"),
        &["pem.bad_base64"],
    );
    case(
        &mut cases,
        "second PEM is empty",
        Target::Chain,
        format!("{leaf_pem}-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"),
        &["pem.malformed"],
    );
    case(
        &mut cases,
        "second PEM unterminated",
        Target::Chain,
        format!("{leaf_pem}-----BEGIN CERTIFICATE-----\nMIIB\n"),
        &["pem.unterminated"],
    );
    // 6. Trailing garbage.
    for (i, tail) in [
        "x",
        "\0\0",
        "MIIB",
        "-----",
        "garbage\n\n",
        "\u{feff}",
        "-----BEGIN",
    ]
    .iter()
    .enumerate()
    {
        case(
            &mut cases,
            format!("trailing garbage {i}"),
            Target::Chain,
            format!("{chain}{tail}"),
            &["pem.trailing_data", "pem.malformed"],
        );
        case(
            &mut cases,
            format!("key trailing garbage {i}"),
            Target::Key,
            format!("{key_pem}{tail}"),
            &["pem.trailing_data", "pem.malformed"],
        );
    }
    // 7. Bad base64 and headers.
    case(
        &mut cases,
        "non-ASCII in base64",
        Target::Chain,
        leaf_pem.replacen('M', "é", 1),
        &["pem.bad_base64"],
    );
    case(
        &mut cases,
        "padding in the middle",
        Target::Chain,
        leaf_pem.replacen("MII", "M=I", 1),
        &["pem.bad_base64"],
    );
    case(
        &mut cases,
        "RFC 1421 header",
        Target::Chain,
        leaf_pem.replacen("-----\n", "-----\nComment: hi\n\n", 1),
        &["pem.headers"],
    );
    case(&mut cases, "Proc-Type encrypted", Target::Key,
        "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n", &["key.encrypted"]);
    case(
        &mut cases,
        "65 blocks",
        Target::Pins,
        leaf_pem.repeat(MAX_PEM_BLOCKS + 1),
        &["pem.too_many_blocks"],
    );
    // 8. DER length overflow and deep nesting, under every label and as raw DER.
    let overflow = vec![0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x30, 0x00];
    let long_length = vec![0x30, 0x89, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0x30, 0x00];
    let deep = nested_sequences(10_000);
    assert!(deep.len() > 30_000);
    let mut indefinite = [0x30u8, 0x80].repeat(10_000);
    indefinite.extend([0u8, 0].repeat(10_000));
    for (what, bad) in [
        ("length overflow", &overflow),
        ("9-byte length", &long_length),
        ("10,000 nested SEQUENCEs", &deep),
        ("10,000 indefinite lengths", &indefinite),
    ] {
        case(
            &mut cases,
            format!("{what} as DER"),
            Target::Pins,
            bad.clone(),
            &["x509.malformed"],
        );
        case(
            &mut cases,
            format!("{what} as DER chain"),
            Target::Chain,
            bad.clone(),
            &["x509.malformed"],
        );
        case(
            &mut cases,
            format!("{what} as CSR DER"),
            Target::Csr,
            bad.clone(),
            &["csr.malformed"],
        );
        for (label, code) in [
            ("CERTIFICATE", "x509.malformed"),
            ("CERTIFICATE REQUEST", "csr.malformed"),
            ("PUBLIC KEY", "x509.malformed"),
            ("RSA PUBLIC KEY", "x509.malformed"),
            ("PRIVATE KEY", "key.malformed"),
            ("EC PRIVATE KEY", "key.malformed"),
            ("RSA PRIVATE KEY", "key.malformed"),
        ] {
            let expect: &'static [&'static str] = match code {
                "x509.malformed" => &["x509.malformed"],
                "csr.malformed" => &["csr.malformed"],
                _ => &["key.malformed"],
            };
            case(
                &mut cases,
                format!("{what} as {label}"),
                Target::Pins,
                pem(label, bad),
                expect,
            );
        }
    }
    // 9. Oversized input.
    let big = leaf_pem.repeat(2 * 1024 * 1024 / leaf_pem.len() + 1);
    assert!(big.len() > 2 * 1024 * 1024);
    case(
        &mut cases,
        "2 MB chain",
        Target::Chain,
        big.clone(),
        &["pem.too_large"],
    );
    case(
        &mut cases,
        "2 MB pins",
        Target::Pins,
        big.clone(),
        &["pem.too_large"],
    );
    case(&mut cases, "2 MB key", Target::Key, big, &["pem.too_large"]);
    case(
        &mut cases,
        "2 MB DER",
        Target::Pins,
        vec![0x30; 2 * 1024 * 1024],
        &["pem.too_large"],
    );
    // 10. RSA keys outside the policy: 1024 bits (generated now) and e = 3 (committed, made
    //     with the rsa crate by `regenerate_rsa_e3_vector`).
    {
        use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
        use rsa::pkcs8::EncodePrivateKey;
        let small = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 1024).expect("RSA-1024");
        let e3_pem = include_str!("data/rsa2048-e3.pem");
        let e3 = rsa::RsaPrivateKey::from_pkcs1_pem(e3_pem).expect("e=3 vector");
        for (what, key, code) in [
            ("RSA-1024", &small, "key.rsa_too_small"),
            ("RSA e=3", &e3, "key.rsa_bad_exponent"),
        ] {
            let expect: &'static [&'static str] = if code == "key.rsa_too_small" {
                &["key.rsa_too_small"]
            } else {
                &["key.rsa_bad_exponent"]
            };
            let pkcs1 = key
                .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
                .expect("pem")
                .to_string();
            let pkcs8 = key
                .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
                .expect("pem")
                .to_string();
            for (form, text) in [("PKCS #1", pkcs1), ("PKCS #8", pkcs8)] {
                case(
                    &mut cases,
                    format!("{what} {form} key"),
                    Target::Key,
                    text.clone(),
                    expect,
                );
                case(
                    &mut cases,
                    format!("{what} {form} pins"),
                    Target::Pins,
                    text,
                    expect,
                );
            }
        }
    }
    // 11. Curves outside the policy, hand-made (SEC1 and PKCS #8).
    let ec_oid = "1.2.840.10045.2.1";
    for (curve, oid, len) in [
        ("secp256k1", "1.3.132.0.10", 32),
        ("P-192", "1.2.840.10045.3.1.1", 24),
        ("P-521", "1.3.132.0.35", 66),
        ("brainpoolP256r1", "1.3.36.3.3.2.8.1.1.7", 32),
    ] {
        let sec1 = ec_sec1(oid, &vec![0x11; len], None);
        let curve_oid = ObjectIdentifier::new_unwrap(oid);
        let pk8 = pkcs8_of(ec_oid, Some(AnyRef::from(&curve_oid)), &sec1);
        case(
            &mut cases,
            format!("{curve} SEC1"),
            Target::Key,
            pem("EC PRIVATE KEY", &sec1),
            &["key.unsupported_curve"],
        );
        case(
            &mut cases,
            format!("{curve} PKCS #8"),
            Target::Key,
            pem("PRIVATE KEY", &pk8),
            &["key.unsupported_curve"],
        );
        case(
            &mut cases,
            format!("{curve} pins"),
            Target::Pins,
            pem("PRIVATE KEY", &pk8),
            &["key.unsupported_curve"],
        );
    }
    // Other broken or unsupported keys.
    let p256 = "1.2.840.10045.3.1.7";
    case(
        &mut cases,
        "P-256 scalar zero",
        Target::Key,
        pem("EC PRIVATE KEY", &ec_sec1(p256, &[0; 32], None)),
        &["key.malformed"],
    );
    case(
        &mut cases,
        "P-256 scalar above the order",
        Target::Key,
        pem("EC PRIVATE KEY", &ec_sec1(p256, &[0xff; 32], None)),
        &["key.malformed"],
    );
    {
        use p256::elliptic_curve::sec1::ToEncodedPoint;
        let a = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let b = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let wrong_pub = b.public_key().to_encoded_point(false);
        let mismatched = ec_sec1(p256, &a.to_bytes(), Some(wrong_pub.as_bytes()));
        case(
            &mut cases,
            "EC key with another key's public point",
            Target::Key,
            pem("EC PRIVATE KEY", &mismatched),
            &["key.malformed"],
        );
    }
    case(
        &mut cases,
        "EC key without a curve",
        Target::Key,
        pem(
            "EC PRIVATE KEY",
            &sec1::EcPrivateKey {
                private_key: &[1; 32],
                parameters: None,
                public_key: None,
            }
            .to_der()
            .expect("der"),
        ),
        &["key.unsupported_curve"],
    );
    let short_seed = OctetStringRef::new(&[7; 16])
        .expect("octets")
        .to_der()
        .expect("der");
    case(
        &mut cases,
        "Ed25519 16-byte seed",
        Target::Key,
        pem("PRIVATE KEY", &pkcs8_of("1.3.101.112", None, &short_seed)),
        &["key.malformed"],
    );
    let seed = OctetStringRef::new(&[7; 32])
        .expect("octets")
        .to_der()
        .expect("der");
    case(
        &mut cases,
        "X25519 key",
        Target::Key,
        pem("PRIVATE KEY", &pkcs8_of("1.3.101.110", None, &seed)),
        &["key.unsupported_algorithm"],
    );
    case(
        &mut cases,
        "Ed448 key",
        Target::Pins,
        pem("PRIVATE KEY", &pkcs8_of("1.3.101.113", None, &seed)),
        &["key.unsupported_algorithm"],
    );
    case(
        &mut cases,
        "DSA key",
        Target::Key,
        pem("PRIVATE KEY", &pkcs8_of("1.2.840.10040.4.1", None, &seed)),
        &["key.unsupported_algorithm"],
    );
    case(
        &mut cases,
        "RSA OID over EC key",
        Target::Key,
        pem(
            "PRIVATE KEY",
            &pkcs8_of("1.2.840.113549.1.1.1", None, &ec_sec1(p256, &[1; 32], None)),
        ),
        &["key.malformed"],
    );
    // 12. Encrypted PKCS #8 (RFC 5958 §3), hand-made: PBES2 identifier + 16 opaque bytes.
    let mut encrypted = vec![
        0x30, 0x1f, 0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d,
        0x04, 0x10,
    ];
    encrypted.extend([0x5a; 16]);
    case(
        &mut cases,
        "encrypted PKCS #8",
        Target::Key,
        pem("ENCRYPTED PRIVATE KEY", &encrypted),
        &["key.encrypted"],
    );
    case(
        &mut cases,
        "encrypted PKCS #8 labelled PRIVATE KEY",
        Target::Key,
        pem("PRIVATE KEY", &encrypted),
        &["key.encrypted"],
    );
    case(
        &mut cases,
        "encrypted PKCS #8 in the pin tool",
        Target::Pins,
        pem("ENCRYPTED PRIVATE KEY", &encrypted),
        &["key.encrypted"],
    );
    // 13. 10,000 names in a CSR and in a certificate, and a CSR with a bad self-signature.
    let names: Vec<String> = (0..10_000).map(|i| format!("h{i}.example.com")).collect();
    let pair = rcgen::KeyPair::generate().expect("key");
    let params = rcgen::CertificateParams::new(names.clone()).expect("params");
    let big_csr = params.serialize_request(&pair).expect("csr").der().to_vec();
    case(
        &mut cases,
        "CSR with 10,000 SANs",
        Target::Pins,
        pem("CERTIFICATE REQUEST", &big_csr),
        &["x509.too_many_names"],
    );
    case(
        &mut cases,
        "CSR with 10,000 SANs (DER)",
        Target::Csr,
        big_csr,
        &["x509.too_many_names"],
    );
    let big_cert = params.self_signed(&pair).expect("cert").der().to_vec();
    case(
        &mut cases,
        "certificate with 10,000 SANs",
        Target::Chain,
        pem("CERTIFICATE", &big_cert),
        &["x509.too_many_names"],
    );
    let csr_pem = create_csr(
        leaf.key_pkcs8.expose_secret(),
        &parse_sans(&["api.example.com"]).expect("sans"),
        "",
    )
    .expect("csr");
    let mut bad_csr = parse_pem(csr_pem.as_bytes()).expect("pem")[0].der.clone();
    let n = bad_csr.len();
    bad_csr[n - 2] ^= 0x40;
    case(
        &mut cases,
        "CSR with a bad self-signature",
        Target::Pins,
        pem("CERTIFICATE REQUEST", &bad_csr),
        &["csr.bad_signature", "csr.malformed"],
    );
    case(
        &mut cases,
        "CSR with a bad self-signature (DER)",
        Target::Csr,
        bad_csr,
        &["csr.bad_signature", "csr.malformed"],
    );
    let csr_der = parse_pem(csr_pem.as_bytes()).expect("pem")[0].der.clone();
    let mut trailing = csr_der.clone();
    trailing.push(0);
    case(
        &mut cases,
        "CSR with a trailing byte",
        Target::Csr,
        trailing,
        &["csr.malformed"],
    );
    // 14. Pseudo-random bytes (deterministic), text and binary.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..20 {
        let len = 1 + (i * 97) % 900;
        let mut bytes: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        bytes[0] = if i % 2 == 0 { 0x30 } else { b'Q' };
        case(
            &mut cases,
            format!("random bytes {i}"),
            Target::Pins,
            bytes,
            &["x509.malformed", "pem.no_blocks", "pem.malformed"],
        );
    }

    // 15. What needs the openssl CLI: keys and certificates exactly as OpenSSL writes them.
    let mut with_openssl = 0;
    if openssl("version").is_some() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path().display();
        for (curve, name) in [
            ("secp256k1", "secp256k1"),
            ("prime192v1", "P-192"),
            ("secp521r1", "P-521"),
        ] {
            if let Some(k) = openssl(&format!("ecparam -name {curve} -genkey")) {
                case(
                    &mut cases,
                    format!("openssl {name} key"),
                    Target::Key,
                    k.clone(),
                    &["key.unsupported_curve"],
                );
                case(
                    &mut cases,
                    format!("openssl {name} key pins"),
                    Target::Pins,
                    k,
                    &["key.unsupported_curve"],
                );
                with_openssl += 2;
            }
        }
        if let Some(k) = openssl(&format!("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out {d}/k.pem && openssl pkcs8 -topk8 -v2 aes-256-cbc -passout pass:secret -in {d}/k.pem")) {
            assert!(String::from_utf8_lossy(&k).contains("ENCRYPTED PRIVATE KEY"));
            case(&mut cases, "openssl encrypted PKCS #8", Target::Key, k, &["key.encrypted"]);
            with_openssl += 1;
        }
        if let Some(k) = openssl(&format!("genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out {d}/r.pem && openssl rsa -in {d}/r.pem -traditional -aes128 -passout pass:secret")) {
            case(&mut cases, "openssl encrypted traditional RSA key", Target::Key, k, &["key.encrypted"]);
            with_openssl += 1;
        }
        if let Some(c) = openssl("req -x509 -newkey ec -pkeyopt ec_paramgen_curve:secp256k1 -nodes -keyout /dev/null -subj /CN=k1 -days 2") {
            case(&mut cases, "openssl secp256k1 certificate", Target::Chain, c, &["key.unsupported_curve"]);
            with_openssl += 1;
        }
        if let Some(c) =
            openssl("req -x509 -newkey rsa:1024 -nodes -keyout /dev/null -subj /CN=small -days 2")
        {
            case(
                &mut cases,
                "openssl RSA-1024 certificate",
                Target::Chain,
                c,
                &["key.rsa_too_small"],
            );
            with_openssl += 1;
        }
        if let Some(c) = openssl("req -x509 -newkey rsa:2048 -pkeyopt rsa_keygen_pubexp:3 -nodes -keyout /dev/null -subj /CN=e3 -days 2") {
            case(&mut cases, "openssl RSA e=3 certificate", Target::Chain, c, &["key.rsa_bad_exponent"]);
            with_openssl += 1;
        }
        assert!(
            with_openssl >= 8,
            "openssl is installed but only {with_openssl} of its cases could be made"
        );
    } else {
        // Written to the real stderr, past the test harness capture: never silent.
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            concat!(
                "openssl CLI not found: the corpus runs its hand-made cases only",
                "\n"
            )
            .as_bytes(),
        );
    }

    assert!(cases.len() >= 150, "only {} cases", cases.len());
    let started = Instant::now();
    let mut failures = Vec::new();
    for c in &cases {
        let one = Instant::now();
        let result = match c.target {
            Target::Chain => import_chain(&c.input, None, now).map(|_| ()),
            Target::Key => import_chain(chain.as_bytes(), Some(&c.input), now).map(|_| ()),
            Target::Pins => pins_in_pem(&c.input).map(|_| ()),
            Target::Csr => parse_csr(&c.input).map(|_| ()),
        };
        // Every input also goes through the other entry points: none may panic.
        let _ = parse_pem(&c.input);
        let _ = pins_in_pem(&c.input);
        let _ = parse_private_key_pem(&c.input);
        let _ = cert_info(&c.input);
        match result {
            Ok(()) => failures.push(format!("{}: accepted", c.name)),
            Err(e) if !c.expect.contains(&e.code()) => failures.push(format!(
                "{}: {} ({e}), expected one of {:?}",
                c.name,
                e.code(),
                c.expect
            )),
            Err(_) => {}
        }
        if one.elapsed() > StdDuration::from_secs(1) {
            failures.push(format!("{}: took {:?}", c.name, one.elapsed()));
        }
    }
    let elapsed = started.elapsed();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert!(
        elapsed < StdDuration::from_secs(10),
        "corpus took {elapsed:?}"
    );
    eprintln!(
        "{} malformed inputs refused in {elapsed:?} ({with_openssl} made with openssl)",
        cases.len()
    );
}
