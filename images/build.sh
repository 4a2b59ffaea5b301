#!/usr/bin/env bash
# Builds the local test images of bgdeploy, all FROM scratch, from Debian packages
# (no registry is needed or used):
#
#   bgdeploy-demo:v1, bgdeploy-demo:v2   static busybox httpd demo app (differ in /version)
#   bgdeploy-demo:hc                     v1 plus a Docker HEALTHCHECK on /up
#   bgdeploy-nginx:latest                real nginx (Debian's `nginx` package) + busybox
#
# Nothing is installed on this machine: nginx's files are taken from its .deb (apt-get download,
# dpkg -x into a private directory), because installing the package on a systemd host starts an
# nginx on port 80. busybox comes from an installed busybox-static, else from its .deb too.
#
# Idempotent: each image carries the label bgdeploy.build-hash, a hash of this script, the
# Debian package versions and the exact files copied in. An image whose label matches is not
# rebuilt. Prints one line per image: "built" or "up to date".
#
# Usage: images/build.sh [--force]      (or BGDEPLOY_IMAGES_FORCE=1)
#   BGDEPLOY_IMAGE_TAG_SUFFIX=-try   builds bgdeploy-demo:v1-try, ..., bgdeploy-nginx:latest-try
#                                    instead (to try a change without touching the real tags)
#   BGDEPLOY_IMAGES_CACHE=DIR        where downloaded .debs are kept (~/.cache/bgdeploy/debs)
# See images/README.md.
set -euo pipefail

SELF="$(readlink -f "${BASH_SOURCE[0]}")"
FORCE="${BGDEPLOY_IMAGES_FORCE:-0}"
SUFFIX="${BGDEPLOY_IMAGE_TAG_SUFFIX:-}"
CACHE="${BGDEPLOY_IMAGES_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bgdeploy/debs}"
# The classic builder works offline with FROM scratch and needs no buildx plugin (Debian 12 has
# none). An explicit DOCKER_BUILDKIT=1 is honoured only when buildx is there.
export DOCKER_BUILDKIT="${DOCKER_BUILDKIT:-0}"
if [[ "$DOCKER_BUILDKIT" != 0 ]] && ! docker buildx version >/dev/null 2>&1; then DOCKER_BUILDKIT=0; fi

DEMO_REPO=bgdeploy-demo
PROXY_REF="bgdeploy-nginx:latest$SUFFIX"

die() { printf 'images/build.sh: error: %s\n' "$*" >&2; exit 1; }

for arg in "$@"; do
  case "$arg" in
    -f|--force) FORCE=1 ;;
    -h|--help) sed -n '2,21p' "$SELF" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $arg (usage: images/build.sh [--force])" ;;
  esac
done
[[ "$SUFFIX" =~ ^[A-Za-z0-9_.-]*$ ]] || die "BGDEPLOY_IMAGE_TAG_SUFFIX=$SUFFIX: use letters, digits, _ . -"

# --- prerequisites -----------------------------------------------------------------------

