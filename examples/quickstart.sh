#!/usr/bin/env bash
# The quickstart: builds the demo images locally (no registry needed), builds bgdeploy, shows
# the plan, then deploys the demo app twice — v1 (blue), then v2 (green) — and prints after
# each deploy the live container, the network holding its default route, and what it serves.
# Run it again to deploy again; remove everything with: bash examples/quickstart.sh --clean
set -euo pipefail
cd "$(dirname "$0")/.."

app=demo stage=quickstart spec=examples/quickstart.yaml
say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

clean() {
  say "Removing the quickstart's containers, networks and state"
  docker ps -aq --filter "label=bgdeploy.app=$app" --filter "label=bgdeploy.stage=$stage" | xargs -r docker rm -f >/dev/null
  docker network rm "BACK_${app}_${stage}" "FRONT_${app}_${stage}" >/dev/null 2>&1 || true
  docker volume rm "bgdeploy_${app}_${stage}_state" >/dev/null 2>&1 || true
}
if [[ "${1:-}" == "--clean" ]]; then clean; exit 0; fi

say "Building the demo images (FROM scratch, from Debian packages)"
bash images/build.sh

say "Building bgdeploy"
cargo build --release --locked --quiet
bgdeploy=target/release/bgdeploy

say "bgdeploy validate"
"$bgdeploy" -f "$spec" validate

say "bgdeploy plan $app $stage (reads the engine, changes nothing)"
"$bgdeploy" -f "$spec" plan "$app" "$stage"

for version in v1 v2; do
  say "bgdeploy up $app $stage --image bgdeploy-demo:$version"
  out=$("$bgdeploy" -f "$spec" up "$app" "$stage" --image "bgdeploy-demo:$version" | tee /dev/stderr | tail -n 1)
  # The last line: "<app>/<stage>: <container> (<image>) is live; its default route is on <network>; ..."
  live=$(sed -n 's/^[^ ]*: \([^ ]*\) .* is live.*/\1/p' <<<"$out")
  route=$(sed -n 's/.*default route is on \([^;( ]*\).*/\1/p' <<<"$out")
  ip=$(docker inspect -f "{{(index .NetworkSettings.Networks \"BACK_${app}_${stage}\").IPAddress}}" "$live")
  printf '\n   live container:      %s\n' "$live"
  printf '   default route on:    %s\n' "$route"
  printf '   it serves /version:  %s\n' "$(curl -fsS "http://$ip:8080/version")"
done

say "Done. Deploy again, or remove it all: bash examples/quickstart.sh --clean"
