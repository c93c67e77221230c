//! The background jobs that keep gates current: the **publisher** notices a change (the audit
//! chain moved: every change commits with its event), asks the gates service to publish a new
//! bundle version if what gates enforce differs (debounced: one check per [`PUBLISH_TICK`]),
//! and wakes the **pusher**, which sends the latest version to every enrolled gate that does
//! not run it yet, all at once, each with a bounded time and capped exponential backoff.
//! Gates that miss a push converge by pulling (`gate_api`). Each gate receives the envelope made
//! for it (`GatesService::envelope_for`: its token signing key sealed to it, when it needs one).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use domain::console::Console;
use domain::ports::gates::{BundleRecord, GateRecord, ReportedError};
use policy::gates::GateState;
use serde::Deserialize;
use tokio::sync::Notify;

/// How often the publisher looks for a change: the debounce of a burst of edits.
pub const PUBLISH_TICK: Duration = Duration::from_millis(200);
/// The longest one push may take (connect, send, answer).
pub const PUSH_TIMEOUT: Duration = Duration::from_secs(5);
/// First retry delay after a failed push, doubled per failure up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Largest push answer read.
const MAX_ANSWER_BYTES: usize = 16 * 1024;

/// Runs the publisher and the pusher until the task is aborted.
pub async fn run(console: Arc<Console>) {
    let wake = Arc::new(Notify::new());
    let publisher = tokio::spawn(publish_loop(console.clone(), wake.clone()));
    push_loop(console, wake).await;
    publisher.abort();
}

async fn publish_loop(console: Arc<Console>, wake: Arc<Notify>) {
    let mut seen: Option<i64> = None;
    let mut tick = tokio::time::interval(PUBLISH_TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let head = match console.store.recent_audit(1).await {
            Ok(events) => events.into_iter().next(),
            Err(e) => {
                tracing::warn!(error = %e, "publisher: reading the audit head failed");
                continue;
            }
        };
        let head_seq = head.as_ref().map(|e| e.seq);
        if head_seq == seen {
            continue;
        }
        // Nothing to publish for until a gate exists (no bundle history on a console that
        // has no gates).
        match console.gates.fleet().await {
            Ok(f) if f.gates.iter().all(|g| g.state == GateState::Revoked) => {
                seen = head_seq;
                continue;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "publisher: reading the fleet failed");
                continue;
            }
        }
        let cause = head
            .as_ref()
            .map(|e| format!("{}: {}", e.actor, e.action))
            .unwrap_or_else(|| "console start".into());
        match console.gates.publish(&cause).await {
            Ok(Some(b)) => {
                tracing::info!(version = b.version, changes = ?b.changes, "bundle published");
                wake.notify_one();
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "publishing a bundle failed; retrying on the next change");
            }
        }
        seen = head_seq;
    }
}

/// When a gate may be tried again, for which version.
struct Backoff {
    version: i64,
    failures: u32,
    next_at: Instant,
}

