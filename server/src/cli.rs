//! The `palisade` command line: `serve` (default), `admin bootstrap`, `audit verify`, `pin`,
//! `keys rewrap`.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use domain::audit::{Actor, Checkpoint};
use domain::console::ChainStatus;
use tracing_subscriber::EnvFilter;

use crate::config::{AdminCommand, AuditCommand, Cli, Command, Config, KeysCommand};
use crate::startup::{open_console, Application, KeyFile};

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("PALISADE_LOG")
                .unwrap_or_else(|_| EnvFilter::new("info,sqlx::postgres::notice=warn")),
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
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(cli.config).await,
            Command::Admin {
                command: AdminCommand::Bootstrap,
            } => bootstrap(cli.config).await,
            Command::Audit {
                command: AuditCommand::Verify { checkpoint },
            } => verify(cli.config, checkpoint).await,
            Command::Audit {
                command: AuditCommand::Checkpoint { out },
            } => checkpoint(cli.config, out).await,
            Command::Pin { files, connect } => pin(files, connect).await,
            Command::Keys {
                command:
                    KeysCommand::Rewrap {
                        new_master_key_file,
                    },
            } => rewrap(cli.config, new_master_key_file).await,
            Command::Release {
                command: crate::config::ReleaseCommand::Export(args),
            } => crate::release_cli::export(*args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Holds `<data-dir>/console.lock` exclusively while the process lives: one console per data
/// directory, and no `keys rewrap` under a running console (it would keep the old master key).
fn lock_data_dir(config: &Config, doing: &str) -> anyhow::Result<std::fs::File> {
    crate::config::create_private_dir(&config.data_dir)?;
    let path = config.data_dir.join("console.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "a console is running on {} ({} is locked): stop it before {doing}",
            config.data_dir.display(),
            path.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
    }
}

async fn serve(config: Config) -> anyhow::Result<ExitCode> {
    let _lock = lock_data_dir(&config, "starting another one")?;
    let app = Application::build(config).await?;
    tracing::info!(public_url = %app.public_url(), port = app.port(), "Palisade console listening");
    if let Some(url) = app.first_run_setup_url().await? {
        // One line, on stdout, so it can be copied (and read by tests).
        println!("Setup URL: {url}");
    }
    app.run_until_stopped().await?;
    Ok(ExitCode::SUCCESS)
}

async fn bootstrap(config: Config) -> anyhow::Result<ExitCode> {
    let public_url = config.public_url_for_port(config.addr.port());
    let console = open_console(&config, &public_url, KeyFile::MustExist).await?;
    let url = console.auth.issue_setup_link(&Actor::cli()).await?;
    println!("Setup URL: {url}");
    println!("It works once and expires in one hour.");
    Ok(ExitCode::SUCCESS)
}

/// `palisade pin`: one line per certificate, CSR or key found; exit 1 if any input failed.
async fn pin(files: Vec<std::path::PathBuf>, connect: Vec<String>) -> anyhow::Result<ExitCode> {
    use std::io::Read;
    if files.is_empty() && connect.is_empty() {
        eprintln!("error: give PEM/DER files, '-' for standard input, or --connect HOST:PORT");
        return Ok(ExitCode::from(2));
    }
    let limit = domain::certs::MAX_PEM_INPUT as u64;
    let mut failed = false;
    for path in &files {
        let mut bytes = Vec::new();
        let read = if path.as_os_str() == "-" {
            std::io::stdin().take(limit + 1).read_to_end(&mut bytes)
        } else {
            std::fs::File::open(path).and_then(|f| f.take(limit + 1).read_to_end(&mut bytes))
        };
        if let Err(e) = read {
            eprintln!("{}: {e}", path.display());
            failed = true;
            continue;
        }
        match domain::certs::pins_in_pem(&bytes) {
            Ok(found) => found.iter().for_each(|f| println!("{}", f.to_line())),
            Err(e) => {
                eprintln!("{}: {e} [{}]", path.display(), e.code());
                failed = true;
            }
        }
    }
    for target in &connect {
        match domain::certs::probe::fetch_presented_chain(
            &crate::probe::NetProbe::default(),
            target,
            &domain::certs::probe::ProbePolicy::cli(),
        )
        .await
        {
            Ok(chain) => {
                for der in &chain.certs_der {
                    match domain::certs::cert_info(der) {
                        Ok(info) => println!("sha256/{}  {}", info.spki_pin, info.display_name()),
                        Err(e) => {
                            eprintln!("{target}: {e} [{}]", e.code());
                            failed = true;
                        }
                    }
                }
            }
            Err(e) => {
                eprintln!("{target}: {e} [{}]", e.code());
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The database opened read-only (no migration, nothing written) with its chain key loaded
/// (opened with the master key, which is read, never created); `None` when there is no
/// database.
async fn read_only_chain(config: &Config) -> anyhow::Result<Option<store::SqlStore>> {
    if config.database_url.is_none() && !config.data_dir.join("palisade.db").exists() {
        eprintln!("error: no database in {}", config.data_dir.display());
        return Ok(None);
    }
    let store = store::SqlStore::open_read_only(&config.database_url()).await?;
    let path = config.master_key_path();
    if !path.exists() {
        anyhow::bail!(
            "no master key at {}: the audit chain is keyed with a key sealed under it, so \
             verifying needs it (point --master-key-file at it; nothing was created)",
            path.display()
        );
    }
    let master_key = crate::master_key::load_or_create(&path, false)?;
    domain::console::load_chain_key(&store, &master_key).await?;
    Ok(Some(store))
}

async fn verify(
    config: Config,
    checkpoint: Option<std::path::PathBuf>,
) -> anyhow::Result<ExitCode> {
    let checkpoint = match checkpoint {
        Some(f) => {
            let text = std::fs::read_to_string(&f)
                .with_context(|| format!("reading the checkpoint {}", f.display()))?;
            let c: Checkpoint = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a Palisade audit checkpoint", f.display()))?;
            Some(c)
        }
        None => None,
    };
    let Some(store) = read_only_chain(&config).await? else {
        return Ok(ExitCode::from(2));
    };
    match domain::console::chain_status(&store, checkpoint.as_ref()).await? {
        ChainStatus::Intact { events } => {
            match &checkpoint {
                Some(c) => println!(
                    "audit chain intact: {events} events verified; it holds the checkpoint's event {} unchanged",
                    c.seq
                ),
                None => println!("audit chain intact: {events} events verified"),
            }
            Ok(ExitCode::SUCCESS)
        }
        ChainStatus::Broken(e) => {
            println!("audit chain BROKEN at row {}: {e}", e.seq());
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn checkpoint(config: Config, out: Option<std::path::PathBuf>) -> anyhow::Result<ExitCode> {
    let Some(store) = read_only_chain(&config).await? else {
        return Ok(ExitCode::from(2));
    };
    if let ChainStatus::Broken(e) = domain::console::chain_status(&store, None).await? {
        println!(
            "audit chain BROKEN at row {}: {e}; no checkpoint written",
            e.seq()
        );
        return Ok(ExitCode::FAILURE);
    }
    use domain::ports::Store as _;
    let Some(newest) = store.recent_audit(1).await?.into_iter().next() else {
        eprintln!("error: the audit log is empty");
        return Ok(ExitCode::from(2));
    };
    let text = format!(
        "{}\n",
        serde_json::to_string_pretty(&Checkpoint::of(&newest))?
    );
    match out {
        Some(f) => {
            std::fs::write(&f, text).with_context(|| format!("writing {}", f.display()))?;
            eprintln!(
                "checkpoint of event {} written to {}: keep it outside the database's host",
                newest.seq,
                f.display()
            );
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// `palisade keys rewrap --new-master-key-file F`: every sealed private key re-sealed under the
/// key in F (created if missing), in one transaction, then checked by opening each with F.
async fn rewrap(config: Config, new_file: std::path::PathBuf) -> anyhow::Result<ExitCode> {
    let old_path = config.master_key_path();
    if !old_path.exists() {
        eprintln!("error: no master key at {}", old_path.display());
        return Ok(ExitCode::from(2));
    }
    if std::fs::canonicalize(&old_path).ok() == std::fs::canonicalize(&new_file).ok() {
        eprintln!(
            "error: the new master key file is the current one ({})",
            old_path.display()
        );
        return Ok(ExitCode::from(2));
    }
    let _lock = lock_data_dir(
        &config,
        "rewrapping: it holds the current master key in memory",
    )?;
    // The current key is checked against the database before the new key file is created: a
    // refused rewrap leaves nothing behind.
    let public_url = config.public_url_for_port(config.addr.port());
    let console = open_console(&config, &public_url, KeyFile::MustExist).await?;
    let new_key = crate::master_key::load_or_create(&new_file, true)?;
    let n = console.rewrap_master_key(&new_key, &Actor::cli()).await?;
    println!(
        "Re-sealed {n} private keys under {} in one transaction.",
        new_file.display()
    );
    println!(
        "Start Palisade with --master-key-file {} (or PALISADE_MASTER_KEY_FILE); {} is no longer needed.",
        new_file.display(),
        old_path.display()
    );
    Ok(ExitCode::SUCCESS)
}
