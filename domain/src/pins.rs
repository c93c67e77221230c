//! SPKI pins (RFC 7469 §2.4): the base64 SHA-256 of a certificate's DER-encoded
//! SubjectPublicKeyInfo. Shared by certificates, pin sets, exports and the rotation planner.

use base64::{engine::general_purpose::STANDARD, Engine as _};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A SHA-256 SPKI pin: exactly 32 bytes, shown as standard base64 with padding (44 chars), the
/// form Android, iOS, TrustKit and OkHttp all take.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pin([u8; 32]);

/// Why a pin value is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    #[error("pin is not valid base64")]
    NotBase64,
    #[error("pin decodes to {0} bytes; a SHA-256 pin has exactly 32")]
    WrongLength(usize),
}

impl Pin {
    /// The pin of a DER-encoded SubjectPublicKeyInfo.
    pub fn of_spki_der(spki_der: &[u8]) -> Self {
        Pin(Sha256::digest(spki_der).into())
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Pin(bytes)
    }

    /// Parses `base64` (optionally prefixed `sha256/`, as OkHttp writes it).
    pub fn parse(input: &str) -> Result<Self, PinError> {
        let s = input.trim();
        let s = s.strip_prefix("sha256/").unwrap_or(s);
        let bytes = STANDARD.decode(s).map_err(|_| PinError::NotBase64)?;
        let len = bytes.len();
        let arr: [u8; 32] = bytes.try_into().map_err(|_| PinError::WrongLength(len))?;
        Ok(Pin(arr))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }
}

impl std::fmt::Display for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pin({})", self.to_base64())
    }
}

impl Serialize for Pin {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_base64())
    }
}

impl<'de> Deserialize<'de> for Pin {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Pin::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_input_hash_is_the_well_known_placeholder() {
        assert_eq!(
            Pin::of_spki_der(b"").to_base64(),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    #[test]
    fn parse_accepts_okhttp_prefix_and_refuses_wrong_lengths() {
        let p = Pin::of_spki_der(b"x");
        assert_eq!(Pin::parse(&format!("sha256/{p}")), Ok(p));
        assert_eq!(Pin::parse(&p.to_base64()), Ok(p));
        assert_eq!(Pin::parse("AAAA"), Err(PinError::WrongLength(3)));
        assert_eq!(Pin::parse("!!"), Err(PinError::NotBase64));
        let json = serde_json::to_string(&p).expect("serialises");
        assert_eq!(serde_json::from_str::<Pin>(&json).expect("parses"), p);
    }
}
