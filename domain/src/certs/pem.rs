//! A bounded, strict PEM reader and writer (RFC 7468 textual encodings of PKIX structures).
//!
//! Invariants: input above [`MAX_PEM_INPUT`] bytes or with more than [`MAX_PEM_BLOCKS`] blocks
//! is refused before any decoding, so time and memory are linear in at most 1 MiB; every label
//! must be one of [`PemLabel`]; BEGIN and END labels must match; the body must be strict base64
//! (RFC 4648 §4 alphabet, canonical padding, as RFC 7468 §3 `strictbase64text`; whitespace
//! between characters is tolerated as in §3 `laxbase64text`). Explanatory text *before* a BEGIN
//! line is ignored (RFC 7468 §5.2, e.g. OpenSSL's "Bag Attributes" or `subject=` lines), but any
//! non-whitespace after the last END line is refused as trailing data. RFC 1421 headers are
//! refused, and `Proc-Type: 4,ENCRYPTED` is reported as an encrypted key.

use base64::{engine::general_purpose::STANDARD, Engine as _};

use super::CertError;

/// Largest PEM (or DER) input accepted, in bytes: 1 MiB.
pub const MAX_PEM_INPUT: usize = 1 << 20;
/// Most PEM blocks accepted in one input.
pub const MAX_PEM_BLOCKS: usize = 64;

/// The PEM labels Palisade reads (RFC 7468 §5–§13, plus OpenSSL's "traditional" key labels).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PemLabel {
    /// `CERTIFICATE` (RFC 7468 §5; `X509 CERTIFICATE` and `X.509 CERTIFICATE` accepted too).
    Certificate,
    /// `CERTIFICATE REQUEST` (RFC 7468 §7; `NEW CERTIFICATE REQUEST` accepted too).
    CertificateRequest,
    /// `PRIVATE KEY`: unencrypted PKCS #8 (RFC 7468 §10, RFC 5958).
    PrivateKey,
    /// `ENCRYPTED PRIVATE KEY` (RFC 7468 §11): recognised only to be refused with `key.encrypted`.
    EncryptedPrivateKey,
    /// `EC PRIVATE KEY`: SEC1 ECPrivateKey (RFC 5915).
    EcPrivateKey,
    /// `RSA PRIVATE KEY`: PKCS #1 RSAPrivateKey (RFC 8017 §A.1.2).
    RsaPrivateKey,
    /// `PUBLIC KEY`: SubjectPublicKeyInfo (RFC 7468 §13).
    PublicKey,
    /// `RSA PUBLIC KEY`: PKCS #1 RSAPublicKey (RFC 8017 §A.1.1).
    RsaPublicKey,
    /// `EC PARAMETERS`: written by `openssl ecparam -genkey` before the key; carries no key.
    EcParameters,
}

impl PemLabel {
    fn parse(label: &str) -> Option<Self> {
        Some(match label {
            "CERTIFICATE" | "X509 CERTIFICATE" | "X.509 CERTIFICATE" => PemLabel::Certificate,
            "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST" => PemLabel::CertificateRequest,
            "PRIVATE KEY" => PemLabel::PrivateKey,
            "ENCRYPTED PRIVATE KEY" => PemLabel::EncryptedPrivateKey,
            "EC PRIVATE KEY" => PemLabel::EcPrivateKey,
            "RSA PRIVATE KEY" => PemLabel::RsaPrivateKey,
            "PUBLIC KEY" => PemLabel::PublicKey,
            "RSA PUBLIC KEY" => PemLabel::RsaPublicKey,
            "EC PARAMETERS" => PemLabel::EcParameters,
            _ => return None,
        })
    }

    /// The canonical label text, as written after `-----BEGIN `.
    pub fn as_str(&self) -> &'static str {
        match self {
            PemLabel::Certificate => "CERTIFICATE",
            PemLabel::CertificateRequest => "CERTIFICATE REQUEST",
            PemLabel::PrivateKey => "PRIVATE KEY",
            PemLabel::EncryptedPrivateKey => "ENCRYPTED PRIVATE KEY",
            PemLabel::EcPrivateKey => "EC PRIVATE KEY",
            PemLabel::RsaPrivateKey => "RSA PRIVATE KEY",
            PemLabel::PublicKey => "PUBLIC KEY",
            PemLabel::RsaPublicKey => "RSA PUBLIC KEY",
            PemLabel::EcParameters => "EC PARAMETERS",
        }
    }

    /// Whether the block holds a private key (encrypted or not).
    pub fn is_private_key(&self) -> bool {
        matches!(
            self,
            PemLabel::PrivateKey
                | PemLabel::EncryptedPrivateKey
                | PemLabel::EcPrivateKey
                | PemLabel::RsaPrivateKey
        )
    }
}

