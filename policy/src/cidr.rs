//! IP address ranges in CIDR notation: `a.b.c.d/len` (RFC 4632 §3.1) and `x:x::x/len`
//! (RFC 4291 §2.3), parsed here with `core::net` so the same code runs in the browser.
//!
//! Invariants: a [`Cidr`] always has a prefix length valid for its family; it keeps the address
//! as written (host bits included) so validation can point at them, and every comparison uses
//! the [`Cidr::network`] (host bits cleared). IPv4 and IPv4-mapped IPv6 (`::ffff:a.b.c.d`,
//! RFC 4291 §2.5.5.2) are the same addresses: a dual-stack listener reports IPv4 clients in the
//! mapped form, and `10.0.0.0/8` must still match them.

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use core::str::FromStr;

/// An address range. Parse with [`Cidr::parse`] / `str::parse`; a bare address is a single
/// host (`/32` or `/128`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix_len: u8,
}

/// Why a text is not a CIDR range; `Display` gives a sentence for the console.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CidrError {
    Empty,
    Whitespace,
    /// The address part is neither IPv4 nor IPv6.
    BadAddress(String),
    /// `fe80::1%eth0`: zone ids name an interface of one host, never a range (RFC 6874).
    ZoneId,
    /// The part after `/` is not a decimal number.
    BadPrefix(String),
    PrefixTooLong {
        len: u32,
        max: u8,
    },
}

impl fmt::Display for CidrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CidrError::Empty => write!(f, "the range is empty"),
            CidrError::Whitespace => write!(f, "the range contains spaces"),
            CidrError::BadAddress(a) if a.contains(':') => {
                write!(f, "“{a}” is not an IPv6 address (RFC 4291 §2.2)")
            }
            CidrError::BadAddress(a) => write!(
                f,
                "“{a}” is not an IPv4 address (four numbers 0–255 without leading zeros, \
                 like 192.0.2.0)"
            ),
            CidrError::ZoneId => write!(f, "zone ids (“%…”) are not allowed in a range"),
            CidrError::BadPrefix(p) => write!(
                f,
                "the prefix length “{p}” is not a number (write it like /24)"
            ),
            CidrError::PrefixTooLong { len, max } => {
                let family = if *max == 32 { "IPv4" } else { "IPv6" };
                write!(
                    f,
                    "the prefix length /{len} is longer than {max}, the {family} maximum"
                )
            }
        }
    }
}

impl std::error::Error for CidrError {}

impl Cidr {
    /// A range from an address and a prefix length (≤ 32 for IPv4, ≤ 128 for IPv6).
    pub fn new(addr: IpAddr, prefix_len: u8) -> Result<Self, CidrError> {
        let max = max_len(addr);
        if prefix_len > max {
            return Err(CidrError::PrefixTooLong {
                len: u32::from(prefix_len),
                max,
            });
        }
        Ok(Cidr { addr, prefix_len })
    }

    /// Parses `addr/len` or a bare `addr`. Strict: no spaces, no zone id, decimal length
    /// without sign.
    pub fn parse(s: &str) -> Result<Self, CidrError> {
        if s.is_empty() {
            return Err(CidrError::Empty);
        }
        if s.chars().any(char::is_whitespace) {
            return Err(CidrError::Whitespace);
        }
        let (addr_text, len_text) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        if addr_text.contains('%') {
            return Err(CidrError::ZoneId);
        }
        let addr: IpAddr = addr_text
            .parse()
            .map_err(|_| CidrError::BadAddress(addr_text.to_string()))?;
        let prefix_len = match len_text {
            None => max_len(addr),
            Some(l) => {
                if l.is_empty() || l.len() > 3 || !l.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(CidrError::BadPrefix(l.to_string()));
                }
                let len: u32 = l.parse().map_err(|_| CidrError::BadPrefix(l.to_string()))?;
                let max = max_len(addr);
                if len > u32::from(max) {
                    return Err(CidrError::PrefixTooLong { len, max });
                }
                len as u8
            }
        };
        Ok(Cidr { addr, prefix_len })
    }

    /// The address as written (host bits possibly set).
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// True when bits after the prefix are set (`10.0.0.1/8`): the range is the same as its
    /// [`network`](Cidr::network), but the writer probably meant something else.
    pub fn has_host_bits(&self) -> bool {
        self.network().addr != self.addr
    }

    /// The same range with the host bits cleared (`10.0.0.1/8` → `10.0.0.0/8`).
    pub fn network(&self) -> Cidr {
        let addr = match self.addr {
            IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from_bits(a.to_bits() & mask32(self.prefix_len))),
            IpAddr::V6(a) => {
                IpAddr::V6(Ipv6Addr::from_bits(a.to_bits() & mask128(self.prefix_len)))
            }
        };
        Cidr {
            addr,
            prefix_len: self.prefix_len,
        }
    }

    /// Whether `ip` is in the range (IPv4 and IPv4-mapped IPv6 are the same address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (net, len) = self.as_v6();
        (v6_bits(ip) & mask128(len)) == net
    }

    /// Whether every address of `other` is in this range.
    pub fn covers(&self, other: &Cidr) -> bool {
        let (net, len) = self.as_v6();
        let (other_net, other_len) = other.as_v6();
        other_len >= len && (other_net & mask128(len)) == net
    }

    /// The range in the IPv6 space (IPv4 as `::ffff:0:0/96` + the IPv4 prefix), host bits
    /// cleared.
    fn as_v6(&self) -> (u128, u8) {
        let len = match self.addr {
            IpAddr::V4(_) => 96 + self.prefix_len,
            IpAddr::V6(_) => self.prefix_len,
        };
        (v6_bits(self.addr) & mask128(len), len)
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Self, CidrError> {
        Cidr::parse(s)
    }
}

