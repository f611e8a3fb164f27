#!/usr/bin/env bash
# Install taplo, the TOML checker behind the Even Better TOML editor extension, for the test
# that checks every shipped experiment against `warmstart schema`
# (crates/warmstart-cli/tests/schema.rs): npm's `@taplo/cli` 0.7.0 (taplo 0.9), pinned by
# package-lock.json, into tests/taplo/node_modules (git-ignored; nothing global).
#
#   bash tests/taplo/install.sh     # does nothing when that taplo is already installed
#
# Run by the README's test command. Needs Node.js and npm (`apt-get install nodejs npm`)
# and access to the npm registry. The test fails, saying to run this script, when taplo is
# missing — unless WARMSTART_SKIP_TAPLO=1.
set -euo pipefail

note() { echo "taplo: $*" >&2; }
die() { echo "taplo: error: $*" >&2; exit 1; }

cd "$(dirname "$0")"
bin=node_modules/.bin/taplo
want="taplo 0.9.0"
if [ -x "$bin" ] && [ "$("$bin" --version 2>/dev/null)" = "$want" ]; then
    note "$want already installed in tests/taplo/node_modules; skipping npm"
    exit 0
fi
command -v npm >/dev/null || die "npm not found; install Node.js and npm (e.g. \`apt-get install nodejs npm\`)"
note "installing @taplo/cli with npm ci (versions pinned by tests/taplo/package-lock.json)"
log="${TMPDIR:-/tmp}/warmstart-taplo-npm.$$.log"
if ! npm ci --no-audit --no-fund >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    die "npm ci failed (full log: $log); check access to the npm registry"
fi
rm -f "$log"
got="$("$bin" --version 2>/dev/null || true)"
[ "$got" = "$want" ] || die "installed, but $bin --version says '$got', not '$want'"
note "installed $got"
