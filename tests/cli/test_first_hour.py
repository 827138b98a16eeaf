"""Issue 11, the first hour: what a newcomer runs, through the installed ``vmvc`` launcher.

The model's part (no root needed): each defect as the user met it, in a pipe and on a pty.
The container part is in ``test_first_hour_containers.py``.
"""

from __future__ import annotations

import json

from tests.cli.terminal import read_until_exit, spawn_on_pty, vmvc

SWEEP = ["sim", "sweep", "storm", "--profile", "tcg-this-kind,crun", "--n", "1,2", "--seeds", "2",
         "--workers", "2"]


# -- the model: no root needed ---------------------------------------------------------------------
def test_sweep_with_worker_processes_in_a_pipe():
    r = vmvc(*SWEEP)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr and "sweep: storm, 8 runs on 2 worker(s)" in r.stdout


def test_sweep_with_worker_processes_on_a_terminal():
    code, out = read_until_exit(*spawn_on_pty(*SWEEP))
    assert code == 0, out.decode(errors="replace")
    assert b"Traceback" not in out and b"8 runs on 2 worker(s)" in out


def test_tables_stay_whole_when_not_on_a_terminal():
    titles = {r["title"] for r in json.loads(vmvc("sim", "profiles", "--json").stdout)}
    table = vmvc("sim", "profiles").stdout
    assert any(len(t) > 60 for t in titles)  # long enough that 80 columns would have folded them
    for title in titles:
        assert title in table  # on one line, not folded mid-word
    assert max(len(line) for line in table.splitlines()) > 80


def test_errors_of_the_model_are_one_line():
    r = vmvc("sim", "storm", "--profile", "no-such-profile")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_run_flags_help_and_parser_come_from_one_table():
    from runtime.cli.containers import RUN_FLAGS, parse_run_args, run_parser

    helptext = " ".join(run_parser("vmvc run").format_help().split())
    for long, short, metavar, _many, text in RUN_FLAGS:
        assert f"--{long}" in helptext and text in helptext
        if short:
            assert f"-{short}, --{long}" in helptext or f"-{short} {metavar}, --{long}" in helptext
    argv = ["-d", "--rm", "-it", "--init", "--name", "x", "-e", "A=1", "-eB=2", "-w", "/srv", "-h", "host",
            "-u", "1:1", "-v", "/a:/b:ro", "-m", "64m", "--cpus", "0.5", "--pids-limit", "7", "--network",
            "none", "--entrypoint", "sh", "-l", "k=v", "busybox", "echo", "hi"]
    fast = vars(parse_run_args("vmvc run", argv))
    slow = vars(run_parser("vmvc run").parse_args(argv))
    slow["pids_limit"] = int(slow["pids_limit"])
    assert {k: fast[k] for k in slow} == slow
