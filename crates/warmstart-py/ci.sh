#!/usr/bin/env bash
# Build the `warmstart` Python package from this workspace, install it into the current
# Python, and run its pytest suite. Called by the README's test command after
# `cargo test --workspace`.
#
# The extension is built with the dev profile into the workspace's target/ (dependencies
# at opt-level 2, as the workspace's profile says) and without debug info (faster to
# compile and link; a test failure here is read from Python's traceback, not a debugger);
# a second run rebuilds nothing. It cannot reuse what `cargo test --workspace`
# compiled: building this one package unifies dependency features differently (syn,
# libc, miette, … get other feature sets), so every crate hashes differently anyway.
# `pip install ./crates/warmstart-py` is the user's install (a release build); this script
# trades run-time speed of the engines for build time, which the tests' tiny experiments
# do not notice.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python="${PYTHON:-python3}"

"$python" -m pip install -q --disable-pip-version-check \
    'maturin>=1.9.4,<2' 'pyarrow>=15' pandas pytest

wheels="$root/target/wheels-ci"
rm -rf "$wheels"
# maturin sets PYO3_BUILD_EXTENSION_MODULE (no libpython link) and names the module.
CARGO_PROFILE_DEV_DEBUG=0 "$python" -m maturin build --quiet --profile dev \
    --manifest-path "$here/Cargo.toml" --interpreter "$python" --out "$wheels"
"$python" -m pip install -q --disable-pip-version-check --no-deps --force-reinstall \
    "$wheels"/warmstart-*.whl

# From the tests' directory, so `import warmstart` is the installed package.
cd "$here/tests"
PYTHONDONTWRITEBYTECODE=1 "$python" -m pytest -q -p no:cacheprovider "$@"
