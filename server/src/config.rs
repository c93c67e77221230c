//! Command-line flags and their `PALISADE_*` environment equivalents.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use url::Url;

#[derive(Debug, Parser)]
#[command(
    name = "palisade",
    version,
    about = "Palisade console: passkey-protected control plane for the API your mobile apps call"
)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the console (the default).
    Serve,
    /// Manage admins.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Print the SPKI pin (RFC 7469) of every certificate, CSR, public or private key in the
    /// given PEM/DER files, or of the chain a live server presents: `sha256/<base64>  <what>`.
    Pin {
        /// PEM or DER files ("-" for standard input).
        files: Vec<std::path::PathBuf>,
        /// Connect to host:port and print the pins of the presented chain.
        #[arg(long, value_name = "HOST:PORT")]
        connect: Vec<String>,
    },
    /// Inspect the audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Signing keys and the master key.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// App releases, from a release pipeline (calls a running console's REST API).
    Release {
        #[command(subcommand)]
        command: ReleaseCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReleaseCommand {
    /// Record an app release at the console and write the pin set it ships, in one call
    /// (`POST /api/v1/releases`). The API token (scope `releases:write`) is read from
    /// PALISADE_API_TOKEN, never from the command line.
    Export(Box<ReleaseExport>),
}

#[derive(Debug, Clone, Args)]
pub struct ReleaseExport {
    /// The console's URL, e.g. https://palisade.example.com.
    #[arg(long, env = "PALISADE_CONSOLE_URL", value_name = "URL")]
    pub console: url::Url,
    /// The API hostname whose pin set the app ships.
    #[arg(long)]
    pub hostname: String,
    /// Export format: ios, trustkit, trustkit_swift, android, okhttp or json.
    #[arg(long)]
    pub format: String,
    /// The app's bundle id / package name, e.g. com.example.bank.
    #[arg(long)]
    pub app: String,
    /// The app version being released, e.g. 5.1.0.
    #[arg(long)]
    pub version: String,
    /// The app's display name (the bundle id if not given).
    #[arg(long)]
    pub app_name: Option<String>,
    /// ios or android; implied by every format but json.
    #[arg(long)]
    pub platform: Option<String>,
    /// Release date, YYYY-MM-DD (today, UTC, if not given).
    #[arg(long)]
    pub released_on: Option<String>,
    /// Where to write the exported file.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Re-seal every private key in the database under a new master key, in one transaction.
    /// Stop the console first. The new key file is created (mode 0600) if it does not exist;
    /// afterwards start Palisade with `--master-key-file` pointing at it: the old file is no
    /// longer needed.
    Rewrap {
        /// The new master key file (created if missing).
        #[arg(long, value_name = "FILE")]
        new_master_key_file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Print a fresh one-time setup URL (valid for one hour) that creates an owner.
    Bootstrap,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Verify the audit chain from the first event with the chain key (opened with the master
    /// key); exits non-zero naming the first bad row. Read-only: nothing is written.
    Verify {
        /// A checkpoint file from `palisade audit checkpoint`: the chain must still hold the
        /// event it names, unchanged (rows deleted from the end show here).
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
    },
    /// Verify the chain, then write a checkpoint of its newest event (JSON) to keep outside
    /// the database, e.g. with your backups; `audit verify --checkpoint` checks against it.
    Checkpoint {
        /// Where to write it (standard output if not given).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(
        long,
        env = "PALISADE_ADDR",
        default_value = "127.0.0.1:3000",
        global = true
    )]
    pub addr: SocketAddr,
    /// Directory for the embedded database and the master key.
    #[arg(
        long,
        env = "PALISADE_DATA_DIR",
        default_value = "./data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// Database URL; defaults to the SQLite file `palisade.db` in the data directory.
    #[arg(long, env = "PALISADE_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// The URL browsers use to reach the console; the WebAuthn RP ID and origin come from it.
    /// Defaults to `http://localhost:<port of --addr>` (an IP address is not a valid RP ID).
    #[arg(long, env = "PALISADE_PUBLIC_URL", global = true)]
    pub public_url: Option<Url>,
    /// File holding the master key (base64 of 32 bytes); defaults to `master.key` in the data
    /// directory, generated with mode 0600 on first start.
    #[arg(long, env = "PALISADE_MASTER_KEY_FILE", global = true)]
    pub master_key_file: Option<PathBuf>,
    /// Minutes of inactivity after which a session ends.
    #[arg(
        long,
        env = "PALISADE_SESSION_IDLE_MINUTES",
        default_value_t = 30,
        global = true
    )]
    pub session_idle_minutes: u32,
    /// Hours after sign-in at which a session ends regardless of activity.
    #[arg(
        long,
        env = "PALISADE_SESSION_MAX_HOURS",
        default_value_t = 12,
        global = true
    )]
    pub session_max_hours: u32,
    /// Seconds a client may take to send its request headers before the connection is closed
    /// (a slowloris guard).
    #[arg(
        long,
        env = "PALISADE_HEADER_TIMEOUT_SECS",
        default_value_t = 10,
        global = true
    )]
    pub header_timeout_secs: u64,
    /// Seconds a connection may stay open with no request in flight (HTTP/1 keep-alive and
    /// HTTP/2 alike).
    #[arg(
        long,
        env = "PALISADE_IDLE_TIMEOUT_SECS",
        default_value_t = 60,
        global = true
    )]
    pub idle_timeout_secs: u64,
    /// Seconds a client may take to send a request body (else 408).
    #[arg(
        long,
        env = "PALISADE_BODY_TIMEOUT_SECS",
        default_value_t = 10,
        global = true
    )]
    pub body_timeout_secs: u64,
    /// Seconds within which every request is answered (else 503).
    #[arg(
        long,
        env = "PALISADE_REQUEST_TIMEOUT_SECS",
        default_value_t = 30,
        global = true
    )]
    pub request_timeout_secs: u64,
    /// Open connections in all; a new one over the cap is closed at once.
    #[arg(
        long,
        env = "PALISADE_MAX_CONNECTIONS",
        default_value_t = 4096,
        global = true
    )]
    pub max_connections: usize,
    /// Open connections per client network (IPv4 address, IPv6 /64); trusted proxies count
    /// only in all.
    #[arg(
        long,
        env = "PALISADE_MAX_CONNECTIONS_PER_IP",
        default_value_t = 128,
        global = true
    )]
    pub max_connections_per_ip: usize,
    /// Seconds between two passes of the signing-key rotation job (it publishes next keys,
    /// promotes them and removes retired keys when due).
    #[arg(
        long,
        env = "PALISADE_ROTATION_TICK_SECS",
        default_value_t = 60,
        global = true
    )]
    pub rotation_tick_secs: u64,
    /// Seconds between two summaries of the anonymous refusals over the audit budget (each is
    /// one audit event counting the refusals not written one by one).
    #[arg(
        long,
        env = "PALISADE_AUDIT_SUMMARY_SECS",
        default_value_t = 60,
        global = true
    )]
    pub audit_summary_secs: u64,
    /// Reverse proxies (CIDR, comma-separated) whose forwarding header (`--forwarded-header`)
    /// names the client: for the sign-in throttle and the audit log's IP. Requests from anywhere
    /// else are taken from their socket address, whatever they claim.
    #[arg(
        long = "trusted-proxies",
        env = "PALISADE_TRUSTED_PROXIES",
        value_delimiter = ',',
        global = true
    )]
    pub trusted_proxies: Vec<policy::cidr::Cidr>,
    /// The header the trusted proxies write the client's address into: `x-forwarded-for` or
    /// `forwarded` (RFC 7239). Only that one is read; the other is whatever the client sent.
    #[arg(
        long = "forwarded-header",
        env = "PALISADE_FORWARDED_HEADER",
        default_value = "x-forwarded-for",
        global = true
    )]
    pub forwarded_header: policy::forwarded::ForwardedHeader,
    /// Address ranges (CIDR, comma-separated) the pin tool's live probe may reach besides public
    /// addresses, e.g. `10.20.0.0/16` for internal API hosts. Loopback, private and link-local
    /// addresses are refused unless listed here; cloud metadata addresses always are.
    #[arg(
        long = "probe-allow",
        env = "PALISADE_PROBE_ALLOW",
        value_delimiter = ',',
        global = true
    )]
    pub probe_allow: Vec<policy::cidr::Cidr>,
    /// Forward every audit event, in order and at least once, to a syslog collector:
    /// `tcp://host:port` or `tls://host:port` (RFC 5424 messages, octet-counted; port 6514 by
    /// default for TLS). A collector that is down delays forwarding, never a change.
    #[arg(long, env = "PALISADE_AUDIT_SYSLOG", value_name = "URL", global = true)]
    pub audit_syslog: Option<String>,
    /// PEM file of the CA certificates a `tls://` collector's certificate must chain to
    /// (default: the system's roots).
    #[arg(
        long,
        env = "PALISADE_AUDIT_SYSLOG_CA",
        value_name = "FILE",
        global = true
    )]
    pub audit_syslog_ca: Option<PathBuf>,
    /// Directory holding the built site (`pkg/palisade.js`, `.wasm`, `.css`); found next to the
    /// binary when not given.
    #[arg(long, env = "PALISADE_SITE_ROOT", global = true)]
    pub site_root: Option<PathBuf>,
}

