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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import bench_idtoken

BENCHMARKS: dict[str, Callable[..., dict[str, Any]]] = {
    "idtoken": bench_idtoken.run,
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
        results.append(BENCHMARKS[name]())
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
    lines = [f"aadweb benchmarks, {report['date']} ({report['machine']})", "",
             "| benchmark | contender | rate | ratio to baseline | target |", "|---|---|---|---|---|"]
    for r in report["results"]:
        for name, rate in r["rates"].items():
            target = r.get("target", {}).get(name)
            mark = "" if target is None else f"≥ {target}x ({'met' if r['ratios'][name] >= target else 'missed'})"
            base = " (baseline)" if name == r["baseline"] else ""
            ratio = r["ratios"][name]
            lines.append(f"| {r['name']} | {name}{base} | {rate:,.0f} {r['unit']} | {ratio:.2f}x | {mark} |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
