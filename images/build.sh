#!/usr/bin/env bash
# Builds the local test images of bgdeploy, all FROM scratch, from Debian packages
# (no registry is needed or used):
#
#   bgdeploy-demo:v1, bgdeploy-demo:v2   static busybox httpd demo app (differ in /version)
#   bgdeploy-demo:hc                     v1 plus a Docker HEALTHCHECK on /up
#   bgdeploy-nginx:latest                real nginx (Debian's `nginx` package) + busybox
#
# Idempotent: each image carries the label bgdeploy.build-hash, a hash of this script, the
# Debian package versions and the exact files copied in. An image whose label matches is not
# rebuilt. Prints one line per image: "built" or "up to date".
#
# Usage: images/build.sh [--force]      (or BGDEPLOY_IMAGES_FORCE=1)
# See images/README.md.
set -euo pipefail

SELF="$(readlink -f "${BASH_SOURCE[0]}")"
FORCE="${BGDEPLOY_IMAGES_FORCE:-0}"
# The classic builder works offline with FROM scratch and needs no buildx plugin (Debian 12 has
# none). An explicit DOCKER_BUILDKIT=1 is honoured only when buildx is there.
export DOCKER_BUILDKIT="${DOCKER_BUILDKIT:-0}"
if [[ "$DOCKER_BUILDKIT" != 0 ]] && ! docker buildx version >/dev/null 2>&1; then DOCKER_BUILDKIT=0; fi

DEMO_REPO=bgdeploy-demo
PROXY_REF=bgdeploy-nginx:latest
APT_PACKAGES=(busybox-static nginx)

die() { printf 'images/build.sh: error: %s\n' "$*" >&2; exit 1; }

for arg in "$@"; do
  case "$arg" in
    -f|--force) FORCE=1 ;;
    -h|--help) sed -n '2,14p' "$SELF" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $arg (usage: images/build.sh [--force])" ;;
  esac
done

# --- prerequisites -----------------------------------------------------------------------

pkg_installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" == ii* ]]
}

