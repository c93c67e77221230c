//! `domain::certs` end to end: pins against the `openssl` CLI and committed vectors, the
//! internal CA checked by `openssl verify`, CSRs checked by `openssl req -verify` and signed by
//! `openssl x509 -req`, and the chain import rules.
//!
//! Where `openssl` is missing, the tests say so on stderr and still assert the committed
//! vectors; they never pass silently without comparing against something.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use chrono::{Duration, Utc};
use domain::certs::*;
use secrecy::ExposeSecret;

fn openssl() -> Option<&'static str> {
    static FOUND: OnceLock<bool> = OnceLock::new();
    let found = *FOUND.get_or_init(|| {
        let found = Command::new("openssl")
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            // Written to the real stderr, past the test harness capture: never silent.
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                b"openssl CLI not found: compared against the committed vectors only\n",
            );
        }
        found
    });
    found.then_some("openssl")
}

fn sh(script: &str) -> (bool, String, String) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .output()
        .expect("sh runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(dir: &Path, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).expect("writes test file");
    p
}

/// `openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64`
fn openssl_cert_pin(cert: &Path) -> String {
    let (ok, out, err) = sh(&format!(
        "openssl x509 -in '{}' -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64",
        cert.display()
    ));
    assert!(ok, "openssl pipeline failed: {err}");
    out
}

/// `openssl pkey -pubout -outform der | openssl dgst -sha256 -binary | base64`
fn openssl_key_pin(key: &Path) -> String {
    let (ok, out, err) = sh(&format!(
        "openssl pkey -in '{}' -pubout -outform der | openssl dgst -sha256 -binary | base64",
        key.display()
    ));
    assert!(ok, "openssl pipeline failed: {err}");
    out
}

fn key_pem(pkcs8: &secrecy::SecretSlice<u8>) -> String {
    encode_pem(PemLabel::PrivateKey, pkcs8.expose_secret())
}

fn dns(names: &[&str]) -> Vec<San> {
    parse_sans(names).expect("valid names")
}

struct Pki {
    root: IssuedCert,
    inter: IssuedCert,
}

/// One root + intermediate per test binary (RSA keys are slow in debug builds).
fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let root = create_root_ca(&CaParams {
            organization: Some("Palisade tests".into()),
            ..CaParams::root("Palisade Test Root")
        })
        .expect("root CA");
        let inter = create_intermediate_ca(
            &root.ca_material(),
            &CaParams::intermediate("Palisade Test Intermediate"),
        )
        .expect("intermediate CA");
        Pki { root, inter }
    })
}

fn rsa_key() -> &'static GeneratedKey {
    static KEY: OnceLock<GeneratedKey> = OnceLock::new();
    KEY.get_or_init(|| generate_key(KeyType::Rsa2048).expect("RSA key"))
}

fn key_of(kt: KeyType) -> GeneratedKey {
    match kt {
        KeyType::Rsa2048 => rsa_key().clone(),
        other => generate_key(other).expect("key"),
    }
}

#[test]
fn committed_vectors_match_their_openssl_pins() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let vectors = std::fs::read_to_string(data.join("vectors.txt")).expect("vectors.txt");
    let mut n = 0;
    for line in vectors.lines().filter(|l| !l.trim().is_empty()) {
        let (file, pin) = line.split_once(' ').expect("'file pin' lines");
        let pem = std::fs::read(data.join(file)).expect("vector file");
        let found = pins_in_pem(&pem).expect("vector parses");
        assert_eq!(found.len(), 1, "{file}");
        assert_eq!(
            found[0].pin.to_base64(),
            pin,
            "{file}: pin differs from the committed openssl pin"
        );
        assert_eq!(found[0].source, PinSource::Certificate);
        let der = &parse_pem(&pem).expect("pem")[0].der;
        assert_eq!(cert_info(der).expect("info").spki_pin.to_base64(), pin);
        // The same certificate as raw DER.
        assert_eq!(pins_in_pem(der).expect("der")[0].pin.to_base64(), pin);
        if openssl().is_some() {
            assert_eq!(
                openssl_cert_pin(&data.join(file)),
                pin,
                "{file}: openssl today disagrees with the committed pin"
            );
        }
        n += 1;
    }
    assert_eq!(n, 3, "one vector per key type");
}

