//! The live probe of the pin tool: connect to `host:port`, complete a TLS handshake and return
//! the certificate chain the server presents, leaf first, so the page and `palisade pin
//! --connect` can show each certificate's SPKI pin (RFC 7469 §2.4). The domain decides what may
//! be reached and reads what comes back; the network itself (resolving, TCP, the TLS handshake)
//! is behind the [`ProbeNetwork`] port, implemented by the server (`server::probe`), so the
//! domain does no network I/O.
//!
//! Invariants:
//! - **SSRF guard.** Every address the host resolves to is vetted before any connection, and one
//!   refused address refuses the whole target. Unspecified, broadcast, multicast and reserved
//!   addresses are never probed; link-local and cloud metadata addresses (169.254.169.254,
//!   100.100.100.200, fd00:ec2::254, …) only when [`ProbePolicy::allow_link_local`]; loopback and
//!   private ranges only when their flags allow. IPv4 addresses embedded in IPv6 (mapped
//!   `::ffff:a.b.c.d`, compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`, RFC 6052) are vetted as the
//!   IPv4 address they reach.
//! - **No re-resolution.** The connection goes to a vetted `SocketAddr` itself, never to the
//!   name again, so a DNS answer that changes between vetting and connecting (rebinding) cannot
//!   steer it elsewhere.
//! - **Bounded.** Resolution, connection and handshake each have a deadline (5 s by default), so
//!   a probe ends within their sum; at most [`MAX_PRESENTED_CERTS`] certificates of at most
//!   [`MAX_PRESENTED_CERT_SIZE`] bytes are returned (rustls already caps a handshake message at
//!   64 KiB).
//! - **Read, not trust.** The chain is *not* validated: no trust anchor, no name or date check,
//!   because the point is to show what the server presents, including a self-signed or expired
//!   chain that a pin set must describe. The handshake signature *is* verified (with the ring
//!   provider), so the server proved it holds the leaf's private key; what the probe returns is
//!   the chain of a key holder, not an arbitrary blob. Nothing returned here may be used to
//!   decide trust.
//!
//! Must not depend on storage or the web layer; the caller audits and applies the console's
//! configuration through [`ProbePolicy`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use rustls_pki_types::ServerName;

use super::pintool::{FoundPin, PinSource};
use super::{cert_info, CertError};

/// Port used when the target names none.
pub const DEFAULT_PORT: u16 = 443;
/// Default deadline for resolving the host name.
pub const DEFAULT_RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);
/// Default deadline for the TCP connection (shared by all vetted addresses, tried in order).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default deadline for the TLS handshake.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Most certificates accepted in a presented chain (real chains hold 2–4).
pub const MAX_PRESENTED_CERTS: usize = 16;
/// Largest accepted certificate, in bytes of DER.
pub const MAX_PRESENTED_CERT_SIZE: usize = 64 * 1024;
/// Longest host name (RFC 1035 §2.3.4, presentation form without the trailing dot).
pub const MAX_HOST_LEN: usize = 253;
/// Most resolved addresses looked at; a name with more is refused rather than truncated.
const MAX_ADDRESSES: usize = 32;

/// Which destinations a probe may reach, and how long each step may take.
///
/// Unspecified (`0.0.0.0`, `::`), broadcast, multicast and reserved (240.0.0.0/4) addresses are
/// refused whatever the policy says: none of them is a server to probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbePolicy {
    /// Link-local (169.254.0.0/16, fe80::/10) and cloud metadata addresses. Off for the console:
    /// a metadata service hands out the instance's credentials.
    pub allow_link_local: bool,
    /// Loopback (127.0.0.0/8, ::1).
    pub allow_loopback: bool,
    /// Private networks: RFC 1918, shared address space 100.64.0.0/10 (RFC 6598), unique local
    /// fc00::/7 (RFC 4193) and deprecated site-local fec0::/10.
    pub allow_private: bool,
    /// Ranges an operator allowed by name (the console's `--probe-allow`): a loopback, private
    /// or link-local address inside one is probed even though its class is not allowed. Cloud
    /// metadata and the never-probed classes stay refused.
    pub allow_ranges: Vec<policy::cidr::Cidr>,
    pub resolve_timeout: Duration,
    pub connect_timeout: Duration,
    pub handshake_timeout: Duration,
}

