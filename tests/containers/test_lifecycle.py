"""create/start/stop/kill/rm/wait/ps/logs/exec/inspect through the library, on the real kernel."""

from __future__ import annotations

import os
import time

import pytest

from runtime.containers import Spec
from runtime.errors import Conflict, NotFound, VmvcError
from tests.containers.conftest import REAL

pytestmark = REAL


def test_run_collects_output_and_exit_code(run):
    r = run("sh", "-c", "echo out; echo err >&2; exit 3")
    assert (r.exit_code, r.stdout, r.stderr) == (3, b"out\n", b"err\n")


def test_rm_container_is_gone_after_run(engine, run):
    r = run("true")
    assert r.exit_code == 0
    with pytest.raises(NotFound):
        engine.get(r.id)
    assert engine.list(all=True) == []


def test_exit_code_of_a_signal_is_128_plus_n(engine, run):
    assert run("sh", "-c", "sleep 10 & kill -KILL $!; wait $!").exit_code == 137
    cid = engine.create(Spec("busybox", ["sh", "-c", "trap 'kill -USR1 $$' TERM; sleep 30 & wait"]))
    engine.start(cid)
    engine.kill(cid, "USR2")  # PID 1 has no handler for it: ignored, like in docker
    engine.kill(cid, "SIGKILL")
    assert engine.wait(cid) == 128 + 9
    engine.remove(cid)


@pytest.mark.parametrize("cmd,code", [(["nosuchcommand"], 127), (["/etc/passwd"], 126), (["/no/such"], 127)])
def test_exec_failures_are_docker_codes_and_leave_nothing(engine, cmd, code):
    with pytest.raises(VmvcError) as e:
        engine.run(Spec("busybox", cmd, auto_remove=True))
    assert e.value.exit_code == code
    assert engine.list(all=True) == []


def test_exec_failure_without_rm_is_recorded(engine):
    cid = engine.create(Spec("busybox", ["nosuch"]))
    with pytest.raises(VmvcError):
        engine.start(cid)
    st = engine.inspect(cid)["State"]
    assert (st["Status"], st["ExitCode"]) == ("exited", 127)
    assert "executable file not found" in st["Error"]
    engine.remove(cid)


def test_detached_lifecycle(engine):
    cid = engine.create(
        Spec(
            "busybox",
            ["sh", "-c", "trap 'echo bye; exit 0' TERM; echo started; while true; do sleep 0.1; done"],
            name="life",
        )
    )
    assert engine.inspect("life")["State"]["Status"] == "created"
    assert [r.id for r in engine.list()] == []
    engine.start("life")
    info = engine.inspect("life")
    assert info["State"]["Running"] and info["State"]["Pid"] > 0
    assert [r.id for r in engine.list()] == [cid]
    with pytest.raises(Conflict):
        engine.remove("life")
    _wait_for_log(engine, "life", "started\n")  # the TERM trap is set once it has printed
    assert engine.stop("life", timeout=10) is True
    st = engine.inspect(cid[:8])["State"]
    assert (st["Status"], st["ExitCode"]) == ("exited", 0)
    assert engine.stop("life") is False  # not modified
    logs = [e["log"] for e in engine.logs("life")]
    assert logs == ["started\n", "bye\n"]
    assert all(e["stream"] == "stdout" and e["time"].endswith("Z") for e in engine.logs("life"))
    engine.start("life")  # an exited container starts again, same upper layer
    engine.kill("life", "KILL")
    assert engine.wait("life") == 137
    engine.remove("life")
    with pytest.raises(NotFound):
        engine.inspect("life")


def _wait_for_log(engine, ref: str, line: str, tries: int = 500) -> None:
    for _ in range(tries):
        if any(e["log"] == line for e in engine.logs(ref)):
            return
        time.sleep(0.01)
    raise AssertionError(f"{line!r} never appeared in the logs of {ref}")


def test_stop_escalates_to_sigkill(engine):
    cid = engine.create(Spec("busybox", ["sleep", "60"]))  # PID 1 ignores SIGTERM without a handler
    engine.start(cid)
    assert engine.stop(cid, timeout=0.2) is True
    assert engine.inspect(cid)["State"]["ExitCode"] == 137
    engine.remove(cid)


def test_force_remove_of_a_running_container(engine):
    cid = engine.create(Spec("busybox", ["sleep", "60"]))
    engine.start(cid)
    engine.remove(cid, force=True)
    assert engine.list(all=True) == []


