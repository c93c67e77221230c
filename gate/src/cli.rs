//! The `palisade-gate` command line: `serve` and `enroll`, every flag also a `PALISADE_GATE_*`
//! environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use crate::console::ConsoleClient;
use crate::data_dir::{ConsoleLink, DataDir};
use crate::serve::{Gate, Mode, Settings};
use crate::state::Limits;

#[derive(Debug, Parser)]
#[command(
    name = "palisade-gate",
    version,
    about = "Palisade gate: enforces the console's signed bundles (JWT, rate limits) in front of an API"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gate: the reverse proxy and the admin listener.
    Serve(Box<ServeArgs>),
    /// Register this gate with a console using a one-time token, and store the console's
    /// bundle key in the data directory.
    Enroll(EnrollArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address of the proxy listener.
    #[arg(long, env = "PALISADE_GATE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Address of the admin listener (/healthz, /readyz, /metrics, POST /v1/bundle).
    #[arg(
        long,
        env = "PALISADE_GATE_ADMIN_LISTEN",
        default_value = "127.0.0.1:9090"
    )]
    pub admin_listen: SocketAddr,
    /// `proxy`: a reverse proxy in front of --upstream. `decision`: no proxying; the listener
    /// answers nginx `auth_request` (/auth_request) and Envoy `ext_authz` (/ext_authz/...)
    /// check requests.
    #[arg(long, env = "PALISADE_GATE_MODE", value_enum, default_value_t = Mode::Proxy)]
    pub mode: Mode,
    /// The API behind the gate: http://host:port[/prefix]. Required in proxy mode.
    #[arg(long, env = "PALISADE_GATE_UPSTREAM")]
    pub upstream: Option<String>,
    /// Identity key, console.json, last-known-good bundle.
    #[arg(long, env = "PALISADE_GATE_DATA_DIR", default_value = "./gate-data")]
    pub data_dir: PathBuf,
    /// Console URL, overriding the one stored at enrolment.
    #[arg(long, env = "PALISADE_GATE_CONSOLE")]
    pub console: Option<String>,
    /// Peers whose forwarding header is believed (CIDR; repeat or separate with commas).
    #[arg(
        long = "trusted-proxy",
        env = "PALISADE_GATE_TRUSTED_PROXY",
        value_delimiter = ','
    )]
    pub trusted_proxy: Vec<String>,
    /// The header those proxies write the client's address into: `x-forwarded-for` or
    /// `forwarded` (RFC 7239). Only that one is read and passed upstream; the other is removed.
    #[arg(
        long = "forwarded-header",
        env = "PALISADE_GATE_FORWARDED_HEADER",
        default_value = "x-forwarded-for"
    )]
    pub forwarded_header: policy::forwarded::ForwardedHeader,
    /// Also serve HTTPS here, with the certificate the console delivers for this gate (the
    /// same routes, tokens and limits as --listen).
    #[arg(long, env = "PALISADE_GATE_TLS_LISTEN")]
    pub tls_listen: Option<SocketAddr>,
    /// Redis for the policies with scope "cluster" (redis://host:port/db, rediss:// for TLS;
    /// a password in the URL is never logged). Without it, those policies count per gate.
    #[arg(long, env = "PALISADE_GATE_REDIS")]
    pub redis: Option<String>,
    /// Seconds between two pulls from the console.
    #[arg(long, env = "PALISADE_GATE_PULL_INTERVAL_SECS", default_value_t = 30)]
    pub pull_interval_secs: u64,
    /// For a gate that is not enrolled: the console's bundle key (base64url of the raw 32
    /// bytes). Bundles signed by any other key are refused.
    #[arg(long, env = "PALISADE_GATE_BUNDLE_PUBLIC_KEY")]
    pub bundle_public_key: Option<String>,
    /// Largest request body proxied, in bytes (413 beyond).
    #[arg(long, env = "PALISADE_GATE_MAX_BODY_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Seconds a client has to send its request headers.
    #[arg(
        long,
        env = "PALISADE_GATE_HEADER_READ_TIMEOUT_SECS",
        default_value_t = 10
    )]
    pub header_read_timeout_secs: u64,
    /// Seconds a connection may stay open with no request in flight (HTTP/1 and HTTP/2).
    #[arg(long, env = "PALISADE_GATE_IDLE_TIMEOUT_SECS", default_value_t = 60)]
    pub idle_timeout_secs: u64,
    /// Open connections in all; a new one over the cap is closed at once.
    #[arg(long, env = "PALISADE_GATE_MAX_CONNECTIONS", default_value_t = 16_384)]
    pub max_connections: usize,
    /// Open connections per client network (IPv4 address, IPv6 /64); trusted proxies count
    /// only in all.
    #[arg(
        long,
        env = "PALISADE_GATE_MAX_CONNECTIONS_PER_IP",
        default_value_t = 256
    )]
    pub max_connections_per_ip: usize,
    /// Seconds the upstream has to answer (504 beyond).
    #[arg(
        long,
        env = "PALISADE_GATE_UPSTREAM_TIMEOUT_SECS",
        default_value_t = 30
    )]
    pub upstream_timeout_secs: u64,
    /// Keys held per rate-limit policy (16 bytes each, allocated when the bundle is applied).
    #[arg(
        long,
        env = "PALISADE_GATE_LIMITER_MAX_KEYS",
        default_value_t = 100_000
    )]
    pub limiter_max_keys: usize,
    /// Verified tokens cached (0 turns the cache off).
    #[arg(
        long,
        env = "PALISADE_GATE_TOKEN_CACHE_ENTRIES",
        default_value_t = 10_000
    )]
    pub token_cache_entries: usize,
}

