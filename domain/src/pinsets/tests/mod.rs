//! Tests of the pin-set module: hostname parsing, every lint rule both ways, each export parsed
//! back by a real parser for its format, and the rotation planner's verdicts.

mod export;
mod lint;
mod model;
mod planner;

use chrono::NaiveDate;

use super::{KeyCustody, LintContext, PinEntry, PinRole, PinSet};
use crate::pins::Pin;

/// A realistic-looking pin: the SHA-256 of some bytes standing in for an SPKI.
fn pin(seed: &str) -> Pin {
    Pin::of_spki_der(seed.as_bytes())
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

fn entry(seed: &str, label: &str, role: PinRole, custody: KeyCustody) -> PinEntry {
    PinEntry {
        pin: pin(seed),
        label: label.into(),
        role,
        custody,
    }
}

/// Today in every test: 2026-03-01.
fn today() -> NaiveDate {
    day(2026, 3, 1)
}

/// The set a careful admin exports: the served leaf key and the pre-generated next key.
fn good_set() -> PinSet {
    PinSet {
        hostname: "api.example.com".into(),
        include_subdomains: true,
        expires_on: day(2026, 9, 1),
        version: 7,
        pins: vec![
            entry(
                "leaf-2025",
                "api 2025",
                PinRole::CurrentLeaf,
                KeyCustody::HeldHere,
            ),
            entry(
                "next-2026",
                "api 2026 (next)",
                PinRole::NextKey,
                KeyCustody::HeldHere,
            ),
        ],
    }
}

/// The host serves the 2025 leaf under an intermediate.
fn ctx() -> LintContext {
    LintContext {
        live_chain_spki_pins: vec![pin("leaf-2025"), pin("intermediate")],
        whole_cert_hashes: vec![],
        ca_managed_leaf: false,
        today: today(),
    }
}
