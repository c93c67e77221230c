//! What the console says about a gate: its state in the fleet, shared by the service that
//! derives it and the page that shows it.

use serde::{Deserialize, Serialize};

/// Where a gate stands against the latest bundle version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum GateState {
    /// Added; its one-time enrolment command has not been run yet.
    Pending,
    /// Added, but its enrolment token expired unused: issue a new command.
    EnrolmentExpired,
    /// Runs the latest version.
    InSync,
    /// Runs an older version (or none yet): a push or pull is on its way.
    Behind,
    /// Refused the latest bundle it was sent (NACK): it keeps enforcing the older version.
    Refusing,
    /// Revoked: every call it makes is refused and nothing is pushed to it.
    Revoked,
}

impl GateState {
    pub fn label(self) -> &'static str {
        match self {
            GateState::Pending => "waiting for enrolment",
            GateState::EnrolmentExpired => "enrolment token expired",
            GateState::InSync => "in sync",
            GateState::Behind => "behind",
            GateState::Refusing => "refusing",
            GateState::Revoked => "revoked",
        }
    }

    /// Whether the gate takes part in enforcement (enrolled, not revoked).
    pub fn is_enrolled(self) -> bool {
        matches!(
            self,
            GateState::InSync | GateState::Behind | GateState::Refusing
        )
    }
}
