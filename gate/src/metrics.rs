//! The gate's counters and their Prometheus text exposition (format 0.0.4): requests by outcome,
//! rate-limit decisions by policy and outcome, the applied bundle version, bundle applies by
//! result, the JWT verification latency histogram, token-cache hits and misses, upstream
//! errors. Lock-free on the request path (atomics); per-policy counters live as long as the
//! gate, so a policy's counts survive bundle swaps.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

/// What became of a request at the gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Proxied; the upstream answered.
    Proxied,
    /// Decision mode: admitted (the proxy in front forwards it).
    Allowed,
    NotReady,
    BadRequest,
    NotFound,
    Unauthorized,
    Forbidden,
    RateLimited,
    PayloadTooLarge,
    HeadersTooLarge,
    UpstreamError,
}

impl Outcome {
    const ALL: [Outcome; 11] = [
        Outcome::Proxied,
        Outcome::Allowed,
        Outcome::NotReady,
        Outcome::BadRequest,
        Outcome::NotFound,
        Outcome::Unauthorized,
        Outcome::Forbidden,
        Outcome::RateLimited,
        Outcome::PayloadTooLarge,
        Outcome::HeadersTooLarge,
        Outcome::UpstreamError,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Outcome::Proxied => "proxied",
            Outcome::Allowed => "allowed",
            Outcome::NotReady => "not_ready",
            Outcome::BadRequest => "bad_request",
            Outcome::NotFound => "no_route",
            Outcome::Unauthorized => "unauthorized",
            Outcome::Forbidden => "forbidden",
            Outcome::RateLimited => "rate_limited",
            Outcome::PayloadTooLarge => "payload_too_large",
            Outcome::HeadersTooLarge => "headers_too_large",
            Outcome::UpstreamError => "upstream_error",
        }
    }
}

/// One rate-limit policy's decisions.
#[derive(Debug, Default)]
pub struct PolicyCounters {
    pub allowed: AtomicU64,
    pub rejected: AtomicU64,
    pub delayed: AtomicU64,
    /// Shadow mode: requests that would have been refused.
    pub shadow_rejected: AtomicU64,
}

/// Upper bounds of the JWT verification histogram, in seconds.
const VERIFY_BUCKETS: [f64; 10] = [
    0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.05,
];

#[derive(Debug, Default)]
pub struct Metrics {
    requests: [AtomicU64; 11],
    policies: Mutex<BTreeMap<String, Arc<PolicyCounters>>>,
    pub bundle_version: AtomicU64,
    pub applies_applied: AtomicU64,
    pub applies_current: AtomicU64,
    pub applies_refused: AtomicU64,
    pub persist_errors: AtomicU64,
    pub upstream_errors: AtomicU64,
    pub cache_hits: AtomicU64,
    pub cache_misses: AtomicU64,
    verify_buckets: [AtomicU64; 10],
    verify_count: AtomicU64,
    verify_sum_ns: AtomicU64,
    /// Access tokens issued by the token endpoint.
    pub tokens_issued: AtomicU64,
    /// Decisions of cluster-scoped policies made without Redis (fallback or 503).
    pub cluster_fallbacks: AtomicU64,
    /// Token requests refused, by RFC 6749 error code.
    token_refusals: Mutex<BTreeMap<&'static str, u64>>,
}

impl Metrics {
    pub fn request(&self, o: Outcome) {
        if let Some(i) = Outcome::ALL.iter().position(|x| *x == o) {
            self.requests[i].fetch_add(1, Relaxed);
        }
    }

    /// The counters of policy `id`, created on first use and kept across bundles.
    pub fn policy(&self, id: &str) -> Arc<PolicyCounters> {
        let mut map = self
            .policies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(id.to_string()).or_default().clone()
    }

    pub fn observe_verify(&self, elapsed: std::time::Duration) {
        let s = elapsed.as_secs_f64();
        for (i, b) in VERIFY_BUCKETS.iter().enumerate() {
            if s <= *b {
                self.verify_buckets[i].fetch_add(1, Relaxed);
            }
        }
        self.verify_count.fetch_add(1, Relaxed);
        self.verify_sum_ns.fetch_add(
            u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
            Relaxed,
        );
    }