impl Default for ProbePolicy {
    /// The console's default: public addresses only. Loopback, private and link-local ranges are
    /// reachable only where `allow_ranges` names them (`--probe-allow`), so a signed-in admin
    /// cannot scan the console's own host or its networks.
    fn default() -> Self {
        ProbePolicy {
            allow_link_local: false,
            allow_loopback: false,
            allow_private: false,
            allow_ranges: Vec::new(),
            resolve_timeout: DEFAULT_RESOLVE_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }
}

impl ProbePolicy {
    /// The CLI's policy: everything a probe can reach is allowed, since the CLI runs with the
    /// operator's own network access (the always-refused classes stay refused).
    pub fn cli() -> Self {
        ProbePolicy {
            allow_link_local: true,
            allow_loopback: true,
            allow_private: true,
            ..ProbePolicy::default()
        }
    }

    /// Whether this policy lets a probe reach `ip`; the refusal says which class it belongs to.
    pub fn check(&self, ip: IpAddr) -> Result<(), RefusedReason> {
        let Some(reason) = classify(ip) else {
            return Ok(());
        };
        let named = || self.allow_ranges.iter().any(|c| c.contains(ip));
        let allowed = match reason {
            RefusedReason::CloudMetadata => self.allow_link_local,
            RefusedReason::LinkLocal => self.allow_link_local || named(),
            RefusedReason::Loopback => self.allow_loopback || named(),
            RefusedReason::Private => self.allow_private || named(),
            RefusedReason::Unspecified
            | RefusedReason::Broadcast
            | RefusedReason::Multicast
            | RefusedReason::Reserved => false,
        };
        if allowed {
            Ok(())
        } else {
            Err(reason)
        }
    }
}

/// The class of address that made a probe refuse its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RefusedReason {
    Unspecified,
    Broadcast,
    Multicast,
    Reserved,
    LinkLocal,
    CloudMetadata,
    Loopback,
    Private,
}

impl RefusedReason {
    /// Stable name of the class, for the API and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            RefusedReason::Unspecified => "unspecified",
            RefusedReason::Broadcast => "broadcast",
            RefusedReason::Multicast => "multicast",
            RefusedReason::Reserved => "reserved",
            RefusedReason::LinkLocal => "link_local",
            RefusedReason::CloudMetadata => "cloud_metadata",
            RefusedReason::Loopback => "loopback",
            RefusedReason::Private => "private",
        }
    }

    /// Whether some [`ProbePolicy`] would allow this class (the others are never probed).
    pub fn policy_can_allow(self) -> bool {
        matches!(
            self,
            RefusedReason::LinkLocal
                | RefusedReason::CloudMetadata
                | RefusedReason::Loopback
                | RefusedReason::Private
        )
    }

    fn describe(self) -> &'static str {
        match self {
            RefusedReason::Unspecified => {
                "the unspecified address (0.0.0.0/8 or ::), which stands for this host"
            }
            RefusedReason::Broadcast => "the broadcast address",
            RefusedReason::Multicast => "a multicast address",
            RefusedReason::Reserved => "a reserved address (240.0.0.0/4)",
            RefusedReason::LinkLocal => "a link-local address (169.254.0.0/16 or fe80::/10)",
            RefusedReason::CloudMetadata => {
                "a cloud metadata service address, where instance credentials are served"
            }
            RefusedReason::Loopback => "a loopback address (this host)",
            RefusedReason::Private => {
                "a private network address (RFC 1918, 100.64.0.0/10 or fc00::/7)"
            }
        }
    }
}

impl std::fmt::Display for RefusedReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

/// The step of a probe that ran out of time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProbeStage {
    Resolve,
    Connect,
    Handshake,
}

impl ProbeStage {
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeStage::Resolve => "resolve",
            ProbeStage::Connect => "connect",
            ProbeStage::Handshake => "handshake",
        }
    }
}