async fn push_loop(console: Arc<Console>, wake: Arc<Notify>) {
    let http = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(Duration::from_secs(2))
        .timeout(PUSH_TIMEOUT)
        .tcp_nodelay(true)
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "the push client could not be built; gates will converge by pulling only");
            return;
        }
    };
    let mut backoff: HashMap<String, Backoff> = HashMap::new();
    let mut push_requests = console.gates.push_requests();
    loop {
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
        // "Push now": every gate behind is tried at once, retry waits forgotten.
        let asked = console.gates.push_requests();
        if asked != push_requests {
            push_requests = asked;
            backoff.clear();
        }
        let fleet = match console.gates.fleet().await {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(error = %e, "pusher: reading the fleet failed");
                continue;
            }
        };
        let Some(latest) = fleet.latest else { continue };
        let now = Instant::now();
        let due: Vec<GateRecord> = fleet
            .gates
            .into_iter()
            .filter(|g| g.state.is_enrolled() && !g.record.push_url.is_empty())
            .filter(|g| g.record.applied_version.is_none_or(|v| v < latest.version))
            .filter(|g| {
                backoff
                    .get(&g.record.id)
                    .is_none_or(|b| b.version != latest.version || b.next_at <= now)
            })
            .map(|g| g.record)
            .collect();
        if due.is_empty() {
            continue;
        }
        let mut pushes = tokio::task::JoinSet::new();
        for gate in due {
            let (http, console, latest) = (http.clone(), console.clone(), latest.clone());
            pushes.spawn(async move {
                let ok = push(&http, &console, &gate, &latest).await;
                (gate.id, ok)
            });
        }
        while let Some(done) = pushes.join_next().await {
            let Ok((id, ok)) = done else { continue };
            if ok {
                backoff.remove(&id);
            } else {
                let b = backoff.entry(id).or_insert(Backoff {
                    version: latest.version,
                    failures: 0,
                    next_at: now,
                });
                if b.version != latest.version {
                    b.version = latest.version;
                    b.failures = 0;
                }
                b.failures += 1;
                let delay = FIRST_BACKOFF
                    .saturating_mul(1 << (b.failures - 1).min(10))
                    .min(MAX_BACKOFF);
                b.next_at = Instant::now() + delay;
            }
        }
    }
}

#[derive(Deserialize)]
struct PushAnswer {
    #[serde(default)]
    version: Option<i64>,
    #[serde(default)]
    applied_version: Option<i64>,
    #[serde(default)]
    reason: Option<String>,
}

/// Pushes `latest` to `gate` and records its answer; `true` when the gate runs it now.
async fn push(
    http: &reqwest::Client,
    console: &Console,
    gate: &GateRecord,
    latest: &BundleRecord,
) -> bool {
    let url = format!("{}/v1/bundle", gate.push_url);
    // The envelope as this gate receives it: with its sealed signing key when it needs one.
    let envelope = match console.gates.envelope_for(gate, latest).await {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(gate = %gate.name, version = latest.version, error = %e, "preparing a gate's bundle failed; the gate will be retried");
            return false;
        }
    };
    let started = Instant::now();
    let sent = http
        .post(&url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(envelope)
        .send()
        .await;
    let answer = match sent {
        Ok(r) => {
            let status = r.status();
            let body = read_capped(r).await;
            (status, body)
        }
        Err(e) => {
            tracing::info!(gate = %gate.name, error = %e, "push failed; the gate will be retried");
            return false;
        }
    };
    let (status, body) = answer;
    let parsed: Option<PushAnswer> = serde_json::from_slice(&body).ok();
    let report = match (status.as_u16(), parsed) {
        (200, Some(a)) => (a.version.or(Some(latest.version)), None),
        (409 | 422, Some(a)) => (
            a.applied_version,
            Some(
                a.reason
                    .unwrap_or_else(|| format!("refused with HTTP {status}")),
            ),
        ),
        (code, _) => {
            tracing::info!(gate = %gate.name, status = code, "push answered unexpectedly; the gate will be retried");
            return false;
        }
    };
    let ok = report.1.is_none();
    let error = match report.1 {
        Some(reason) => ReportedError::Refused(reason),
        None => ReportedError::Clear,
    };
    tracing::info!(gate = %gate.name, version = latest.version, ok, elapsed_ms = started.elapsed().as_millis() as u64, "pushed");
    // The report is about the gate as it was read before the push; a concurrent status call
    // may have recorded the same apply already (then nothing is audited twice).
    let current = match console.gates.gate(&gate.id).await {
        Ok(Some(g)) => g,
        _ => gate.clone(),
    };
    if let Err(e) = console.gates.report(&current, report.0, error).await {
        tracing::warn!(gate = %gate.name, error = %e, "recording a push answer failed");
    }
    ok
}

async fn read_capped(mut r: reqwest::Response) -> Vec<u8> {
    let mut out = Vec::new();
    while let Ok(Some(chunk)) = r.chunk().await {
        if out.len() + chunk.len() > MAX_ANSWER_BYTES {
            break;
        }
        out.extend_from_slice(&chunk);
    }
    out
}
