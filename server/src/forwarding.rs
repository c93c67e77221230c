//! The audit forwarder: sends every audit event, in order, to one syslog collector over TCP or
//! TLS (RFC 5424 messages, octet-counted), at least once as far as TCP can tell. The cursor in
//! the database moves only after a batch was written and the connection was still open a moment
//! later, so a receiver that was gone when the batch went out gets it again (syslog over TCP has
//! no application-level acknowledgement: what a collector's kernel took before it crashed is
//! lost). A receiver that is down delays forwarding and never a change (the forwarder only
//! reads the log). Replicas on one PostgreSQL database share the cursor and take turns through
//! a lease.

mod rfc5424;

use std::sync::Arc;
use std::time::Duration;

use domain::console::Console;
use domain::ports::forwarding::{ForwardCursor, ForwardStore};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// Events read and sent per batch.
const BATCH: i64 = 1000;
/// How long a lease lasts; renewed before every batch and while idle.
const LEASE: Duration = Duration::from_secs(15);
/// How long after a batch the connection must still be open for the cursor to move: a
/// receiver that closed or reset it meanwhile did not take the batch (or not all of it).
const SETTLE: Duration = Duration::from_millis(100);
/// Connect (and TLS handshake) deadline, and the deadline for writing one batch.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Retry delays after a failure: doubled from the first up to the last.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often an idle forwarder looks for new events.
const IDLE_POLL: Duration = Duration::from_millis(200);

/// Where the audit log goes: `tcp://host:port` or `tls://host:port` (port 6514 by default).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    pub tls: bool,
    pub host: String,
    pub port: u16,
}