/// One decoded PEM block. `Debug` omits the bytes: a block may hold a private key.
#[derive(Clone, PartialEq, Eq)]
pub struct PemBlock {
    pub label: PemLabel,
    /// 1-based line of the BEGIN line, for messages.
    pub line: usize,
    pub der: Vec<u8>,
}

impl std::fmt::Debug for PemBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PemBlock({} at line {}, {} bytes)",
            self.label.as_str(),
            self.line,
            self.der.len()
        )
    }
}

impl Drop for PemBlock {
    fn drop(&mut self) {
        if self.label.is_private_key() {
            zeroize::Zeroize::zeroize(&mut self.der);
        }
    }
}

fn label_hint(label: &str) -> &'static str {
    match label {
        "OPENSSH PRIVATE KEY" => " (convert it with `ssh-keygen -p -m PKCS8 -f KEY`)",
        "TRUSTED CERTIFICATE" => " (OpenSSL trust format; export it with `openssl x509 -in FILE`)",
        "DSA PRIVATE KEY" => " (DSA keys are not supported)",
        "PKCS7" | "CMS" => " (extract the certificates with `openssl pkcs7 -print_certs`)",
        _ => "",
    }
}

fn is_base64_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'='
}

/// Parses every PEM block of `input`, in order. See the module documentation for the rules.
pub fn parse_pem(input: &[u8]) -> Result<Vec<PemBlock>, CertError> {
    if input.len() > MAX_PEM_INPUT {
        return Err(CertError::PemTooLarge {
            size: input.len(),
            limit: MAX_PEM_INPUT,
        });
    }
    struct Open {
        label: PemLabel,
        text: String,
        line: usize,
        body: Vec<u8>,
    }
    let mut blocks: Vec<PemBlock> = Vec::new();
    let mut open: Option<Open> = None;
    // First line of text seen since the last END line (explanatory text or trailing garbage).
    let mut stray_text: Option<usize> = None;

    for (idx, raw_line) in input.split(|&b| b == b'\n').enumerate() {
        let line_no = idx + 1;
        let line = raw_line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        let boundary = |prefix: &[u8]| -> Option<String> {
            let rest = line.strip_prefix(prefix)?;
            let label = rest.strip_suffix(b"-----")?;
            Some(String::from_utf8_lossy(label).into_owned())
        };
        match open.as_mut() {
            None => {
                if let Some(text) = boundary(b"-----BEGIN ") {
                    let Some(label) = PemLabel::parse(&text) else {
                        return Err(CertError::PemUnknownLabel {
                            line: line_no,
                            hint: label_hint(&text),
                            label: truncate(&text),
                        });
                    };
                    if blocks.len() >= MAX_PEM_BLOCKS {
                        return Err(CertError::PemTooManyBlocks {
                            limit: MAX_PEM_BLOCKS,
                        });
                    }
                    stray_text = None;
                    open = Some(Open {
                        label,
                        text,
                        line: line_no,
                        body: Vec::new(),
                    });
                } else if line.starts_with(b"-----") {
                    return Err(CertError::PemMalformed {
                        line: line_no,
                        detail: "expected a -----BEGIN LABEL----- line".into(),
                    });
                } else if stray_text.is_none() {
                    stray_text = Some(line_no);
                }
            }
            Some(block) => {
                if let Some(text) = boundary(b"-----END ") {
                    if text != block.text {
                        return Err(CertError::PemLabelMismatch {
                            line: line_no,
                            begin_line: block.line,
                            begin: block.text.clone(),
                            end: truncate(&text),
                        });
                    }
                    let der =
                        STANDARD
                            .decode(&block.body)
                            .map_err(|e| CertError::PemBadBase64 {
                                line: block.line,
                                detail: format!(
                                    "the \"{}\" block is not valid base64 ({e})",
                                    block.text
                                ),
                            })?;
                    zeroize::Zeroize::zeroize(&mut block.body);
                    if der.is_empty() {
                        return Err(CertError::PemMalformed {
                            line: block.line,
                            detail: format!("the \"{}\" block is empty", block.text),
                        });
                    }
                    blocks.push(PemBlock {
                        label: block.label,
                        line: block.line,
                        der,
                    });
                    open = None;
                } else if line.starts_with(b"-") {
                    // Base64 never contains '-': a cut or mistyped boundary line.
                    return Err(CertError::PemMalformed {
                        line: line_no,
                        detail: format!("expected base64 or -----END {}-----", block.text),
                    });
                } else if line.contains(&b':') {
                    let text = String::from_utf8_lossy(line);
                    if text.starts_with("Proc-Type:") && text.contains("ENCRYPTED") {
                        return Err(CertError::KeyEncrypted);
                    }
                    return Err(CertError::PemHeaders { line: line_no });
                } else {
                    for &b in line {
                        if b.is_ascii_whitespace() {
                            continue;
                        }
                        if !is_base64_char(b) {
                            return Err(CertError::PemBadBase64 {
                                line: line_no,
                                detail: if b.is_ascii_graphic() {
                                    format!("character '{}' is not base64", b as char)
                                } else {
                                    format!("byte 0x{b:02x} is not base64")
                                },
                            });
                        }
                        block.body.push(b);
                    }
                }
            }
        }
    }
    if let Some(block) = open {
        return Err(CertError::PemUnterminated {
            line: block.line,
            label: block.text,
        });
    }
    if blocks.is_empty() {
        return Err(CertError::PemNoBlocks);
    }
    if let Some(line) = stray_text {
        return Err(CertError::PemTrailingData { line });
    }
    Ok(blocks)
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

/// Encodes `der` as one PEM block with 64-character lines and `\n` line ends (RFC 7468 §2).
pub fn encode_pem(label: PemLabel, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 64);
    out.push_str("-----BEGIN ");
    out.push_str(label.as_str());
    out.push_str("-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 output is ASCII"));
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label.as_str());
    out.push_str("-----\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(input: &str) -> &'static str {
        match parse_pem(input.as_bytes()) {
            Ok(_) => "ok",
            Err(e) => e.code(),
        }
    }

    #[test]
    fn round_trips_and_accepts_explanatory_text_and_crlf() {
        let pem = encode_pem(PemLabel::Certificate, &[0x30, 0x03, 0x02, 0x01, 0x05]);
        let blocks = parse_pem(pem.as_bytes()).expect("parses");
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].der, vec![0x30, 0x03, 0x02, 0x01, 0x05]);
        let crlf = format!("subject=CN = x\r\n{}\r\n\r\n", pem.replace('\n', "\r\n"));
        assert_eq!(parse_pem(crlf.as_bytes()).expect("parses")[0].der.len(), 5);
    }

    #[test]
    fn refuses_each_malformation_with_its_code() {
        let good = encode_pem(PemLabel::Certificate, b"0123456789");
        assert_eq!(code(&good), "ok");
        assert_eq!(code(&format!("{good}junk")), "pem.trailing_data");
        assert_eq!(
            code(&good.replace("END CERTIFICATE", "END PRIVATE KEY")),
            "pem.label_mismatch"
        );
        assert_eq!(
            code(&good.replace("CERTIFICATE", "X509 CRL")),
            "pem.unknown_label"
        );
        assert_eq!(code(&good[..good.len() - 30]), "pem.unterminated");
        assert_eq!(code(&good.replacen("MDEy", "M!Ey", 1)), "pem.bad_base64");
        assert_eq!(code(&good.replacen("MDEy", "MDE", 1)), "pem.bad_base64");
        assert_eq!(code("hello"), "pem.no_blocks");
        assert_eq!(
            code("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"),
            "pem.malformed"
        );
        assert_eq!(
            code("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nAAAA\n-----END RSA PRIVATE KEY-----\n"),
            "key.encrypted"
        );
        assert_eq!(
            code(&good.repeat(MAX_PEM_BLOCKS + 1)),
            "pem.too_many_blocks"
        );
        assert_eq!(code(&" ".repeat(MAX_PEM_INPUT + 1)), "pem.too_large");
    }
}
