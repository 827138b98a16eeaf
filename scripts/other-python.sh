#!/usr/bin/env bash
# The unit tests on a second Python minor version, so that a Python upgrade is known to cost speed,
# not behaviour: vmvc uses CPython internals for speed (_json, _socket, atexit._ncallbacks), each
# with a fallback to the public API (tests/test_private_fallbacks.py), and 3.12/3.13 changed enough
# else (shutil, tarfile, os.walk) to matter.
#
# It takes the newest 3.x other than .venv's minor version it finds (pyenv's versions, then
# python3.N on PATH, then Debian's pypy3 if that is 3.11+), makes .venv-other with it, installs the
# project with the `test` and `dev` extras there, and runs every test that carries no capability
# marker and no `slow` marker (the markers come from tests/conftest.py): the unit tests, which need no
# root, KVM, QEMU or network tools. Under CI=true finding no other version is a failure.
#   bash scripts/other-python.sh [pytest args...]
#   bash scripts/other-python.sh --markers     # only print the markers it leaves out, one a line
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf 'other-python: %s\n' "$*" >&2; }
in_ci() { case "${CI:-}" in 1|true|TRUE|True|yes) return 0;; esac; return 1; }

[ -x .venv/bin/python ] || { say ".venv is missing: run 'bash scripts/setup.sh' first"; exit 1; }
ours=$(.venv/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
markers=$(.venv/bin/python -c '
from tests.conftest import ABSENT, CAPABILITIES
print("\n".join([*CAPABILITIES, *ABSENT, "slow"]))')
if [ "${1:-}" = --markers ]; then echo "$markers"; exit 0; fi

# version of an interpreter that can run vmvc (3.11+, venv and ensurepip), or nothing
usable() { "$1" -c 'import sys, venv, ensurepip
if sys.version_info >= (3, 11): print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true; }

candidates=()
pyenv_root=${PYENV_ROOT:-$HOME/.pyenv}
for minor in 3.14 3.13 3.12 3.11; do
  # newest patch release of that minor first (sort -V), then whatever PATH has
  while IFS= read -r p; do candidates+=("$p"); done < <(
    ls -d "$pyenv_root"/versions/"$minor".*/bin/python3 2>/dev/null | sort -rV)
  p=$(command -v "python$minor" 2>/dev/null) && candidates+=("$p")
done
p=$(command -v pypy3 2>/dev/null) && candidates+=("$p")

PY="" version=""
for c in ${candidates[@]+"${candidates[@]}"}; do
  v=$(usable "$c")
  if [ -n "$v" ] && [ "$v" != "$ours" ]; then PY=$c version=$v; break; fi
done
if [ -z "$PY" ]; then
  msg="no Python 3.11+ other than .venv's $ours found (looked in $pyenv_root/versions, python3.1N on PATH, pypy3)"
  if in_ci; then say "$msg: CI needs one ('pyenv install 3.13')"; exit 1; fi
  say "$msg: skipped"; exit 0
fi

want="$PY $version $(sha256sum pyproject.toml | cut -c1-16)"
have=$(cat .venv-other/.setup-stamp 2>/dev/null || true)
if [ "$have" != "$want" ]; then
  if [ "${have% *}" != "$PY $version" ]; then  # another interpreter: a new venv; else only reinstall
    say "making .venv-other with Python $version ($PY)"
    rm -rf .venv-other
    "$PY" -m venv .venv-other
  fi
  log=$(mktemp)
  if ! .venv-other/bin/python -m pip install -q --disable-pip-version-check -e '.[test,dev]' \
         --config-settings editable_mode=compat >"$log" 2>&1; then
    grep -v '^WARNING: Location' "$log" >&2; rm -f "$log"; say "pip install failed"; exit 1
  fi
  rm -f "$log"
  .venv-other/bin/python -m runtime.cli.launcher >/dev/null  # the fast `vmvc`, as scripts/setup.sh does
  echo "$want" > .venv-other/.setup-stamp
fi

expr="not ($(echo $markers | sed 's/ / or /g'))"
say "unit tests on Python $version: -m '$expr'"
exec .venv-other/bin/pytest -q -m "$expr" "$@"
