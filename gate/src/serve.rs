//! Startup: the data directory, the trusted bundle key, the last-known-good bundle applied at
//! once, the two listeners, the pull loop. [`Gate::start`] is what `palisade-gate serve` runs and
//! what the tests start on port 0.
//!
//! Both listeners: `TCP_NODELAY` on every accepted socket (no Nagle stalls on small answers),
//! HTTP/1.1 and HTTP/2, a header-read timeout (slowloris), at most 100 header fields (hyper's
//! default; more is a 431).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jose::ed25519::PublicKey;
use policy::cidr::Cidr;
use policy::forwarded::{ForwardedHeader, ProxyTrust};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::ServiceExt as _;

use crate::admin::{router, AdminState};
use crate::apply::{Applier, Shared};
use crate::console::{ConsoleClient, Link};
use crate::data_dir::DataDir;
use crate::decision_mode::DecisionService;
use crate::error::GateError;
use crate::proxy::{Body, Proxy, Upstream};
use crate::state::Limits;

/// What the main listener does with a request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Reverse proxy: decide, then forward to `--upstream`.
    #[default]
    Proxy,
    /// Decision service beside nginx (`auth_request`) or Envoy (`ext_authz`): decide only
    /// (see [`crate::decision_mode`]).
    Decision,
}

/// Everything `serve` needs.
#[derive(Clone, Debug)]
pub struct Settings {
    pub listen: SocketAddr,
    pub admin_listen: SocketAddr,
    pub mode: Mode,
    /// The upstream URL; proxy mode only (ignored in decision mode).
    pub upstream: String,
    pub data_dir: PathBuf,
    /// Overrides the console URL of `console.json`.
    pub console: Option<String>,
    pub trusted_proxies: Vec<String>,
    /// The header the trusted proxies write the client's address into.
    pub forwarded_header: ForwardedHeader,
    pub pull_interval: Duration,
    /// Base64url raw 32-byte key, for a gate without `console.json`.
    pub bundle_public_key: Option<String>,
    pub max_body_bytes: usize,
    pub header_read_timeout: Duration,
    /// A connection with no request in flight for this long is closed.
    pub idle_timeout: Duration,
    /// Open connections in all, and per client network (trusted proxies count only in all).
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    pub upstream_timeout: Duration,
    pub limits: Limits,
    /// Redis URL for cluster-scoped policies.
    pub redis: Option<String>,
    /// The HTTPS listener (same service as `listen`), serving the certificates the console
    /// delivers.
    pub tls_listen: Option<SocketAddr>,
}