impl Config {
    /// The configuration `palisade --data-dir DIR` would run with (every other setting at its
    /// default, or from its environment variable).
    pub fn for_data_dir(dir: &std::path::Path) -> Config {
        Cli::parse_from([
            std::ffi::OsStr::new("palisade"),
            "--data-dir".as_ref(),
            dir.as_os_str(),
        ])
        .config
    }

    /// The connection bounds of the console's listener.
    pub fn listener_limits(&self) -> listener::Limits {
        listener::Limits {
            header_timeout: Duration::from_secs(self.header_timeout_secs.clamp(1, 300)),
            idle_timeout: Duration::from_secs(self.idle_timeout_secs.clamp(1, 3600)),
            max_connections: self.max_connections.max(1),
            max_connections_per_network: self.max_connections_per_ip.max(1),
            exempt: self.trusted_proxies.clone(),
            ..listener::Limits::default()
        }
    }

    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("palisade.db").display()))
    }

    /// The public URL, or `http://localhost:<port>` for the given bound port.
    pub fn public_url_for_port(&self, port: u16) -> Url {
        self.public_url.clone().unwrap_or_else(|| {
            Url::parse(&format!("http://localhost:{port}"))
                .expect("a localhost URL with a port is valid")
        })
    }

    /// Refuses a public URL that browsers would reach in clear text over a network: `http://`
    /// is accepted only for `localhost` (and `*.localhost`), which never leaves the machine.
    /// Session cookies and passkey ceremonies must not cross a network unencrypted.
    pub fn check_public_url(url: &Url) -> anyhow::Result<()> {
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let local = host == "localhost" || host.ends_with(".localhost");
        match url.scheme() {
            "https" => Ok(()),
            "http" if local => Ok(()),
            "http" => anyhow::bail!(
                "--public-url {url} is plain http on a host other than localhost: sessions and \
                 passkeys would cross the network unencrypted. Use https:// (terminate TLS in a \
                 proxy in front of the console) or http://localhost for a local trial."
            ),
            other => {
                anyhow::bail!("--public-url must be https:// (or http://localhost), not {other}://")
            }
        }
    }

    pub fn master_key_path(&self) -> PathBuf {
        self.master_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("master.key"))
    }

    pub fn session_policy(&self) -> domain::sessions::SessionPolicy {
        domain::sessions::SessionPolicy {
            idle_ms: i64::from(self.session_idle_minutes.max(1)) * 60_000,
            absolute_ms: i64::from(self.session_max_hours.max(1)) * 3_600_000,
        }
    }
}

