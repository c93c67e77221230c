#!/usr/bin/env bash
# Fails if the gate's dependency tree holds a console-only crate: the gate must depend on
# `policy` and `jose` only, never on `domain`, `store` or `app` (ARCHITECTURE.md, crates table),
# nor drag in what they bring (sqlx, leptos, webauthn). Argon2 is no longer on the list: the
# gate's token endpoint verifies client secrets against their Argon2id hashes (issue 12), through
# `jose::client_secret`, the one check the console uses too.
set -euo pipefail
cd "$(dirname "$0")/.."
tree=$(cargo tree --locked -p gate -e normal --prefix none --format '{p}' | awk '{print $1}' | sort -u)
[ -n "$tree" ] || { echo "FAIL: cargo tree printed nothing for gate" >&2; exit 1; }
for needed in policy jose; do
  grep -qx "$needed" <<<"$tree" || { echo "FAIL: $needed missing from the gate tree: is the check looking at the right crate?" >&2; exit 1; }
done
bad=0
for crate in domain store app server frontend sqlx sqlx-core leptos leptos_axum webauthn-rs webauthn-rs-core; do
  if grep -qx "$crate" <<<"$tree"; then
    echo "FAIL: '$crate' is in the gate's dependency tree" >&2
    cargo tree --locked -p gate -e normal -i "$crate" >&2 || true
    bad=1
  fi
done
[ "$bad" -eq 0 ] || exit 1
echo "ok: the gate's $(wc -l <<<"$tree") crates include none of domain, store, app or their server-only dependencies"
