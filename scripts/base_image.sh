#!/usr/bin/env bash
# base_image.sh OUT.tar: the root filesystem of localhost/servir-base, the base image of builds
# that have no image registry (make e2e): Debian bookworm by debootstrap (minbase) with python3,
# python3-venv, redis-server and libgomp1, trimmed, as a tarball for `docker import`. Packages
# come from the Debian mirror that apt on this machine already uses (read from apt's sources at
# run time).
# Needs root and debootstrap.
set -euo pipefail
out=$(realpath -m "$1")
suite=bookworm
# libgomp1: LightGBM's OpenMP runtime, which the model-service image needs (Dockerfile).
packages=python3,python3-venv,redis-server,libgomp1
rootfs="$(dirname "$out")/rootfs"

# The first `deb` source of $suite that apt knows, without its trailing slash.
mirror_of_apt() {
  # shellcheck disable=SC2016 # apt's own $(FIELD) placeholders
  apt-get indextargets --format '$(TARGET_OF) $(RELEASE) $(REPO_URI)' 2>/dev/null \
    | awk -v suite="$suite" '$1 == "deb" && $2 == suite { sub(/\/+$/, "", $3); print $3; exit }'
}

# Unmount whatever a failed debootstrap left mounted inside the root filesystem, then remove it
# without ever crossing into another file system.
release_rootfs() {
  findmnt -rn -o TARGET | awk -v dir="$rootfs/" 'index($0, dir) == 1' | sort -r \
    | while read -r target; do umount -l "$target" || true; done
  rm -rf --one-file-system "$rootfs"
}
trap release_rootfs EXIT

mirror=$(mirror_of_apt)
if [ -z "$mirror" ]; then
  apt-get update -qq
  mirror=$(mirror_of_apt)
fi
if [ -z "$mirror" ]; then
  echo "base_image.sh: apt has no 'deb' source for $suite to take packages from" >&2
  exit 1
fi

release_rootfs
mkdir -p "$(dirname "$out")"
echo "debootstrap $suite (minbase + $packages) from $mirror ..."
if ! debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" \
  > "$out.debootstrap.log" 2>&1; then
  tail -n 30 "$out.debootstrap.log" "$rootfs/debootstrap/debootstrap.log" 2>/dev/null || true
  echo "base_image.sh: debootstrap failed (log: $out.debootstrap.log)" >&2
  exit 1
fi

# Trim: package caches and lists, documentation, and what names this machine (its resolver, its
# host name, its mirror); containers get their own resolv.conf and hostname from the engine.
(
  cd "$rootfs" || exit 1
  rm -rf var/cache/apt/archives/*.deb var/cache/apt/*.bin var/lib/apt/lists/* \
    usr/share/doc/* usr/share/man/* usr/share/info/* usr/share/locale/* \
    var/log/*.log var/log/apt/* etc/apt/sources.list etc/resolv.conf
  : > etc/hostname
)
tar --numeric-owner -C "$rootfs" -cf "$out.partial" .
mv "$out.partial" "$out"
echo "base image root filesystem: $out ($(du -h "$out" | cut -f1))"
