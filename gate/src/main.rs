//! `palisade-gate`.
fn main() {}
