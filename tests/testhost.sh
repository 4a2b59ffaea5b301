#!/usr/bin/env bash
# testhost.sh — "test hosts" for bgdeploy's tests: each one a Linux network namespace with its
# own Docker engine (own containerd, data-root, exec-root, docker0, iptables) and its own sshd,
# reachable from this host's namespace ONLY through a veth pair, like a remote machine.
#
#   testhost.sh up NAME N|auto [--engine 20|28] [--owner PID]
#                                          create test host NAME; N in 1..20 picks 10.250.N.0/24
#                                          (auto: the first free one); with --owner, `reap`
#                                          removes it once process PID has ended
#   testhost.sh down NAME                  remove everything of NAME (idempotent)
#   testhost.sh reap                       `down` every test host whose --owner has ended
#   testhost.sh env NAME [tcp|tls|ssh|unix] print DOCKER_HOST lines (export lines for one transport)
#   testhost.sh load NAME IMAGE...         copy images from the main engine (docker save | load)
#   testhost.sh ls                         list the test hosts
#   testhost.sh exec NAME CMD...           run CMD in the test host's network namespace
#   testhost.sh deps                       install what `up` needs (no host-wide sshd left running)
#   testhost.sh fetch 28                   download Engine 28 into the cache (up --engine 28 does it)
#
# Addresses of test host N (all inside 10.250.N.0/24):
#   10.250.N.1/24  this host's end of the veth (bgth-NAME). The /24 keeps every 10.250.N.x on the
#                  veth: the containers' addresses below get ARP requests nobody answers, so they
#                  are NOT routable from here, and no packet for them leaves through eth0.
#   10.250.N.2/30  the test host's end (eth0 in the netns): dockerd on :2376 (TLS, client
#                  certificate required), plain tcp on :2375 (socat to the unix socket: dockerd's
#                  TLS flags apply to all its tcp listeners), sshd on :22
#   10.250.N.32/27 the test host's docker0 (--bip 10.250.N.33/27)
#   10.250.N.64/26  --default-address-pool, 4 /28 networks (13 containers each), then
#   10.250.N.128/25 --default-address-pool, 16 /29 networks (5 containers each)
# The test host has no default route: nothing in it can reach beyond 10.250.N.1.
#
# TLS: `up` makes a CA, a server certificate (subjectAltName IP:10.250.N.2) and a client
# certificate with openssl; the client side is /run/bgth-NAME/certs/{ca,cert,key}.pem, the
# layout DOCKER_CERT_PATH expects (with DOCKER_TLS_VERIFY=1).
# ssh: root@10.250.N.2 with the key /run/bgth-NAME/id_ed25519, through a block `up` adds to
# ~/.ssh/config (the system ssh, as used by bgdeploy and the docker CLI, reads it) and `down`
# removes. sshd keeps Debian's default MaxStartups.
#
# Engine 20 is Debian 12's docker.io (/usr/sbin/dockerd, /usr/bin/containerd); engine 28 is
# Debian forky's docker.io 28.5.2 + containerd 2.1.9 (+ tini-static as docker-init), fetched with a
# private APT configuration into $BGTH_CACHE/28 (system apt sources untouched), run with
# bookworm's /usr/sbin/runc (the newer runc needs GLIBC_2.38).
#
# Every daemon is started through `nsenter --net=/run/netns/bgth-NAME` (not `ip netns exec`,
# which remounts /sys and breaks dockerd), with its own containerd (--containerd, plus its own
# containerd namespaces), --cgroup-parent /bgth-NAME, and an empty --config-file
# (/etc/docker/daemon.json belongs to the main engine). The main engine is never touched:
# `up` fails if this host's docker0 changes or the main engine stops answering.
#
# Environment: BGTH_MAIN_HOST (main engine, default unix:///var/run/docker.sock),
# BGTH_STORAGE_DRIVER (default overlay2), BGTH_CACHE (default /var/cache/bgtesthost),
# BGTH_KEEP_ON_FAIL=1 (do not clean up a failed `up`), BGTH_SSH_CONFIG (the ssh config file to
# add the test host's block to; default ~/.ssh/config of the passwd entry, which ssh reads).
set -euo pipefail