#[derive(Debug, Clone, Args)]
pub struct EnrollArgs {
    /// The console's URL (http://host:port).
    #[arg(long, env = "PALISADE_GATE_CONSOLE")]
    pub console: String,
    /// The one-time enrolment token shown by the console.
    #[arg(long, env = "PALISADE_GATE_ENROLL_TOKEN")]
    pub token: String,
    #[arg(long, env = "PALISADE_GATE_DATA_DIR", default_value = "./gate-data")]
    pub data_dir: PathBuf,
}

impl ServeArgs {
    pub fn settings(&self) -> Settings {
        Settings {
            listen: self.listen,
            admin_listen: self.admin_listen,
            mode: self.mode,
            upstream: self.upstream.clone().unwrap_or_default(),
            data_dir: self.data_dir.clone(),
            console: self.console.clone(),
            trusted_proxies: self.trusted_proxy.clone(),
            forwarded_header: self.forwarded_header,
            redis: self.redis.clone(),
            tls_listen: self.tls_listen,
            pull_interval: Duration::from_secs(self.pull_interval_secs.max(1)),
            bundle_public_key: self.bundle_public_key.clone(),
            max_body_bytes: self.max_body_bytes,
            header_read_timeout: Duration::from_secs(self.header_read_timeout_secs.max(1)),
            idle_timeout: Duration::from_secs(self.idle_timeout_secs.max(1)),
            max_connections: self.max_connections.max(1),
            max_connections_per_ip: self.max_connections_per_ip.max(1),
            upstream_timeout: Duration::from_secs(self.upstream_timeout_secs.max(1)),
            limits: Limits {
                limiter_max_keys: self.limiter_max_keys,
                token_cache_entries: self.token_cache_entries,
            },
        }
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("PALISADE_GATE_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve(*args).await,
            Command::Enroll(args) => enroll(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let gate = Gate::start(args.settings()).await?;
    shutdown_signal().await;
    tracing::info!("stopping");
    gate.stop().await;
    Ok(())
}

/// `enroll`: creates the identity key if missing, registers it, writes `console.json`.
pub async fn enroll(args: EnrollArgs) -> anyhow::Result<()> {
    let dir = DataDir::open(&args.data_dir)?;
    let key = dir.identity()?;
    let encryption = dir.encryption_key()?;
    let client = ConsoleClient::new(&args.console)?;
    let enrolled = client
        .enroll(&args.token, &key, &encryption.public_b64())
        .await?;
    // Check the key before storing it: a gate must never trust garbage.
    jose::ed25519::PublicKey::from_b64(&enrolled.bundle_public_key)?;
    dir.write_console_link(&ConsoleLink {
        console_url: args.console.trim_end_matches('/').to_string(),
        gate_id: enrolled.gate_id.clone(),
        bundle_public_key: enrolled.bundle_public_key,
    })?;
    println!(
        "enrolled as gate {} with console {} ({})",
        enrolled.gate_id, enrolled.console_id, args.console
    );
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The console prints `--token=<token>`: a base64url token may start with `-`, and attached
    /// with `=` it is read as the value, not as a flag.
    #[test]
    fn a_token_starting_with_a_dash_is_read_when_attached() {
        let cli = Cli::try_parse_from([
            "palisade-gate",
            "enroll",
            "--console",
            "http://console:3000",
            "--token=-wsJFdDtzDCzCrESLG2WX6AJQt9i6W_bVFaPzvpyPNI",
            "--data-dir",
            "/tmp/d",
        ])
        .expect("parses");
        match cli.command {
            Command::Enroll(a) => {
                assert_eq!(a.token, "-wsJFdDtzDCzCrESLG2WX6AJQt9i6W_bVFaPzvpyPNI")
            }
            other => panic!("not enroll: {other:?}"),
        }
    }
}
