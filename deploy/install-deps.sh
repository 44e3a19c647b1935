#!/usr/bin/env bash
# Installs every Debian 12 package cairn needs to build, run and test.
# Idempotent: packages already present are skipped by apt. Needs root.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config git
  libgrpc-dev protobuf-c-compiler libprotobuf-c-dev protobuf-compiler
  librocksdb-dev libsodium-dev libcmocka-dev zlib1g-dev libxxhash-dev
  libfuse3-dev fuse3
  libmicrohttpd-dev libinih-dev libsystemd-dev systemd
  python3 python3-pytest python3-grpcio python3-grpc-tools
  prometheus iproute2 procps psmisc util-linux attr xz-utils
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: need root to install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
