//! Building and running the console: bind, open the store, load the master key, wire the
//! router and middleware, print the first-run setup link, run until a signal arrives.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use app::cookie::CookiePolicy;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Router;
use domain::console::Console;
use leptos::prelude::*;
use tokio::net::TcpListener;
use tower_http::limit::RequestBodyLimitLayer;
use url::Url;

use crate::config::Config;
use crate::middleware::{self, GuardState};
use crate::{bundle_push, downloads, gate_api, health, site, ui};

/// Largest request body accepted (server fn arguments are small; WebAuthn responses < 16 KiB).
pub const BODY_LIMIT: usize = 64 * 1024;
/// Largest body of a gate's call: a status report may carry the usage of up to
/// `domain::gates::service::MAX_USAGE_ENTRIES` secrets and as many clients (under 1 MiB).
pub const GATE_API_BODY_LIMIT: usize = 1024 * 1024;

pub struct Application {
    listener: TcpListener,
    router: Router,
    public_url: Url,
    pub console: Arc<Console>,
    port: u16,
    limits: listener::Limits,
    /// Open and refused connections (for tests and health).
    pub connections: listener::Stats,
    rotation_tick: Duration,
    /// The audit forwarder, when `--audit-syslog` names a collector.
    forwarder: Option<crate::forwarding::Forwarder>,
}

/// Whether opening the console may create a master key: only `serve` does, and only for a
/// database that holds no sealed value yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyFile {
    CreateIfMissing,
    MustExist,
}

