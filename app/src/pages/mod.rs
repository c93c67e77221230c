//! One page per area.

pub mod admins;
pub mod audit;
pub mod certs;
pub mod clients;
pub mod dashboard;
pub mod gates;
pub mod invite;
pub mod keys;
pub mod login;
pub mod pinsets;
pub mod policies;
pub mod setup;

use leptos::prelude::*;

/// True once the page has hydrated, so buttons that need script are not pressed before it runs.
pub fn use_hydrated() -> ReadSignal<bool> {
    let (hydrated, set_hydrated) = signal(false);
    Effect::new(move |_| set_hydrated.set(true));
    hydrated
}