/// Why a probe returned no chain. [`ProbeError::code`] is stable (what the API returns and tests
/// assert); the message is for the admin and never holds more than the target and its address.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    #[error("{0}")]
    BadTarget(String),
    #[error("{0}")]
    Resolve(String),
    #[error("{}", refused_message(.host, .address, *.reason))]
    Refused {
        host: String,
        address: IpAddr,
        reason: RefusedReason,
    },
    #[error("{0}")]
    Connect(String),
    #[error("{}", timeout_message(*.stage, .target, *.after))]
    Timeout {
        stage: ProbeStage,
        target: String,
        after: Duration,
    },
    #[error("{0}")]
    Tls(String),
    #[error("the server completed the handshake without presenting a certificate")]
    NoCertificates,
    #[error("the server presented {count} certificates; at most {limit} are read")]
    ChainTooLong { count: usize, limit: usize },
    #[error("certificate {position} of the presented chain is {size} bytes; at most {limit} bytes are read")]
    CertificateTooLarge {
        position: usize,
        size: usize,
        limit: usize,
    },
}

impl ProbeError {
    /// Stable machine-readable code; never renamed.
    pub fn code(&self) -> &'static str {
        match self {
            ProbeError::BadTarget(_) => "probe.bad_target",
            ProbeError::Resolve(_) => "probe.resolve_failed",
            ProbeError::Refused { .. } => "probe.refused_address",
            ProbeError::Connect(_) => "probe.connect_failed",
            ProbeError::Timeout { .. } => "probe.timeout",
            ProbeError::Tls(_) => "probe.tls_failed",
            ProbeError::NoCertificates => "probe.no_certificates",
            ProbeError::ChainTooLong { .. } => "probe.chain_too_long",
            ProbeError::CertificateTooLarge { .. } => "probe.certificate_too_large",
        }
    }
}

fn refused_message(host: &str, address: &IpAddr, reason: RefusedReason) -> String {
    let what = if host == address.to_string() {
        format!("{address} is {reason}")
    } else {
        format!("{host} resolves to {address}, {reason}")
    };
    if reason.policy_can_allow() {
        format!("{what}; this console's configuration does not allow probing it")
    } else {
        format!("{what}; it cannot be probed")
    }
}

fn timeout_message(stage: ProbeStage, target: &str, after: Duration) -> String {
    match stage {
        ProbeStage::Resolve => format!("resolving {target} did not finish within {after:?}"),
        ProbeStage::Connect => format!("connecting to {target} did not succeed within {after:?}"),
        ProbeStage::Handshake => {
            format!("the TLS handshake with {target} did not finish within {after:?} (is this a TLS port?)")
        }
    }
}

/// The chain a server presented.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresentedChain {
    /// The vetted address the probe connected to.
    pub address: SocketAddr,
    /// The SNI sent (the host name), `None` when the target was an IP address.
    pub server_name: Option<String>,
    /// DER certificates exactly as presented, leaf first; never empty. Not validated.
    pub certs_der: Vec<Vec<u8>>,
}

impl PresentedChain {
    /// Each presented certificate's SPKI pin, in order; a certificate that does not parse keeps
    /// its place as an error so the list lines up with [`PresentedChain::certs_der`].
    pub fn pins(&self) -> Vec<Result<FoundPin, CertError>> {
        self.certs_der
            .iter()
            .map(|der| {
                cert_info(der).map(|info| FoundPin {
                    pin: info.spki_pin,
                    description: info.display_name(),
                    source: PinSource::Certificate,
                })
            })
            .collect()
    }
}

/// The network side of a probe, behind a port so the domain does no network I/O: the adapter
/// resolves, connects and shakes hands; [`fetch_presented_chain`] decides what may be reached
/// (every address is vetted before any connection) and checks what comes back.
#[async_trait]
pub trait ProbeNetwork: Send + Sync + 'static {
    /// The addresses `name` resolves to for `port`, in resolver order, within
    /// `policy.resolve_timeout` (else [`ProbeError::Timeout`] at [`ProbeStage::Resolve`]).
    async fn resolve(
        &self,
        name: &str,
        port: u16,
        policy: &ProbePolicy,
    ) -> Result<Vec<SocketAddr>, ProbeError>;

    /// The ranges the operator allowed the console to probe beyond public addresses
    /// (`--probe-allow`); none by default.
    fn allowed_ranges(&self) -> Vec<policy::cidr::Cidr> {
        Vec::new()
    }

    /// Connects to the first of `addresses` that accepts (all within one
    /// `policy.connect_timeout`), then completes a TLS handshake within
    /// `policy.handshake_timeout`, sending `server_name` as SNI (none for an IP target). The
    /// chain is read, not validated, but the handshake signature is verified, so the peer holds
    /// the leaf's key. Returns the address used and the presented DER certificates, leaf first.
    /// `target` names the probe in messages.
    async fn handshake(
        &self,
        addresses: &[SocketAddr],
        server_name: Option<&str>,
        target: &str,
        policy: &ProbePolicy,
    ) -> Result<(SocketAddr, Vec<Vec<u8>>), ProbeError>;
}

