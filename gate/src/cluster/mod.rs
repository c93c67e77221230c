//! Cluster-wide rate limits: the GCRA state of `cluster`-scoped policies lives in Redis, so
//! every gate replica spends the same allowance. One round trip per decision (`EVALSHA` of
//! [`gcra.lua`](gcra.lua), the same arithmetic as [`policy::gcra::Gcra::check`] on Redis's
//! clock), a few multiplexed connections used in turn, and a 50 ms bound on each decision.
//!
//! When Redis is away (a decision fails or times out), the limiter is marked down at once and
//! every decision after that skips Redis: the caller falls back as each policy declares (the
//! gate's own limiter, or 503). A background task reconnects every 250 ms and marks it up again
//! as soon as Redis answers, so a gate is back on the shared count within a second of Redis's
//! return.
//!
//! Keys: `palisade:gcra:v1:<policy id>:<count>:<period ns>:<burst>:<SHA-256 of the key, 16
//! bytes hex>`: a change of the limit starts a fresh count (as the local limiters do), and no
//! IP address or subject is stored in Redis in clear.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use policy::gcra::{Gcra, Quota};
use redis::aio::MultiplexedConnection;
use sha2::{Digest, Sha256};
use tokio::sync::RwLock;

/// The longest a decision waits for Redis before the policy's fallback applies.
pub const DECISION_TIMEOUT: Duration = Duration::from_millis(50);
/// How often a down limiter tries to reconnect.
pub const RECONNECT_EVERY: Duration = Duration::from_millis(250);
/// Connections used in turn (each multiplexes many requests).
pub const CONNECTIONS: usize = 4;

const SCRIPT: &str = include_str!("gcra.lua");

/// A decision made in Redis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Admitted after `wait_ns` (the `delay` action).
    Delay {
        wait_ns: u64,
    },
    Deny {
        retry_after_ns: u64,
    },
}

/// Redis did not answer within [`DECISION_TIMEOUT`], or is known to be away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Down;

pub struct ClusterLimiter {
    client: redis::Client,
    conns: RwLock<Vec<MultiplexedConnection>>,
    next: AtomicUsize,
    up: AtomicBool,
    script: redis::Script,
    /// Where the connections go, for logs (no password).
    target: String,
}

impl ClusterLimiter {
    /// A limiter for the Redis at `url` (`redis://host:port/db`, `rediss://` for TLS). Does not
    /// connect yet: [`ClusterLimiter::start`] does, in the background.
    pub fn new(url: &str) -> Result<Arc<Self>, String> {
        let client = redis::Client::open(url).map_err(|e| format!("--redis {url:?}: {e}"))?;
        let info = client.get_connection_info();
        let target = format!("{}", info.addr);
        Ok(Arc::new(ClusterLimiter {
            client,
            conns: RwLock::new(Vec::new()),
            next: AtomicUsize::new(0),
            up: AtomicBool::new(false),
            script: redis::Script::new(SCRIPT),
            target,
        }))
    }

    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Connects, then keeps reconnecting whenever the limiter is down, until the process ends.
    pub fn start(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                if !me.is_up() {
                    me.reconnect().await;
                }
                tokio::time::sleep(RECONNECT_EVERY).await;
            }
        })
    }

    async fn reconnect(&self) {
        let mut fresh = Vec::with_capacity(CONNECTIONS);
        for _ in 0..CONNECTIONS {
            let attempt = tokio::time::timeout(
                Duration::from_millis(500),
                self.client.get_multiplexed_async_connection(),
            )
            .await;
            match attempt {
                Ok(Ok(mut c)) => {
                    // Load the script now so decisions are EVALSHA from the first one.
                    let loaded: Result<String, _> = tokio::time::timeout(
                        Duration::from_millis(500),
                        self.script.prepare_invoke().load_async(&mut c),
                    )
                    .await
                    .unwrap_or_else(|_| {
                        Err(redis::RedisError::from((
                            redis::ErrorKind::IoError,
                            "timed out",
                        )))
                    });
                    if let Err(e) = loaded {
                        tracing::debug!(error = %e, target = %self.target, "loading the GCRA script failed");
                        return;
                    }
                    fresh.push(c);
                }
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, target = %self.target, "Redis connection failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(target = %self.target, "Redis connection timed out");
                    return;
                }
            }
        }
        *self.conns.write().await = fresh;
        self.up.store(true, Ordering::Relaxed);
        tracing::info!(target = %self.target, "Redis reachable: cluster-scoped limits are shared");
    }

    fn mark_down(&self, why: &str) {
        if self.up.swap(false, Ordering::Relaxed) {
            tracing::warn!(target = %self.target, reason = why, "Redis unreachable: cluster-scoped policies use their fallback");
        }
    }

    /// Decides one request for `key` under `policy_id`'s `quota` in Redis, admitting after a
    /// wait of at most `max_wait_ns`.
    pub async fn decide(
        &self,
        policy_id: &str,
        quota: Quota,
        key: &[u8],
        max_wait_ns: u64,
    ) -> Result<Verdict, Down> {
        self.decide_at(policy_id, quota, key, max_wait_ns, None)
            .await
    }

    /// [`ClusterLimiter::decide`] at a given time (seconds, nanoseconds) instead of Redis's
    /// clock: for the tests that compare the script with [`Gcra::check`].
    pub async fn decide_at(
        &self,
        policy_id: &str,
        quota: Quota,
        key: &[u8],
        max_wait_ns: u64,
        now: Option<(u64, u64)>,
    ) -> Result<Verdict, Down> {
        if !self.is_up() {
            return Err(Down);
        }
        let conn = {
            let conns = self.conns.read().await;
            if conns.is_empty() {
                return Err(Down);
            }
            conns[self.next.fetch_add(1, Ordering::Relaxed) % conns.len()].clone()
        };
        let mut conn = conn;
        let p = Gcra::new(quota).parts();
        const G: u64 = 1_000_000_000;
        let digest = Sha256::digest(key);
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        let redis_key = format!(
            "palisade:gcra:v1:{policy_id}:{}:{}:{}:{hex}",
            quota.count, quota.period_ns, quota.burst
        );
        let t_ms_ceil = p.t_ns.div_ceil(1_000_000) + 1;
        let mut inv = self.script.key(redis_key);
        inv.arg(p.den)
            .arg(p.t_ns / G)
            .arg(p.t_ns % G)
            .arg(p.t_frac)
            .arg(p.tau_ns / G)
            .arg(p.tau_ns % G)
            .arg(p.tau_frac)
            .arg(max_wait_ns.min(1 << 52))
            .arg(t_ms_ceil);
        if let Some((s, n)) = now {
            inv.arg(s).arg(n);
        }
        let answer: Result<Result<(i64, i64), redis::RedisError>, _> =
            tokio::time::timeout(DECISION_TIMEOUT, inv.invoke_async(&mut conn)).await;
        match answer {
            Ok(Ok((1, _))) => Ok(Verdict::Allow),
            Ok(Ok((2, wait))) => Ok(Verdict::Delay {
                wait_ns: u64::try_from(wait).unwrap_or(0),
            }),
            Ok(Ok((0, retry))) => Ok(Verdict::Deny {
                retry_after_ns: u64::try_from(retry).unwrap_or(0),
            }),
            Ok(Ok(other)) => {
                self.mark_down(&format!("unexpected answer {other:?}"));
                Err(Down)
            }
            Ok(Err(e)) => {
                self.mark_down(&e.to_string());
                Err(Down)
            }
            Err(_) => {
                self.mark_down("no answer within 50 ms");
                Err(Down)
            }
        }
    }
}
