"""What each ``vmvc sim`` command does once its arguments are parsed: run, then print or save.

Kept apart from :mod:`sim.cli` so ``vmvc sim --help`` stays fast and the printing can be tested
without argparse.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from sim.errors import SimError

MIB = 1024 * 1024


def fmt_s(x) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if x < 1:
        return f"{x * 1e3:.1f} ms"
    if x < 120:
        return f"{x:.2f} s"
    return f"{x / 60:.1f} min"


def fmt_mib(x) -> str:
    return "-" if x is None else f"{x:,.1f} MiB"


def console(stderr: bool = False):
    """A rich Console that does not wrap at 80 columns when not writing to a terminal (a pipe, a file,
    Jupyter's ``!vmvc``): tables stay whole there, as docker's do."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else 100_000)


def _table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    from rich.table import Table

    t = Table(title=title)
    for c in columns:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*r)
    console().print(t)


def _host(args) -> dict:
    """The one host every profile of this command runs on: this machine unless ``--host`` describes
    another (or says ``profile``: each profile's reference host); ``--cores`` and co. override."""
    from sim.api import parse_host, this_machine

    spec = getattr(args, "host", "profile")
    out = {} if spec == "profile" else this_machine() if spec == "this" else parse_host(spec)
    for key in ("cores", "memory_mib", "disk_mib_s", "cpu_model", "admission"):
        value = getattr(args, key, None)
        if value is not None:
            out[key] = value
    return out


def _host_title(args) -> str:
    from sim.api import describe_host

    spec = getattr(args, "host", "profile")
    if spec == "profile":
        return "each profile on its own reference host"
    where = "this machine" if spec == "this" else "the host you described"
    return f"all on one host: {describe_host(_host(args))} ({where})"


def _scenario_params(args) -> dict:
    c = args.command
    p: dict = {"jitter": not args.no_jitter, "cache": args.cache, **_host(args)}
    if c == "storm":
        p.update(n=args.n, interval=args.interval, lifetime=args.lifetime)
    elif c == "density":
        p.update(n=args.n, limit=args.limit)
    elif c == "scaleout":
        for k in (
            "duration",
            "base_rate",
            "spike_rate",
            "spike_at",
            "spike_for",
            "capacity",
            "timeout",
            "period",
            "initial",
            "max_instances",
        ):
            p[k] = getattr(args, k)
    elif c == "cluster":
        p.update(hosts=args.hosts, n=args.n, policy=args.policy, interval=args.interval)
    return p


def dispatch(args) -> int:
    if args.command in ("start", "storm", "density", "scaleout", "cluster"):
        return scenario(args)
    return {"sweep": sweep, "profiles": profiles, "calibrate": calibrate, "validate": validate}[args.command](
        args
    )