/// `addr/len`, the address as held (use [`Cidr::network`] first for the canonical form).
impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

fn max_len(addr: IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

fn mask32(len: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
}

fn mask128(len: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0)
}

fn v6_bits(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped().to_bits(),
        IpAddr::V6(a) => a.to_bits(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn parses_both_families_and_bare_hosts() {
        let c = Cidr::parse("10.0.0.0/8").expect("valid");
        assert!(c.contains(ip("10.255.1.2")));
        assert!(!c.contains(ip("11.0.0.1")));
        let c = Cidr::parse("2001:db8::/32").expect("valid");
        assert!(c.contains(ip("2001:db8:ffff::1")));
        assert!(!c.contains(ip("2001:db9::1")));
        let c = Cidr::parse("192.0.2.7").expect("valid");
        assert_eq!(c.prefix_len(), 32);
        assert!(c.contains(ip("192.0.2.7")) && !c.contains(ip("192.0.2.8")));
        let all = Cidr::parse("0.0.0.0/0").expect("valid");
        assert!(all.contains(ip("255.255.255.255")));
        assert!(
            !all.contains(ip("::1")),
            "an IPv4 range never holds a native IPv6 address"
        );
    }

    #[test]
    fn ipv4_mapped_ipv6_is_the_same_address() {
        let c = Cidr::parse("10.0.0.0/8").expect("valid");
        assert!(c.contains(ip("::ffff:10.1.2.3")));
        let mapped = Cidr::parse("::ffff:10.0.0.0/104").expect("valid");
        assert!(mapped.contains(ip("10.9.9.9")));
        assert!(mapped.covers(&Cidr::parse("10.1.0.0/16").expect("valid")));
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let e = |s: &str| Cidr::parse(s).expect_err(s).to_string();
        assert_eq!(
            e("10.0.0.0/33"),
            "the prefix length /33 is longer than 32, the IPv4 maximum"
        );
        assert_eq!(
            e("2001:db8::/129"),
            "the prefix length /129 is longer than 128, the IPv6 maximum"
        );
        assert!(e("10.0.0.256/8").contains("“10.0.0.256” is not an IPv4 address"));
        assert!(e("010.0.0.1/8").contains("without leading zeros"));
        assert!(e("2001:db8:::/48").contains("not an IPv6 address"));
        assert!(e("10.0.0.0/x").contains("“x” is not a number"));
        assert!(e("10.0.0.0/").contains("“” is not a number"));
        assert!(e("10.0.0.0/+8").contains("not a number"));
        assert!(e("fe80::1%eth0/64").contains("zone ids"));
        assert_eq!(e(""), "the range is empty");
        assert_eq!(e("10.0.0.0 /8"), "the range contains spaces");
    }

    #[test]
    fn host_bits_are_seen_and_cleared() {
        let c = Cidr::parse("10.0.0.1/8").expect("valid");
        assert!(c.has_host_bits());
        assert_eq!(c.network().to_string(), "10.0.0.0/8");
        assert!(c.contains(ip("10.200.0.0")), "compares on the network");
        let c = Cidr::parse("2001:db8::1/64").expect("valid");
        assert_eq!(c.network().to_string(), "2001:db8::/64");
        assert!(!Cidr::parse("10.0.0.0/8").expect("valid").has_host_bits());
    }

    #[test]
    fn covers_is_range_inclusion() {
        let p = |s: &str| Cidr::parse(s).expect(s);
        assert!(p("10.0.0.0/8").covers(&p("10.1.0.0/16")));
        assert!(p("10.0.0.0/8").covers(&p("10.0.0.0/8")));
        assert!(!p("10.1.0.0/16").covers(&p("10.0.0.0/8")));
        assert!(!p("10.0.0.0/8").covers(&p("11.0.0.0/16")));
        assert!(
            p("::/0").covers(&p("10.0.0.0/8")),
            "::/0 holds the mapped IPv4 space"
        );
        assert!(!p("0.0.0.0/0").covers(&p("2001:db8::/32")));
    }
}
