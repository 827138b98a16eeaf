#!/usr/bin/env bash
# Set up vmvc on this machine: a .venv with the project and its extras, and, when root on a
# Debian-like host, the system packages the real parts need. Idempotent and quiet when done already.
# On a host where it cannot install (not root, not Debian, macOS) it says what is missing and goes on:
# the simulation and the notebooks still work there.
set -euo pipefail
cd "$(dirname "$0")/.."

# docker.io brings dockerd (an anchor, and a real peer for image round trips; its older client
# lands in /usr/bin, behind the docker CLI 28 in /usr/local/bin). Its service is never started here.
APT_PACKAGES=(qemu-system-x86 busybox-static crun runc docker.io docker-registry skopeo fio iproute2
              cpio kmod python3-venv mmdebstrap qemu-utils e2fsprogs chromium tmux
              uidmap)  # newuidmap/newgidmap: rootless containers with subordinate ids
say() { printf 'setup: %s\n' "$*" >&2; }

# --- system packages -------------------------------------------------------------------------
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      say "installing ${missing[*]}"
      export DEBIAN_FRONTEND=noninteractive
      # Install, but start no service (dockerd would set up bridges and iptables rules): vmvc starts
      # the daemons it measures itself, privately. A host's own policy-rc.d is left as it is.
      policy=""
      if [ ! -e /usr/sbin/policy-rc.d ]; then
        policy=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy"
        trap 'rm -f "$policy"' EXIT
      fi
      apt-get update -qq >/dev/null
      apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
      [ -z "$policy" ] || { rm -f "$policy"; trap - EXIT; }
    else
      say "not root: cannot install ${missing[*]}; the real containers/VMs will be limited (see 'vmvc doctor')"
    fi
  fi
else
  say "not a Debian-like host: install QEMU, busybox (static), crun and runc yourself for the real parts;"
  say "the simulation and notebooks work without them"
fi

# --- Python environment ----------------------------------------------------------------------
# Prefer the system interpreter: it starts in ~15 ms, and container start is measured through it.
PY=""
for candidate in /usr/bin/python3 python3; do
  if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c \
      'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    PY=$(command -v "$candidate"); break
  fi
done
[ -n "$PY" ] || { say "Python 3.11+ with venv is needed"; exit 1; }

if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $PY"
  "$PY" -m venv .venv
fi
stamp=$(cat pyproject.toml | sha256sum | cut -c1-16)
if [ "$(cat .venv/.setup-stamp 2>/dev/null)" != "$stamp" ]; then
  say "installing vmvc and its extras into .venv"
  log=$(mktemp)
  if ! { .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip &&
         .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test,notebooks,dev]' \
           --config-settings editable_mode=compat; } >"$log" 2>&1; then
    grep -v '^WARNING: Location' "$log" >&2; rm -f "$log"; say "pip install failed"; exit 1
  fi
  rm -f "$log"
  echo "$stamp" > .venv/.setup-stamp
fi
# pip cannot put interpreter flags in a console script: swap in vmvc's own launcher, which starts
# Python with -S and turns site on only when an import needs it (see runtime/cli/launcher.py).
grep -q __mp_main__ .venv/bin/vmvc 2>/dev/null || .venv/bin/python -m runtime.cli.launcher >/dev/null  # (re)install if older