/// A running gate.
pub struct Gate {
    pub addr: SocketAddr,
    /// The HTTPS listener's address, when `tls_listen` was given.
    pub tls_addr: Option<SocketAddr>,
    pub admin_addr: SocketAddr,
    pub shared: Arc<Shared>,
    pub applier: Arc<Applier>,
    /// Open and refused connections of the main listeners.
    pub connections: listener::Stats,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Gate {
    /// Binds both listeners, applies the last-known-good bundle, starts pulling if enrolled.
    pub async fn start(s: Settings) -> Result<Gate, GateError> {
        let trusted_proxies = s
            .trusted_proxies
            .iter()
            .map(|c| {
                Cidr::parse(c).map_err(|e| GateError::Config(format!("--trusted-proxy {c:?}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let upstream = match s.mode {
            Mode::Proxy if s.upstream.is_empty() => {
                return Err(GateError::Config(
                    "--upstream is required in proxy mode (or run with --mode decision beside \
                     nginx or Envoy)"
                        .into(),
                ))
            }
            Mode::Proxy => Some(Upstream::parse(&s.upstream)?),
            Mode::Decision => {
                if !s.upstream.is_empty() {
                    tracing::warn!("--upstream is ignored in decision mode: the proxy in front forwards requests");
                }
                None
            }
        };
        let dir = DataDir::open(&s.data_dir)?;
        let link = dir.console_link()?;
        let flag_key = s
            .bundle_public_key
            .as_deref()
            .map(PublicKey::from_b64)
            .transpose()
            .map_err(|e| GateError::Config(format!("--bundle-public-key: {e}")))?;
        let trusted = match (&link, flag_key) {
            (Some(l), Some(k)) if l.bundle_key()? != k => {
                return Err(GateError::Config(
                    "--bundle-public-key differs from the key in console.json; drop the flag \
                     (an enrolled gate trusts its console's key) or re-enrol"
                        .into(),
                ))
            }
            (Some(l), _) => Some(l.bundle_key()?),
            (None, k) => k,
        };
        if trusted.is_none() {
            tracing::warn!("not enrolled and no --bundle-public-key: every bundle will be refused");
        }
        let console_link = match link {
            Some(mut l) => {
                if let Some(url) = &s.console {
                    l.console_url = url.clone();
                }
                let client = ConsoleClient::new(&l.console_url)?;
                let key = dir.identity()?;
                Some(Arc::new(Link {
                    client,
                    link: l,
                    key,
                    encryption_key: dir.encryption_key()?.public_b64(),
                }))
            }
            None => {
                if s.console.is_some() {
                    tracing::warn!("--console given but the gate is not enrolled (no console.json): not pulling; run `palisade-gate enroll` first");
                }
                None
            }
        };
        let shared = Arc::new(Shared::new());
        let mut background = Vec::new();
        if let Some(url) = &s.redis {
            let cluster = crate::cluster::ClusterLimiter::new(url).map_err(GateError::Config)?;
            background.push(cluster.start());
            let _ = shared.cluster.set(cluster);
        }
        let mut applier = Applier::new(shared.clone(), dir.clone(), trusted, s.limits);
        if let Some(l) = &console_link {
            applier = applier.opening_secrets(l.link.gate_id.clone(), dir.encryption_key()?);
        }
        let applier = Arc::new(applier);
        if let Some(bytes) = dir.read_bundle()? {
            match applier.apply(&bytes, false, "disk").await {
                r @ crate::apply::ApplyResult::Applied { .. } => {
                    tracing::info!(?r, "last-known-good bundle applied from disk")
                }
                r => tracing::error!(
                    ?r,
                    "the bundle on disk was refused; waiting for a push or pull"
                ),
            }
        }
        let main_listener = TcpListener::bind(s.listen)
            .await
            .map_err(|e| GateError::Config(format!("--listen {}: {e}", s.listen)))?;
        let admin_listener = TcpListener::bind(s.admin_listen)
            .await
            .map_err(|e| GateError::Config(format!("--admin-listen {}: {e}", s.admin_listen)))?;
        let addr = main_listener
            .local_addr()
            .map_err(|e| GateError::io("listener", e))?;
        let admin_addr = admin_listener
            .local_addr()
            .map_err(|e| GateError::io("admin listener", e))?;
        let tls_listener = match s.tls_listen {
            Some(a) => Some(
                TcpListener::bind(a)
                    .await
                    .map_err(|e| GateError::Config(format!("--tls-listen {a}: {e}")))?,
            ),
            None => None,
        };
        let tls_addr = tls_listener
            .as_ref()
            .map(|l| l.local_addr())
            .transpose()
            .map_err(|e| GateError::io("TLS listener", e))?;
        let (stop, stopped) = watch::channel(false);
        let connections = listener::Stats::default();
        let exempt = trusted_proxies.clone();
        let proxies = ProxyTrust::new(trusted_proxies, s.forwarded_header);
        let proxy = Arc::new(match upstream {
            Some(upstream) => Front::Proxy(Box::new(Proxy::new(
                shared.clone(),
                upstream,
                proxies,
                s.max_body_bytes,
                s.upstream_timeout,
            ))),
            None => Front::Decision(Box::new(DecisionService::new(shared.clone(), proxies))),
        });
        let admin = router(AdminState {
            shared: shared.clone(),
            applier: applier.clone(),
            link: console_link.clone(),
        });
        // Headers of up to 1 MiB + 64 KiB in all on the main listeners, so that a 1 MB bearer
        // token reaches the token check and gets its 401.
        let limits = listener::Limits {
            header_timeout: s.header_read_timeout,
            idle_timeout: s.idle_timeout,
            max_connections: s.max_connections,
            max_connections_per_network: s.max_connections_per_ip,
            exempt,
            max_header_bytes: 1024 * 1024 + 64 * 1024,
            drain: Duration::from_secs(5),
            ..listener::Limits::default()
        };
        let admin_limits = listener::Limits {
            max_header_bytes: 64 * 1024,
            ..limits.clone()
        };
        let mut tasks = Vec::new();
        if let Some(l) = tls_listener {
            let acceptor = tokio_rustls::TlsAcceptor::from(
                crate::tls::server_config(shared.clone()).map_err(GateError::Config)?,
            );
            let proxy = proxy.clone();
            tasks.push(tokio::spawn(listener::serve(
                l,
                limits.clone(),
                Some(acceptor),
                false,
                stopped.clone(),
                connections.clone(),
                move |peer| {
                    let proxy = proxy.clone();
                    hyper::service::service_fn(
                        move |mut req: http::Request<hyper::body::Incoming>| {
                            let proxy = proxy.clone();
                            req.extensions_mut().insert(crate::tls::Https);
                            async move {
                                Ok::<_, std::convert::Infallible>(proxy.handle(peer, req).await)
                            }
                        },
                    )
                },
            )));
        }
        tasks.extend([
            tokio::spawn(listener::serve(
                main_listener,
                limits,
                None,
                false,
                stopped.clone(),
                connections.clone(),
                move |peer| {
                    let proxy = proxy.clone();
                    hyper::service::service_fn(move |req| {
                        let proxy = proxy.clone();
                        async move { Ok::<_, std::convert::Infallible>(proxy.handle(peer, req).await) }
                    })
                },
            )),
            tokio::spawn(listener::serve(
                admin_listener,
                admin_limits,
                None,
                false,
                stopped.clone(),
                listener::Stats::default(),
                move |_peer| {
                    let admin = admin.clone();
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        admin.clone().oneshot(req)
                    })
                },
            )),
        ]);
        tasks.extend(background);
        if let Some(l) = console_link {
            tasks.push(tokio::spawn(l.pull_loop(applier.clone(), s.pull_interval)));
        }
        tracing::info!(%addr, %admin_addr, mode = ?s.mode, "palisade-gate listening");
        Ok(Gate {
            addr,
            tls_addr,
            admin_addr,
            shared,
            applier,
            connections,
            stop,
            tasks,
        })
    }

    /// Stops accepting, ends the pull loop, and gives open connections up to 5 s.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let deadline = tokio::time::sleep(Duration::from_secs(5));
        tokio::pin!(deadline);
        for mut t in self.tasks {
            tokio::select! {
                _ = &mut t => {}
                _ = &mut deadline => { t.abort(); }
            }
        }
    }
}

/// The main listener's handler in either mode.
enum Front {
    Proxy(Box<Proxy>),
    Decision(Box<DecisionService>),
}

impl Front {
    async fn handle(
        &self,
        peer: SocketAddr,
        req: http::Request<hyper::body::Incoming>,
    ) -> http::Response<Body> {
        match self {
            Front::Proxy(p) => p.handle(peer, req).await,
            Front::Decision(d) => d.handle(peer, req).await,
        }
    }
}
