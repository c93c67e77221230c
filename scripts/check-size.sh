#!/usr/bin/env bash
# What the first load of each page costs the browser, raw, gzip -9 and brotli-11 as served: the
# main module and its script, the chunk loader, the JS snippets, the CSS, and the wasm chunks
# the page's lazy route needs (from __wasm_split_manifest.json, the list the server preloads).
# /login and / are checked against the budget: over the ratchet (the size this tree reached)
# fails, so a change that makes a first load bigger fails here and states its cost. The goal
# (issue 14) is 250 KB gzip and 600 KB raw; lower the ratchets as steps land.
set -euo pipefail
cd "$(dirname "$0")/.."
# Ratchets per page, raw and gzip bytes: about 1 % above what this tree measured.
GOAL_GZIP=250000 GOAL_RAW=600000 node - target/site/pkg <<'JS'
const RATCHETS = { '/login': [548000, 209000], '/': [578000, 226000] };
const fs = require('fs'), path = require('path');
const pkg = process.argv[2];
const size = (f) => fs.statSync(path.join(pkg, f)).size;
const manifest = JSON.parse(fs.readFileSync(path.join(pkg, '__wasm_split_manifest.json'), 'utf8'));
const snippets = [];
(function walk(d) {
  for (const e of fs.readdirSync(path.join(pkg, d), { withFileTypes: true })) {
    const rel = path.join(d, e.name);
    if (e.isDirectory()) walk(rel);
    else if (rel.endsWith('.js')) snippets.push(rel);
  }
})('snippets');
const shell = ['palisade.js', 'palisade_bg.wasm', '__wasm_split.______________________.js',
  'palisade.css', ...snippets];
const chunksOf = (route) => {
  const key = Object.keys(manifest).find((k) => k.startsWith(`__${route}_route_view_`));
  if (!key) throw new Error(`no split for the ${route} route in the manifest`);
  return manifest[key].map((stem) => `${stem}.wasm`);
};
const pages = [['/login', []], ['/', chunksOf('dashboard')]];
for (const area of ['clients', 'keys', 'certificates', 'pin_sets', 'rate_limits', 'gates', 'audit', 'admins', 'api_tokens']) {
  pages.push([`/${area.replace('_', '-')}`, chunksOf(area)]);
}
const row = (...c) => console.log(c[0].padEnd(16) + c.slice(1).map((x) => String(x).padStart(11)).join(''));
row('first load', 'files', 'raw', 'gzip', 'brotli');
let failed = false;
for (const [page, chunks] of pages) {
  const files = [...shell, ...chunks];
  const t = { raw: 0, gz: 0, br: 0 };
  for (const f of files) { t.raw += size(f); t.gz += size(`${f}.gz`); t.br += size(`${f}.br`); }
  row(page, files.length, t.raw, t.gz, t.br);
  const ratchet = RATCHETS[page];
  if (ratchet && (t.raw > ratchet[0] || t.gz > ratchet[1])) {
    console.error(`error: the first load of ${page} grew to ${t.raw} bytes raw, ${t.gz} gzip, over its ratchet of ${ratchet[0]} raw, ${ratchet[1]} gzip`);
    failed = true;
  }
}
const within = (page) => RATCHETS[page].join(' raw, ') + ' gzip';
console.log(`goal for /login and /: ${process.env.GOAL_RAW} raw, ${process.env.GOAL_GZIP} gzip; ratchets: /login ${within('/login')}; / ${within('/')}`);
process.exit(failed ? 1 : 0);
JS
