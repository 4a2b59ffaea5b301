#!/usr/bin/env bash
# bgdeploy's benchmarks against the local Docker engine and a remote one; prints Markdown tables.
#
#   bench/run.sh                  all of them, 10 runs each where it applies (~6 minutes)
#   bench/run.sh --runs 5         fewer runs
#   bench/run.sh --only a,e       some: a (up vs by hand), b (health detection latency),
#                                 c (overhead for a 3 s app), d (own cost), e (per step),
#                                 f (requests through nginx during cutovers, under load),
#                                 r (remote: a, b and `status` over ssh :22, ssh :2222 without
#                                 forwarding and TLS to a test host, next to the local
#                                 figures; half the runs; `--only a,b,r` measures a and b
#                                 locally once and reuses them)
#                                 g (fleet: `up` on 3 test hosts with parallel 3 and parallel
#                                 1, and `status` of 3 hosts, against one host alone; starts
#                                 three test hosts bf<pid>a..c, removed on exit)
#   BENCH_TESTHOST=NAME           (r) against the running test host NAME (tests/testhost.sh
#                                 up NAME …) instead of one started here
#   BENCH_CONNECTIONS=N           (f) at N keep-alive connections instead of the fastest
#   BENCH_NGINX_LOG=1             (f) keeps nginx's log; prints its errors and, per cutover,
#                                 the steps of `up` next to every failed request
#
# Needs: a running engine (DOCKER_HOST or the local socket), the demo images (built here
# if missing), curl and GNU time (installed with apt-get when missing and running as root);
# for (r), what tests/testhost.sh needs (root; `tests/testhost.sh deps`): (r) starts a test
# host `bgb<pid>` (`tests/testhost.sh up … --owner <this shell>`), copies the demo and nginx
# images into it and removes it on exit (the owner lets `testhost.sh reap` remove it after a
# kill -9). Everything it creates is named bgbench<random>_… and removed afterwards; leftovers
# of an interrupted run are removed at the next start. Not a test: timings depend on the machine.
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

# (r) needs a test host: unless --only leaves r out, or BENCH_TESTHOST names a running one.
# (g) needs three: unless --only leaves g out, or BENCH_FLEET names running ones (NAME,NAME,NAME).
only=a,b,c,d,e,f,r,g
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  [[ ${args[i]} == --only ]] && only=${args[i + 1]:-}
done
testhost=
if [[ ",${only// /}," == *,r,* && -z "${BENCH_TESTHOST:-}" ]]; then
  testhost=bgb$$
  export BENCH_TESTHOST=$testhost
fi
fleet=()
if [[ ",${only// /}," == *,g,* && -z "${BENCH_FLEET:-}" ]]; then
  fleet=("bf$$a" "bf$$b" "bf$$c")
  BENCH_FLEET=$(IFS=,; echo "${fleet[*]}")
  export BENCH_FLEET
fi
teardown() {
  cleanup
  if [[ -n $testhost ]]; then bash tests/testhost.sh down "$testhost" >/dev/null 2>&1 || true; fi
  local h
  for h in "${fleet[@]}"; do bash tests/testhost.sh down "$h" >/dev/null 2>&1 || true; done
}
trap teardown EXIT
if [[ -n $testhost ]]; then
  bash tests/testhost.sh up "$testhost" auto --owner $$ >/dev/null ||
    die "(r) cannot start test host $testhost (tests/testhost.sh up; run tests/testhost.sh deps, or leave r out of --only)"
  bash tests/testhost.sh load "$testhost" bgdeploy-demo:v1 bgdeploy-demo:v2 bgdeploy-nginx:latest >/dev/null ||
    die "(r) cannot copy the demo images into test host $testhost"
fi

if ((${#fleet[@]})); then
  # Started side by side, as the test fixture does; each gets the demo images.
  pids=()
  for h in "${fleet[@]}"; do
    ( bash tests/testhost.sh up "$h" auto --owner $$ >/dev/null &&
      bash tests/testhost.sh load "$h" bgdeploy-demo:v1 bgdeploy-demo:v2 >/dev/null ) &
    pids+=($!)
  done
  for p in "${pids[@]}"; do
    wait "$p" || die "(g) cannot start the fleet's test hosts ${fleet[*]} (tests/testhost.sh up/load; leave g out of --only)"
  done
fi

cargo bench --locked --quiet --bench deploy -- "$@"