/// Connects to `target` (`host`, `host:port`, `a.b.c.d:port`, `[v6]` or `[v6]:port`; port 443
/// when absent) through `net`, within `policy`, and returns the certificates the server
/// presents. See the module documentation for what is refused and why the chain is read, not
/// trusted.
pub async fn fetch_presented_chain(
    net: &dyn ProbeNetwork,
    target: &str,
    policy: &ProbePolicy,
) -> Result<PresentedChain, ProbeError> {
    let target = parse_target(target)?;
    let addresses = match &target.host {
        Host::Ip(ip) => vec![SocketAddr::new(*ip, target.port)],
        Host::Dns(name) => distinct(name, net.resolve(name, target.port, policy).await?)?,
    };
    for address in &addresses {
        policy
            .check(address.ip())
            .map_err(|reason| ProbeError::Refused {
                host: target.host_text(),
                address: address.ip(),
                reason,
            })?;
    }
    let server_name = match &target.host {
        Host::Dns(name) => Some(name.clone()),
        Host::Ip(_) => None,
    };
    let (address, certs) = net
        .handshake(
            &addresses,
            server_name.as_deref(),
            &target.display(),
            policy,
        )
        .await?;
    let certs_der = check_chain(certs)?;
    Ok(PresentedChain {
        address,
        server_name,
        certs_der,
    })
}

/// The resolver's answer without repeats; more than [`MAX_ADDRESSES`] is refused rather than
/// truncated (a truncated list could hide the address that would be refused).
fn distinct(name: &str, found: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, ProbeError> {
    let mut addresses: Vec<SocketAddr> = Vec::new();
    for address in found {
        if !addresses.contains(&address) {
            if addresses.len() == MAX_ADDRESSES {
                return Err(ProbeError::Resolve(format!(
                    "{name} resolves to more than {MAX_ADDRESSES} addresses; probe one of them directly"
                )));
            }
            addresses.push(address);
        }
    }
    if addresses.is_empty() {
        return Err(ProbeError::Resolve(format!("{name} has no address")));
    }
    Ok(addresses)
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Host {
    /// Lower-case, without a trailing dot.
    Dns(String),
    Ip(IpAddr),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Target {
    host: Host,
    port: u16,
}

impl Target {
    fn host_text(&self) -> String {
        match &self.host {
            Host::Dns(name) => name.clone(),
            Host::Ip(ip) => ip.to_string(),
        }
    }

    fn display(&self) -> String {
        match &self.host {
            Host::Dns(name) => format!("{name}:{}", self.port),
            Host::Ip(ip) => SocketAddr::new(*ip, self.port).to_string(),
        }
    }
}

const TARGET_EXAMPLE: &str = "enter host:port, for example api.example.com:443";

fn bad(message: String) -> ProbeError {
    ProbeError::BadTarget(message)
}

fn parse_target(input: &str) -> Result<Target, ProbeError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(bad(format!("the target is empty; {TARGET_EXAMPLE}")));
    }
    // Host, brackets, colon and five port digits.
    if s.len() > MAX_HOST_LEN + 8 {
        return Err(bad(format!(
            "the target is {} characters long; a host name has at most {MAX_HOST_LEN}",
            s.chars().count()
        )));
    }
    if s.contains("://") {
        let hint = url::Url::parse(s)
            .ok()
            .and_then(|u| {
                Some(format!(
                    "{}:{}",
                    u.host_str()?,
                    u.port_or_known_default().unwrap_or(DEFAULT_PORT)
                ))
            })
            .map(|t| format!(" ({t})"))
            .unwrap_or_default();
        return Err(bad(format!(
            "\"{s}\" is a URL; enter only host:port{hint}, without the scheme or path"
        )));
    }
    if let Some(c) = s
        .chars()
        .find(|c| matches!(c, '/' | '?' | '#' | '@' | '\\') || c.is_whitespace())
    {
        let what = match c {
            '@' => "a user name (@)".to_string(),
            c if c.is_whitespace() => "a space".to_string(),
            c => format!("a path or query ('{c}')"),
        };
        return Err(bad(format!("the target contains {what}; {TARGET_EXAMPLE}")));
    }

    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let Some((inside, after)) = rest.split_once(']') else {
            return Err(bad(format!(
                "\"{s}\" opens '[' without closing ']'; write an IPv6 address as [2001:db8::1]:443"
            )));
        };
        if inside.contains('%') {
            return Err(bad(format!(
                "\"{inside}\" has a zone index (%…); zone indexes are not supported"
            )));
        }
        let ip = Ipv6Addr::from_str(inside).map_err(|_| {
            bad(format!(
                "\"{inside}\" between brackets is not an IPv6 address"
            ))
        })?;
        let port = match after {
            "" => DEFAULT_PORT,
            _ => match after.strip_prefix(':') {
                Some(p) => parse_port(p)?,
                None => {
                    return Err(bad(format!(
                        "unexpected \"{after}\" after ']'; write [{inside}]:443"
                    )))
                }
            },
        };
        (Host::Ip(IpAddr::V6(ip)), port)
    } else {
        let (host, port) = match s.matches(':').count() {
            0 => (s, DEFAULT_PORT),
            1 => match s.split_once(':') {
                Some((h, p)) => (h, parse_port(p)?),
                None => (s, DEFAULT_PORT),
            },
            _ => {
                return Err(bad(if Ipv6Addr::from_str(s).is_ok() {
                    format!("write an IPv6 address in brackets: [{s}]:443")
                } else {
                    format!("\"{s}\" holds more than one ':'; {TARGET_EXAMPLE}")
                }))
            }
        };
        (parse_host(host)?, port)
    };
    Ok(Target { host, port })
}