pkg_installed() {
  [[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" == ii* ]]
}

command -v docker >/dev/null || die "the docker CLI is not installed"
command -v flock >/dev/null || die "flock (util-linux) is not installed"
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || die "apt-get and dpkg-deb are needed (a Debian machine)"

# Serialise concurrent runs (tests may call this script in parallel).
exec 9>"${TMPDIR:-/tmp}/bgdeploy-images-build.lock"
flock -w 600 9 || die "timed out waiting for another images/build.sh run"

docker info >/dev/null 2>&1 || die "the Docker engine does not answer (docker info failed; DOCKER_HOST=${DOCKER_HOST:-unset})"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/bgdeploy-images.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
# The packages' files, extracted (dpkg -x) but never installed.
DEBROOT="$WORK/debroot"
mkdir -p "$DEBROOT" "$CACHE"

# The apt record of the version apt would install, in $RECORD; the package lists are fetched
# once when there are none yet (a fresh machine), which needs root.
UPDATED=0 RECORD=
candidate() { # package
  RECORD="$(apt-cache show --no-all-versions "$1" 2>/dev/null || true)"
  if [[ -z "$RECORD" && "$UPDATED" == 0 ]]; then
    [[ "$(id -u)" == 0 ]] || die "apt knows no package $1 (run apt-get update as root)"
    UPDATED=1
    apt-get update -qq </dev/null >&2 || die "apt-get update failed"
    RECORD="$(apt-cache show --no-all-versions "$1" 2>/dev/null || true)"
  fi
  [[ -n "$RECORD" ]] || die "apt knows no package $1"
}

# Downloads a package's .deb into $CACHE once (checked against apt's sha256) and extracts it
# into $DEBROOT; appends "package version architecture" to $PACKAGE_VERSIONS (for the build
# hash) and leaves the .deb's path in $DEB.
EXTRACTED=() PACKAGE_VERSIONS= DEB=
extract() { # package
  local pkg="$1" version sha
  candidate "$pkg"
  version="$(sed -n 's/^Version: //p' <<<"$RECORD")"
  sha="$(sed -n 's/^SHA256: //p' <<<"$RECORD")"
  DEB="$CACHE/$(basename "$(sed -n 's/^Filename: //p' <<<"$RECORD")")"
  if ! sha256sum "$DEB" 2>/dev/null | grep -q "^$sha "; then
    echo "images/build.sh: downloading $pkg $version (not installed: only its files are used)" >&2
    rm -f "$DEB"
    # apt names the file after the version with its epoch (1%3a1.35...), the pool without it:
    # download into a directory of its own and take the one .deb there.
    local dir
    dir="$(mktemp -d "$CACHE/download.XXXXXX")"
    (cd "$dir" && apt-get download -qq -o APT::Sandbox::User=root "$pkg=$version" </dev/null >&2) ||
      { rm -rf "$dir"; die "apt-get download $pkg=$version failed"; }
    mv "$dir"/*.deb "$DEB" && rm -rf "$dir" || die "apt-get download $pkg=$version left no single .deb in $dir"
    sha256sum "$DEB" 2>/dev/null | grep -q "^$sha " || die "$DEB does not match apt's sha256 $sha"
  fi
  dpkg-deb -x "$DEB" "$DEBROOT" || die "dpkg-deb -x $DEB failed"
  EXTRACTED+=("$pkg")
  PACKAGE_VERSIONS+="$(dpkg-deb -f "$DEB" Package Version Architecture | sed 's/^[^:]*: //' | paste -sd' ' -)"$'\n'
}

# nginx, nginx-common (mime.types), and those of nginx's dependencies that are not installed
# (libraries come from the system when they are there: ldd below says which are used).
extract nginx
NGINX_DEB="$DEB"
extract nginx-common
mapfile -t NGINX_DEPS < <(dpkg-deb -f "$NGINX_DEB" Depends | tr ',' '\n' |
  sed 's/|.*//; s/(.*)//; s/:any//; s/[[:space:]]//g' | sort -u)
for dep in "${NGINX_DEPS[@]}"; do
  [[ -z "$dep" || " ${EXTRACTED[*]} " == *" $dep "* ]] && continue
  pkg_installed "$dep" || extract "$dep"
done

if pkg_installed busybox-static; then
  BUSYBOX=/bin/busybox
  BUSYBOX_VERSION="$(dpkg-query -W -f='${Package} ${Version} ${Architecture}' busybox-static)"
else
  extract busybox-static
  BUSYBOX_VERSION="$(tail -n 1 <<<"$PACKAGE_VERSIONS")"
  BUSYBOX="$DEBROOT/bin/busybox"
fi

NGINX="$DEBROOT/usr/sbin/nginx"
MIME_TYPES="$DEBROOT/etc/nginx/mime.types"
[[ -x "$BUSYBOX" ]] || die "$BUSYBOX missing (package busybox-static)"
[[ -x "$NGINX" ]] || die "$NGINX missing from the extracted nginx package"
[[ -f "$MIME_TYPES" ]] || die "$MIME_TYPES missing from the extracted nginx-common package"

# Every file nginx needs at runtime, as ldd lists it (incl. the ELF loader), looked up in the
# extracted libraries first, then the system's. Each line: "source destination-in-image".
LIB_DIRS="$( (find "$DEBROOT/lib" "$DEBROOT/usr/lib" -maxdepth 1 -type d 2>/dev/null || true) | paste -sd: -)"
LDD_OUT="$(LD_LIBRARY_PATH="$LIB_DIRS" ldd "$NGINX")" || die "ldd $NGINX failed"
if grep -q 'not found' <<<"$LDD_OUT"; then
  die "nginx needs libraries that are neither installed nor in the extracted packages: $(grep 'not found' <<<"$LDD_OUT" | awk '{print $1}' | paste -sd' ' -)"
fi
mapfile -t NGINX_LIBS < <(awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' <<<"$LDD_OUT" | sort -u |
  while read -r lib; do printf '%s %s\n' "$lib" "${lib#"$DEBROOT"}"; done)
((${#NGINX_LIBS[@]})) || die "ldd $NGINX listed no libraries"
for pair in "${NGINX_LIBS[@]}"; do [[ -e "${pair%% *}" ]] || die "ldd lists ${pair%% *} but it does not exist"; done

# --- build hashes ------------------------------------------------------------------------

hash_of() { sha256sum | cut -c1-64; }

COMMON_INPUTS="$(
  sha256sum "$SELF" | cut -c1-64
  printf '%s\n' "$BUSYBOX_VERSION"
  sha256sum <"$BUSYBOX"
)"
DEMO_INPUTS="$COMMON_INPUTS"
PROXY_INPUTS="$(
  printf '%s\n' "$COMMON_INPUTS"
  printf '%s\n' "$PACKAGE_VERSIONS"
  sha256sum <"$NGINX"; sha256sum <"$MIME_TYPES"
  for pair in "${NGINX_LIBS[@]}"; do printf '%s ' "${pair#* }"; sha256sum <"$(readlink -f "${pair%% *}")"; done
)"
NGINX_VERSION="$(awk '$1 == "nginx" {print $2}' <<<"$PACKAGE_VERSIONS")"

# --- build contexts ----------------------------------------------------------------------

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
  local ctx="$1" root="$1/rootfs" pair
  mkdir -p "$root/etc/nginx/conf.d"
  install_busybox "$root"
  install -D -m 0755 "$NGINX" "$root/usr/sbin/nginx"
  for pair in "${NGINX_LIBS[@]}"; do
    # copy the real file (symlinks resolved) to the path ldd lists (outside the extracted tree)
    install -D -m 0755 "$(readlink -f "${pair%% *}")" "$root${pair#* }"
  done
  install -m 0644 "$MIME_TYPES" "$root/etc/nginx/mime.types"
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
add_image "$DEMO_REPO:v1$SUFFIX" "$(printf '%s\n%s\n' "$DEMO_INPUTS" "$DEMO_REPO:v1$SUFFIX" | hash_of)" "write_demo_context v1 0"
add_image "$DEMO_REPO:v2$SUFFIX" "$(printf '%s\n%s\n' "$DEMO_INPUTS" "$DEMO_REPO:v2$SUFFIX" | hash_of)" "write_demo_context v2 0"
add_image "$DEMO_REPO:hc$SUFFIX" "$(printf '%s\n%s\n' "$DEMO_INPUTS" "$DEMO_REPO:hc$SUFFIX" | hash_of)" "write_demo_context v1 1"
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