BGTH_CACHE=${BGTH_CACHE:-/var/cache/bgtesthost}
MAIN_HOST=${BGTH_MAIN_HOST:-unix:///var/run/docker.sock}
STORAGE_DRIVER=${BGTH_STORAGE_DRIVER:-overlay2}
# The file ssh itself reads: in the home directory of the passwd entry, whatever $HOME says.
SSH_CONFIG=$(getent passwd "$(id -u)" | cut -d: -f6 || true)
SSH_CONFIG=${BGTH_SSH_CONFIG:-${SSH_CONFIG:-${HOME:-/root}}/.ssh/config}
DOCKER_CLI=$(command -v docker || echo /usr/bin/docker)
SYS_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# Engine 28 from Debian forky (versions pinned: what was measured).
E28_PKGS=(docker.io=28.5.2+dfsg4-5 containerd=2.1.9+ds1-5 tini-static=0.19.0-6+b2)
E28_SOURCE='deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian forky main'

say() { printf 'testhost: %s\n' "$*" >&2; }
die() { printf 'testhost: error: %s\n' "$*" >&2; exit 1; }

usage() {
  awk 'NR > 2 && /^#$/ {exit} NR > 2 {sub(/^# ?/, ""); print}' "${BASH_SOURCE[0]}" >&2
  exit 2
}

# A lock shared by every run of this script (and of the reference it grew from): picking a
# free N, and rewriting ~/.ssh/config, must not race with another test process doing the same.
LOCK_FILE=/run/bgth.lock
with_lock() { # CMD...: runs CMD (a function of this script) holding the lock
  local fd
  exec {fd}>>"$LOCK_FILE"
  flock -w 60 "$fd" || die "could not take $LOCK_FILE within 60s"
  "$@"
  local rc=$?
  flock -u "$fd"
  exec {fd}>&-
  return $rc
}

# names NAME: the paths and names of test host NAME.
names() {
  NAME=$1
  [[ $NAME =~ ^[a-z0-9][a-z0-9-]{0,9}$ ]] ||
    die "NAME must be 1-10 of [a-z0-9-], starting with a letter or digit (got '$NAME')"
  NS=bgth-$NAME                 # network namespace, /run/netns/$NS
  NSPATH=/run/netns/$NS
  VETH=bgth-$NAME               # this host's end of the veth pair
  RUN=/run/bgth-$NAME           # sockets, pidfiles, keys, configs, logs
  LIB=/var/lib/bgth-$NAME       # data-root of dockerd and root of containerd
  SOCK=$RUN/docker.sock
  CGROUP=bgth-$NAME             # --cgroup-parent /$CGROUP
}

# addresses N
addresses() {
  local n=$1
  HOST_IP=10.250.$n.1
  TH_IP=10.250.$n.2
  BIP=10.250.$n.33/27
  POOL1=base=10.250.$n.64/26,size=28
  POOL2=base=10.250.$n.128/25,size=29
}

nsenter_net() { nsenter --net="$NSPATH" -- "$@"; }

netns_inode() { stat -L -c %i "$NSPATH" 2>/dev/null || true; }

# Is PID alive and inside this test host's netns (so it is ours to end)?
ours() {
  local pid=$1 ino
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [ -e "/proc/$pid" ] || return 1
  ino=$(netns_inode)
  [ -n "$ino" ] || return 1
  [ "$(stat -L -c %i "/proc/$pid/ns/net" 2>/dev/null || true)" = "$ino" ]
}

# Starts CMD in the netns, detached in its own session, with a clean environment, logging to
# LOG; writes its PID to PIDFILE (the shell wrapper execs CMD, so the PID is CMD's).
start_in_netns() { # PIDFILE LOG ENV-PATH CMD...
  local pidfile=$1 log=$2 path=$3; shift 3
  rm -f "$pidfile"
  # shellcheck disable=SC2016  # $$ and $@ are the inner shell's
  nsenter --net="$NSPATH" -- setsid env -i PATH="$path" HOME=/root \
    sh -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" </dev/null >>"$log" 2>&1 &
  for _ in $(seq 250); do [ -s "$pidfile" ] && return 0; sleep 0.02; done
  die "could not start $1 (see $log)"
}

# Waits until CMD succeeds; fails at once if the daemon in PIDFILE has exited.
wait_daemon() { # SECONDS PIDFILE LOG CMD...
  local secs=$1 pidfile=$2 log=$3; shift 3
  local end=$((SECONDS + secs)) pid
  pid=$(cat "$pidfile")
  until "$@" >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 5 "$log" >&2 || true
      die "$(basename "$pidfile" .pid | sed "s/\.started$//") exited; see $log"
    fi
    [ $SECONDS -lt $end ] || die "$(basename "$pidfile" .pid | sed "s/\.started$//") not ready within ${secs}s; see $log"
    sleep 0.05
  done
}

# ---------------------------------------------------------------------------------------- fetch
fetch28() {
  local dir=$BGTH_CACHE/28
  if [ -f "$dir/.complete" ]; then return 0; fi
  mkdir -p "$BGTH_CACHE"
  local fd
  exec {fd}>>"$BGTH_CACHE/.lock-28"
  flock -w 600 "$fd" || die "another fetch of Engine 28 holds $BGTH_CACHE/.lock-28"
  if [ -f "$dir/.complete" ]; then exec {fd}>&-; return 0; fi
  fetch28_locked "$dir"
  exec {fd}>&-
}

fetch28_locked() {
  local dir=$1
  say "fetching Engine 28 from Debian forky into $dir (private APT configuration)"
  rm -rf "$dir"
  mkdir -p "$dir/apt/lists/partial" "$dir/apt/cache/archives/partial" "$dir/debs" "$dir/root" "$dir/bin"
  printf '%s\n' "$E28_SOURCE" >"$dir/apt/sources.list"
  cat >"$dir/apt/apt.conf" <<CONF
Dir::Etc::sourcelist "$dir/apt/sources.list";
Dir::Etc::sourceparts "-";
Dir::State::Lists "$dir/apt/lists";
Dir::Cache "$dir/apt/cache";
Acquire::Languages "none";
CONF
  APT_CONFIG=$dir/apt/apt.conf apt-get update -q >"$dir/apt/update.log" 2>&1 ||
    { tail -5 "$dir/apt/update.log" >&2; die "apt-get update (forky) failed; see $dir/apt/update.log"; }
  (cd "$dir/debs" && APT_CONFIG=$dir/apt/apt.conf apt-get download -q "${E28_PKGS[@]}") \
    >"$dir/apt/download.log" 2>&1 ||
    { tail -5 "$dir/apt/download.log" >&2; die "apt-get download failed; see $dir/apt/download.log"; }
  local deb
  for deb in "$dir"/debs/*.deb; do dpkg -x "$deb" "$dir/root"; done
  # A PATH directory with exactly what Engine 28 needs; runc stays bookworm's /usr/sbin/runc.
  local f
  for f in dockerd docker-proxy containerd containerd-shim-runc-v2 ctr docker; do
    local src
    src=$(find "$dir/root/usr" -name "$f" \( -path '*/bin/*' -o -path '*/sbin/*' -o -path '*/libexec/*' \) \
      \( -type f -o -type l \) 2>/dev/null | head -1)
    [ -n "$src" ] && ln -sf "$src" "$dir/bin/$f"
  done
  local tini
  tini=$(find "$dir/root" -name 'tini-static' -type f | head -1)
  [ -n "$tini" ] && ln -sf "$tini" "$dir/bin/docker-init"
  ln -sf /usr/sbin/runc "$dir/bin/runc"
  { [ -x "$dir/bin/dockerd" ] && [ -x "$dir/bin/containerd" ] && [ -x "$dir/bin/docker-init" ]; } ||
    die "the forky packages did not contain dockerd, containerd and tini-static"
  "$dir/bin/dockerd" --version >&2
  "$dir/bin/containerd" --version >&2
  touch "$dir/.complete"
}

# ------------------------------------------------------------------------------------------- up
# Installs the Debian packages `up` needs that are missing. Installing openssh-server starts a
# host-wide sshd where no init system stops it: that one is ended again (by PID).
ensure_deps() {
  local missing=() p
  [ -x /usr/sbin/sshd ] || missing+=(openssh-server)
  command -v socat >/dev/null || missing+=(socat)
  command -v openssl >/dev/null || missing+=(openssl)
  command -v ip >/dev/null || missing+=(iproute2)
  command -v nsenter >/dev/null || missing+=(util-linux)
  command -v ssh >/dev/null || missing+=(openssh-client)
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]} (no host-wide sshd will be left running)"
  local before after pid
  before=$(pgrep -x sshd || true)
  local install=(apt-get install -y -q --no-install-recommends "${missing[@]}")
  DEBIAN_FRONTEND=noninteractive "${install[@]}" </dev/null >/dev/null 2>&1 ||
    { apt-get update -q </dev/null >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive "${install[@]}" </dev/null >/dev/null 2>&1; } ||
    die "cannot install ${missing[*]}"
  for p in /usr/sbin/sshd socat openssl ip nsenter ssh; do
    command -v "$p" >/dev/null || die "$p is still missing after installing ${missing[*]}"
  done
  after=$(pgrep -x sshd || true)
  for pid in $after; do
    grep -qx "$pid" <<<"$before" && continue
    say "the package started a host-wide sshd (PID $pid); stopping it"
    kill "$pid" 2>/dev/null || true
  done
}

ssh_block_remove() {
  [ -f "$SSH_CONFIG" ] || return 0
  local tmp
  tmp=$(mktemp "$SSH_CONFIG.XXXXXX")
  awk -v b="# >>> testhost $NAME >>>" -v e="# <<< testhost $NAME <<<" \
    '$0==b{skip=1; next} $0==e{skip=0; next} !skip' "$SSH_CONFIG" >"$tmp" ||
    { rm -f "$tmp"; die "cannot rewrite $SSH_CONFIG"; }
  chmod 600 "$tmp"
  mv "$tmp" "$SSH_CONFIG"
  # An ssh config left empty is removed (up creates it when there is none).
  if ! grep -q '[^[:space:]]' "$SSH_CONFIG"; then rm -f "$SSH_CONFIG"; fi
}

ssh_block_add() {
  mkdir -p "$(dirname "$SSH_CONFIG")"
  chmod 700 "$(dirname "$SSH_CONFIG")"
  ssh_block_remove
  # First match wins in ssh_config: the block goes first, before any `Host *`.
  local tmp
  tmp=$(mktemp "$SSH_CONFIG.XXXXXX")
  {
    echo "# >>> testhost $NAME >>>"
    echo "# written by $(readlink -f "${BASH_SOURCE[0]}") up; removed by its down"
    echo "Host $TH_IP $NS"
    echo "  HostName $TH_IP"
    echo "  User root"
    echo "  IdentityFile $RUN/id_ed25519"
    echo "  IdentitiesOnly yes"
    echo "  StrictHostKeyChecking no"
    echo "  UserKnownHostsFile /dev/null"
    echo "  LogLevel ERROR"
    echo "# <<< testhost $NAME <<<"
    if [ -f "$SSH_CONFIG" ]; then cat "$SSH_CONFIG"; fi
  } >"$tmp" || { rm -f "$tmp"; die "cannot write $SSH_CONFIG"; }
  chmod 600 "$tmp"
  mv "$tmp" "$SSH_CONFIG"
}

host_docker0() { ip -o link show docker0 2>/dev/null | awk -F': ' '{print $1 ":" $2}' || true; }

# make_certs: a CA, a server certificate for $TH_IP (in $RUN/tls, what dockerd uses) and a
# client certificate (in $RUN/certs as ca.pem, cert.pem, key.pem: DOCKER_CERT_PATH's layout).
# P-256 keys: made in milliseconds, accepted by Go's and rustls' TLS. Valid for a week.
make_certs() {
  local t=$RUN/tls c=$RUN/certs
  mkdir -p "$t" "$c"
  chmod 700 "$t" "$c"
  local ossl=(openssl)
  "${ossl[@]}" genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$t/ca-key.pem" 2>>"$RUN/openssl.log"
  "${ossl[@]}" req -x509 -new -key "$t/ca-key.pem" -sha256 -days 7 -subj "/CN=bgth-$NAME test CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -out "$t/ca.pem" 2>>"$RUN/openssl.log"
  sign() { # KEY CERT CN EXTENSIONS
    "${ossl[@]}" genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>>"$RUN/openssl.log"
    "${ossl[@]}" req -new -key "$1" -subj "/CN=$3" 2>/dev/null |
      "${ossl[@]}" x509 -req -CA "$t/ca.pem" -CAkey "$t/ca-key.pem" -sha256 -days 7 \
        -set_serial "0x$(openssl rand -hex 8)" -extfile <(printf '%s\n' "$4") -out "$2" 2>>"$RUN/openssl.log"
  }
  sign "$t/server-key.pem" "$t/server-cert.pem" "$TH_IP" \
    "subjectAltName=IP:$TH_IP,DNS:$NS
extendedKeyUsage=serverAuth
keyUsage=critical,digitalSignature"
  sign "$c/key.pem" "$c/cert.pem" "bgth-$NAME client" \
    "extendedKeyUsage=clientAuth
keyUsage=critical,digitalSignature"
  cp "$t/ca.pem" "$c/ca.pem"
  [ -s "$t/server-cert.pem" ] && [ -s "$c/cert.pem" ] || die "openssl did not make the certificates"
}

# proc_start PID: the process's start time (field 22 of /proc/PID/stat), so that an owner PID
# reused by another process later is not mistaken for the owner.
proc_start() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }   # the fields after "(comm)", which may itself contain spaces
  # shellcheck disable=SC2086
  set -- $stat
  echo "${20}"
}

# Is N free: no test host claims it, and no address or route of this host is in 10.250.N.0/24?
block_free() {
  local n=$1 other
  for other in /run/bgth-*/n; do
    [ -f "$other" ] || continue
    [ "$(cat "$other")" = "$n" ] && return 1
  done
  ! { ip -4 -o addr show | grep -q " 10\.250\.$n\." || ip -4 route show | grep -q "^10\.250\.$n\."; }
}

# claim N OWNER: under the lock, checks that NAME and N are free and claims them by writing
# $RUN/n (and $RUN/owner); sets CLAIMED_N.
claim() {
  local n=$1 owner=$2
  [ -e "$NSPATH" ] && die "test host $NAME exists (netns $NS); run: $0 down $NAME"
  [ -e "$RUN" ] && die "test host $NAME exists ($RUN); run: $0 down $NAME"
  [ -e "$LIB" ] && die "$LIB exists; run: $0 down $NAME"
  ip link show "$VETH" >/dev/null 2>&1 && die "a link $VETH exists; run: $0 down $NAME"
  if [ "$n" = auto ]; then
    local i
    for i in $(seq 1 20); do
      if block_free "$i"; then n=$i; break; fi
    done
    [ "$n" != auto ] || die "all 20 address blocks 10.250.1-20.0/24 are taken (see: $0 ls)"
  else
    block_free "$n" || die "10.250.$n.0/24 is taken (by another test host, or in use on this host)"
  fi
  mkdir -p "$RUN"
  chmod 755 "$RUN"
  if [ -n "$owner" ]; then
    # Written whole, then renamed: `reap` never reads half an owner.
    echo "$owner $(proc_start "$owner")" >"$RUN/owner.tmp"
    mv "$RUN/owner.tmp" "$RUN/owner"
  fi
  echo "$n" >"$RUN/n"
  CLAIMED_N=$n
}

cmd_up() {
  [ $# -ge 2 ] || usage
  names "$1"
  local n=$2 engine=20 owner=
  shift 2
  while [ $# -gt 0 ]; do
    case $1 in
      --engine) engine=${2:-}; shift 2 || usage ;;
      --engine=*) engine=${1#--engine=}; shift ;;
      --owner) owner=${2:-}; shift 2 || usage ;;
      --owner=*) owner=${1#--owner=}; shift ;;
      *) die "unknown option $1" ;;
    esac
  done
  { [ "$n" = auto ] || { [[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 20 ]; }; } ||
    die "N must be 1..20 or auto (got $n)"
  [[ $engine == 20 || $engine == 28 ]] || die "--engine must be 20 or 28 (got $engine)"
  if [ -n "$owner" ]; then
    { [[ $owner =~ ^[0-9]+$ ]] && [ -e "/proc/$owner" ]; } || die "--owner $owner is not a running process"
  fi
  [ "$(id -u)" = 0 ] || die "must run as root"

  local bin_path=$SYS_PATH dockerd=/usr/sbin/dockerd containerd=/usr/bin/containerd
  local proxy=/usr/sbin/docker-proxy
  if [ "$engine" = 28 ]; then
    fetch28
    bin_path=$BGTH_CACHE/28/bin:$SYS_PATH
    dockerd=$BGTH_CACHE/28/bin/dockerd
    containerd=$BGTH_CACHE/28/bin/containerd
    proxy=$BGTH_CACHE/28/bin/docker-proxy
  fi
  { [ -x "$dockerd" ] && [ -x "$containerd" ]; } || die "no dockerd/containerd for engine $engine"
  [ -x "$proxy" ] || proxy=$(PATH=$bin_path command -v docker-proxy || true)
  ensure_deps

  local docker0_before main_before
  docker0_before=$(host_docker0)
  main_before=$("$DOCKER_CLI" -H "$MAIN_HOST" ps -aq --no-trunc 2>/dev/null | sort | tr '\n' ' ' || true)

  with_lock claim "$n" "$owner"
  n=$CLAIMED_N
  addresses "$n"
  if [ "${BGTH_KEEP_ON_FAIL:-}" != 1 ]; then
    # shellcheck disable=SC2154  # rc is assigned inside the trap
    trap 'rc=$?; if [ $rc -ne 0 ]; then say "up failed (exit $rc); logs:"; tail -n 5 "$RUN"/*.log >&2 2>/dev/null || true; say "cleaning up"; ( cmd_down "$NAME" ) >&2 || true; fi' EXIT
  fi

  say "creating $NS: veth $VETH $HOST_IP/24 <-> eth0 $TH_IP/30, engine $engine"
  mkdir -p "$LIB"
  echo "$engine" >"$RUN/engine"

  # --- network namespace and veth
  ip netns add "$NS"
  ip link add "$VETH" type veth peer name eth0 netns "$NS"
  sysctl -q -w "net.ipv6.conf.$VETH.disable_ipv6=1" || true
  ip addr add "$HOST_IP/24" dev "$VETH"
  ip link set "$VETH" up
  nsenter_net sysctl -q -w net.ipv6.conf.eth0.disable_ipv6=1 || true
  nsenter_net ip link set lo up
  nsenter_net ip addr add "$TH_IP/30" dev eth0
  nsenter_net ip link set eth0 up

  # --- containerd of its own
  cat >"$RUN/containerd.toml" <<CONF
version = 2
root = "$LIB/containerd"
state = "$RUN/containerd-state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.internal.v1.opt", "io.containerd.nri.v1.nri"]
[grpc]
  address = "$RUN/containerd.sock"
[ttrpc]
  address = "$RUN/containerd.sock.ttrpc"
[debug]
  address = "$RUN/containerd-debug.sock"
  level = "info"
CONF
  start_in_netns "$RUN/containerd.pid" "$RUN/containerd.log" "$bin_path" \
    "$containerd" --config "$RUN/containerd.toml"
  wait_daemon 30 "$RUN/containerd.pid" "$RUN/containerd.log" test -S "$RUN/containerd.sock"

  # --- dockerd of its own, on its unix socket and on tcp with TLS (client certificates required)
  make_certs
  echo '{}' >"$RUN/daemon.json"
  local args=(
    --config-file "$RUN/daemon.json"
    --data-root "$LIB/docker"
    --exec-root "$RUN/exec"
    --pidfile "$RUN/dockerd.pid"
    -H "unix://$SOCK" -H "tcp://$TH_IP:2376"
    --tlsverify --tlscacert "$RUN/tls/ca.pem" --tlscert "$RUN/tls/server-cert.pem"
    --tlskey "$RUN/tls/server-key.pem"
    --containerd "$RUN/containerd.sock"
    --containerd-namespace "bgth-$NAME"
    --containerd-plugins-namespace "bgth-$NAME-plugins"
    --bip "$BIP"
    --default-address-pool "$POOL1"
    --default-address-pool "$POOL2"
    --cgroup-parent "/$CGROUP"
    --storage-driver "$STORAGE_DRIVER"
  )
  [ -n "$proxy" ] && args+=(--userland-proxy-path "$proxy")
  # dockerd writes its own --pidfile (dockerd.pid); the wrapper's is dockerd.started.pid.
  start_in_netns "$RUN/dockerd.started.pid" "$RUN/dockerd.log" "$bin_path" "$dockerd" "${args[@]}"
  wait_daemon 90 "$RUN/dockerd.started.pid" "$RUN/dockerd.log" "$DOCKER_CLI" -H "unix://$SOCK" version
  local version api
  version=$("$DOCKER_CLI" -H "unix://$SOCK" version --format '{{.Server.Version}}')
  api=$("$DOCKER_CLI" -H "unix://$SOCK" version --format '{{.Server.APIVersion}}')

  # --- plain tcp on :2375: dockerd's TLS flags apply to every tcp listener it has, so a socat
  # in the netns forwards to the unix socket. -t: a hijacked stream (attach, exec) half-closed
  # by the client keeps receiving the engine's output until the engine ends it.
  start_in_netns "$RUN/socat.pid" "$RUN/socat.log" "$SYS_PATH" \
    socat -t 3600 "TCP-LISTEN:2375,bind=$TH_IP,reuseaddr,fork" "UNIX-CONNECT:$SOCK"
  wait_daemon 10 "$RUN/socat.pid" "$RUN/socat.log" \
    bash -c "nsenter --net='$NSPATH' -- ss -Hltn 'sport = :2375' | grep -q ."

  # --- sshd of its own
  mkdir -p /run/sshd && chmod 755 /run/sshd
  ssh-keygen -q -t ed25519 -N '' -C "bgth-$NAME host" -f "$RUN/ssh_host_ed25519_key"
  ssh-keygen -q -t ed25519 -N '' -C "bgth-$NAME client" -f "$RUN/id_ed25519"
  cp "$RUN/id_ed25519.pub" "$RUN/authorized_keys"
  chmod 600 "$RUN/authorized_keys"
  cat >"$RUN/sshd_config" <<CONF
# sshd of test host $NAME: runs in netns $NS, reached as root@$TH_IP
ListenAddress $TH_IP
# 22 as Debian sets sshd up (forwarding allowed); 2222 hardened (no forwarding at all), so
# that both ways bgdeploy's ssh transport reaches an engine are tested (see Match below).
Port 22
Port 2222
HostKey $RUN/ssh_host_ed25519_key
PidFile $RUN/sshd.pid
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile $RUN/authorized_keys
UsePAM no
PrintMotd no
PrintLastLog no
X11Forwarding no
# \`docker system dial-stdio\` (the ssh:// transport) must reach THIS test host's engine.
SetEnv DOCKER_HOST=unix://$SOCK
Match LocalPort 2222
  AllowTcpForwarding no
  AllowStreamLocalForwarding no
CONF
  /usr/sbin/sshd -t -f "$RUN/sshd_config" || die "sshd rejected $RUN/sshd_config"
  start_in_netns "$RUN/sshd.started.pid" "$RUN/sshd.out" "$SYS_PATH" \
    /usr/sbin/sshd -D -f "$RUN/sshd_config" -E "$RUN/sshd.log"
  wait_daemon 10 "$RUN/sshd.started.pid" "$RUN/sshd.log" \
    bash -c "nsenter --net='$NSPATH' -- ss -Hltn 'sport = :22' | grep -q ."
  with_lock ssh_block_add

  # --- checks: every transport answers, and the main engine and docker0 are untouched
  local tcp_v tls_v ssh_v
  tcp_v=$("$DOCKER_CLI" -H "tcp://$TH_IP:2375" version --format '{{.Server.Version}}') ||
    die "docker over tcp://$TH_IP:2375 failed"
  tls_v=$(DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=$RUN/certs "$DOCKER_CLI" -H "tcp://$TH_IP:2376" \
    version --format '{{.Server.Version}}') || die "docker over tcp://$TH_IP:2376 with TLS failed"
  ssh_v=$(timeout 60 env DOCKER_HOST="ssh://root@$TH_IP" "$DOCKER_CLI" version --format '{{.Server.Version}}') ||
    die "docker over ssh://root@$TH_IP failed; see $RUN/sshd.log"
  local docker0_after main_after
  docker0_after=$(host_docker0)
  [ "$docker0_before" = "$docker0_after" ] ||
    die "this host's docker0 changed ('$docker0_before' -> '$docker0_after')"
  "$DOCKER_CLI" -H "$MAIN_HOST" version --format '{{.Server.Version}}' >/dev/null ||
    die "the main engine ($MAIN_HOST) does not answer any more"
  main_after=$("$DOCKER_CLI" -H "$MAIN_HOST" ps -aq --no-trunc 2>/dev/null | sort | tr '\n' ' ' || true)
  [ "$main_before" = "$main_after" ] || say "note: the main engine's containers changed meanwhile (other work?)"

  # One key=value a line, none with blanks or quotes: sourced by `ls`, read by the Rust fixture.
  {
    printf '%s=%q\n' name "$NAME" n "$n" engine "$engine" version "$version" api "$api" \
      host_ip "$HOST_IP" ip "$TH_IP" sock "$SOCK" netns "$NS" netns_path "$NSPATH" veth "$VETH" \
      data_root "$LIB" cert_dir "$RUN/certs" ssh_key "$RUN/id_ed25519"
  } >"$RUN/info"
  trap - EXIT
  say "up: $NAME = Engine $version (API $api) in netns $NS (tcp $tcp_v, tls $tls_v, ssh $ssh_v)"
  cmd_env "$NAME"
}