fn parse_port(p: &str) -> Result<u16, ProbeError> {
    if p.is_empty() {
        return Err(bad(format!(
            "the port is missing after ':'; {TARGET_EXAMPLE}"
        )));
    }
    if !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(format!("the port \"{p}\" is not a number")));
    }
    match p.parse::<u32>() {
        Ok(n @ 1..=65535) => Ok(n as u16),
        _ => Err(bad(format!("the port {p} is out of range; use 1–65535"))),
    }
}

fn parse_host(host: &str) -> Result<Host, ProbeError> {
    if host.is_empty() {
        return Err(bad(format!("the host is missing; {TARGET_EXAMPLE}")));
    }
    if let Ok(ip) = Ipv4Addr::from_str(host) {
        return Ok(Host::Ip(IpAddr::V4(ip)));
    }
    if !host.is_ascii() {
        return Err(bad(format!(
            "\"{host}\" is not ASCII; enter an internationalised name in its xn-- (punycode) form"
        )));
    }
    let name = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    if name.is_empty() || name.len() > MAX_HOST_LEN {
        return Err(bad(format!(
            "the host name is {} characters long; use 1–{MAX_HOST_LEN}",
            name.len()
        )));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(bad(format!(
                "\"{host}\" has an empty label (two dots in a row or a leading dot)"
            )));
        }
        if label.len() > 63 {
            return Err(bad(format!(
                "the label \"{label}\" is {} characters long; at most 63",
                label.len()
            )));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(bad(format!(
                "\"{host}\" contains '{c}'; a host name holds letters, digits, '-', '_' and '.'"
            )));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(bad(format!(
                "the label \"{label}\" starts or ends with '-'"
            )));
        }
    }
    // "10.1" or "1.2.3.999": resolvers read some of these as IPv4 shorthand; a top-level domain
    // is never all digits (RFC 3696 §2), so refuse rather than guess.
    if name
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad(format!(
            "\"{host}\" is neither a valid IPv4 address nor a host name"
        )));
    }
    // rustls sends it as SNI; its rules are those above, so this only guards a future divergence.
    ServerName::try_from(name.as_str())
        .map_err(|_| bad(format!("\"{host}\" is not a valid DNS name for TLS (SNI)")))?;
    Ok(Host::Dns(name))
}