#[test]
fn pins_equal_openssl_for_certificates_and_keys_of_every_type() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = pki().inter.ca_material();
    for kt in [KeyType::EcdsaP256, KeyType::Rsa2048, KeyType::Ed25519] {
        let key = key_of(kt);
        let cert = issue_server_cert(
            &ca,
            &ServerCertParams {
                key: KeySource::Existing(key.pkcs8.clone()),
                ..ServerCertParams::new(dns(&["api.example.com"]))
            },
        )
        .expect("issued");
        assert_eq!(
            cert.info.spki_pin,
            key.pin(),
            "{kt:?}: the certificate carries the requested key"
        );
        assert_eq!(cert.info.key_type, kt.label());
        let kpem = key_pem(&key.pkcs8);
        let found = pins_in_pem(format!("{}{}", cert.cert_pem, kpem).as_bytes()).expect("pins");
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].description, "CN=api.example.com");
        assert_eq!(
            found[1].description,
            format!("private key ({})", kt.label())
        );
        assert_eq!(found[0].pin, found[1].pin);
        let Some(_) = openssl() else { continue };
        let cert_path = write(dir.path(), &format!("{kt:?}.crt"), &cert.cert_pem);
        let key_path = write(dir.path(), &format!("{kt:?}.key"), kpem.as_bytes());
        assert_eq!(
            found[0].pin.to_base64(),
            openssl_cert_pin(&cert_path),
            "{kt:?} certificate"
        );
        assert_eq!(
            found[1].pin.to_base64(),
            openssl_key_pin(&key_path),
            "{kt:?} private key"
        );
        // The public key as openssl writes it.
        let (ok, pubpem, err) = sh(&format!(
            "openssl pkey -in '{}' -pubout",
            key_path.display()
        ));
        assert!(ok, "{err}");
        let p = pins_in_pem(pubpem.as_bytes()).expect("public key");
        assert_eq!(p[0].pin, found[1].pin);
        assert_eq!(p[0].description, format!("public key ({})", kt.label()));
    }
}

