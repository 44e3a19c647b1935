# tests/system/fuse_lib.sh — mount helpers for the FUSE tests; source it after
# lib.sh. Every mount made here is unmounted at exit (fusermount3 -u, then
# umount -l if that fails) before lib.sh stops the daemons and removes
# $T_TMP, so a failed test never leaves a mount behind or lets `rm -rf`
# walk into one.
#
#   fuse_mount SOCK VOLUME MNT [OPTIONS]   cairn-fuse in the foreground (-f) as
#       a child of the test, its log in MNT.log; waits (bounded) until MNT is
#       a mount point. Sets F_PID to the cairn-fuse pid.
#   fuse_mount_bg SOCK VOLUME MNT [OPTIONS]  the same through cairn-fuse's
#       own daemonizing start (as mount(8) and users run it).
#   fuse_track MNT      registers a mount made some other way (mount -t cairn).
#   fuse_umount MNT     unmounts and waits (bounded) until it is gone and
#       until its cairn-fuse has exited (a foreground one with status 0).
#   fuse_pid MNT        the pid of the cairn-fuse serving MNT (from /proc).
#   fuse_mounted MNT    true while MNT is in the mount table; unlike
#                       `mountpoint -q` it does not stat MNT, so it answers
#                       while cairnd is down and the mount's calls fail.
#   fuse_on_exit CMD    runs CMD (a string for eval) at exit, before the
#                       unmounts (so it can stop processes that use a
#                       mount); last added first.
CAIRN_FUSE=$T_BUILD/fsadapter/cairn-fuse
MOUNT_CAIRN=$T_BUILD/fsadapter/mount.cairn
F_MOUNTS=()
F_ON_EXIT=()
declare -A F_FGPID=()

fuse_on_exit() { F_ON_EXIT=("$1" "${F_ON_EXIT[@]}"); }

fuse_mounted() {
  local m=${1//\\/\\134}
  m=${m// /\\040}
  F_M=$m awk '$5 == ENVIRON["F_M"] { found = 1 } END { exit !found }' /proc/self/mountinfo
}

f_cleanup() {
  local c m
  for c in "${F_ON_EXIT[@]:-}"; do
    if [[ -n $c ]]; then eval "$c" || true; fi
  done
  for m in "${F_MOUNTS[@]:-}"; do
    [[ -n $m ]] || continue
    if fuse_mounted "$m"; then
      fusermount3 -u "$m" 2>/dev/null || umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    fi
  done
  local pid
  for pid in "${F_FGPID[@]:-}"; do
    if [[ -n $pid ]]; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
  return 0
}
f_exit() {
  local rc=$?
  f_cleanup || true
  t_cleanup || true
  exit "$rc"
}
trap f_exit EXIT

fuse_track() {
  local m
  for m in "${F_MOUNTS[@]:-}"; do [[ $m == "$1" ]] && return 0; done
  F_MOUNTS+=("$1")
}

# f_wait_mounted MNT PID: bounded wait (20 s) for the mount to appear.
f_wait_mounted() {
  local mnt=$1 pid=${2:-} i
  for ((i = 0; i < 400; i++)); do
    mountpoint -q "$mnt" && return 0
    if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
      cat "$mnt.log" >&2 2>/dev/null || true
      fail "cairn-fuse for $mnt exited before mounting"
    fi
    sleep 0.05
  done
  cat "$mnt.log" >&2 2>/dev/null || true
  fail "$mnt was not mounted within 20 s"
}

fuse_mount() {
  local sock=$1 vol=$2 mnt=$3 opts=${4:-}
  mkdir -p "$mnt"
  fuse_track "$mnt"
  if [[ -n $opts ]]; then
    "$CAIRN_FUSE" --server "unix:$sock" "$vol" "$mnt" -f -o "$opts" >>"$mnt.log" 2>&1 &
  else
    "$CAIRN_FUSE" --server "unix:$sock" "$vol" "$mnt" -f >>"$mnt.log" 2>&1 &
  fi
  F_PID=$!
  F_FGPID[$mnt]=$F_PID
  f_wait_mounted "$mnt" "$F_PID"
}

fuse_mount_bg() {
  local sock=$1 vol=$2 mnt=$3 opts=${4:-} rc=0
  mkdir -p "$mnt"
  fuse_track "$mnt"
  if [[ -n $opts ]]; then
    timeout 30 "$CAIRN_FUSE" --server "unix:$sock" "$vol" "$mnt" -o "$opts" >>"$mnt.log" 2>&1 || rc=$?
  else
    timeout 30 "$CAIRN_FUSE" --server "unix:$sock" "$vol" "$mnt" >>"$mnt.log" 2>&1 || rc=$?
  fi
  [[ $rc == 0 ]] || { cat "$mnt.log" >&2; fail "cairn-fuse $vol $mnt exited $rc"; }
  f_wait_mounted "$mnt"
  F_PID=$(fuse_pid "$mnt")
}

# The cairn-fuse process whose command line names MNT (exact argument match).
fuse_pid() {
  local p a
  for p in /proc/[0-9]*; do
    [[ -r $p/cmdline ]] || continue
    mapfile -d '' -t a <"$p/cmdline" 2>/dev/null || continue
    [[ ${a[0]:-} == *cairn-fuse ]] || continue
    local x
    for x in "${a[@]}"; do
      if [[ $x == "$1" ]]; then echo "${p#/proc/}"; return 0; fi
    done
  done
  return 1
}

fuse_umount() {
  local mnt=$1 i pid=${F_FGPID[$1]:-} bgpid="" rc=0
  [[ -n $pid ]] || bgpid=$(fuse_pid "$mnt") || true
  if fuse_mounted "$mnt"; then
    fusermount3 -u "$mnt" 2>>"$mnt.log" || umount "$mnt" 2>>"$mnt.log" || umount -l "$mnt" ||
      fail "cannot unmount $mnt"
  fi
  for ((i = 0; i < 200; i++)); do
    fuse_mounted "$mnt" || break
    sleep 0.05
  done
  fuse_mounted "$mnt" && fail "$mnt still mounted 10 s after unmount"
  for ((i = 0; i < 200; i++)); do
    kill -0 "${pid:-$bgpid}" 2>/dev/null || break
    sleep 0.05
  done
  if [[ -n ${pid:-$bgpid} ]] && kill -0 "${pid:-$bgpid}" 2>/dev/null; then
    fail "cairn-fuse (${pid:-$bgpid}) for $mnt still runs 10 s after unmount"
  fi
  if [[ -n $pid ]]; then
    wait "$pid" || rc=$?
    unset "F_FGPID[$mnt]"
    [[ $rc == 0 ]] || { tail -20 "$mnt.log" >&2; fail "cairn-fuse for $mnt exited $rc after unmount"; }
  fi
  return 0
}