ensure_packages() {
  local missing=() p
  for p in "$@"; do pkg_installed "$p" || missing+=("$p"); done
  ((${#missing[@]})) || return 0
  [[ "$(id -u)" == 0 ]] || die "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install -y --no-install-recommends ${missing[*]})"
  echo "images/build.sh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq </dev/null >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >&2
}

command -v docker >/dev/null || die "the docker CLI is not installed"
command -v flock >/dev/null || die "flock (util-linux) is not installed"

# Serialise concurrent runs (tests may call this script in parallel).
exec 9>"${TMPDIR:-/tmp}/bgdeploy-images-build.lock"
flock -w 600 9 || die "timed out waiting for another images/build.sh run"

ensure_packages "${APT_PACKAGES[@]}"

docker info >/dev/null 2>&1 || die "the Docker engine does not answer (docker info failed; DOCKER_HOST=${DOCKER_HOST:-unset})"

BUSYBOX=/bin/busybox
NGINX=/usr/sbin/nginx
[[ -x "$BUSYBOX" ]] || die "$BUSYBOX missing although busybox-static is installed"
[[ -x "$NGINX" ]] || die "$NGINX missing although nginx is installed"
[[ -f /etc/nginx/mime.types ]] || die "/etc/nginx/mime.types missing (package nginx-common)"

# Every file nginx needs at runtime, as ldd lists it (absolute paths, incl. the ELF loader).
mapfile -t NGINX_LIBS < <(ldd "$NGINX" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u)
((${#NGINX_LIBS[@]})) || die "ldd $NGINX listed no libraries"
for lib in "${NGINX_LIBS[@]}"; do [[ -e "$lib" ]] || die "ldd lists $lib but it does not exist"; done

# --- build hashes ------------------------------------------------------------------------

hash_of() { sha256sum | cut -c1-64; }

COMMON_INPUTS="$(
  sha256sum "$SELF" | cut -c1-64
  dpkg-query -W -f='${Package} ${Version} ${Architecture}\n' busybox-static
  sha256sum "$BUSYBOX"
)"
DEMO_INPUTS="$COMMON_INPUTS"
PROXY_INPUTS="$(
  printf '%s\n' "$COMMON_INPUTS"
  dpkg-query -W -f='${Package} ${Version} ${Architecture}\n' nginx nginx-common
  sha256sum "$NGINX" /etc/nginx/mime.types
  for lib in "${NGINX_LIBS[@]}"; do printf '%s ' "$lib"; sha256sum <"$(readlink -f "$lib")"; done
)"
NGINX_VERSION="$(dpkg-query -W -f='${Version}' nginx)"

# --- build contexts ----------------------------------------------------------------------

WORK="$(mktemp -d "${TMPDIR:-/tmp}/bgdeploy-images.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# busybox and its applet symlinks (sh, httpd, sleep, cat, echo, nc, wget, ls, env, kill, ...)
install_busybox() {
  local root="$1" applet
  install -D -m 0755 "$BUSYBOX" "$root/bin/busybox"
  while read -r applet; do
    [[ "$applet" == */* && "$applet" != bin/busybox ]] || continue
    [[ -e "$root/$applet" || -L "$root/$applet" ]] && continue
    mkdir -p "$root/$(dirname "$applet")"
    ln -s /bin/busybox "$root/$applet"
  done < <("$BUSYBOX" --list-full)
  install -d -m 1777 "$root/tmp"
  install -d -m 0755 "$root/root" "$root/run" "$root/proc" "$root/sys" "$root/dev"
  # mount points for the files Docker bind-mounts into every container
  mkdir -p "$root/etc"
  : >"$root/etc/hosts"; : >"$root/etc/hostname"; : >"$root/etc/resolv.conf"
}

write_demo_context() { # dir version healthcheck(0|1)
  local ctx="$1" version="$2" hc="$3" root="$1/rootfs"
  mkdir -p "$root/etc" "$root/www/cgi-bin" "$root/usr/local/bin"
  install_busybox "$root"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"

  printf '%s' "$version" >"$root/www/version"
  cat >"$root/www/index.html" <<EOF
<!doctype html>
<html><head><title>bgdeploy demo $version</title></head>
<body><h1>bgdeploy demo $version</h1></body></html>
EOF

  cat >"$root/usr/local/bin/demo-app" <<'EOF'
#!/bin/sh
# bgdeploy demo app: busybox httpd serving /www on $PORT (default 8080).
#   READY_DELAY=N    /up answers 404 for N seconds after start, then 200 (default 0)
#   NEVER_HEALTHY=1  /up never answers 200
#   SLOW_SECONDS=N   default delay of /cgi-bin/slow (default 3; /cgi-bin/slow?N overrides)
port="${PORT:-8080}"
delay="${READY_DELAY:-0}"
pid=
# PID 1 ignores signals it has no handler for: trap them so `docker stop` is immediate.
trap 'kill -TERM $pid 2>/dev/null; exit 0' TERM INT
rm -f /www/up
if [ "${NEVER_HEALTHY:-0}" = 1 ]; then
  echo "demo-app: NEVER_HEALTHY=1: /up will never be ready" >&2
elif [ "$delay" = 0 ]; then
  echo ok >/www/up
else
  (sleep "$delay" && echo ok >/www/up && echo "demo-app: ready after ${delay}s" >&2) &
fi
echo "demo-app $(cat /www/version) listening on :$port" >&2
/bin/busybox httpd -f -p "$port" -h /www &
pid=$!
wait $pid
EOF

  cat >"$root/www/cgi-bin/slow" <<'EOF'
#!/bin/sh
# /cgi-bin/slow?N: answers after N seconds (default $SLOW_SECONDS, else 3).
n="${QUERY_STRING%%&*}"
case "$n" in ''|*[!0-9.]*) n="${SLOW_SECONDS:-3}" ;; esac
sleep "$n"
printf 'Content-Type: text/plain\r\n\r\n'
printf 'slow %s %s\n' "$n" "$(cat /www/version)"
EOF

  cat >"$root/www/cgi-bin/whoami" <<'EOF'
#!/bin/sh
# /cgi-bin/whoami: which container answered.
printf 'Content-Type: text/plain\r\n\r\n'
printf 'version=%s\nhostname=%s\n' "$(cat /www/version)" "$(cat /etc/hostname 2>/dev/null)"
EOF
  chmod 0755 "$root/usr/local/bin/demo-app" "$root/www/cgi-bin/slow" "$root/www/cgi-bin/whoami"

  {
    # (no ENV PATH: the engine gives containers of an image without PATH the standard one)
    echo "FROM scratch"
    echo "COPY rootfs/ /"
    echo "EXPOSE 8080"
    echo 'CMD ["/usr/local/bin/demo-app"]'
    if [[ "$hc" == 1 ]]; then
      # ${PORT} is expanded by the container's sh
      # shellcheck disable=SC2016
      echo 'HEALTHCHECK --interval=1s --timeout=1s --retries=3 CMD ["/bin/sh","-c","exec /bin/busybox wget -q -O /dev/null http://127.0.0.1:${PORT:-8080}/up"]'
    fi
    echo "LABEL org.opencontainers.image.title=bgdeploy-demo org.opencontainers.image.version=$version bgdeploy.build-hash=$BUILD_HASH"
  } >"$ctx/Dockerfile"
}

write_proxy_context() { # dir
  local ctx="$1" root="$1/rootfs" lib
  mkdir -p "$root/etc/nginx/conf.d"
  install_busybox "$root"
  install -D -m 0755 "$NGINX" "$root/usr/sbin/nginx"
  for lib in "${NGINX_LIBS[@]}"; do
    # copy the real file (symlinks resolved) to the path ldd lists
    install -D -m 0755 "$(readlink -f "$lib")" "$root$lib"
  done
  install -m 0644 /etc/nginx/mime.types "$root/etc/nginx/mime.types"
  install -d -m 0755 "$root/var/lib/nginx" "$root/var/log/nginx" "$root/var/cache/nginx" "$root/usr/share/nginx/html"
  printf 'root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www-data:/var/www:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nwww-data:x:33:\nnogroup:x:65534:\n' >"$root/etc/group"
  printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetworks: files\n' >"$root/etc/nsswitch.conf"

  cat >"$root/etc/nginx/nginx.conf" <<'EOF'
# bgdeploy-nginx: minimal nginx for bgdeploy's tests and quickstart.
# Runs in the foreground through CMD ["/usr/sbin/nginx","-g","daemon off;"].
user www-data www-data;
worker_processes 1;
pid /run/nginx.pid;
error_log /dev/stderr warn;

events {
    worker_connections 1024;
}

http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log /dev/stdout;
    sendfile on;
    keepalive_timeout 65;
    server_names_hash_bucket_size 128;
    # Docker's embedded DNS (user-defined networks only); used by proxy_pass with variables.
    resolver 127.0.0.11 valid=2s ipv6=off;

    server {
        listen 80 default_server;
        server_name _;
        location = /__bgdeploy_proxy_health {
            access_log off;
            default_type text/plain;
            return 200 "ok\n";
        }
        location / {
            return 404;
        }
    }

    include /etc/nginx/conf.d/*.conf;
}
EOF

  cat >"$ctx/Dockerfile" <<EOF
FROM scratch
COPY rootfs/ /
EXPOSE 80
CMD ["/usr/sbin/nginx","-g","daemon off;"]
LABEL org.opencontainers.image.title=bgdeploy-nginx org.opencontainers.image.version=$NGINX_VERSION bgdeploy.build-hash=$BUILD_HASH
EOF
}

# --- build -------------------------------------------------------------------------------
# Images that need a build are built in parallel; the classic builder spends most of its time
# committing one container per metadata instruction, so that is where the seconds go.

REFS=() HASHES=() WRITERS=()
add_image() { REFS+=("$1"); HASHES+=("$2"); WRITERS+=("$3"); }
add_image "$DEMO_REPO:v1" "$(printf '%s\n%s\n' "$DEMO_INPUTS" "$DEMO_REPO:v1" | hash_of)" "write_demo_context v1 0"
add_image "$DEMO_REPO:v2" "$(printf '%s\n%s\n' "$DEMO_INPUTS" "$DEMO_REPO:v2" | hash_of)" "write_demo_context v2 0"
add_image "$DEMO_REPO:hc" "$(printf '%s\n%s\n' "$DEMO_INPUTS" "$DEMO_REPO:hc" | hash_of)" "write_demo_context v1 1"
add_image "$PROXY_REF" "$(printf '%s\n%s\n' "$PROXY_INPUTS" "$PROXY_REF" | hash_of)" "write_proxy_context"

label_of() { docker image inspect -f '{{index .Config.Labels "bgdeploy.build-hash"}}' "$1" 2>/dev/null || true; }

build_one() { # index; writes $WORK/result.<index>
  local i="$1" ref="${REFS[$1]}" hash="${HASHES[$1]}" ctx="$WORK/ctx.$1" start old_id new_id
  local -a writer
  read -ra writer <<<"${WRITERS[$i]}"
  mkdir -p "$ctx"
  BUILD_HASH="$hash" "${writer[0]}" "$ctx" "${writer[@]:1}"
  old_id="$(docker image inspect -f '{{.Id}}' "$ref" 2>/dev/null || true)"
  start=$(date +%s%N)
  docker build --force-rm --pull=false -t "$ref" "$ctx" >"$WORK/log.$i" 2>&1 || return 1
  [[ "$(label_of "$ref")" == "$hash" ]] || { echo "built $ref does not carry bgdeploy.build-hash=$hash" >>"$WORK/log.$i"; return 1; }
  new_id="$(docker image inspect -f '{{.Id}}' "$ref")"
  # Drop the replaced image if nothing else uses it (fails harmlessly if tagged or in use).
  if [[ -n "$old_id" && "$old_id" != "$new_id" ]]; then docker rmi "$old_id" >/dev/null 2>&1 || true; fi
  printf 'built (%d ms)' $((($(date +%s%N) - start) / 1000000)) >"$WORK/result.$i"
}

pids=()
for i in "${!REFS[@]}"; do
  if [[ "$FORCE" != 1 && "$(label_of "${REFS[$i]}")" == "${HASHES[$i]}" ]]; then
    echo "up to date" >"$WORK/result.$i"
    pids[i]=
  else
    build_one "$i" &
    pids[i]=$!
  fi
done
failed=0
for i in "${!REFS[@]}"; do
  if [[ -n "${pids[i]}" ]] && ! wait "${pids[i]}"; then
    printf '%-24s FAILED\n' "${REFS[$i]}"
    if [[ -f "$WORK/log.$i" ]]; then sed 's/^/    /' "$WORK/log.$i" >&2; fi
    failed=1
  else
    printf '%-24s %s\n' "${REFS[$i]}" "$(cat "$WORK/result.$i")"
  fi
done
((failed == 0)) || die "docker build failed (output above)"