/// Opens the store named by the config (creating the data directory for SQLite), then loads
/// the master key, creating one only when `key` allows it and the database holds no sealed
/// value (a missing key file must not silently become a new key that opens nothing), and
/// checks the key against the database's check value before anything is sealed or opened.
pub async fn open_console(
    config: &Config,
    public_url: &Url,
    key: KeyFile,
) -> anyhow::Result<Arc<Console>> {
    crate::config::create_private_dir(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    let url = config.database_url();
    crate::config::create_private_db_file(&url)
        .with_context(|| format!("creating the database file of {url}"))?;
    let sessions = config.session_policy();
    // The URL scheme picks the database; any other scheme is refused with the supported URLs.
    let store = Arc::new(store::SqlStore::open(&url).await?);
    let path = config.master_key_path();
    if !path.exists() {
        if key == KeyFile::MustExist {
            anyhow::bail!(
                "no master key at {}: this command never creates one. Start the console once \
                 (`palisade serve`) to create it, or point --master-key-file at the key",
                path.display()
            );
        }
        use domain::ports::sealed::SealedStore as _;
        let sealed = store.sealed_values().await?;
        if !sealed.is_empty() {
            anyhow::bail!(
                "the master key file {} is missing, but the database holds {} private keys sealed \
                 under a master key. Restore the key file from your backup (or point \
                 --master-key-file / PALISADE_MASTER_KEY_FILE at it). No new key was generated: \
                 one would open none of them",
                path.display(),
                sealed.len()
            );
        }
    }
    let master_key = crate::master_key::load_or_create(&path, key == KeyFile::CreateIfMissing)?;
    let probe = Arc::new(crate::probe::NetProbe {
        allow: config.probe_allow.clone(),
    });
    let console = Console::new(store, probe, Arc::new(master_key), public_url, sessions)?;
    console
        .check_master_key()
        .await
        .map_err(|e| anyhow::anyhow!("master key {}: {e}", path.display()))?;
    // Order: the key checked, the chain key loaded (if the chain is keyed, every event after
    // is MAC'd), old-format seals upgraded (audited), then the chain keyed if it is not yet.
    console
        .load_audit_chain_key()
        .await
        .map_err(|e| anyhow::anyhow!("audit chain key: {e}"))?;
    let upgraded = console
        .upgrade_seals()
        .await
        .map_err(|e| anyhow::anyhow!("re-sealing in the current format: {e}"))?;
    if upgraded > 0 {
        tracing::info!(
            values = upgraded,
            "re-sealed private keys with purpose and table in the AAD"
        );
    }
    console
        .key_audit_chain()
        .await
        .map_err(|e| anyhow::anyhow!("audit chain key: {e}"))?;
    Ok(Arc::new(console))
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.addr)
            .await
            .with_context(|| format!("binding {}", config.addr))?;
        let port = listener.local_addr()?.port();
        let public_url = config.public_url_for_port(port);
        Config::check_public_url(&public_url)?;
        ui::check_server_fns()?;
        let console = open_console(&config, &public_url, KeyFile::CreateIfMissing).await?;
        let summary_secs = config.audit_summary_secs.clamp(1, 3600);
        console
            .refusals
            .summarise_every_ms(i64::try_from(summary_secs * 1000).unwrap_or(60_000));
        let router = router(&config, console.clone(), &public_url);
        let limits = config.listener_limits();
        let rotation_tick = Duration::from_secs(config.rotation_tick_secs.clamp(1, 3600));
        let forwarder = match &config.audit_syslog {
            Some(url) => {
                let destination =
                    crate::forwarding::Destination::parse(url).map_err(anyhow::Error::msg)?;
                Some(crate::forwarding::Forwarder::new(
                    destination,
                    config.audit_syslog_ca.as_deref(),
                    public_url.host_str().unwrap_or("-"),
                )?)
            }
            None => None,
        };
        Ok(Application {
            rotation_tick,
            forwarder,
            listener,
            router,
            public_url,
            console,
            port,
            limits,
            connections: listener::Stats::default(),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn public_url(&self) -> &Url {
        &self.public_url
    }

    /// Issues and returns the first-run setup URL when no admin exists yet.
    pub async fn first_run_setup_url(&self) -> anyhow::Result<Option<String>> {
        Ok(self.console.auth.first_run_setup_link().await?)
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let console = self.console.clone();
        let purge = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(300));
            loop {
                tick.tick().await;
                let p = console.auth.sessions;
                if let Err(e) = console
                    .store
                    .purge_expired(domain::now_ms(), p.idle_ms, p.absolute_ms)
                    .await
                {
                    tracing::warn!(error = %e, "purging expired sessions failed");
                }
            }
        });
        let rotation = tokio::spawn(rotation_job(self.console.clone(), self.rotation_tick));
        let push = tokio::spawn(bundle_push::run(self.console.clone()));
        let console = self.console.clone();
        let summaries = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                if let Err(e) = console.refusals.flush(false).await {
                    tracing::warn!(error = %e, "could not write the summary of refusals; retrying");
                }
            }
        });
        // Random per start: the lease on the collector's cursor is this process's.
        let holder = uuid::Uuid::new_v4().simple().to_string();
        let forwarding = self.forwarder.map(|f| {
            let destination = f.destination();
            let task = tokio::spawn(f.run(self.console.clone(), holder.clone()));
            (task, destination)
        });
        let result = serve(self.listener, self.router, self.limits, self.connections).await;
        if let Some((task, destination)) = forwarding {
            task.abort();
            crate::forwarding::release(self.console.forwarding.store(), &destination, &holder)
                .await;
        }
        purge.abort();
        rotation.abort();
        push.abort();
        summaries.abort();
        // The refusals counted since the last summary are not lost at shutdown.
        if let Err(e) = self.console.refusals.flush(true).await {
            tracing::warn!(error = %e, "could not write the last summary of refusals");
        }
        result
    }
}

/// The signing-key rotation job: every `tick`, applies the steps due on automatically rotated
/// key sets (publish next, promote, remove). Each step is its own audited transaction, so a
/// crash between steps is resumed by the next pass; a step that fails is retried next pass.
async fn rotation_job(console: Arc<Console>, tick: Duration) {
    let mut interval = tokio::time::interval(tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        for r in console.keys.run_due(domain::now_ms()).await {
            match r {
                Ok(done) => tracing::info!(step = %done, "key rotation step applied"),
                Err(e) => {
                    tracing::warn!(error = %e, "key rotation step failed; retrying next pass")
                }
            }
        }
    }
}