def test_name_clash_and_unknown_things(engine):
    engine.create(Spec("busybox", ["true"], name="one"))
    with pytest.raises(Conflict):
        engine.create(Spec("busybox", ["true"], name="one"))
    with pytest.raises(NotFound):
        engine.create(Spec("nosuchimage", ["true"]))
    with pytest.raises(NotFound):
        engine.start("nosuchcontainer")
    with pytest.raises(Conflict):
        engine.kill("one")
    assert len(engine.list(all=True)) == 1
    engine.remove("one")


def test_logs_survive_exit_and_tail(engine):
    cid = engine.create(
        Spec("busybox", ["sh", "-c", "for i in 1 2 3 4 5; do echo line$i; done; echo oops >&2"])
    )
    engine.start(cid)
    engine.wait(cid)
    entries = list(engine.logs(cid))
    assert [e["log"] for e in entries if e["stream"] == "stdout"] == [f"line{i}\n" for i in range(1, 6)]
    assert [e["log"] for e in entries if e["stream"] == "stderr"] == ["oops\n"]
    assert [e["log"] for e in engine.logs(cid, tail=2)] == ["line5\n", "oops\n"]
    assert len(list(engine.logs(cid, follow=True))) == 6  # follow of an exited container ends
    engine.remove(cid)


def test_logs_follow_until_exit(engine):
    cid = engine.create(Spec("busybox", ["sh", "-c", "echo a; sleep 0.3; echo b"]))
    engine.start(cid)
    assert [e["log"] for e in engine.logs(cid, follow=True)] == ["a\n", "b\n"]
    engine.remove(cid)


def test_exec_joins_namespaces_and_cgroup(engine):
    cid = engine.create(Spec("busybox", ["sleep", "60"], hostname="inner", env=["A=1"]))
    engine.start(cid)
    r = engine.exec_run(
        cid, ["sh", "-c", "hostname; echo $A $B; ps -o pid,args; cat /proc/self/cgroup"], env=["B=2"]
    )
    out = r.stdout.decode()
    assert r.exit_code == 0
    assert out.startswith("inner\n1 2\n")
    assert "1 sleep 60" in " ".join(out.split())
    cgroup = engine.inspect(cid)["Vmvc"]["Cgroup"]
    pid = engine.inspect(cid)["State"]["Pid"]
    with open(f"/proc/{pid}/cgroup") as f:
        assert cgroup in f.read()
    assert engine.exec_run(cid, ["sh", "-c", "exit 7"]).exit_code == 7
    with pytest.raises(VmvcError) as e:
        engine.exec_run(cid, ["nosuch"])
    assert e.value.exit_code == 127
    engine.remove(cid, force=True)


def test_exec_with_stdin(engine):
    cid = engine.create(Spec("busybox", ["sleep", "60"]))
    engine.start(cid)
    with engine.exec(cid, ["cat"], stdin=True) as s:
        s.send_stdin(b"piped\n")
        s.close_stdin()
        out = b"".join(p for k, p in s.frames() if k == 1)
    assert out == b"piped\n" and s.exit_code == 0
    engine.remove(cid, force=True)


def test_attach_before_start_gets_all_output(engine):
    cid = engine.create(Spec("busybox", ["echo", "early"]))
    with engine.attach(cid) as s:
        engine.start(cid)
        out = b"".join(p for k, p in s.frames() if k == 1)
    assert out == b"early\n" and s.exit_code == 0
    engine.remove(cid)


def test_state_on_disk_lets_a_new_engine_see_everything(engine):
    from runtime.containers import Engine

    cid = engine.create(Spec("busybox", ["sleep", "60"], name="persist"))
    engine.start(cid)
    other = Engine()
    assert other.inspect("persist")["State"]["Running"]
    assert os.path.exists(other.table.dir(cid, "state.json"))
    other.remove("persist", force=True)


def test_the_docker_clients_order_create_attach_wait_start(engine):
    """What the daemon does for ``docker run --rm``: attach and wait before start, removal at the end."""
    cid = engine.create(Spec("busybox", ["sh", "-c", "echo out; echo err >&2; exit 4"], auto_remove=True))
    with engine.attach(cid) as s, engine.wait_session(cid, condition="removed") as waiting:
        engine.start(cid)
        frames = list(s.frames())
        code = engine.wait_result(waiting)
    assert (1, b"out\n") in frames and (2, b"err\n") in frames
    assert s.exit_code == 4 and code == 4
    with pytest.raises(NotFound):
        engine.get(cid)


def test_detached_rm_container_removes_itself(engine):
    with engine.run_session(Spec("busybox", ["sleep", "0.2"], auto_remove=True), attach=False) as s:
        cid = s.reply["id"]
    assert engine.wait(cid) == 0
    for _ in range(100):
        if not engine.list(all=True):
            break
        time.sleep(0.02)
    assert engine.list(all=True) == []