# ----------------------------------------------------------------------------------------- down
kill_pid() { # PID WHAT SECONDS
  local pid=$1 what=$2 secs=$3
  ours "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq $((secs * 10))); do
    [ -e "/proc/$pid" ] || return 0
    # A zombie has no netns link any more.
    ours "$pid" || return 0
    sleep 0.1
  done
  say "$what (PID $pid) did not stop in ${secs}s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
  sleep 0.2
}

cmd_down() {
  [ $# -eq 1 ] || usage
  names "$1"
  local pid
  [ -e "$NSPATH" ] || [ -e "$RUN" ] || [ -e "$LIB" ] || ip link show "$VETH" >/dev/null 2>&1 || {
    [ -f "$SSH_CONFIG" ] && grep -qx "# >>> testhost $NAME >>>" "$SSH_CONFIG" && { with_lock ssh_block_remove; say "removed the ssh config block of $NAME"; }
    say "no test host $NAME"
    return 0
  }
  say "removing test host $NAME"

  # Containers first (their stop is what takes time), through the engine while it runs.
  if [ -S "$SOCK" ] && timeout 10 "$DOCKER_CLI" -H "unix://$SOCK" version >/dev/null 2>&1; then
    local ids
    ids=$(timeout 20 "$DOCKER_CLI" -H "unix://$SOCK" ps -aq 2>/dev/null || true)
    if [ -n "$ids" ]; then
      # shellcheck disable=SC2086
      timeout 60 "$DOCKER_CLI" -H "unix://$SOCK" rm -f $ids >/dev/null 2>&1 || true
    fi
  fi
  # Then the daemons, by pidfile (only if the PID lives in this test host's netns).
  for pid in "$RUN/socat.pid" "$RUN/sshd.pid" "$RUN/sshd.started.pid" "$RUN/dockerd.pid" "$RUN/dockerd.started.pid" \
    "$RUN/containerd.pid"; do
    [ -f "$pid" ] || continue
    kill_pid "$(cat "$pid")" "$(basename "$pid" .pid)" 30
  done
  # Whatever is left in the netns was started by this test host (shims, docker-proxy, sshd
  # sessions): end it, by PID.
  if [ -e "$NSPATH" ]; then
    local left
    left=$(ip netns pids "$NS" 2>/dev/null || true)
    for pid in $left; do kill_pid "$pid" "process in $NS" 5; done
  fi
  # Container processes that escaped (own netns, cgroup /bgth-NAME): end them by PID.
  local procs
  procs=$(find /sys/fs/cgroup -path "*/$CGROUP/*" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u || true)
  for pid in $procs; do
    say "ending container process $pid left in cgroup /$CGROUP"
    kill -KILL "$pid" 2>/dev/null || true
  done

  # Mounts under the data-root and run dir (overlay layers, netns files), deepest first.
  local m
  for _ in 1 2 3; do
    m=$(awk -v a="$LIB" -v b="$RUN" '$2 ~ "^"a"(/|$)" || $2 ~ "^"b"(/|$)" {print $2}' /proc/mounts | sort -r)
    [ -n "$m" ] || break
    while read -r mp; do [ -n "$mp" ] && { umount "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null || true; }; done <<<"$m"
  done

  # Network: the netns (its end of the veth goes with it), and this host's end if still there.
  if [ -e "$NSPATH" ]; then ip netns del "$NS" 2>/dev/null || true; fi
  if ip link show "$VETH" >/dev/null 2>&1; then ip link del "$VETH" 2>/dev/null || true; fi

  # Cgroups left by the engine (--cgroup-parent /bgth-NAME), deepest first.
  local cg
  for cg in /sys/fs/cgroup/*/"$CGROUP" /sys/fs/cgroup/"$CGROUP"; do
    [ -d "$cg" ] || continue
    find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done

  with_lock ssh_block_remove

  # Files, unless something is still mounted there (never rm -rf through a mount).
  if awk -v a="$LIB" -v b="$RUN" '$2 ~ "^"a"(/|$)" || $2 ~ "^"b"(/|$)"' /proc/mounts | grep -q .; then
    die "mounts remain under $LIB or $RUN; not deleting them"
  fi
  rm -rf "$RUN" "$LIB"

  # Report what (if anything) is left.
  local leftovers=()
  [ -e "$NSPATH" ] && leftovers+=("netns $NS")
  ip link show "$VETH" >/dev/null 2>&1 && leftovers+=("link $VETH")
  [ -e "$RUN" ] && leftovers+=("$RUN")
  [ -e "$LIB" ] && leftovers+=("$LIB")
  [ ${#leftovers[@]} -eq 0 ] || die "left behind: ${leftovers[*]}"
  say "down: $NAME removed"
}

# Test hosts started with --owner whose owner has ended (killed test runs): removed. Hosts
# without an owner (made by hand) are left alone; so are those of owners still running.
cmd_reap() {
  local f dir name pid start now fd
  # One reaper at a time: two test processes starting together must not remove a host twice.
  exec {fd}>>/run/bgth-reap.lock
  flock -w 300 "$fd" || die "another reap holds /run/bgth-reap.lock"
  for f in /run/bgth-*/owner; do
    [ -f "$f" ] || continue
    dir=$(dirname "$f")
    name=${dir#/run/bgth-}
    pid= start=
    read -r pid start <"$f" || true
    [ -n "$start" ] || continue   # not an owner file this script wrote: not ours to judge
    now=$(proc_start "$pid" 2>/dev/null || true)
    if [ -n "$now" ] && [ "$now" = "$start" ]; then continue; fi
    say "test host $name: its owner (PID $pid) has ended; removing it"
    (cmd_down "$name") || say "warning: could not remove test host $name"
  done
  # ~/.ssh/config blocks of test hosts that are gone without a `down` (a reboot empties /run).
  if [ -f "$SSH_CONFIG" ]; then
    local block
    for block in $(sed -n 's/^# >>> testhost \([a-z0-9-]*\) >>>$/\1/p' "$SSH_CONFIG"); do
      [ -e "/run/bgth-$block" ] || [ -e "/run/netns/bgth-$block" ] && continue
      say "removing the ssh config block of test host $block (gone)"
      (names "$block" && with_lock ssh_block_remove) || true
    done
  fi
  exec {fd}>&-
}

# ------------------------------------------------------------------------------------ env, load
need_up() {
  names "$1"
  [ -f "$RUN/info" ] || die "no test host $NAME (no $RUN/info); run: $0 up $NAME N"
  N_=$(cat "$RUN/n")
  addresses "$N_"
}

cmd_env() {
  { [ $# -ge 1 ] && [ $# -le 2 ]; } || usage
  need_up "$1"
  case ${2:-all} in
    tcp) echo "export DOCKER_HOST=tcp://$TH_IP:2375" ;;
    tls) printf 'export DOCKER_HOST=tcp://%s:2376 DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=%s\n' "$TH_IP" "$RUN/certs" ;;
    ssh) echo "export DOCKER_HOST=ssh://root@$TH_IP" ;;
    unix) echo "export DOCKER_HOST=unix://$SOCK" ;;
    all)
      # shellcheck disable=SC1091
      echo "# test host $NAME: Engine $(. "$RUN/info"; echo "$version") in netns $NS; pick one (or: eval \"\$($0 env $NAME tcp|tls|ssh|unix)\")"
      echo "export DOCKER_HOST=tcp://$TH_IP:2375"
      printf 'export DOCKER_HOST=tcp://%s:2376 DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=%s\n' "$TH_IP" "$RUN/certs"
      echo "export DOCKER_HOST=ssh://root@$TH_IP"
      echo "# unix socket (engine in the netns, socket on this host's filesystem): $SOCK"
      ;;
    *) die "env: transport must be tcp, tls, ssh or unix" ;;
  esac
}