/// Creates `dir` and any missing parents with mode 0700 (owner only: it holds the database,
/// the master key and the lock); an existing directory is left as it is, with a warning when
/// others may read it.
pub fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
        builder.mode(0o700);
        builder.create(dir)?;
        let mode = std::fs::metadata(dir)?.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(
                dir = %dir.display(),
                mode = format!("{:o}", mode & 0o777),
                "the data directory is readable by other users; chmod 700 it"
            );
        }
        Ok(())
    }
    #[cfg(not(unix))]
    builder.create(dir)
}

/// For a `sqlite:` URL naming a file that does not exist yet: creates it empty with mode 0600,
/// so SQLite (which gives its WAL and shared-memory files the database's mode) never makes a
/// world-readable database. Other URLs: nothing.
pub fn create_private_db_file(url: &str) -> std::io::Result<()> {
    let Some(rest) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    else {
        return Ok(());
    };
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" || std::path::Path::new(path).exists() {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_for_localhost() {
        let check = |u: &str| Config::check_public_url(&Url::parse(u).expect("url")).is_ok();
        assert!(check("https://console.example.com"));
        assert!(check("http://localhost:3000"));
        assert!(check("http://admin.localhost:3000"));
        assert!(!check("http://console.example.com"));
        assert!(!check("http://localhost.example.com"));
        assert!(!check("ftp://localhost"));
    }
}