#[test]
fn openssl_made_keys_in_every_container_pin_like_openssl() {
    let Some(_) = openssl() else {
        // Containers are also covered without openssl by the generated keys above.
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().display();
    let cases = [
        (
            "p256.key",
            "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256",
            "ECDSA P-256",
        ),
        (
            "p384.key",
            "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384",
            "ECDSA P-384",
        ),
        ("ed.key", "openssl genpkey -algorithm ED25519", "Ed25519"),
        (
            "rsa.key",
            "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048",
            "RSA 2048",
        ),
        (
            "rsa3072.key",
            "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072",
            "RSA 3072",
        ),
    ];
    for (file, cmd, label) in cases {
        let (ok, _, err) = sh(&format!("{cmd} -out {d}/{file}"));
        assert!(ok, "{err}");
        let path = dir.path().join(file);
        let expected = openssl_key_pin(&path);
        let mut variants = vec![std::fs::read(&path).expect("key")];
        // SEC1 "EC PRIVATE KEY" (with and without the EC PARAMETERS block) and PKCS #1.
        if file.starts_with('p') {
            variants.push(sh(&format!("openssl ec -in {d}/{file}")).1.into_bytes());
            let params = sh(&format!("openssl ec -in {d}/{file} -param_out")).1;
            assert!(params.contains("BEGIN EC PARAMETERS"), "{params}");
            let sec1 = sh(&format!("openssl ec -in {d}/{file}")).1;
            variants.push(format!("{params}\n{sec1}\n").into_bytes());
        }
        if file.starts_with("rsa") {
            variants.push(
                sh(&format!("openssl rsa -in {d}/{file} -traditional"))
                    .1
                    .into_bytes(),
            );
            let pkcs1_pub = sh(&format!("openssl rsa -in {d}/{file} -RSAPublicKey_out")).1;
            assert!(pkcs1_pub.contains("BEGIN RSA PUBLIC KEY"));
            assert_eq!(
                pins_in_pem(pkcs1_pub.as_bytes()).expect("RSA PUBLIC KEY")[0]
                    .pin
                    .to_base64(),
                expected
            );
        }
        for v in variants {
            let text = String::from_utf8_lossy(&v).into_owned();
            let found = pins_in_pem(&v).unwrap_or_else(|e| panic!("{file}: {e}\n{text}"));
            assert_eq!(found.len(), 1, "{file}");
            assert_eq!(found[0].pin.to_base64(), expected, "{file}: {text}");
            assert_eq!(found[0].description, format!("private key ({label})"));
            // A key from any container loads, normalised to PKCS #8, for issuing.
            let key = parse_private_key_pem(&v).expect("loads");
            assert_eq!(key.pin().to_base64(), expected);
            let again =
                load_pkcs8(key.pkcs8().expose_secret()).expect("normalised PKCS #8 reloads");
            assert_eq!(again.pin(), key.pin());
        }
    }
}

#[test]
fn internal_ca_certificates_pass_openssl_verify() {
    let p = pki();
    assert!(p.root.info.is_ca && p.root.info.self_issued);
    assert!(p.inter.info.is_ca && !p.inter.info.self_issued);
    assert_eq!(
        p.root.info.subject,
        "CN=Palisade Test Root, O=Palisade tests"
    );
    assert_eq!(p.root.info.serial_hex.len(), 32, "128-bit serial");
    let leaf = issue_server_cert(
        &p.inter.ca_material(),
        &ServerCertParams::new(dns(&[
            "api.example.com",
            "*.api.example.com",
            "192.0.2.7",
            "2001:db8::7",
        ])),
    )
    .expect("issued");
    assert_eq!(
        leaf.info.sans,
        vec![
            "api.example.com",
            "*.api.example.com",
            "192.0.2.7",
            "2001:db8::7"
        ]
    );
    assert_eq!((leaf.info.not_after - leaf.info.not_before).num_days(), 90);
    assert!(!leaf.info.is_ca);
    let Some(_) = openssl() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let root = write(dir.path(), "root.pem", &p.root.cert_pem);
    let inter = write(dir.path(), "inter.pem", &p.inter.cert_pem);
    let leaf_path = write(dir.path(), "leaf.pem", &leaf.cert_pem);
    let (ok, out, err) = sh(&format!(
        "openssl verify -x509_strict -purpose sslserver -CAfile '{}' -untrusted '{}' '{}'",
        root.display(),
        inter.display(),
        leaf_path.display()
    ));
    assert!(ok, "openssl verify: {out} {err}");
    let (_, text, _) = sh(&format!(
        "openssl x509 -in '{}' -noout -text",
        leaf_path.display()
    ));
    for needle in [
        "TLS Web Server Authentication",
        "Digital Signature",
        "CA:FALSE",
        "Authority Key Identifier",
        "Subject Key Identifier",
        "DNS:*.api.example.com",
        "IP Address:2001:DB8:0:0:0:0:0:7",
    ] {
        assert!(text.contains(needle), "leaf lacks {needle}:\n{text}");
    }
    let (_, text, _) = sh(&format!(
        "openssl x509 -in '{}' -noout -text",
        inter.display()
    ));
    for needle in [
        "CA:TRUE, pathlen:0",
        "Certificate Sign, CRL Sign",
        "Subject Key Identifier",
        "Authority Key Identifier",
    ] {
        assert!(
            text.contains(needle),
            "intermediate lacks {needle}:\n{text}"
        );
    }
}

#[test]
fn rsa_and_ed25519_cas_issue_verifiable_certificates() {
    for kt in [KeyType::Rsa2048, KeyType::Ed25519] {
        let root = create_root_ca(&CaParams {
            key_type: kt,
            ..CaParams::root(format!("{kt:?} root"))
        })
        .expect("root");
        assert_eq!(root.info.key_type, kt.label());
        let leaf = issue_server_cert(
            &root.ca_material(),
            &ServerCertParams {
                key: KeySource::Generate(kt),
                ..ServerCertParams::new(dns(&["rsa.example.com"]))
            },
        )
        .expect("leaf");
        let chain = format!("{}{}", leaf.cert_pem, root.cert_pem);
        let imported = import_chain(
            chain.as_bytes(),
            Some(key_pem(&leaf.key_pkcs8).as_bytes()),
            Utc::now(),
        )
        .expect("imports");
        assert_eq!(imported.certs.len(), 2);
        if kt == KeyType::Rsa2048 {
            let der = &leaf.info.der;
            // keyEncipherment (bit 2) is set for RSA: KeyUsage BIT STRING 0xa0 = digitalSignature + keyEncipherment.
            assert!(
                der.windows(4).any(|w| w == [0x03, 0x02, 0x05, 0xa0]),
                "RSA leaf has digitalSignature + keyEncipherment"
            );
        }
    }
}

#[test]
fn next_key_first_issues_for_the_pre_generated_key() {
    let ca = pki().inter.ca_material();
    let next = generate_key(KeyType::EcdsaP256).expect("next key");
    let cert = issue_server_cert(
        &ca,
        &ServerCertParams {
            key: KeySource::Existing(next.pkcs8.clone()),
            validity_days: 30,
            sans: dns(&["api.example.com"]),
        },
    )
    .expect("issued");
    assert_eq!(cert.info.spki_pin, next.pin());
    assert_eq!(cert.key_pkcs8.expose_secret(), next.pkcs8.expose_secret());
    assert_eq!((cert.info.not_after - cert.info.not_before).num_days(), 30);
}

#[test]
fn issuing_refuses_bad_cas_and_parameters() {
    let p = pki();
    let inter = p.inter.ca_material();
    let code = |r: Result<IssuedCert, CertError>| r.map(|_| ()).map_err(|e| e.code()).err();
    // pathLen 0 intermediate cannot sign another CA.
    assert_eq!(
        code(create_intermediate_ca(
            &inter,
            &CaParams::intermediate("Sub")
        )),
        Some("ca.not_ca")
    );
    // A server certificate is not a CA.
    let leaf =
        issue_server_cert(&inter, &ServerCertParams::new(dns(&["a.example.com"]))).expect("leaf");
    assert_eq!(
        code(issue_server_cert(
            &leaf.ca_material(),
            &ServerCertParams::new(dns(&["b.example.com"]))
        )),
        Some("ca.not_ca")
    );
    // CA certificate with another CA's key.
    let wrong = CaMaterial {
        cert_der: p.inter.info.der.clone(),
        key_pkcs8: p.root.key_pkcs8.clone(),
    };
    assert_eq!(
        code(issue_server_cert(
            &wrong,
            &ServerCertParams::new(dns(&["b.example.com"]))
        )),
        Some("key.mismatch")
    );
    // Outliving the CA, bad SANs, bad validity, bad existing key.
    let long = ServerCertParams {
        validity_days: SERVER_MAX_DAYS,
        ..ServerCertParams::new(dns(&["b.example.com"]))
    };
    let short_ca = create_root_ca(&CaParams {
        validity_days: 10,
        ..CaParams::root("Short")
    })
    .expect("root");
    assert_eq!(
        code(issue_server_cert(&short_ca.ca_material(), &long)),
        Some("params.invalid")
    );
    assert_eq!(
        code(issue_server_cert(&inter, &ServerCertParams::new(vec![]))),
        Some("san.empty")
    );
    assert_eq!(
        code(issue_server_cert(
            &inter,
            &ServerCertParams::new(vec![San::Dns("a.*.example.com".into())])
        )),
        Some("san.invalid")
    );
    assert_eq!(
        code(issue_server_cert(
            &inter,
            &ServerCertParams {
                validity_days: 0,
                ..ServerCertParams::new(dns(&["a.example.com"]))
            }
        )),
        Some("params.invalid")
    );
    let garbage = ServerCertParams {
        key: KeySource::Existing(vec![0x30, 0x00].into()),
        ..ServerCertParams::new(dns(&["a.example.com"]))
    };
    assert_eq!(
        code(issue_server_cert(&inter, &garbage)),
        Some("key.malformed")
    );
    assert_eq!(server_validity_warnings(365).len(), 1);
}

#[test]
fn csr_passes_openssl_verify_and_only_its_certificate_is_accepted() {
    let p = pki();
    let dir = tempfile::tempdir().expect("tempdir");
    for kt in [KeyType::EcdsaP256, KeyType::Rsa2048, KeyType::Ed25519] {
        let key = key_of(kt);
        let csr_pem = create_csr(
            key.pkcs8.expose_secret(),
            &dns(&["api.example.com", "10.0.0.1"]),
            "",
        )
        .expect("csr");
        assert!(csr_pem.starts_with("-----BEGIN CERTIFICATE REQUEST-----\n"));
        let der = &parse_pem(csr_pem.as_bytes()).expect("pem")[0].der;
        let info = parse_csr(der).expect("self-signature verifies");
        assert_eq!(info.subject, "CN=api.example.com");
        assert_eq!(info.sans, vec!["api.example.com", "10.0.0.1"]);
        assert_eq!(info.spki_pin, key.pin());
        let found = pins_in_pem(csr_pem.as_bytes()).expect("pins");
        assert_eq!(
            (found[0].pin, found[0].description.as_str()),
            (key.pin(), "CSR CN=api.example.com")
        );

        // The internal CA stands in for the external one: issued for the CSR's key, accepted.
        let signed = issue_server_cert(
            &p.inter.ca_material(),
            &ServerCertParams {
                key: KeySource::Existing(key.pkcs8.clone()),
                ..ServerCertParams::new(dns(&["api.example.com"]))
            },
        )
        .expect("signed");
        let chain = format!("{}{}", signed.cert_pem, p.inter.cert_pem);
        let ok =
            accept_signed_cert(&info.spki_der, chain.as_bytes(), Utc::now()).expect("accepted");
        assert_eq!(ok.leaf().spki_pin, key.pin());
        assert!(ok.key_pkcs8.is_none());
        // A certificate for any other key is refused.
        let other = issue_server_cert(
            &p.inter.ca_material(),
            &ServerCertParams::new(dns(&["api.example.com"])),
        )
        .expect("other");
        let chain = format!("{}{}", other.cert_pem, p.inter.cert_pem);
        let err =
            accept_signed_cert(&info.spki_der, chain.as_bytes(), Utc::now()).expect_err("refused");
        assert_eq!(err.code(), "key.mismatch");
        assert!(err.to_string().contains(&key.pin().to_base64()), "{err}");

        let Some(_) = openssl() else { continue };
        let csr_path = write(dir.path(), &format!("{kt:?}.csr"), &csr_pem);
        let (ok, out, err) = sh(&format!(
            "openssl req -verify -noout -in '{}'",
            csr_path.display()
        ));
        assert!(
            ok,
            "openssl req -verify refused the {kt:?} CSR: {out} {err}"
        );
        assert!(format!("{out}{err}").contains("verify OK"), "{out} {err}");
        // A real external signer: openssl signs the CSR with our intermediate, we accept it.
        let ca_crt = write(dir.path(), "ca.crt", &p.inter.cert_pem);
        let ca_key = write(dir.path(), "ca.key", key_pem(&p.inter.key_pkcs8));
        let out_path = dir.path().join(format!("{kt:?}-signed.crt"));
        let (ok, _, err) = sh(&format!(
            "openssl x509 -req -in '{}' -CA '{}' -CAkey '{}' -set_serial 0x1234 -days 30 -copy_extensions copy -out '{}'",
            csr_path.display(),
            ca_crt.display(),
            ca_key.display(),
            out_path.display()
        ));
        assert!(ok, "openssl x509 -req: {err}");
        let mut chain = std::fs::read(&out_path).expect("signed cert");
        chain.extend_from_slice(p.inter.cert_pem.as_bytes());
        let accepted = accept_signed_cert(&info.spki_der, &chain, Utc::now())
            .expect("openssl-signed certificate accepted");
        assert_eq!(accepted.leaf().sans, vec!["api.example.com", "10.0.0.1"]);
    }
}

#[test]
fn csr_with_a_bad_self_signature_is_refused() {
    let key = generate_key(KeyType::EcdsaP256).expect("key");
    let pem = create_csr(key.pkcs8.expose_secret(), &dns(&["a.example.com"]), "a").expect("csr");
    let mut der = parse_pem(pem.as_bytes()).expect("pem")[0].der.clone();
    let last = der.len() - 1;
    der[last] ^= 0x01;
    assert_eq!(
        parse_csr(&der).map_err(|e| e.code()).err(),
        Some("csr.bad_signature")
    );
    let bad_pem = encode_pem(PemLabel::CertificateRequest, &der);
    assert_eq!(
        pins_in_pem(bad_pem.as_bytes()).map_err(|e| e.code()).err(),
        Some("csr.bad_signature")
    );
}

fn chain_fixture() -> (IssuedCert, String, String, String) {
    let p = pki();
    let leaf = issue_server_cert(
        &p.inter.ca_material(),
        &ServerCertParams::new(dns(&["api.example.com"])),
    )
    .expect("leaf");
    let l = leaf.cert_pem.clone();
    (leaf, l, p.inter.cert_pem.clone(), p.root.cert_pem.clone())
}

#[test]
fn chain_import_round_trip_and_each_refusal() {
    let (leaf, l, i, r) = chain_fixture();
    let key = key_pem(&leaf.key_pkcs8);
    let now = Utc::now();
    let code = |chain: &str, key: Option<&str>, now| {
        import_chain(chain.as_bytes(), key.map(str::as_bytes), now)
            .map(|_| ())
            .map_err(|e| e.code())
            .err()
    };

    let full = format!("{l}{i}{r}");
    let ok = import_chain(full.as_bytes(), Some(key.as_bytes()), now).expect("imports");
    assert_eq!(ok.certs.len(), 3);
    assert_eq!(ok.leaf().spki_pin, leaf.info.spki_pin);
    assert_eq!(
        ok.certs[2].subject,
        "CN=Palisade Test Root, O=Palisade tests"
    );
    assert!(
        ok.warnings.iter().any(|w| w.contains("root")),
        "{:?}",
        ok.warnings
    );
    let stored = ok.key_pkcs8.expect("key kept");
    assert_eq!(stored.expose_secret(), leaf.key_pkcs8.expose_secret());
    // Without the root, without the key, as raw DER: fine too.
    assert!(import_chain(format!("{l}{i}").as_bytes(), None, now)
        .expect("no root")
        .warnings
        .is_empty());
    let alone = import_chain(&leaf.info.der, None, now).expect("DER");
    assert_eq!(alone.certs.len(), 1);
    assert!(
        alone.warnings[0].contains("intermediate"),
        "{:?}",
        alone.warnings
    );

    // Key mismatch, naming both pins; a CA's key is recognised as such.
    let other = generate_key(KeyType::EcdsaP256).expect("key");
    assert_eq!(
        code(&full, Some(&key_pem(&other.pkcs8)), now),
        Some("key.mismatch")
    );
    let inter_key = key_pem(&pki().inter.key_pkcs8);
    let err = import_chain(full.as_bytes(), Some(inter_key.as_bytes()), now).expect_err("mismatch");
    assert!(
        err.to_string().contains("It belongs to certificate 2"),
        "{err}"
    );

    // Order.
    for wrong in [
        format!("{i}{l}{r}"),
        format!("{l}{r}{i}"),
        format!("{r}{i}{l}"),
        format!("{i}{l}"),
        format!("{l}{i}{i}"),
    ] {
        assert_eq!(code(&wrong, None, now), Some("chain.order"), "{wrong}");
    }
    // Unrelated certificate.
    let stranger = create_root_ca(&CaParams::root("Stranger")).expect("root");
    assert_eq!(
        code(&format!("{l}{}", stranger.cert_pem), None, now),
        Some("chain.broken")
    );
    // Same names, other key: the signature does not verify.
    let twin = create_root_ca(&CaParams {
        organization: Some("Palisade tests".into()),
        ..CaParams::root("Palisade Test Root")
    })
    .expect("root");
    assert_eq!(
        code(&format!("{l}{i}{}", twin.cert_pem), None, now),
        Some("chain.bad_signature")
    );
    // Dates.
    assert_eq!(
        code(&full, None, now + Duration::days(91)),
        Some("cert.expired")
    );
    assert_eq!(
        code(&full, None, now - Duration::days(1)),
        Some("cert.not_yet_valid")
    );
    let soon = import_chain(full.as_bytes(), None, now + Duration::days(75)).expect("still valid");
    assert!(
        soon.warnings
            .iter()
            .any(|w| w.contains("certificate 1 (CN=api.example.com) expires in")),
        "{:?}",
        soon.warnings
    );

    // Encrypted and missing keys, key blocks in the chain.
    assert_eq!(code(&full, Some("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n"), now), Some("key.encrypted"));
    assert_eq!(code(&full, Some("   \n"), now), Some("key.missing"));
    assert_eq!(
        code(&format!("{l}{key}"), None, now),
        Some("pem.unexpected_block")
    );
    assert_eq!(code("", None, now), Some("chain.empty"));
}

#[test]
fn issuer_that_is_not_a_ca_is_refused() {
    // A leaf that "issues" another certificate: rcgen signs with the leaf's key on request.
    let (leaf, l, _, _) = chain_fixture();
    let leaf_key = rcgen::KeyPair::try_from(leaf.key_pkcs8.expose_secret()).expect("leaf key");
    let issuer = rcgen::Issuer::from_ca_cert_der(&leaf.info.der.as_slice().into(), leaf_key)
        .expect("issuer");
    let child_key = rcgen::KeyPair::generate().expect("key");
    let child = rcgen::CertificateParams::new(vec!["evil.example.com".to_string()])
        .expect("params")
        .signed_by(&child_key, &issuer)
        .expect("signed");
    let chain = format!("{}{l}", encode_pem(PemLabel::Certificate, child.der()));
    let err = import_chain(chain.as_bytes(), None, Utc::now()).expect_err("refused");
    assert_eq!(err.code(), "chain.issuer_not_ca", "{err}");
}

/// Regenerates `tests/data/rsa2048-e3.pem`, the RSA-2048 key with public exponent 3 used by the
/// malformed-input corpus. Made with the `rsa` crate; slow in debug builds, hence committed.
#[test]
#[ignore = "regenerates a committed test vector"]
fn regenerate_rsa_e3_vector() {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    let key =
        rsa::RsaPrivateKey::new_with_exp(&mut rand::rngs::OsRng, 2048, &rsa::BigUint::from(3u32))
            .expect("e=3 key");
    let pem = key.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).expect("pem");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/rsa2048-e3.pem");
    std::fs::write(path, pem.as_bytes()).expect("writes");
}

