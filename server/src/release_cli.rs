//! `palisade release export`: the release pipeline's one call. It records the app release at a
//! running console through the REST API (`POST /api/v1/releases`, token from
//! `PALISADE_API_TOKEN`) and writes the pin set file the console answers; the release then shows
//! on the Pin sets page and in the rotation planner. Nothing is written when the console refuses.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context as _};
use serde_json::json;

use crate::config::ReleaseExport;

/// The environment variable holding the API token.
pub const TOKEN_ENV: &str = "PALISADE_API_TOKEN";

pub async fn export(args: ReleaseExport) -> anyhow::Result<ExitCode> {
    let token = std::env::var(TOKEN_ENV)
        .ok()
        .filter(|t| !t.trim().is_empty())
        .with_context(|| {
            format!(
                "set {TOKEN_ENV} to an API token with the releases:write scope (API tokens page)"
            )
        })?;
    match args.console.scheme() {
        "https" => {}
        "http" if args.console.host_str().is_some_and(is_local) => {}
        other => bail!(
            "the console URL must be https:// (plain {other} only for localhost): the token \
             would cross the network in clear"
        ),
    }
    let url = args
        .console
        .join("/api/v1/releases")
        .context("the console URL cannot take a path")?;
    let mut body = json!({
        "hostname": args.hostname,
        "format": args.format,
        "app": args.app,
        "version": args.version,
    });
    for (key, value) in [
        ("app_name", &args.app_name),
        ("platform", &args.platform),
        ("released_on", &args.released_on),
    ] {
        if let Some(v) = value {
            body[key] = json!(v);
        }
    }
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .context("cannot build the HTTP client")?;
    let res = client
        .post(url.clone())
        .bearer_auth(token.trim())
        .json(&body)
        .send()
        .await
        .with_context(|| format!("cannot reach the console at {url}"))?;
    let status = res.status();
    let version = res
        .headers()
        .get("x-pinset-version")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = res
        .text()
        .await
        .context("the console's answer was cut off")?;
    if status != reqwest::StatusCode::CREATED {
        let detail = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["detail"].as_str().map(str::to_owned))
            .unwrap_or_else(|| text.chars().take(300).collect());
        bail!("the console refused the release ({status}): {detail}");
    }
    std::fs::write(&args.out, &text)
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    println!(
        "recorded {} {} ({}) for {}; pin set version {} written to {}",
        args.app,
        args.version,
        args.format,
        args.hostname,
        version.as_deref().unwrap_or("?"),
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn is_local(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
