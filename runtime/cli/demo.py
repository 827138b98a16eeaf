"""``vmvc demo``: a live race for lectures: a VM boots (its console streaming) while N containers start,
each with its own timer; then a summary. ``--record FILE`` writes a self-contained HTML replay for slides.
Fits a 100×30 terminal. The race itself is :mod:`runtime.race`."""

from __future__ import annotations

import html
import json
import os
import signal
import sys
import threading
import time

from runtime.cli.args import parse, parser
from runtime.errors import VmvcError


def _view(race, width: int):
    from rich.layout import Layout
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    now = time.perf_counter() - race.t0 if race.t0 else 0.0
    console = [e.text for e in race.events if e.lane == "vm" and e.kind == "console"][-20:]
    vm_state = f"ready at {race.vm_ready:.2f} s" if race.vm_ready else f"booting… {now:5.1f} s"
    shown = "\n".join(line[: max(20, width // 2 - 6)] for line in console) or "(starting QEMU)"
    left = Panel(Text(shown), title=f"VM ({race.machine}): {vm_state}", border_style="red")
    table = Table(expand=True, show_edge=False)
    table.add_column("container")
    table.add_column("state")
    table.add_column("time", justify="right")
    for i in range(1, race.n + 1):
        lane = [e for e in race.events if e.lane == f"c{i}"]
        done = next((e for e in lane if e.kind in ("exit", "error")), None)
        started = lane[0].t if lane else None
        state = ("done" if done.kind == "exit" else "error") if done else "running" if lane else "waiting"
        t = (done.t if done else now) if started is not None else 0.0
        table.add_row(f"c{i}", state, f"{t * 1000:7.1f} ms")
    right = Panel(table, title="containers (busybox)", border_style="green")
    layout = Layout()
    layout.split_row(Layout(left, ratio=1), Layout(right, ratio=1))
    return layout


def record_html(race, path: str) -> str:
    """A self-contained HTML page that replays the race on a timeline (no external files)."""
    events = [{"t": round(e.t, 4), "lane": e.lane, "kind": e.kind, "text": e.text} for e in race.events]
    template = os.path.join(os.path.dirname(os.path.dirname(__file__)), "demo_replay.html")
    with open(template) as f:
        page = f.read()
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in race.summary())
    page = page.replace("__N__", str(race.n)).replace("__SUMMARY__", rows)
    page = page.replace("__EVENTS__", json.dumps(events).replace("</", "<\\/"))
    with open(path, "w") as f:
        f.write(page)
    return path


def demo(argv: list[str]) -> int:
    """A live VM-vs-containers race for lectures"""
    p = parser("vmvc demo", "A live race for lectures: a VM boot (its console streaming) against N "
               "containers (each with a timer), then a summary table. Needs root for the containers; the VM "
               "uses whatever accelerator 'vmvc vm accel' picks.")
    p.add_argument("-n", type=int, default=8, help="containers to start (1-64, default 8)")
    p.add_argument("--machine", default="microvm", help="the VM's machine type (microvm, pc, q35)")
    p.add_argument("--record", metavar="FILE", help="also write an animated HTML timeline of the race")
    args = parse(p, argv)
    if not 1 <= args.n <= 64:
        raise VmvcError(f"-n {args.n}: choose 1 to 64 containers")
    if os.geteuid() != 0:
        raise VmvcError("vmvc demo needs root here (it starts containers); 'vmvc sim storm' shows the same "
                        "race in the model without root")
    from rich.console import Console
    from rich.live import Live
    from rich.table import Table

    from runtime.race import Race

    race = Race(n=args.n, machine=args.machine)
    console = Console()
    race.prepare(lambda: print("vmvc demo: fetching a Debian cloud kernel for the VM (once)…",
                               file=sys.stderr))
    runner = threading.Thread(target=race.run, name="race", daemon=True)
    old = signal.getsignal(signal.SIGINT)
    try:
        with Live(_view(race, console.width), console=console, refresh_per_second=10, transient=False,
                  screen=False) as live:
            race.t0 = time.perf_counter()
            runner.start()
            while runner.is_alive():
                live.update(_view(race, console.width))
                runner.join(0.1)
            live.update(_view(race, console.width))
    except KeyboardInterrupt:
        _stop_children()
        print("\nvmvc demo: interrupted; the VM and the containers were stopped", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, old)
    table = Table(title="VM vs containers, started together")
    table.add_column("what")
    table.add_column("time", justify="right")
    for k, v in race.summary():
        table.add_row(k, v)
    console.print(table)
    if args.record:
        print(f"recorded: {record_html(race, args.record)}")
    if race.error:
        print(f"vmvc demo: {race.error}", file=sys.stderr)
        return 1
    return 0


def _stop_children() -> None:
    """Ctrl-C: end QEMU and anything else this process started (containers end with their clients)."""
    import psutil

    me = psutil.Process()
    kids = me.children(recursive=True)
    for k in kids:
        try:
            k.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(kids, timeout=5)
    for k in alive:
        try:
            k.kill()
        except psutil.Error:
            pass