/// Accepts connections until a shutdown signal and serves them under `limits` (the
/// `listener` crate: connection caps, header, idle and HTTP/2 bounds, a drain at shutdown).
async fn serve(
    listener: TcpListener,
    router: Router,
    limits: listener::Limits,
    stats: listener::Stats,
) -> std::io::Result<()> {
    use tower::ServiceExt;

    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    listener::serve(listener, limits, None, true, stopped, stats, move |peer| {
        let router = router.clone();
        hyper::service::service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            router.clone().oneshot(req)
        })
    })
    .await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

#[derive(Clone)]
pub struct AppState {
    pub leptos: LeptosOptions,
    pub console: Arc<Console>,
}

impl axum::extract::FromRef<AppState> for LeptosOptions {
    fn from_ref(s: &AppState) -> Self {
        s.leptos.clone()
    }
}

fn router(config: &Config, console: Arc<Console>, public_url: &Url) -> Router {
    let site_root: Option<PathBuf> = site::find(config.site_root.as_deref());
    match &site_root {
        Some(dir) => tracing::info!(site_root = %dir.display(), "serving site assets"),
        None => tracing::error!(
            "site assets (pkg/{}.js) not found next to the binary; pages will render without script or style. Run `make run` or set PALISADE_SITE_ROOT",
            site::OUTPUT_NAME
        ),
    }
    let site_root = site_root.unwrap_or_else(|| PathBuf::from("target/site"));
    let leptos = LeptosOptions::builder()
        .output_name(site::OUTPUT_NAME)
        .site_root(site_root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(config.addr)
        .build();
    let tls = public_url.scheme() == "https";
    let policy = config.session_policy();
    let cookies = CookiePolicy {
        secure: tls,
        max_age_s: policy.absolute_ms / 1000,
    };
    let state = AppState {
        leptos: leptos.clone(),
        console: console.clone(),
    };
    let guard_state = GuardState {
        console: console.clone(),
        cookies,
        origin: public_url.origin().ascii_serialization(),
        tls,
        proxies: policy::forwarded::ProxyTrust::new(
            config.trusted_proxies.clone(),
            config.forwarded_header,
        ),
    };

    // One router per area, each with its own paths; the REST API joins them here. The gate
    // API is merged after the guard layer: gates authenticate by signature, not by session.
    let site = site::router(&site_root);
    let browser = Router::new()
        .merge(health::router())
        .merge(site.router)
        .merge(downloads::router())
        .merge(ui::router(&state, cookies, site.asset_root))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            guard_state.clone(),
            middleware::guard,
        ));
    let browser = browser
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT));
    // The REST API: tokens, never sessions, so outside the browser guard, with its own limit.
    let api = crate::api_v1::router(crate::api_v1::ApiState {
        console: console.clone(),
        proxies: guard_state.proxies.clone(),
    })
    .layer(DefaultBodyLimit::max(crate::api_v1::BODY_LIMIT))
    .layer(RequestBodyLimitLayer::new(crate::api_v1::BODY_LIMIT));
    let gates = gate_api::router()
        .layer(DefaultBodyLimit::max(GATE_API_BODY_LIMIT))
        .layer(RequestBodyLimitLayer::new(GATE_API_BODY_LIMIT));
    let deadlines = crate::deadlines::Deadlines {
        body: Duration::from_secs(config.body_timeout_secs.clamp(1, 300)),
        handler: Duration::from_secs(config.request_timeout_secs.clamp(1, 3600)),
        max_body: GATE_API_BODY_LIMIT,
    };
    Router::new()
        .merge(gates)
        .merge(api)
        .merge(browser)
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            deadlines,
            crate::deadlines::enforce,
        ))
        // Outermost, so that every answer carries the headers, a 413 from the limit included.
        .layer(axum::middleware::from_fn_with_state(
            guard_state,
            middleware::security_headers,
        ))
}

async fn not_found() -> Response {
    middleware::plain(StatusCode::NOT_FOUND, "not found\n")
}