impl Destination {
    pub fn parse(text: &str) -> Result<Destination, String> {
        let url = url::Url::parse(text.trim()).map_err(|e| {
            format!(
                "--audit-syslog {text}: not a URL ({e}); use tcp://host:port or tls://host:port"
            )
        })?;
        let tls = match url.scheme() {
            "tls" => true,
            "tcp" => false,
            other => {
                return Err(format!(
                    "--audit-syslog {text}: {other}:// is not supported; use tcp://host:port or tls://host:port (RFC 5425)"
                ))
            }
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("--audit-syslog {text}: no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = match (url.port(), tls) {
            (Some(p), _) => p,
            (None, true) => 6514,
            (None, false) => {
                return Err(format!(
                    "--audit-syslog {text}: plain TCP syslog has no standard port; name it (tcp://{host}:514)"
                ))
            }
        };
        if !url.path().is_empty() && url.path() != "/" || url.query().is_some() {
            return Err(format!(
                "--audit-syslog {text}: only scheme, host and port are read"
            ));
        }
        Ok(Destination { tls, host, port })
    }

    /// The name the cursor is kept under.
    pub fn name(&self) -> String {
        let scheme = if self.tls { "tls" } else { "tcp" };
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}", self.host, self.port)
        } else {
            format!("{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// Everything the forwarder needs, checked at startup (a bad CA file stops the console there).
pub struct Forwarder {
    destination: Destination,
    /// For `tls://`: the roots the collector's certificate must chain to.
    tls: Option<tokio_rustls::TlsConnector>,
    /// The HOSTNAME of every message (the console's public host).
    hostname: String,
}

impl Forwarder {
    /// `ca`: PEM certificates to trust for `tls://` instead of the system's roots.
    pub fn new(
        destination: Destination,
        ca: Option<&std::path::Path>,
        hostname: &str,
    ) -> anyhow::Result<Forwarder> {
        let tls = if destination.tls {
            let mut roots = rustls::RootCertStore::empty();
            match ca {
                Some(path) => {
                    let pem = std::fs::read(path).map_err(|e| {
                        anyhow::anyhow!("--audit-syslog-ca {}: {e}", path.display())
                    })?;
                    let certs: Vec<CertificateDer<'static>> =
                        rustls::pki_types::pem::PemObject::pem_slice_iter(&pem)
                            .collect::<Result<_, _>>()
                            .map_err(|e| {
                                anyhow::anyhow!("--audit-syslog-ca {}: {e:?}", path.display())
                            })?;
                    let (added, _) = roots.add_parsable_certificates(certs);
                    if added == 0 {
                        anyhow::bail!(
                            "--audit-syslog-ca {}: no certificate in it could be used",
                            path.display()
                        );
                    }
                }
                None => {
                    let native = rustls_native_certs::load_native_certs();
                    let (added, _) = roots.add_parsable_certificates(native.certs);
                    if added == 0 {
                        anyhow::bail!("--audit-syslog {}: the system has no CA certificates; name the collector's CA with --audit-syslog-ca", destination.name());
                    }
                }
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Some(tokio_rustls::TlsConnector::from(Arc::new(config)))
        } else {
            None
        };
        Ok(Forwarder {
            destination,
            tls,
            hostname: hostname.to_owned(),
        })
    }

    pub fn destination(&self) -> String {
        self.destination.name()
    }

    /// Forwards until the task is aborted.
    pub async fn run(self, console: Arc<Console>, holder: String) {
        let name = self.destination.name();
        let mut backoff = FIRST_BACKOFF;
        loop {
            match console.forwarding.add_destination(&name).await {
                Ok(added) => {
                    if added {
                        tracing::info!(destination = %name, "forwarding the audit log from its first event");
                    }
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "audit forwarding: could not record the destination; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        let store = console.forwarding.store().clone();
        let mut conn: Option<Box<dyn Stream>> = None;
        let mut backoff = FIRST_BACKOFF;
        let procid = std::process::id();
        // The lease as last claimed: renewed once half of it has run, not on every pass.
        let mut held: Option<ForwardCursor> = None;
        loop {
            let now = domain::now_ms();
            let renew_at = held.as_ref().map_or(i64::MIN, |c| {
                c.lease_until_ms - LEASE.as_millis() as i64 / 2
            });
            if now >= renew_at {
                held = match store
                    .claim_forwarding(&name, &holder, now, LEASE.as_millis() as i64)
                    .await
                {
                    Ok(Some(c)) => Some(c),
                    Ok(None) => {
                        // Another console sends; try again when its lease may have run out.
                        conn = None;
                        tokio::time::sleep(LEASE / 3).await;
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "audit forwarding: reading the cursor failed");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                        continue;
                    }
                };
            }
            let Some(cursor) = held.clone() else {
                continue;
            };
            let events = match store.audit_after(cursor.sent_seq, BATCH).await {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!(error = %e, "audit forwarding: reading events failed");
                    tokio::time::sleep(backoff).await;
                    continue;
                }
            };
            if events.is_empty() {
                // Notice a receiver that went away while nothing was to be sent.
                if let Some(c) = conn.as_mut() {
                    if let Err(why) = still_open(c.as_mut()).await {
                        tracing::info!(destination = %name, why, "audit forwarding: the receiver closed the connection");
                        conn = None;
                    }
                }
                tokio::time::sleep(IDLE_POLL).await;
                continue;
            }
            let result = self
                .send(&mut conn, &events, procid)
                .await
                .map_err(|e| format!("sending to {name}: {e}"));
            let last = events.last().map_or(cursor.sent_seq, |e| e.seq);
            match result {
                Ok(()) => {
                    backoff = FIRST_BACKOFF;
                    match store
                        .advance_forwarding(&name, &holder, cursor.sent_seq, last, domain::now_ms())
                        .await
                    {
                        Ok(true) => {
                            if let Some(c) = held.as_mut() {
                                c.sent_seq = last;
                            }
                        }
                        Ok(false) => {
                            held = None;
                            tracing::warn!(
                                destination = %name,
                                "audit forwarding: the lease was lost during a batch; it is sent again by whoever holds it"
                            );
                        }
                        Err(e) => {
                            held = None;
                            tracing::warn!(error = %e, "audit forwarding: saving the cursor failed; the batch will be sent again");
                        }
                    }
                }
                Err(error) => {
                    conn = None;
                    tracing::warn!(destination = %name, %error, from_seq = cursor.sent_seq + 1, "audit forwarding: will retry");
                    if let Err(e) = store
                        .note_forwarding_error(&name, &holder, &error, domain::now_ms())
                        .await
                    {
                        tracing::warn!(error = %e, "audit forwarding: could not note the error");
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// Writes `events` on the open connection (opening one if needed), then waits [`SETTLE`]
    /// and checks that the receiver has not closed or reset it.
    async fn send(
        &self,
        conn: &mut Option<Box<dyn Stream>>,
        events: &[domain::audit::AuditEvent],
        procid: u32,
    ) -> Result<(), String> {
        if conn.is_none() {
            *conn = Some(self.connect().await?);
        }
        let Some(stream) = conn.as_mut() else {
            return Err("no connection".into());
        };
        let mut bytes = Vec::new();
        for e in events {
            let json = serde_json::to_string(&app::api::audit::convert::event(e.clone()))
                .map_err(|e| e.to_string())?;
            bytes.extend(rfc5424::frame(&rfc5424::message(
                e,
                &self.hostname,
                procid,
                &json,
            )));
        }
        let write = async {
            stream.write_all(&bytes).await?;
            stream.flush().await
        };
        match tokio::time::timeout(WRITE_TIMEOUT, write).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => return Err(format!("the receiver took no data for {WRITE_TIMEOUT:?}")),
        }
        tokio::time::sleep(SETTLE).await;
        still_open(stream.as_mut()).await
    }

    async fn connect(&self) -> Result<Box<dyn Stream>, String> {
        let d = &self.destination;
        let connect = async {
            let tcp = TcpStream::connect((d.host.as_str(), d.port))
                .await
                .map_err(|e| format!("connecting: {e}"))?;
            let _ = tcp.set_nodelay(true);
            match &self.tls {
                None => Ok(Box::new(tcp) as Box<dyn Stream>),
                Some(connector) => {
                    let name = ServerName::try_from(d.host.clone())
                        .map_err(|e| format!("{}: {e}", d.host))?;
                    let tls = connector
                        .connect(name, tcp)
                        .await
                        .map_err(|e| format!("TLS: {e}"))?;
                    Ok(Box::new(tls) as Box<dyn Stream>)
                }
            }
        };
        tokio::time::timeout(CONNECT_TIMEOUT, connect)
            .await
            .map_err(|_| format!("no connection within {CONNECT_TIMEOUT:?}"))?
    }
}

/// A connection to the collector, plain or TLS.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// `Ok` while the receiver keeps the connection open. A syslog receiver never sends, so a
/// read that completes at once means it closed (0 bytes) or reset the connection.
async fn still_open(stream: &mut dyn Stream) -> Result<(), String> {
    let mut byte = [0u8; 1];
    match tokio::time::timeout(Duration::from_millis(1), stream.read(&mut byte)).await {
        Err(_) => Ok(()),
        Ok(Ok(0)) => Err("the receiver closed the connection".into()),
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("the connection failed: {e}")),
    }
}

/// Gives the lease up at shutdown, so another replica takes over without waiting it out.
pub async fn release(store: &Arc<dyn ForwardStore>, destination: &str, holder: &str) {
    if let Err(e) = store.release_forwarding(destination, holder).await {
        tracing::warn!(error = %e, "audit forwarding: could not release the lease");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_parse_with_clear_errors() {
        let d = Destination::parse("tls://siem.example.com").expect("tls");
        assert_eq!((d.tls, d.port), (true, 6514));
        assert_eq!(d.name(), "tls://siem.example.com:6514");
        let d = Destination::parse("tcp://[::1]:1514").expect("v6");
        assert_eq!(d.host, "::1");
        assert_eq!(d.name(), "tcp://[::1]:1514");
        for (bad, says) in [
            ("udp://h:514", "not supported"),
            ("tcp://h", "no standard port"),
            ("siem:514", "not supported"),
            ("tcp://h:514/path", "only scheme"),
            ("tls://:6514", "URL"),
        ] {
            let e = Destination::parse(bad).expect_err(bad);
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
