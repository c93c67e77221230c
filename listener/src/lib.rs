//! Accepting and serving HTTP connections under limits, for the console and the gate alike:
//! HTTP/1.1 and HTTP/2 (h2c and, with TLS, h2) by hyper, `TCP_NODELAY` on every socket, and
//! bounds on everything a client could otherwise hold open for free:
//!
//! - a cap on open connections, in all and per client network (an IPv4 address or an IPv6
//!   /64; proxies listed as exempt count only in all): over it, a new connection is closed at
//!   once, so the ones already open and a fresh client elsewhere are still served;
//! - a deadline for the first request's head (the TLS handshake included), and HTTP/1's header
//!   read timeout for every later one (slowloris);
//! - an idle timeout: a connection with no request in flight for that long is closed, HTTP/2
//!   ones included (an idle h2c preface, or a client that opened streams once and went quiet);
//! - HTTP/2 keep-alive pings (a dead peer is noticed), a bound on concurrent streams and on
//!   streams reset before they are answered (CVE-2023-44487, "rapid reset"), a bound on
//!   header bytes;
//! - a drain period at shutdown, after which connections still open are dropped.
//!
//! Request bodies and handlers get their deadlines from the service itself (the console's
//! middleware, the gate's upstream timeout): a connection with a request in flight is never
//! cut here, except at shutdown.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use policy::cidr::Cidr;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The bounds a listener serves under.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Time for a new connection's first request head (TLS handshake included), and HTTP/1's
    /// time for each later head.
    pub header_timeout: Duration,
    /// A connection with no request in flight for this long is closed.
    pub idle_timeout: Duration,
    /// Open connections in all.
    pub max_connections: usize,
    /// Open connections per client network (IPv4 address, IPv6 /64).
    pub max_connections_per_network: usize,
    /// Peers not counted per network (reverse proxies carrying many clients).
    pub exempt: Vec<Cidr>,
    /// Concurrent HTTP/2 streams per connection.
    pub h2_max_streams: u32,
    /// Interval of HTTP/2 keep-alive pings, and how long an answer may take.
    pub h2_ping_interval: Duration,
    pub h2_ping_timeout: Duration,
    /// Largest request head (HTTP/1 buffer and HTTP/2 header list), in bytes.
    pub max_header_bytes: usize,
    /// Time in-flight requests get at shutdown.
    pub drain: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 4096,
            max_connections_per_network: 128,
            exempt: Vec::new(),
            h2_max_streams: 100,
            h2_ping_interval: Duration::from_secs(20),
            h2_ping_timeout: Duration::from_secs(10),
            max_header_bytes: 64 * 1024,
            drain: Duration::from_secs(10),
        }
    }
}

/// The key a peer's connections count under: its IPv4 address (IPv4-mapped IPv6 included) or
/// its IPv6 /64.
fn network_of(ip: IpAddr) -> [u8; 8] {
    let mut key = [0u8; 8];
    match ip {
        IpAddr::V4(v4) => key[..4].copy_from_slice(&v4.octets()),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => key[..4].copy_from_slice(&v4.octets()),
            None => {
                key.copy_from_slice(&v6.octets()[..8]);
                // Keep IPv6 keys apart from IPv4 ones whatever their bytes.
                key[7] ^= 0x80;
                key[6] ^= 0x01;
            }
        },
    }
    key
}

/// Open connections, counted in all and per network.
#[derive(Default)]
struct Counts {
    total: usize,
    per_network: HashMap<[u8; 8], usize>,
}

/// One admitted connection; gives its place back when dropped.
struct Slot {
    counts: Arc<Mutex<Counts>>,
    network: Option<[u8; 8]>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        c.total -= 1;
        if let Some(n) = self.network {
            if let Some(v) = c.per_network.get_mut(&n) {
                *v -= 1;
                if *v == 0 {
                    c.per_network.remove(&n);
                }
            }
        }
    }
}

