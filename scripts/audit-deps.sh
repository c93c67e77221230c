#!/usr/bin/env bash
# Checks Cargo.lock against the RustSec advisory database with `cargo audit`: a vulnerability,
# or an unmaintained, unsound or yanked crate, fails `make test` unless `.cargo/audit.toml`
# lists it with the reason it does not reach Palisade.
#
# The database is a git repository: $PALISADE_ADVISORY_DB, else ~/.cargo/advisory-db (cargo
# audit's own place). It is refreshed from its origin when that answers within 30 s, else the
# copy at hand is used and its age printed (over 30 days: a warning). With no copy at all it is
# cloned from $PALISADE_ADVISORY_DB_URL (github.com/rustsec/advisory-db); when that cannot be
# reached either, the check did NOT run: it says so on stderr and fails only when
# PALISADE_REQUIRE_AUDIT=1 (machines without a route to github.com cannot get the database).
set -euo pipefail
cd "$(dirname "$0")/.."

db=${PALISADE_ADVISORY_DB:-$HOME/.cargo/advisory-db}
url=${PALISADE_ADVISORY_DB_URL:-https://github.com/rustsec/advisory-db.git}

if [ ! -d "$db/crates" ]; then
  echo "audit: no advisory database at $db; cloning $url"
  if ! timeout 120 git clone --quiet "$url" "$db" 2>/dev/null; then
    rm -rf "$db"
    echo "audit: NOT RUN: the RustSec advisory database could not be fetched from $url" \
         "and no copy is at $db (set PALISADE_ADVISORY_DB to a clone)" >&2
    [ "${PALISADE_REQUIRE_AUDIT:-0}" = 1 ] && exit 1
    exit 0
  fi
elif timeout 30 git -C "$db" fetch --quiet origin 2>/dev/null; then
  git -C "$db" reset --quiet --hard FETCH_HEAD
else
  echo "audit: could not refresh $db from its origin; using the copy at hand"
fi

updated=$(git -C "$db" log -1 --format=%ct)
age_days=$(( ( $(date +%s) - updated ) / 86400 ))
echo "audit: advisory database of $(date -u -d "@$updated" +%Y-%m-%d) ($age_days days old), $(git -C "$db" rev-parse --short HEAD)"
if [ "$age_days" -gt 30 ]; then
  echo "audit: WARNING: the advisory database is $age_days days old; advisories published since are not checked" >&2
fi
cargo audit --db "$db" --no-fetch --stale
