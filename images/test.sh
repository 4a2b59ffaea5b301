#!/usr/bin/env bash
# Smoke test of the images built by images/build.sh, against the real engine.
# Everything it starts is named imgtest_* and removed on exit, even on failure.
# Uses host ports 127.0.0.1:18080-18086 (override the base with IMGTEST_PORT_BASE).
# BGDEPLOY_IMAGE_TAG_SUFFIX=-try tests the images build.sh built with that suffix.
# `cond && ok || bad` is intended (ok never fails); $vars in single quotes are nginx variables.
# shellcheck disable=SC2015,SC2016
set -euo pipefail

BASE="${IMGTEST_PORT_BASE:-18080}"
SUFFIX="${BGDEPLOY_IMAGE_TAG_SUFFIX:-}"
V1="bgdeploy-demo:v1$SUFFIX" V2="bgdeploy-demo:v2$SUFFIX" HC="bgdeploy-demo:hc$SUFFIX" NGINX="bgdeploy-nginx:latest$SUFFIX"
P_APP=$BASE P_PROXY=$((BASE + 1)) P_DELAY=$((BASE + 2)) P_NEVER=$((BASE + 3)) P_V2=$((BASE + 4)) P_PORT=$((BASE + 5)) P_HC=$((BASE + 6))
CONTAINERS=(imgtest_a imgtest_delay imgtest_never imgtest_v2 imgtest_port imgtest_hc imgtest_hcbad imgtest_app1 imgtest_app2 imgtest_proxy)
NET=imgtest_net
FAILED=0

