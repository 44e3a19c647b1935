#!/usr/bin/env bash
# Installs cairn system-wide from a build: binaries to /usr/local, the systemd
# unit, a cairn system user, /etc/cairn/cairnd.conf (kept if present) and
# /var/lib/cairn. Run as root after building:  deploy/install.sh [BUILD_DIR]
set -euo pipefail
build=
[[ -n ${1:-} ]] && build=$(realpath -m "$1") # relative to where it was run from
cd "$(dirname "$0")/.."
build=${build:-build}
[[ $(id -u) -eq 0 ]] || { echo "install.sh: run as root" >&2; exit 1; }
[[ -x $build/daemon/cairnd ]] || { echo "install.sh: build first (no $build/daemon/cairnd)" >&2; exit 1; }
install -D -m 0755 "$build/daemon/cairnd" /usr/local/sbin/cairnd
install -D -m 0755 "$build/client/cairnctl" /usr/local/bin/cairnctl
for f in cairn-fuse mount.cairn; do
  [[ -x $build/fsadapter/$f ]] || continue
  dest=/usr/local/bin/$f; [[ $f == mount.cairn ]] && dest=/sbin/mount.cairn
  install -D -m 0755 "$build/fsadapter/$f" "$dest"
done
install -D -m 0644 deploy/cairnd.service /etc/systemd/system/cairnd.service
install -D -m 0644 README.md /usr/local/share/doc/cairn/README.md
if ! getent passwd cairn >/dev/null; then
  group=(--user-group)
  getent group cairn >/dev/null && group=(-g cairn) # a group of that name already exists
  useradd --system "${group[@]}" --home-dir /var/lib/cairn --shell /usr/sbin/nologin cairn
fi
install -d -m 0755 /etc/cairn
[[ -f /etc/cairn/cairnd.conf ]] || install -m 0640 -g cairn deploy/cairnd.conf.example /etc/cairn/cairnd.conf
install -d -m 0700 -o cairn -g cairn /var/lib/cairn
systemctl daemon-reload 2>/dev/null || true
echo "installed; start with: systemctl enable --now cairnd"
