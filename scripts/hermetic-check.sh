#!/usr/bin/env bash
# Does the suite mean what it says on a shared host? Sets the scene of issue 12's acceptance, runs the
# suite twice with CI=true in it, checks the scene came through untouched, tears it down and reports.
#
# The scene, all of it outside this checkout's pytest temp dirs:
#   - a second vmvc checkout (git clone --local of this one, sharing .venv) whose state root holds
#     three detached containers and whose spawner stays up meanwhile;
#   - a tmpfs mounted at /tmp/unrelated-XXXX in the host's mount namespace, held busy by a sleeping
#     process whose working directory is inside it.
# The suite must pass both times (the leak checks count only what the run made), and afterwards the
# other checkout's containers and spawner must still run and the unrelated mount still be there.
#
#   sudo bash scripts/hermetic-check.sh                  # the full suite twice (~2 x 13 min on a quiet host)
#   sudo bash scripts/hermetic-check.sh tests/test_leaks.py tests/robustness   # a selection, twice
set -uo pipefail
cd "$(dirname "$0")/.."
here=$PWD
say() { printf 'hermetic-check: %s\n' "$*" >&2; }

[ "$(id -u)" = 0 ] || { say "needs root (it mounts a tmpfs and runs containers)"; exit 1; }
[ -x .venv/bin/pytest ] || { say ".venv is missing: run 'bash scripts/setup.sh' first"; exit 1; }

scene=$(mktemp -d /tmp/vmvc-hermetic.XXXXXX)
logs=$(mktemp -d /tmp/hermetic-logs.XXXXXX)  # kept after the teardown, so a failure can be read
other=$scene/checkout
holder="" unrelated=""

other_vmvc() {  # the second checkout's own vmvc, on its own state root, from its own directory
  (cd "$other" && env VMVC_ROOT="$scene/root" PYTHONPATH="$other" "$other/vmvc" "$@")
}

teardown() {
  trap - EXIT INT TERM
  if [ -x "$other/vmvc" ]; then
    other_vmvc rm -f hermetic-1 hermetic-2 hermetic-3 >/dev/null 2>&1
    other_vmvc system stop -f >/dev/null 2>&1
  fi
  [ -z "$holder" ] || { kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null; }
  if [ -n "$unrelated" ]; then
    umount "$unrelated" 2>/dev/null || umount -l "$unrelated" 2>/dev/null
    rmdir "$unrelated" 2>/dev/null
  fi
  rm -rf "$scene"
}
trap teardown EXIT
trap 'say "interrupted"; exit 130' INT TERM

# --- the scene ---------------------------------------------------------------------------------
say "second checkout in $other"
git clone -q --local "$here" "$other" || exit 1
ln -s "$here/.venv" "$other/.venv"
(cd "$other" && PYTHONPATH="$other" "$here/.venv/bin/python" -m runtime.cli.launcher "$other/vmvc" >/dev/null) ||
  { say "could not write the second checkout's vmvc"; exit 1; }
for i in 1 2 3; do
  other_vmvc run -d --name "hermetic-$i" busybox sleep 100000 >/dev/null ||
    { say "the second checkout could not start a container"; exit 1; }
done

unrelated=$(mktemp -d /tmp/unrelated-XXXX)
mount -t tmpfs -o size=1m unrelated "$unrelated" || { say "could not mount a tmpfs on $unrelated"; exit 1; }
echo "someone else's" > "$unrelated/file"
(cd "$unrelated" && exec sleep 100000) &
holder=$!

scene_state() {  # what must survive the suite: containers running, spawner up, the mount and its holder
  printf 'containers=%s spawner=%s mount=%s holder=%s\n' \
    "$(other_vmvc ps -q 2>/dev/null | wc -l)" \
    "$(pgrep -f "runtime.containers.spawner $scene/root" >/dev/null && echo up || echo down)" \
    "$(findmnt -rn -o FSTYPE "$unrelated" 2>/dev/null || echo gone)" \
    "$(kill -0 "$holder" 2>/dev/null && echo alive || echo gone)"
}
before=$(scene_state)
[ "$before" = "containers=3 spawner=up mount=tmpfs holder=alive" ] || { say "scene incomplete: $before"; exit 1; }
say "scene: $before (state root $scene/root, unrelated mount $unrelated)"

# --- the suite, twice ------------------------------------------------------------------------
results=() failed=0
for run in 1 2; do
  log=$logs/run-$run.log
  start=$(date +%s)
  CI=true .venv/bin/pytest -q -p no:cacheprovider "$@" >"$log" 2>&1
  rc=$?
  summary=$(grep -E ' in [0-9.]+s( \([0-9:]+\))?( =+)?$' "$log" | tail -1 | sed 's/^=* *//; s/ *=*$//')
  results+=("run $run: exit $rc, ${summary:-no summary} ($(( $(date +%s) - start )) s)")
  say "${results[-1]}"
  if [ "$rc" != 0 ]; then
    failed=1
    grep -E '^(FAILED|ERROR) ' "$log" | head -20 >&2
  fi
done

after=$(scene_state)
if [ "$after" != "$before" ]; then
  say "the suite disturbed the scene: before $before, after $after"
  failed=1
fi

# --- report ----------------------------------------------------------------------------------
printf '%s\n' "${results[@]}"
echo "scene after the runs: $after"
echo "logs: $logs"
[ "$failed" = 0 ] && echo "hermetic-check: passed" || echo "hermetic-check: FAILED"
exit "$failed"
