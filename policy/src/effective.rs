//! The limit a key really gets, given the number of gates: with scope `gate` every gate counts
//! alone, so a client whose requests are spread over N gates gets up to N × the rate and
//! N × the burst; with scope `cluster` all gates share one count and the limit is exact.
//!
//! Invariants: pure and total (any policy, any replica count, including 0, which is computed as
//! one gate and said so). Floating point appears only in [`Effective::rate_per_s`], a display
//! figure; the counts are integers.

use serde::{Deserialize, Serialize};

use crate::model::{Action, KeyBy, Mode, Period, Policy, Scope};

/// What a key can get across the fleet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct Effective {
    /// Gates the figures are for (the replica count asked, at least 1).
    pub replicas: u32,
    /// Requests per `per` for one key across the fleet, at most.
    pub rate: u64,
    pub per: Period,
    /// The same as requests per second, for display.
    pub rate_per_s: f64,
    /// Requests one key may send at once across the fleet, beyond the steady rate.
    pub burst: u64,
    /// True when the limit is the configured one whatever the number of gates (`cluster`).
    pub exact: bool,
    /// Sentences for the console, saying why.
    pub explanation: String,
    /// Set when the scope probably does not do what the admin meant.
    pub warning: Option<String>,
}

/// The effective limit of `policy` with `replicas` gates.
pub fn effective_limit(policy: &Policy, replicas: u32) -> Effective {
    let n = replicas.max(1);
    let limit = policy.limit;
    let per = limit.per.noun();
    let multiplier = match policy.scope {
        Scope::Gate => u64::from(n),
        Scope::Cluster | Scope::ClusterStrict => 1,
    };
    let rate = u64::from(limit.rate) * multiplier;
    let burst = u64::from(limit.burst) * multiplier;
    let rate_per_s = rate as f64 / limit.per.seconds() as f64;
    let who = match &policy.key {
        KeyBy::Global => "all traffic this policy matches, together,".to_string(),
        k => format!("each {}", k.describe()),
    };

    let mut explanation = match (policy.scope, n) {
        (Scope::Cluster, _) => format!(
            "Scope “cluster”: all gates share one count in Redis, so {who} gets exactly {} per \
             {per} with a burst of {}, whatever the number of gates. While Redis is unreachable \
             each gate counts alone (up to {n} × {} = {} per {per}), and the shared count \
             resumes when Redis answers again.",
            limit.rate,
            limit.burst,
            limit.rate,
            u64::from(limit.rate) * u64::from(n)
        ),
        (Scope::ClusterStrict, _) => format!(
            "Scope “cluster, strict”: all gates share one count in Redis, so {who} gets exactly \
             {} per {per} with a burst of {}, whatever the number of gates. While Redis is \
             unreachable the requests this policy matches are refused with 503.",
            limit.rate, limit.burst
        ),
        (Scope::Gate, 1) => format!(
            "Scope “gate” with one gate: {who} gets {} per {per} with a burst of {}, as \
             configured. Each gate added adds another {} per {per}, because each gate counts \
             alone.",
            limit.rate, limit.burst, limit.rate
        ),
        (Scope::Gate, _) => format!(
            "Scope “gate”: each of the {n} gates counts alone, so {who} can get up to \
             {n} × {} = {rate} per {per} ({}) with a burst of {n} × {} = {burst} when its \
             requests are spread over all of them. A client that a load balancer keeps on one \
             gate gets {} per {per}.",
            limit.rate,
            per_second(rate_per_s),
            limit.burst,
            limit.rate
        ),
    };
    if replicas == 0 {
        explanation.push_str(" No gate is enrolled yet; the figures are for one.");
    }
    if let Action::Delay { max_delay_ms } = policy.action {
        explanation.push_str(&format!(
            " Requests over it wait up to {max_delay_ms} ms for their turn before being refused."
        ));
    }
    if policy.mode == Mode::Shadow || policy.action == Action::Shadow {
        explanation.push_str(
            " The policy is in shadow: nothing is refused yet; this is what enforcing it would \
             allow.",
        );
    }

    let warning = match (&policy.scope, &policy.key) {
        (Scope::Gate, KeyBy::Global) if n > 1 => Some(format!(
            "Counted by one global count but scoped to each gate: the fleet as a whole \
             admits {n} × {} = {rate} per {per}, not {}. For one limit across the fleet, use \
             scope “cluster”.",
            limit.rate, limit.rate
        )),
        (Scope::Gate, KeyBy::Client) if n > 1 => Some(format!(
            "Counted per client but scoped to each gate: a client can get {n} × {} = {rate} \
             per {per} across the fleet. For a per-client limit across the fleet, use scope \
             “cluster”.",
            limit.rate
        )),
        _ => None,
    };

    Effective {
        replicas: n,
        rate,
        per: limit.per,
        rate_per_s,
        burst,
        exact: policy.scope.is_cluster(),
        explanation,
        warning,
    }
}

/// "5 per second", "0.05 per second": up to two decimals, trailing zeros dropped.
fn per_second(r: f64) -> String {
    let s = format!("{r:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s} per second")
}