/// Why a connection was not admitted.
#[derive(Debug, PartialEq, Eq)]
enum Refused {
    Total,
    Network,
}

fn admit(counts: &Arc<Mutex<Counts>>, limits: &Limits, peer: IpAddr) -> Result<Slot, Refused> {
    let exempt = limits.exempt.iter().any(|r| r.contains(peer));
    let network = (!exempt).then(|| network_of(peer));
    let mut c = counts
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if c.total >= limits.max_connections {
        return Err(Refused::Total);
    }
    if let Some(n) = network {
        let open = c.per_network.entry(n).or_default();
        if *open >= limits.max_connections_per_network {
            return Err(Refused::Network);
        }
        *open += 1;
    }
    c.total += 1;
    Ok(Slot {
        counts: counts.clone(),
        network,
    })
}

/// What the idle watchdog knows of a connection: requests in flight, and when the last one
/// started or ended (ms since the connection was accepted).
struct Activity {
    started: Instant,
    in_flight: AtomicUsize,
    requests: AtomicU64,
    last_ms: AtomicU64,
}

impl Activity {
    fn touch(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }
}

/// Counts a request as in flight until its response future completes or is dropped.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

/// The service wrapper that keeps [`Activity`].
struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: Clone> Clone for Tracked<S> {
    fn clone(&self) -> Self {
        Tracked {
            inner: self.inner.clone(),
            activity: self.activity.clone(),
        }
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S> hyper::service::Service<http::Request<Incoming>> for Tracked<S>
where
    S: hyper::service::Service<http::Request<Incoming>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn call(&self, req: http::Request<Incoming>) -> Self::Future {
        self.activity.in_flight.fetch_add(1, Ordering::Relaxed);
        self.activity.requests.fetch_add(1, Ordering::Relaxed);
        self.activity.touch();
        let guard = InFlight(self.activity.clone());
        let fut = self.inner.call(req);
        Box::pin(async move {
            let r = fut.await;
            drop(guard);
            r
        })
    }
}

/// A running listener's handle: counts for tests and health.
#[derive(Clone, Default)]
pub struct Stats {
    counts: Arc<Mutex<Counts>>,
    refused: Arc<AtomicU64>,
    idle_closed: Arc<AtomicU64>,
}

impl Stats {
    /// Connections open now.
    pub fn open(&self) -> usize {
        self.counts.lock().map(|c| c.total).unwrap_or(0)
    }
    /// Connections closed at accept because a cap was reached.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
    /// Connections closed for being idle (or for sending no request head in time).
    pub fn idle_closed(&self) -> u64 {
        self.idle_closed.load(Ordering::Relaxed)
    }
}

fn builder(limits: &Limits) -> Builder<TokioExecutor> {
    let mut b = Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192));
    b.http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.h2_max_streams)
        .max_pending_accept_reset_streams(Some(20))
        .max_local_error_reset_streams(Some(256))
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        .keep_alive_interval(Some(limits.h2_ping_interval))
        .keep_alive_timeout(limits.h2_ping_timeout);
    b
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What a listener serves: a hyper service answering with `http::Response<B>`.
pub trait HttpService<B>:
    hyper::service::Service<
        http::Request<Incoming>,
        Response = http::Response<B>,
        Future: Send + 'static,
        Error: Into<BoxError>,
    > + Clone
    + Send
    + 'static
{
}

impl<T, B> HttpService<B> for T where
    T: hyper::service::Service<
            http::Request<Incoming>,
            Response = http::Response<B>,
            Future: Send + 'static,
            Error: Into<BoxError>,
        > + Clone
        + Send
        + 'static
{
}

/// A response body a listener can send.
pub trait ResponseBody:
    hyper::body::Body<Data: Send, Error: Into<BoxError>> + Send + 'static
{
}

impl<T> ResponseBody for T where
    T: hyper::body::Body<Data: Send, Error: Into<BoxError>> + Send + 'static
{
}