def scenario(args) -> int:
    from sim.api import run

    names = [p for p in args.profile.split(",") if p]
    if not names:
        raise SimError("--profile needs at least one profile")
    params = _scenario_params(args)
    results = [run(args.command, profile=name, kind=args.kind, seed=args.seed, **params) for name in names]
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        for r in results:
            (args.out / f"{args.command}-{r.profile}.json").write_text(
                json.dumps(r.to_json(), indent=1) + "\n"
            )
    if args.plot:
        saved = _plots(args.command, results, args.out or Path("."))
        if not args.json:
            for path in saved:
                print(f"plot: {path}", file=sys.stderr)
    if args.json:
        data = [r.summary() for r in results]
        json.dump(data[0] if len(data) == 1 else data, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    _print(args.command, results, _host_title(args))
    return 0


def _plots(command: str, results, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    saved = []

    def save(fig, name):
        path = out / f"{command}-{name}.png"
        fig.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(fig)
        saved.append(path)

    for r in results:
        if command in ("start", "storm", "cluster"):
            save(r.plot_timeline(), f"timeline-{r.profile}")
        if command == "density":
            save(r.plot_density(), f"density-{r.profile}")
        if command == "scaleout":
            save(r.plot_scaleout(), f"scaleout-{r.profile}")
    if command in ("storm", "cluster", "start"):
        save(results[0].plot_cdf(others=results[1:]), "cdf")
    save(results[0].plot_memory(others=results[1:]), "memory")
    return saved


def _print_start(results) -> None:
    for r in results:
        rows = [[rec["stage"], fmt_s(rec["start"]), fmt_s(rec["duration"])] for rec in r.records]
        rows.append(["ready", "", fmt_s(float(r.ready_times[0]))])
        _table(f"{r.profile} ({r.kind}): one start", ["stage", "starts at", "takes"], rows)


def _host_cell(r, s) -> str:
    return f"{r.extra['cores']} ({r.extra['cpu_model']})"


def _fit_cell(r, s) -> str:
    return f">= {s['fit']} (limit)" if s["capped"] else str(s["fit"])


# command -> (title, [(column, cell(result, summary) -> str)])
COLUMNS = {
    "storm": (
        "boot storm",
        [
            ("profile", lambda r, s: r.profile),
            ("kind", lambda r, s: r.kind),
            ("cores", _host_cell),
            ("n", lambda r, s: str(r.n)),
            ("refused", lambda r, s: str(s["refused"])),
            ("ready median", lambda r, s: fmt_s(s["ready"].get("median"))),
            ("p95", lambda r, s: fmt_s(s["ready"].get("p95"))),
            ("all ready", lambda r, s: fmt_s(s["makespan"])),
            ("private mem", lambda r, s: fmt_mib(r.memory["private"] / MIB)),
        ],
    ),
    "density": (
        "density: how many fit in memory",
        [
            ("profile", lambda r, s: r.profile),
            ("kind", lambda r, s: r.kind),
            ("host memory", lambda r, s: fmt_mib(s["host_memory_mib"])),
            ("fit (simulated)", _fit_cell),
            ("fit (analytic)", lambda r, s: str(s["analytic_fit"])),
            ("private each", lambda r, s: fmt_mib(s["private_mib"])),
            ("shared + daemons", lambda r, s: fmt_mib(s["per_host_mib"])),
            ("per instance at fit", lambda r, s: fmt_mib(s["per_instance_mib_at_fit"])),
        ],
    ),
    "scaleout": (
        "scale-out under a request spike",
        [
            ("profile", lambda r, s: r.profile),
            ("kind", lambda r, s: r.kind),
            ("instances", lambda r, s: str(s["instances"])),
            ("spike absorbed in", lambda r, s: fmt_s(s["absorb_s"])),
            ("requests", lambda r, s: str(s["arrived"])),
            ("dropped", lambda r, s: f"{s['dropped']} ({s['drop_fraction']:.1%})"),
            ("delay p50", lambda r, s: fmt_s(s["delay_p50"])),
            ("delay p99", lambda r, s: fmt_s(s["delay_p99"])),
        ],
    ),
    "cluster": (
        "cluster placement",
        [
            ("profile", lambda r, s: r.profile),
            ("kind", lambda r, s: r.kind),
            ("policy", lambda r, s: s["policy"]),
            ("per host", lambda r, s: " ".join(str(h["placed"]) for h in r.hosts)),
            ("refused", lambda r, s: str(s["refused"])),
            ("ready median", lambda r, s: fmt_s(s["ready"].get("median"))),
            ("all ready", lambda r, s: fmt_s(s["makespan"])),
        ],
    ),
}


def _print(command: str, results, host: str = "") -> None:
    if command == "start":
        _print_start(results)
        return
    title, columns = COLUMNS[command]
    title = f"{title} — {host}" if host else title
    rows = []
    for r in results:
        s = r.summary()
        rows.append([cell(r, s) for _, cell in columns])
    _table(title, [name for name, _ in columns], rows)


def _value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None}.get(text.lower(), text)


def sweep(args) -> int:
    from sim.sweep import grid, summarise
    from sim.sweep import sweep as run_sweep

    axes: dict = {"profile": [p for p in args.profile.split(",") if p]}
    if args.kind:
        axes["kind"] = args.kind
    if args.n:
        try:
            axes["n"] = [int(x) for x in args.n.split(",")]
        except ValueError:
            raise SimError(f"--n takes comma-separated integers, got {args.n!r}") from None
    for item in args.set:
        key, eq, values = item.partition("=")
        if not eq or not key:
            raise SimError(f"--set takes KEY=V1,V2, got {item!r}")
        axes[key.replace("-", "_")] = [_value(v) for v in values.split(",")]
    for key, value in _host(args).items():
        axes.setdefault(key, value)  # one host for every run (a --set of a host knob sweeps it instead)
    axes["seed"] = list(range(args.seeds))
    specs = grid(args.scenario, **axes)
    from sim.api import run

    run(args.scenario, **{k: v for k, v in specs[0].items() if k != "scenario"})  # bad input fails here, fast
    rows = _with_progress(
        lambda progress: run_sweep(specs, workers=args.workers, address=args.address, progress=progress),
        len(specs),
        quiet=args.json,
    )
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"sweep-{args.scenario}.json").write_text(json.dumps(rows, indent=1) + "\n")
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    points = summarise(specs, rows)
    keys = list(points[0]["point"]) if points else []
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        from sim import plots

        out_dir = args.out or Path(".")
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"sweep-{args.scenario}.png"
        plots.sweep_curve(points).savefig(path, dpi=110, bbox_inches="tight")
        print(f"plot: {path}", file=sys.stderr)
    workers = len({r["worker_pid"] for r in rows})
    _table(
        f"sweep: {args.scenario}, {len(specs)} runs on {workers} worker(s) — {_host_title(args)}",
        [*(keys or ["points"]), "runs", "ready median (mean of runs)", "all ready (mean)"],
        [
            [
                *(str(v) for v in p["point"].values()),
                str(p["runs"]),
                fmt_s(p["ready_median"]),
                fmt_s(p["makespan"]),
            ]
            for p in points
        ],
    )
    return 0