cleanup() {
  docker rm -f "${CONTAINERS[@]}" >/dev/null 2>&1 || true
  docker network rm "$NET" >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup # leftovers of an interrupted run

command -v curl >/dev/null || { echo "images/test.sh: curl is required" >&2; exit 1; }

ok() { printf '  ok    %s\n' "$*"; }
bad() { printf '  FAIL  %s\n' "$*"; FAILED=1; }
check() { # description expected actual
  if [[ "$2" == "$3" ]]; then ok "$1"; else bad "$1: expected [$2], got [$3]"; fi
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" || true; }
body() { curl -s --max-time 10 "$@" || true; }
wait_code() { # want timeout_s curl-args...: polls every 100 ms
  local want="$1" deadline=$(($(now_ms) + $2 * 1000)); shift 2
  while (($(now_ms) < deadline)); do
    [[ "$(code "$@")" == "$want" ]] && return 0
    sleep 0.1
  done
  return 1
}
timed_stop() { # container -> prints ms
  local t0; t0=$(now_ms)
  docker stop "$1" >/dev/null
  echo $(($(now_ms) - t0))
}
run() { docker run -d "$@" >/dev/null; }

echo "== demo app"
run --name imgtest_a -p "127.0.0.1:$P_APP:8080" "$V1"
run --name imgtest_delay -p "127.0.0.1:$P_DELAY:8080" -e READY_DELAY=3 "$V1"
t_delay=$(now_ms)
# right away, before the 3 s are up: httpd answers, /up is 404
wait_code 404 2 "127.0.0.1:$P_DELAY/up" && ok "READY_DELAY=3 /up 404 at start" || bad "READY_DELAY=3 /up at start: $(code "127.0.0.1:$P_DELAY/up")"
run --name imgtest_never -p "127.0.0.1:$P_NEVER:8080" -e NEVER_HEALTHY=1 "$V1"
run --name imgtest_v2 -p "127.0.0.1:$P_V2:8080" "$V2"
run --name imgtest_port -p "127.0.0.1:$P_PORT:9090" -e PORT=9090 "$V1"
run --name imgtest_hc -p "127.0.0.1:$P_HC:8080" "$HC"
run --name imgtest_hcbad -e NEVER_HEALTHY=1 "$HC"

wait_code 200 5 "127.0.0.1:$P_APP/version" || bad "v1 did not answer within 5 s"
check "v1 /version" v1 "$(body "127.0.0.1:$P_APP/version")"
check "v1 /up" 200 "$(code "127.0.0.1:$P_APP/up")"
check "v1 / names the version" yes "$(body "127.0.0.1:$P_APP/" | grep -q 'bgdeploy demo v1' && echo yes || echo no)"
check "v1 /nope" 404 "$(code "127.0.0.1:$P_APP/nope")"
check "v1 /cgi-bin/whoami" "version=v1" "$(body "127.0.0.1:$P_APP/cgi-bin/whoami" | head -1)"
t0=$(now_ms)
check "v1 /cgi-bin/slow?1" "slow 1 v1" "$(body "127.0.0.1:$P_APP/cgi-bin/slow?1")"
dt=$(($(now_ms) - t0))
((dt >= 1000 && dt < 2500)) && ok "slow?1 took ${dt} ms" || bad "slow?1 took ${dt} ms"

check "READY_DELAY=3 /version at start" v1 "$(body "127.0.0.1:$P_DELAY/version")"
if wait_code 200 6 "127.0.0.1:$P_DELAY/up"; then
  dt=$(($(now_ms) - t_delay))
  ((dt >= 2500 && dt < 4500)) && ok "READY_DELAY=3 /up 200 after ${dt} ms" || bad "READY_DELAY=3 /up 200 after ${dt} ms"
else
  bad "READY_DELAY=3 /up never became 200"
fi

check "NEVER_HEALTHY=1 /version" v1 "$(body "127.0.0.1:$P_NEVER/version")"
if wait_code 200 3 "127.0.0.1:$P_NEVER/up"; then bad "NEVER_HEALTHY=1 /up became 200"; else ok "NEVER_HEALTHY=1 /up still $(code "127.0.0.1:$P_NEVER/up") after 3 s"; fi

check "v2 /version" v2 "$(body "127.0.0.1:$P_V2/version")"
check "v2 /cgi-bin/whoami" "version=v2" "$(body "127.0.0.1:$P_V2/cgi-bin/whoami" | head -1)"
check "PORT=9090 /version" v1 "$(body "127.0.0.1:$P_PORT/version")"

health() { docker inspect -f '{{.State.Health.Status}}' "$1"; }
for _ in $(seq 100); do [[ "$(health imgtest_hc)" == healthy && "$(health imgtest_hcbad)" == unhealthy ]] && break; sleep 0.1; done
check "hc becomes healthy" healthy "$(health imgtest_hc)"
check "hc with NEVER_HEALTHY=1 becomes unhealthy" unhealthy "$(health imgtest_hcbad)"
check "hc /version" v1 "$(body "127.0.0.1:$P_HC/version")"
check "v1 and v2 carry no HEALTHCHECK" "<nil><nil>" "$(docker image inspect -f '{{.Config.Healthcheck}}' "$V1")$(docker image inspect -f '{{.Config.Healthcheck}}' "$V2")"

# a request in flight when the container stops must not hold docker stop up
curl -s --max-time 10 "127.0.0.1:$P_APP/cgi-bin/slow?5" >/dev/null 2>&1 &
sleep 0.3
for c in imgtest_a imgtest_delay imgtest_never imgtest_v2 imgtest_hc; do
  ms=$(timed_stop "$c")
  ((ms < 1000)) && ok "docker stop $c: ${ms} ms" || bad "docker stop $c: ${ms} ms"
done
wait

echo "== proxy"
docker network create "$NET" >/dev/null
run --name imgtest_app1 --network "$NET" "$V1"
run --name imgtest_app2 --network "$NET" "$V2"
run --name imgtest_proxy --network "$NET" -p "127.0.0.1:$P_PROXY:80" "$NGINX"
wait_code 200 5 "127.0.0.1:$P_PROXY/__bgdeploy_proxy_health" || true
check "proxy /__bgdeploy_proxy_health" 200 "$(code "127.0.0.1:$P_PROXY/__bgdeploy_proxy_health")"
check "proxy /elsewhere" 404 "$(code "127.0.0.1:$P_PROXY/elsewhere")"
check "proxy workers run as www-data" yes "$(docker exec imgtest_proxy ps -o user,args | grep -q '^www-data .*worker process' && echo yes || echo no)"

conf() { # upstream -> installs conf.d/x.conf, nginx -t, reload
  printf 'server {\n  listen 80;\n  server_name demo.test;\n  location / { proxy_pass http://%s:8080; }\n}\n' "$1" |
    docker exec -i imgtest_proxy sh -c 'cat > /etc/nginx/conf.d/x.conf'
  docker exec imgtest_proxy nginx -t >/dev/null 2>&1 && ok "nginx -t ($1)" || bad "nginx -t ($1)"
  docker exec imgtest_proxy nginx -s reload >/dev/null 2>&1 && ok "nginx -s reload ($1)" || bad "nginx -s reload ($1)"
}
via_proxy() { # want -> polls up to 3 s for the reload to take effect
  local got=
  for _ in $(seq 30); do got="$(body -H 'Host: demo.test' "127.0.0.1:$P_PROXY/version")"; [[ "$got" == "$1" ]] && break; sleep 0.1; done
  echo "$got"
}
conf imgtest_app1
check "through the proxy to app1" v1 "$(via_proxy v1)"
conf imgtest_app2
check "through the proxy to app2 after reload" v2 "$(via_proxy v2)"
printf 'server {\n  listen 80;\n  server_name dyn.test;\n  location / { set $up imgtest_app1; proxy_pass http://$up:8080; }\n}\n' |
  docker exec -i imgtest_proxy sh -c 'cat > /etc/nginx/conf.d/y.conf'
docker exec imgtest_proxy nginx -s reload >/dev/null 2>&1 || bad "reload (y.conf)"
sleep 0.5
check "runtime DNS through resolver 127.0.0.11" v1 "$(body -H 'Host: dyn.test' "127.0.0.1:$P_PROXY/version")"
printf 'server { listen 80; bogus_directive; }\n' | docker exec -i imgtest_proxy sh -c 'cat > /etc/nginx/conf.d/z.conf'
docker exec imgtest_proxy nginx -t >/dev/null 2>&1 && bad "nginx -t accepted a broken conf" || ok "nginx -t rejects a broken conf"
docker exec imgtest_proxy rm /etc/nginx/conf.d/z.conf
# (grep without -q: -q stops reading early, and with pipefail the SIGPIPE of `docker logs` fails the check)
check "access log goes to docker logs" yes "$(docker logs imgtest_proxy 2>/dev/null | grep '"GET /version HTTP/1.1" 200' >/dev/null && echo yes || echo no)"
for c in imgtest_proxy imgtest_app1 imgtest_app2; do
  ms=$(timed_stop "$c")
  ((ms < 1000)) && ok "docker stop $c: ${ms} ms" || bad "docker stop $c: ${ms} ms"
done

if ((FAILED)); then echo "images/test.sh: FAILED"; exit 1; fi
echo "images/test.sh: all checks passed"
