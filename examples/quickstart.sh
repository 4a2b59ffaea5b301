#!/usr/bin/env bash
# The quickstart: builds the demo images locally (no registry needed), builds bgdeploy, starts
# a real nginx as the reverse proxy (127.0.0.1:18088), shows the plan, then deploys the demo
# app twice — v1 (blue), then v2 (green) while requests keep flowing through nginx — and
# prints after each deploy the live container, the network holding its default route, what
# the proxy serves, and how many requests were sent and failed during the switch.
# Run it again to deploy again; remove everything with: bash examples/quickstart.sh --clean
set -euo pipefail
cd "$(dirname "$0")/.."

app=demo stage=quickstart spec=examples/quickstart.yaml
proxy=bgdeploy-quickstart-proxy port=18088 host=demo.localhost
say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

clean() {
  say "Removing the quickstart's containers, networks and state"
  docker ps -aq --filter "label=bgdeploy.app=$app" --filter "label=bgdeploy.stage=$stage" | xargs -r docker rm -f >/dev/null
  # The proxy sits on FRONT_: it goes first, or the network cannot be removed.
  docker rm -f "$proxy" >/dev/null 2>&1 || true
  docker network rm "BACK_${app}_${stage}" "FRONT_${app}_${stage}" >/dev/null 2>&1 || true
  docker volume rm "bgdeploy_${app}_${stage}_state" >/dev/null 2>&1 || true
}
if [[ "${1:-}" == "--clean" ]]; then clean; exit 0; fi

say "Building the demo images (FROM scratch, from Debian packages)"
bash images/build.sh

say "Building bgdeploy"
# The dev profile: what `cargo test` builds too, so after the tests this takes no time, and on a
# fresh 2-core machine it is minutes quicker than the release profile's LTO. A demo's few
# commands do not need the optimised binary (`cargo build --release` for real use).
cargo build --locked --quiet
bgdeploy=target/debug/bgdeploy

say "Starting the reverse proxy $proxy (nginx) on 127.0.0.1:$port"
if [[ -z "$(docker ps -q --filter "name=^${proxy}\$")" ]]; then
  docker rm -f "$proxy" >/dev/null 2>&1 || true
  docker run -d --name "$proxy" -p "127.0.0.1:$port:80" bgdeploy-nginx:latest >/dev/null
fi
for _ in $(seq 50); do curl -fsS -o /dev/null "http://127.0.0.1:$port/__bgdeploy_proxy_health" && break; sleep 0.1; done

say "bgdeploy validate"
"$bgdeploy" -f "$spec" validate

say "bgdeploy plan $app $stage (reads the engine, changes nothing)"
"$bgdeploy" -f "$spec" plan "$app" "$stage"

# Requests through nginx until told to stop (at most 60 s), counting failures.
load() {
  local sent=0 failed=0 end=$((SECONDS + 60))
  while [[ ! -e "$1" && $SECONDS -lt $end ]]; do
    sent=$((sent + 1))
    curl -fsS -m 5 -o /dev/null -H "Host: $host" "http://127.0.0.1:$port/version" || failed=$((failed + 1))
  done
  echo "$sent $failed" > "$1.result"
}

for version in v1 v2; do
  say "bgdeploy up $app $stage --image bgdeploy-demo:$version"
  # Load only when something is live already: before the first deploy nginx has nothing to serve.
  stop=$(mktemp -u) sent=- failed=0
  if curl -fs -o /dev/null -H "Host: $host" "http://127.0.0.1:$port/version"; then load "$stop" & fi
  # Progress goes to the screen as it happens; the copy is for the summary below. (Not
  # `tee /dev/stderr`: reopening stderr when it is a file rewinds it and garbles the log.)
  progress=$(mktemp)
  "$bgdeploy" -f "$spec" up "$app" "$stage" --image "bgdeploy-demo:$version" | tee "$progress"
  out=$(tail -n 1 "$progress"); rm -f "$progress"
  touch "$stop"; wait
  [[ -f "$stop.result" ]] && read -r sent failed < "$stop.result"
  rm -f "$stop" "$stop.result"
  # The last line: "<app>/<stage>: <container> (<image>) is live; its default route is on <network>; ..."
  live=$(sed -n 's/^[^ ]*: \([^ ]*\) .* is live.*/\1/p' <<<"$out")
  route=$(sed -n 's/.*default route is on \([^;( ]*\).*/\1/p' <<<"$out")
  printf '\n   live container:         %s\n' "$live"
  printf '   default route on:       %s\n' "$route"
  printf '   nginx serves /version:  %s\n' "$(curl -fsS -H "Host: $host" "http://127.0.0.1:$port/version")"
  [[ "$sent" != - ]] && printf '   requests through nginx during the deploy: %s sent, %s failed\n' "$sent" "$failed"
  if [[ "$failed" != 0 ]]; then echo "requests failed during the deploy" >&2; exit 1; fi
done

say "Done. Deploy again, or remove it all: bash examples/quickstart.sh --clean"
