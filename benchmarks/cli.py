"""Measure VMs and containers on this host and write the report that checks the tutorial's claims.

Runs the suites in benchmarks/suites/ (start-up, phases, and whichever others are installed), each
capability-aware: a suite this host cannot run is listed as skipped with the doctor's reason. Methods
run in interleaved rounds after warm-ups; the report gives medians with IQR and n, a chart per suite, and
the claims table C1-C13 (measured here -> verdict -> published figure). Writes results.json (schema 1),
results.csv, report.html (self-contained, opens offline) and report.md (charts in charts/) into --out.
Ctrl-C keeps what was measured, writes a partial report and leaves nothing running.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

DEFAULT_OUT = "vmvc-report"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vmvc bench", description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true",
                      help="few rounds, one QEMU machine type: about 3 minutes at most (the default)")
    mode.add_argument("--full", action="store_true",
                      help="more rounds, every machine type: about 20 minutes at most")
    p.add_argument("--suite", metavar="NAME,...", help="run only these suites (see --list)")
    p.add_argument("--out", metavar="DIR", default=DEFAULT_OUT,
                   help=f"where the report goes (default ./{DEFAULT_OUT}/)")
    p.add_argument("--json", action="store_true", help="print results.json on stdout (progress on stderr)")
    p.add_argument("--open", action="store_true", help="open report.html in a browser when done")
    p.add_argument("--report-only", metavar="RESULTS.json",
                   help="measure nothing: rebuild the report from a results file (e.g. the recorded one)")
    p.add_argument("--compare", nargs="+", metavar="RESULTS.json",
                   help="measure nothing: merge results files from several hosts into one comparison "
                        "(compare.md, compare.html in --out), one column per host")
    p.add_argument("--list", action="store_true",
                   help="list the suites, what they need and whether they run here")
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    from benchmarks.runner import discover

    found = discover()
    if args.list:
        return _list(found)
    selected = None
    if args.suite:
        selected = [s.strip() for s in args.suite.split(",") if s.strip()]
        unknown = [s for s in selected if s not in found]
        if unknown:
            print(f"vmvc bench: unknown suite {', '.join(unknown)} (choose from {', '.join(found)})",
                  file=sys.stderr)
            return 125
    if args.report_only:
        return _report_only(args, found)
    if args.compare:
        from benchmarks.compare import compare

        try:
            paths = compare(args.compare, args.out)
        except (OSError, ValueError, KeyError) as e:
            print(f"vmvc bench: cannot compare: {e}", file=sys.stderr)
            return 125
        print(f"vmvc bench: comparison of {len(args.compare)} hosts written to {paths['html']}")
        return 0
    return _measure(args, found, selected, argv)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _list(found) -> int:
    from runtime.doctor import host

    doctor = host()
    for name, info in found.items():
        if info.module is None:
            state = f"fails to import: {info.error}"
        else:
            why = info.skip_reason(doctor)
            state = f"skipped here: {why}" if why else "runs here"
        claims = ",".join(info.claims) or "-"
        print(f"{name:10} {info.title}\n{'':10} claims {claims}; needs {', '.join(info.needs) or 'nothing'}; "
              f"{state}")
    return 0


def _finish(res, found, args, command: str) -> int:
    from benchmarks import claims, report
    from benchmarks.report import data

    res.claims = claims.evaluate(res, found)
    paths = report.write(res, args.out, found, command)
    if args.json:
        print(data.to_json(res))
    where = Path(args.out).resolve()
    _say(f"vmvc bench: {'PARTIAL ' if res.partial else ''}report written to {where}/ "
         f"(report.html, report.md, results.json, results.csv)")
    for c in res.claims:
        _say(f"  {c.id:4} {c.verdict:26} {c.measured[:90]}")
    if args.open:
        import webbrowser

        webbrowser.open(paths["html"].resolve().as_uri())
    return 0


def _report_only(args, found) -> int:
    from benchmarks.report import load

    try:
        res = load(args.report_only)
    except (OSError, ValueError) as e:
        print(f"vmvc bench: cannot read {args.report_only}: {e}", file=sys.stderr)
        return 125
    return _finish(res, found, args, f"vmvc bench --report-only {args.report_only}")


def _measure(args, found, selected, argv) -> int:
    from benchmarks import runner
    from benchmarks.progress import bars_if_terminal

    quick = not args.full
    command = "vmvc bench " + " ".join(shlex.quote(a) for a in argv) if argv else "vmvc bench"
    bars = bars_if_terminal()
    _say(f"vmvc bench ({'quick' if quick else 'full'}): suites "
         f"{', '.join(selected or found)}; report to {os.path.abspath(args.out)}/")
    if bars:
        with bars:
            res = runner.run(selected, quick, found, progress=bars, say=bars.say, meta={"argv": argv})
    else:
        res = runner.run(selected, quick, found, say=_say, meta={"argv": argv})
    # Ctrl-C during the writing is ignored: the partial report is what the user asked to keep.
    import signal

    old = signal.signal(signal.SIGINT, signal.SIG_IGN) if res.partial else None
    try:
        code = _finish(res, found, args, command)
    finally:
        if old is not None:
            signal.signal(signal.SIGINT, old)
    if res.partial:
        return 130
    failed = [n for n, e in res.suites.items() if e.get("status") == "failed"]
    if failed:
        _say(f"vmvc bench: suite(s) failed: {', '.join(failed)} (see the report)")
        return 1
    return code
