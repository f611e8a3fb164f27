#!/usr/bin/env bash
# Install the headless browser the report tests drive: Debian's `chromium` package.
#
#   bash tests/browser/install.sh      # does nothing when a Chromium is already on PATH
#                                      # (or $CHROMIUM names one)
#
# Run by the README's test command (as root, like tests/slurm/cluster.sh). On a system
# without apt-get, install Chromium with its package manager and set CHROMIUM if its
# binary is not called chromium.
set -euo pipefail

note() { echo "browser: $*" >&2; }
die() { echo "browser: error: $*" >&2; exit 1; }

for b in "${CHROMIUM:-}" chromium chromium-browser google-chrome; do
    if [ -n "$b" ] && command -v "$b" >/dev/null; then
        note "$("$b" --version 2>/dev/null || echo "$b") already installed; skipping apt-get"
        exit 0
    fi
done
command -v apt-get >/dev/null || die "no Chromium and no apt-get; install Chromium with this system's package manager (and set CHROMIUM to its binary)"
note "installing chromium with apt-get"
log="${TMPDIR:-/tmp}/warmstart-browser-apt.$$.log"
if ! { DEBIAN_FRONTEND=noninteractive apt-get update &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; } >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    die "apt-get failed (full log: $log); check access to the Debian mirrors and free disk space"
fi
rm -f "$log"
command -v chromium >/dev/null || die "apt-get succeeded but chromium is not on PATH"
note "installed $(chromium --version 2>/dev/null)"
