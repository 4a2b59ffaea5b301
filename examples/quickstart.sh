#!/usr/bin/env bash
# The quickstart: builds the demo images locally (no registry needed), builds bgdeploy, and
# shows what a deploy of the demo app would do. Safe to run again: it changes nothing on the
# engine but the two local images.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

say "Building the demo images (FROM scratch, from Debian packages)"
bash images/build.sh

say "Building bgdeploy"
cargo build --release --locked --quiet
bgdeploy=target/release/bgdeploy
spec=examples/quickstart.yaml

say "bgdeploy validate"
"$bgdeploy" -f "$spec" validate

say "bgdeploy plan demo quickstart (reads the engine, changes nothing)"
"$bgdeploy" -f "$spec" plan demo quickstart

say "bgdeploy plan demo quickstart --image bgdeploy-demo:v2 --output json (first lines)"
"$bgdeploy" -f "$spec" --output json plan demo quickstart --image bgdeploy-demo:v2 | head -n 20