/// Serves `io` with `service` until the connection ends, it has been idle too long, or `stop`
/// turns true (then it gets `limits.drain` to finish).
#[allow(clippy::too_many_arguments)]
async fn serve_connection<I, S, B>(
    io: I,
    service: S,
    limits: &Limits,
    stop: watch::Receiver<bool>,
    stats: &Stats,
    accepted: Instant,
    upgrades: bool,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: HttpService<B>,
    B: ResponseBody,
{
    let activity = Arc::new(Activity {
        started: accepted,
        in_flight: AtomicUsize::new(0),
        requests: AtomicU64::new(0),
        last_ms: AtomicU64::new(0),
    });
    let tracked = Tracked {
        inner: service,
        activity: activity.clone(),
    };
    let b = builder(limits);
    let io = TokioIo::new(io);
    let watch = Watch {
        limits,
        stop,
        stats,
        accepted,
        activity: &activity,
    };
    if upgrades {
        let conn = b.serve_connection_with_upgrades(io, tracked);
        watch.drive(conn, |c| c.graceful_shutdown()).await;
    } else {
        let conn = b.serve_connection(io, tracked);
        watch.drive(conn, |c| c.graceful_shutdown()).await;
    }
}

/// The watchdog of one connection.
struct Watch<'a> {
    limits: &'a Limits,
    stop: watch::Receiver<bool>,
    stats: &'a Stats,
    accepted: Instant,
    activity: &'a Activity,
}

impl Watch<'_> {
    /// Polls `conn` to its end, asking it to shut down (`graceful`) when it has been idle too
    /// long or the listener stops, and dropping it when it has not closed a while later.
    async fn drive<C, E>(mut self, conn: C, graceful: impl Fn(Pin<&mut C>))
    where
        C: Future<Output = Result<(), E>>,
        E: std::fmt::Display,
    {
        let limits = self.limits;
        let mut conn = std::pin::pin!(conn);
        // Until the first request: the header timeout; then the idle timeout between requests.
        let mut deadline = tokio::time::Instant::from_std(self.accepted + limits.header_timeout);
        let mut closing = false;
        loop {
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(error = %e, "connection closed with an error");
                    }
                    return;
                }
                () = tokio::time::sleep_until(deadline) => {
                    if closing {
                        return;
                    }
                    let a = self.activity;
                    let busy = a.in_flight.load(Ordering::Relaxed) > 0;
                    let quiet_until = if a.requests.load(Ordering::Relaxed) == 0 {
                        limits.header_timeout
                    } else {
                        Duration::from_millis(a.last_ms.load(Ordering::Relaxed)) + limits.idle_timeout
                    };
                    if busy {
                        deadline = tokio::time::Instant::now() + limits.idle_timeout;
                    } else if self.accepted.elapsed() >= quiet_until {
                        self.stats.idle_closed.fetch_add(1, Ordering::Relaxed);
                        graceful(conn.as_mut());
                        closing = true;
                        // A peer that does not take its GOAWAY or our FIN is dropped.
                        deadline = tokio::time::Instant::now() + Duration::from_secs(1);
                    } else {
                        deadline = tokio::time::Instant::from_std(self.accepted + quiet_until);
                    }
                }
                changed = self.stop.changed(), if !closing => {
                    if changed.is_err() || *self.stop.borrow() {
                        graceful(conn.as_mut());
                        closing = true;
                        deadline = tokio::time::Instant::now() + limits.drain;
                    }
                }
            }
        }
    }
}