    /// The Prometheus text exposition of every metric.
    /// A token request refused with the RFC 6749 error `code`.
    pub fn token_refusal(&self, code: &'static str) {
        *self
            .token_refusals
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(code)
            .or_default() += 1;
    }

    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let _ = self.write(&mut out);
        out
    }

    fn write(&self, o: &mut String) -> std::fmt::Result {
        writeln!(o, "# HELP palisade_gate_requests_total Requests received on the main listener (proxied, or checked in decision mode), by outcome.")?;
        writeln!(o, "# TYPE palisade_gate_requests_total counter")?;
        for (i, x) in Outcome::ALL.iter().enumerate() {
            writeln!(
                o,
                "palisade_gate_requests_total{{outcome=\"{}\"}} {}",
                x.label(),
                self.requests[i].load(Relaxed)
            )?;
        }
        writeln!(o, "# HELP palisade_gate_cluster_fallbacks_total Decisions of cluster-scoped policies made without Redis (this gate's own count, or 503 for strict ones).")?;
        writeln!(o, "# TYPE palisade_gate_cluster_fallbacks_total counter")?;
        writeln!(
            o,
            "palisade_gate_cluster_fallbacks_total {}",
            self.cluster_fallbacks.load(Relaxed)
        )?;
        writeln!(
            o,
            "# HELP palisade_gate_tokens_issued_total Access tokens issued at /oauth/token."
        )?;
        writeln!(o, "# TYPE palisade_gate_tokens_issued_total counter")?;
        writeln!(
            o,
            "palisade_gate_tokens_issued_total {}",
            self.tokens_issued.load(Relaxed)
        )?;
        writeln!(o, "# HELP palisade_gate_token_refusals_total Token requests refused, by OAuth error code.")?;
        writeln!(o, "# TYPE palisade_gate_token_refusals_total counter")?;
        let refusals = self
            .token_refusals
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for (code, n) in &refusals {
            writeln!(
                o,
                "palisade_gate_token_refusals_total{{error=\"{code}\"}} {n}"
            )?;
        }
        writeln!(
            o,
            "# HELP palisade_gate_decisions_total Rate-limit decisions, by policy id and outcome."
        )?;
        writeln!(o, "# TYPE palisade_gate_decisions_total counter")?;
        let policies = self
            .policies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for (id, c) in &policies {
            let id = escape_label(id);
            for (label, v) in [
                ("allow", &c.allowed),
                ("reject", &c.rejected),
                ("delay", &c.delayed),
                ("shadow_reject", &c.shadow_rejected),
            ] {
                writeln!(
                    o,
                    "palisade_gate_decisions_total{{policy=\"{id}\",outcome=\"{label}\"}} {}",
                    v.load(Relaxed)
                )?;
            }
        }
        writeln!(
            o,
            "# HELP palisade_gate_bundle_version Version of the applied bundle (0: none)."
        )?;
        writeln!(o, "# TYPE palisade_gate_bundle_version gauge")?;
        writeln!(
            o,
            "palisade_gate_bundle_version {}",
            self.bundle_version.load(Relaxed)
        )?;
        writeln!(o, "# HELP palisade_gate_bundle_applies_total Bundles received (push, pull or disk), by result.")?;
        writeln!(o, "# TYPE palisade_gate_bundle_applies_total counter")?;
        for (label, v) in [
            ("applied", &self.applies_applied),
            ("current", &self.applies_current),
            ("refused", &self.applies_refused),
        ] {
            writeln!(
                o,
                "palisade_gate_bundle_applies_total{{result=\"{label}\"}} {}",
                v.load(Relaxed)
            )?;
        }
        writeln!(o, "# HELP palisade_gate_bundle_persist_errors_total Applied bundles that could not be written to disk.")?;
        writeln!(
            o,
            "# TYPE palisade_gate_bundle_persist_errors_total counter"
        )?;
        writeln!(
            o,
            "palisade_gate_bundle_persist_errors_total {}",
            self.persist_errors.load(Relaxed)
        )?;
        writeln!(o, "# HELP palisade_gate_upstream_errors_total Requests the upstream did not answer (connect, timeout, reset).")?;
        writeln!(o, "# TYPE palisade_gate_upstream_errors_total counter")?;
        writeln!(
            o,
            "palisade_gate_upstream_errors_total {}",
            self.upstream_errors.load(Relaxed)
        )?;
        writeln!(
            o,
            "# HELP palisade_gate_token_cache_total Bearer token cache lookups, by result."
        )?;
        writeln!(o, "# TYPE palisade_gate_token_cache_total counter")?;
        writeln!(
            o,
            "palisade_gate_token_cache_total{{result=\"hit\"}} {}",
            self.cache_hits.load(Relaxed)
        )?;
        writeln!(
            o,
            "palisade_gate_token_cache_total{{result=\"miss\"}} {}",
            self.cache_misses.load(Relaxed)
        )?;
        writeln!(o, "# HELP palisade_gate_jwt_verify_seconds Time to verify a token's signature and claims (cache misses).")?;
        writeln!(o, "# TYPE palisade_gate_jwt_verify_seconds histogram")?;
        for (i, b) in VERIFY_BUCKETS.iter().enumerate() {
            writeln!(
                o,
                "palisade_gate_jwt_verify_seconds_bucket{{le=\"{b}\"}} {}",
                self.verify_buckets[i].load(Relaxed)
            )?;
        }
        let count = self.verify_count.load(Relaxed);
        writeln!(
            o,
            "palisade_gate_jwt_verify_seconds_bucket{{le=\"+Inf\"}} {count}"
        )?;
        writeln!(
            o,
            "palisade_gate_jwt_verify_seconds_sum {}",
            self.verify_sum_ns.load(Relaxed) as f64 / 1e9
        )?;
        writeln!(o, "palisade_gate_jwt_verify_seconds_count {count}")
    }
}

/// A label value escaped for the text format (backslash, quote, newline).
fn escape_label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative_and_labels_escaped() {
        let m = Metrics::default();
        m.observe_verify(std::time::Duration::from_micros(30));
        m.observe_verify(std::time::Duration::from_millis(3));
        m.policy("a\"b").rejected.fetch_add(2, Relaxed);
        m.request(Outcome::RateLimited);
        let text = m.render();
        assert!(
            text.contains("palisade_gate_jwt_verify_seconds_bucket{le=\"0.00005\"} 1"),
            "{text}"
        );
        assert!(text.contains("palisade_gate_jwt_verify_seconds_bucket{le=\"0.005\"} 2"));
        assert!(text.contains("palisade_gate_jwt_verify_seconds_bucket{le=\"+Inf\"} 2"));
        assert!(
            text.contains("palisade_gate_decisions_total{policy=\"a\\\"b\",outcome=\"reject\"} 2")
        );
        assert!(text.contains("palisade_gate_requests_total{outcome=\"rate_limited\"} 1"));
    }
}