#[test]
fn a_csr_for_a_hostname_over_64_characters_names_it_by_the_san_alone() {
    // 4 labels of 40: 163 characters, a valid DNS name but over RFC 5280's common-name bound.
    let long = [
        "a".repeat(40),
        "b".repeat(40),
        "c".repeat(40),
        "example.com".into(),
    ]
    .join(".");
    let key = generate_key(KeyType::EcdsaP256).expect("key");
    let pem = create_csr(key.pkcs8.expose_secret(), &dns(&[&long]), "").expect("csr");
    let short = create_csr(key.pkcs8.expose_secret(), &dns(&["a.example.com"]), "").expect("csr");
    // openssl reads both: the long one has an empty subject and the name in its SAN.
    let text = |pem: &str| {
        let mut child = std::process::Command::new("openssl")
            .args(["req", "-noout", "-subject", "-text", "-verify"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("openssl (apt-get install openssl)");
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(pem.as_bytes())
            .expect("write");
        let out = child.wait_with_output().expect("openssl");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let long_text = text(&pem);
    assert!(
        long_text.lines().any(|l| l.trim_end() == "subject="),
        "{long_text}"
    );
    assert!(long_text.contains(&format!("DNS:{long}")), "{long_text}");
    let short_text = text(&short);
    assert!(
        short_text
            .lines()
            .any(|l| l == "subject=CN = a.example.com"),
        "{short_text}"
    );
}