/// Accepts connections on `listener` until `stop` turns true, serving each with the service
/// `make(peer)` under `limits`; with `tls`, each connection is a TLS handshake first (within
/// the header timeout). `upgrades` allows HTTP/1 upgrades. Returns when every connection has
/// closed or the drain period is over.
pub async fn serve<F, S, B>(
    listener: TcpListener,
    limits: Limits,
    tls: Option<tokio_rustls::TlsAcceptor>,
    upgrades: bool,
    mut stop: watch::Receiver<bool>,
    stats: Stats,
    make: F,
) where
    F: Fn(SocketAddr) -> S,
    S: HttpService<B>,
    B: ResponseBody,
{
    let limits = Arc::new(limits);
    let live = Arc::new(());
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    break;
                }
                continue;
            }
        };
        let accepted = Instant::now();
        let slot = match admit(&stats.counts, &limits, peer.ip()) {
            Ok(s) => s,
            Err(why) => {
                stats.refused.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%peer, ?why, "connection refused: too many open");
                drop(stream);
                continue;
            }
        };
        // A response written in two parts (head, then body) must not wait for the client's
        // delayed ACK (Nagle's algorithm stalled every small answer about 40 ms).
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
        let service = make(peer);
        let (limits, stop, stats, tls, live) = (
            limits.clone(),
            stop.clone(),
            stats.clone(),
            tls.clone(),
            live.clone(),
        );
        tokio::spawn(async move {
            let _slot = slot;
            let _live = live;
            match tls {
                None => {
                    serve_connection(stream, service, &limits, stop, &stats, accepted, upgrades)
                        .await
                }
                Some(acceptor) => {
                    let handshake = acceptor.accept(stream);
                    match tokio::time::timeout(limits.header_timeout, handshake).await {
                        Ok(Ok(s)) => {
                            serve_connection(s, service, &limits, stop, &stats, accepted, upgrades)
                                .await
                        }
                        Ok(Err(e)) => tracing::debug!(error = %e, %peer, "TLS handshake failed"),
                        Err(_) => {
                            stats.idle_closed.fetch_add(1, Ordering::Relaxed);
                            tracing::debug!(%peer, "TLS handshake timed out");
                        }
                    }
                }
            }
        });
    }
    drop(listener);
    // Connections drain on their own (each saw `stop`); wait for the last one, or the drain.
    let until = Instant::now() + limits.drain + Duration::from_secs(1);
    while Arc::strong_count(&live) > 1 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(total: usize, per: usize) -> Limits {
        Limits {
            max_connections: total,
            max_connections_per_network: per,
            exempt: vec!["10.0.0.0/8".parse().expect("test value")],
            ..Limits::default()
        }
    }

    #[test]
    fn connections_are_capped_per_network_and_in_all_and_slots_come_back() {
        let counts = Arc::new(Mutex::new(Counts::default()));
        let l = limits(6, 2);
        let ip = |s: &str| s.parse::<IpAddr>().expect("test value");
        let a1 = admit(&counts, &l, ip("192.0.2.1")).expect("test value");
        let _a2 = admit(&counts, &l, ip("192.0.2.1")).expect("test value");
        assert_eq!(
            admit(&counts, &l, ip("192.0.2.1")).err(),
            Some(Refused::Network)
        );
        // IPv4-mapped IPv6 is the same client; another /64 is another network.
        assert_eq!(
            admit(&counts, &l, ip("::ffff:192.0.2.1")).err(),
            Some(Refused::Network)
        );
        let _b1 = admit(&counts, &l, ip("2001:db8:0:1::1")).expect("test value");
        let _b2 = admit(&counts, &l, ip("2001:db8:0:1::2")).expect("test value");
        assert_eq!(
            admit(&counts, &l, ip("2001:db8:0:1::3")).err(),
            Some(Refused::Network)
        );
        // An exempt proxy counts only in all.
        let _p1 = admit(&counts, &l, ip("10.1.1.1")).expect("test value");
        let _p2 = admit(&counts, &l, ip("10.1.1.1")).expect("test value");
        assert_eq!(
            admit(&counts, &l, ip("10.1.1.1")).err(),
            Some(Refused::Total)
        );
        drop(a1);
        assert!(
            admit(&counts, &l, ip("192.0.2.1")).is_ok(),
            "a closed connection frees its slot"
        );
    }
}