fn check_chain(certs: Vec<Vec<u8>>) -> Result<Vec<Vec<u8>>, ProbeError> {
    if certs.is_empty() {
        return Err(ProbeError::NoCertificates);
    }
    if certs.len() > MAX_PRESENTED_CERTS {
        return Err(ProbeError::ChainTooLong {
            count: certs.len(),
            limit: MAX_PRESENTED_CERTS,
        });
    }
    if let Some((i, cert)) = certs
        .iter()
        .enumerate()
        .find(|(_, c)| c.len() > MAX_PRESENTED_CERT_SIZE)
    {
        return Err(ProbeError::CertificateTooLarge {
            position: i + 1,
            size: cert.len(),
            limit: MAX_PRESENTED_CERT_SIZE,
        });
    }
    Ok(certs)
}

/// The class of `ip` when it is not a public unicast address. Embedded IPv4 addresses are
/// classified as the IPv4 address they reach.
fn classify(ip: IpAddr) -> Option<RefusedReason> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// Metadata services reached by IPv4: AWS, Azure, GCP, DigitalOcean, OpenStack (169.254.169.254),
/// AWS ECS task metadata (169.254.170.2), Alibaba Cloud (100.100.100.200), Oracle Cloud legacy
/// (192.0.0.192).
const METADATA_V4: [Ipv4Addr; 4] = [
    Ipv4Addr::new(169, 254, 169, 254),
    Ipv4Addr::new(169, 254, 170, 2),
    Ipv4Addr::new(100, 100, 100, 200),
    Ipv4Addr::new(192, 0, 0, 192),
];

/// AWS's IPv6 instance metadata endpoint (Nitro).
const METADATA_V6: [Ipv6Addr; 1] = [Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254)];

fn classify_v4(ip: Ipv4Addr) -> Option<RefusedReason> {
    let [a, b, _, _] = ip.octets();
    if METADATA_V4.contains(&ip) {
        Some(RefusedReason::CloudMetadata)
    } else if a == 0 {
        Some(RefusedReason::Unspecified)
    } else if ip.is_broadcast() {
        Some(RefusedReason::Broadcast)
    } else if ip.is_multicast() {
        Some(RefusedReason::Multicast)
    } else if a >= 240 {
        Some(RefusedReason::Reserved)
    } else if ip.is_link_local() {
        Some(RefusedReason::LinkLocal)
    } else if ip.is_loopback() {
        Some(RefusedReason::Loopback)
    } else if ip.is_private() || (a == 100 && (b & 0xc0) == 64) {
        Some(RefusedReason::Private)
    } else {
        None
    }
}

fn classify_v6(ip: Ipv6Addr) -> Option<RefusedReason> {
    let s = ip.segments();
    let o = ip.octets();
    let embedded = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    if let Some(v4) = ip.to_ipv4_mapped() {
        classify_v4(v4)
    } else if ip.is_unspecified() {
        Some(RefusedReason::Unspecified)
    } else if ip.is_loopback() {
        Some(RefusedReason::Loopback)
    } else if s[..6] == [0; 6] || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        // IPv4-compatible ::a.b.c.d (RFC 4291 §2.5.5.1) and NAT64 64:ff9b::/96 (RFC 6052).
        classify_v4(embedded)
    } else if s[0] == 0x2002 {
        // 6to4 2002:a.b.c.d::/48 (RFC 3056): the site's IPv4 address follows the prefix.
        classify_v4(Ipv4Addr::new(o[2], o[3], o[4], o[5]))
    } else if s[0] == 0x2001 && s[1] == 0 {
        // Teredo 2001::/32 (RFC 4380): the client's IPv4 address, inverted, in the last 32 bits.
        classify_v4(Ipv4Addr::new(!o[12], !o[13], !o[14], !o[15]))
    } else if s[..3] == [0x64, 0xff9b, 1] {
        // NAT64 local-use 64:ff9b:1::/48 (RFC 8215) with the /48 layout of RFC 6052 §2.2: the
        // IPv4 address in bytes 6-7 and 9-10 around the zero "u" byte.
        classify_v4(Ipv4Addr::new(o[6], o[7], o[9], o[10]))
    } else if METADATA_V6.contains(&ip) {
        Some(RefusedReason::CloudMetadata)
    } else if ip.is_multicast() {
        Some(RefusedReason::Multicast)
    } else if (s[0] & 0xffc0) == 0xfe80 {
        Some(RefusedReason::LinkLocal)
    } else if (s[0] & 0xfe00) == 0xfc00 || (s[0] & 0xffc0) == 0xfec0 {
        Some(RefusedReason::Private)
    } else {
        None
    }
}