cmd_load() {
  [ $# -ge 2 ] || usage
  need_up "$1"
  shift
  say "copying $* from $MAIN_HOST to test host $NAME"
  "$DOCKER_CLI" -H "$MAIN_HOST" save "$@" | "$DOCKER_CLI" -H "unix://$SOCK" load
}

cmd_ls() {
  local f
  for f in /run/bgth-*/info; do
    [ -f "$f" ] || continue
    # shellcheck disable=SC1090,SC2154  # the info file sets name, n, version, ip, sock
    local owner=- tls=
    [ -f "$(dirname "$f")/owner" ] && owner=$(cut -d' ' -f1 "$(dirname "$f")/owner")
    [ -d "$(dirname "$f")/certs" ] && tls=' (TLS :2376)'
    (. "$f"; printf '%-10s N=%-2s engine %-16s owner %-8s tcp://%s:2375%s  ssh://root@%s  unix://%s\n' \
      "$name" "$n" "$version" "$owner" "$ip" "$tls" "$ip" "$sock")
  done
}

cmd_exec() {
  [ $# -ge 2 ] || usage
  need_up "$1"
  shift
  nsenter_net "$@"
}

main() {
  [ $# -ge 1 ] || usage
  local cmd=$1
  shift
  case $cmd in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    env) cmd_env "$@" ;;
    load) cmd_load "$@" ;;
    ls) cmd_ls ;;
    exec) cmd_exec "$@" ;;
    fetch) [ "${1:-}" = 28 ] || usage; fetch28 ;;
    reap) cmd_reap ;;
    deps) [ "$(id -u)" = 0 ] || die "must run as root"; ensure_deps ;;
    -h | --help | help) usage ;;
    *) usage ;;
  esac
}

main "$@"