def _with_progress(work, total: int, quiet: bool):
    if quiet:
        return work(None)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("sweep"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("sweep", total=total)
        return work(lambda done, _total: bar.update(task, completed=done))


def profiles(args) -> int:
    from sim.profiles import available, load

    rows = []
    for name, path in available().items():
        try:
            p = load(path)
        except SimError as e:
            rows.append({"name": name, "path": str(path), "error": str(e)})
            continue
        for kind, spec in p.instances.items():
            rows.append(
                {
                    "name": name,
                    "kind": kind,
                    "title": p.title,
                    "path": str(path),
                    "solo_s": spec.solo_seconds(p.host, warm=True),
                    "back_to_back_s": spec.solo_seconds(p.host, warm=True, idle=False),
                    "private_mib": spec.private_memory / MIB,
                    "cores": p.host.cores,
                    "sources": [s.get("id") for s in p.sources],
                }
            )
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    _table(
        "simulation profiles",
        ["name", "kind", "one start, idle host", "back to back", "private mem", "host cores", "about"],
        [
            [
                r["name"],
                r.get("kind", "-"),
                fmt_s(r.get("solo_s")),
                fmt_s(r.get("back_to_back_s")),
                fmt_mib(r.get("private_mib")),
                str(r.get("cores", "-")),
                r.get("title") or r.get("error", ""),
            ]
            for r in rows
        ],
    )
    return 0


def calibrate(args) -> int:
    from sim.calibrate import profile_from_records
    from sim.profiles import save_profile
    from sim.records import load as load_records
    from sim.validate import validate as check

    records = load_records(args.records)
    data = profile_from_records(records, name=args.name, prior=args.prior)
    v = check(data, records)
    data["measured"]["validation"] = v.to_json()
    path = save_profile(data, args.out) if (args.save or args.out) else None
    if args.json:
        json.dump({"profile": data, "saved": str(path) if path else None}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    _table(
        f"calibrated '{args.name}'",
        ["kind", "gamma (CPU-fraction scale)", "stages", "storms", "MAPE"],
        [
            [
                k,
                f"{f['gamma']:.3f}",
                str(len(data["instances"][k]["stages"])),
                ",".join(map(str, f["storms"])),
                f"{v.mape_by_kind().get(k, float('nan')):.1%}",
            ]
            for k, f in data["measured"]["fit"].items()
        ],
    )
    if path:
        print(f"saved: {path}")
    return 0


def validate(args) -> int:
    from sim.records import load as load_records
    from sim.validate import validate as check

    v = check(args.profile, load_records(args.records), seeds=args.seeds)
    if args.json:
        json.dump(v.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    _table(
        f"'{args.profile}': predicted vs measured storms — MAPE {v.mape:.1%}",
        ["kind", "n", "measured mean ready", "predicted", "error"],
        [
            [r["kind"], str(r["n"]), fmt_s(r["measured"]), fmt_s(r["predicted"]), f"{r['ape']:.1%}"]
            for r in v.rows
        ],
    )
    return 0 if v.ok() else 1
