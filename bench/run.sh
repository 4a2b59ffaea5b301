#!/usr/bin/env bash
# bgdeploy's benchmarks against the local Docker engine; prints a Markdown table.
#
#   bench/run.sh                  all of them, 10 runs each where it applies (~4 minutes)
#   bench/run.sh --runs 5         fewer runs
#   bench/run.sh --only a,e       some: a (up vs by hand), b (health detection latency),
#                                 c (overhead for a 3 s app), d (own cost), e (per step),
#                                 f (requests through nginx during cutovers, under load)
#   BENCH_CONNECTIONS=N           (f) at N keep-alive connections instead of the fastest
#   BENCH_NGINX_LOG=1             (f) keeps nginx's log; prints its errors and, per cutover,
#                                 the steps of `up` next to every failed request
#
# Needs: a running engine (DOCKER_HOST or the local socket), the demo images (built here
# if missing), curl and GNU time (installed with apt-get when missing and running as root).
# Everything it creates is named bgbench<random>_… and removed afterwards; leftovers of an
# interrupted run are removed at the next start. Not a test: timings depend on the machine.
set -euo pipefail

cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."

die() { printf 'bench/run.sh: %s\n' "$*" >&2; exit 1; }

need=()
command -v curl >/dev/null || need+=(curl)
[[ -x /usr/bin/time ]] || need+=(time)
if ((${#need[@]})); then
  [[ "$(id -u)" == 0 ]] || die "missing: ${need[*]} (apt-get install ${need[*]})"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" </dev/null >&2 \
    || { apt-get update -qq </dev/null >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" </dev/null >&2; }
fi
docker info >/dev/null 2>&1 || die "the Docker engine does not answer (docker info failed)"
bash images/build.sh >/dev/null

# Leftovers of an interrupted run (only the benchmark's own names).
cleanup() {
  local c v n
  c="$(docker ps -aq --filter name=bgbench)"; [[ -z "$c" ]] || docker rm -f -v $c >/dev/null 2>&1 || true
  for v in $(docker volume ls -q --filter name=bgbench); do docker volume rm "$v" >/dev/null 2>&1 || true; done
  for n in $(docker network ls -q --filter name=bgbench); do docker network rm "$n" >/dev/null 2>&1 || true; done
}
cleanup
trap cleanup EXIT

cargo bench --locked --quiet --bench deploy -- "$@"