/// Raw clients for the tests of the console and the gate that attack a listener: a
/// connection from a chosen loopback address, a read until the server closes, the frame types
/// of an HTTP/2 answer; and `wrk` runs for their load benchmarks.
#[cfg(feature = "testing")]
pub mod testing {
    use std::net::{IpAddr, Ipv4Addr, SocketAddr};
    use std::time::Duration;

    use tokio::io::AsyncReadExt;
    use tokio::net::{TcpSocket, TcpStream};

    /// A connection to `to` from the loopback address `from` (all of 127/8 is this host).
    pub async fn connect_from(from: Ipv4Addr, to: SocketAddr) -> TcpStream {
        let socket = TcpSocket::new_v4().expect("socket");
        socket
            .bind(SocketAddr::new(IpAddr::V4(from), 0))
            .expect("bind");
        socket.connect(to).await.expect("connect")
    }

    /// Reads until the server closes; what it sent, or `None` if it is still open at `limit`.
    pub async fn until_closed(mut s: TcpStream, limit: Duration) -> Option<Vec<u8>> {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
                Err(_) => return None,
                Ok(Ok(0)) | Ok(Err(_)) => return Some(got),
                Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            }
        }
    }

    /// An h2c client's opening: the preface and an empty SETTINGS frame.
    pub const H2C_PREFACE: &[u8] =
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

    /// HTTP/2 GOAWAY's frame type.
    pub const GOAWAY: u8 = 7;

    /// The types of the HTTP/2 frames in `bytes` (9-byte headers: length, type, flags, stream).
    pub fn frame_types(bytes: &[u8]) -> Vec<u8> {
        let mut types = Vec::new();
        let mut i = 0;
        while i + 9 <= bytes.len() {
            let len = usize::from(bytes[i]) << 16
                | usize::from(bytes[i + 1]) << 8
                | usize::from(bytes[i + 2]);
            types.push(bytes[i + 3]);
            i += 9 + len;
        }
        types
    }
    /// What one `wrk` run measured; `refused` counts the non-2xx/3xx answers, `secs` is wrk's
    /// own measured time.
    #[derive(Debug)]
    pub struct WrkRun {
        pub requests: u64,
        pub refused: u64,
        pub secs: f64,
        pub rps: f64,
    }

    /// One `wrk` run (one thread, `connections`, `secs` seconds) against
    /// `http://127.0.0.1:{port}{path}` with the extra `headers` (`Name: value`).
    pub fn wrk(port: u16, path: &str, headers: &[String], connections: u32, secs: u64) -> WrkRun {
        let mut cmd = std::process::Command::new("wrk");
        cmd.args([
            "-t1",
            "-c",
            &connections.to_string(),
            "-d",
            &format!("{secs}s"),
        ]);
        for h in headers {
            cmd.args(["-H", h]);
        }
        let out = cmd
            .arg(format!("http://127.0.0.1:{port}{path}"))
            .output()
            .expect("run wrk");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "wrk failed: {text}");
        parse_wrk(&text).unwrap_or_else(|| panic!("unexpected wrk output:\n{text}"))
    }

    /// Reads "N requests in 3.00s", "Non-2xx or 3xx responses: M" and "Requests/sec: R".
    fn parse_wrk(text: &str) -> Option<WrkRun> {
        let line = text.lines().find(|l| l.contains(" requests in "))?;
        let mut words = line.split_whitespace();
        let requests: u64 = words.next()?.parse().ok()?;
        let time = words.nth(2)?.trim_end_matches(',');
        let secs = if let Some(ms) = time.strip_suffix("ms") {
            ms.parse::<f64>().ok()? / 1_000.0
        } else {
            time.strip_suffix('s')?.parse().ok()?
        };
        let refused = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("Non-2xx or 3xx responses:"))
            .map(|n| n.trim().parse().ok())
            .unwrap_or(Some(0))?;
        let rps = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("Requests/sec:"))?
            .trim()
            .parse()
            .ok()?;
        Some(WrkRun {
            requests,
            refused,
            secs,
            rps,
        })
    }
}
