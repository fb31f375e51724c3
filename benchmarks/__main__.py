"""``make bench``: run every benchmark, print a table of ratios, write benchmarks/results.json.

Benchmarks are not tests: nothing here fails on a number. Each figure is a ratio to a baseline
measured in the same run, because this machine is shared and absolute times mean little.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from benchmarks import (
    bench_gate,
    bench_graphcall,
    bench_idtoken,
    bench_jwks_burst,
    bench_memory,
    bench_page,
    bench_signin,
    bench_wirelog,
)

BENCHMARKS: dict[str, Callable[..., dict[str, Any]]] = {
    "idtoken": bench_idtoken.run,
    "page": bench_page.run,
    "gate": bench_gate.run,
    "graphcall": bench_graphcall.run,
    "signin": bench_signin.run,
    "memory": bench_memory.run,
    "jwks_burst": bench_jwks_burst.run,
    "wirelog": bench_wirelog.run,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--out", default=str(Path(__file__).with_name("results.json")))
    args = parser.parse_args(argv)
    names = args.names or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    results = []
    started = time.time()
    for name in names:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        began = time.time()
        try:
            result = BENCHMARKS[name]()
        except Exception as exc:  # a benchmark that fails says why; the others still run
            traceback.print_exc(file=sys.stderr)
            result = {"name": name, "error": f"{type(exc).__name__}: {exc}"[:1000]}
        result["seconds"] = round(time.time() - began, 1)
        print(f"  {name}: {result['seconds']} s", file=sys.stderr, flush=True)
        results.append(result)
    report = {
        "date": time.strftime("%Y-%m-%d", time.gmtime(started)),
        "machine": f"{platform.machine()} {platform.python_implementation()} {platform.python_version()}",
        "seconds": round(time.time() - started, 1),
        "results": results,
    }
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(render(report))
    print(f"\nwritten to {args.out}")
    return 0


def render(report: dict[str, Any]) -> str:
    lines = [f"aadweb benchmarks, {report['date']} ({report['machine']}), {report['seconds']:.0f} s", "",
             "| benchmark | contender | figure | ratio to baseline | target |", "|---|---|---|---|---|"]
    notes: list[str] = []
    for r in report["results"]:
        if "error" in r:
            lines.append(f"| {r['name']} | | not measured: {_cell(r['error'].splitlines()[0][:200])} | | |")
            continue
        lines.extend(_rows(r))
        notes.extend(f"- {r['name']}: {note}" for note in r.get("notes", []))
    return "\n".join(lines + (["", *notes] if notes else []))


def _metrics(r: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if r.get("rates"):
        yield {"name": r["name"], "unit": r["unit"], "values": r["rates"], "ratios": r["ratios"],
               "target": r.get("target", {}), "baseline": r["baseline"], "better": r.get("better", "higher")}
    for metric in r.get("metrics", []):
        yield {**metric, "name": f"{r['name']}: {metric['name']}"}


def _rows(r: dict[str, Any]) -> Iterator[str]:
    for m in _metrics(r):
        lower = m.get("better") == "lower"
        absolute = m.get("absolute", False)
        single = len(m["values"]) == 1
        for name, value in m["values"].items():
            ratio = m["ratios"].get(name)
            target = m.get("target", {}).get(name)
            mark = ""
            if target is not None:
                got = value if absolute else ratio
                met = got <= target if lower else got >= target
                mark = f"{'≤' if lower else '≥'} {target}{'' if absolute else 'x'} ({'met' if met else 'missed'})"
            base = " (baseline)" if name == m["baseline"] and not single else ""
            shown_ratio = "" if single or ratio is None else f"{ratio:.2f}x"
            yield f"| {m['name']} | {name}{base} | {_figure(value)} {m['unit']} | {shown_ratio} | {mark} |"
    for name, why in r.get("not_measured", {}).items():
        yield f"| {r['name']} | {name} | not measured: {_cell(why)} | | |"


def _figure(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if value < 10 else f"{value:.1f}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


if __name__ == "__main__":
    raise SystemExit(main())
