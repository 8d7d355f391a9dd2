"""Benchmark a whole `dpmon run` on generated councils (on demand; not part of the tests).

    .venv/bin/python benchmarks/bench.py                 # 1,000 and 10,000 recipients
    .venv/bin/python benchmarks/bench.py --recipients 1000 --workers 2

It first times a 1-recipient council: the start-up every run pays whatever its
size. For each size it prints: input files and bytes; the floor (listing the inbound
folder and reading every file's bytes, warm cache); the run's wall time, peak
RSS (of the largest process, and of all its processes together, sampled every
0.2 s), the CPU seconds of all its processes (over the machine's cores, the least
wall time the run could take) and rows per second; and the targets of issue 5: end to end within 10x the
floor, peak RSS under 2 GiB, the 10,000 run within 11x the 1,000 run.
Generated councils are cached under --work (delete it to regenerate).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.synthetic import ANOMALIES, FORMATS, generate  # noqa: E402
from tests.processes import descendants  # noqa: E402

PERIOD = "2025-06"
PURCHASES = 12  # per category per month: about 54 bank lines and 48 receipts per recipient over two months
# issue 5's month has some 10k OFX and 16k CSV statements: 7 recipients in 18 bank in OFX (or QFX), the rest in
# each CSV layout once, so 39% of statement files are OFX (against 15% with each layout once)
STATEMENT_FORMATS = FORMATS + ("ofx_sgml", "ofx_xml", "ofx_sgml", "ofx_xml", "ofx_sgml")
CORES = os.cpu_count() or 1
DATASET = "v2"  # bump when what ``council`` generates changes, so cached councils are made again


def council(work: Path, recipients: int) -> Path:
    inbound = work / f"r{recipients}" / "inbound"
    marker = inbound.parent / f"generated-{DATASET}"
    if not marker.exists():
        started = time.perf_counter()
        anomalies = [list(ANOMALIES)[i % len(ANOMALIES)] for i in range(recipients // 10)]
        generate(inbound, PERIOD, recipients, anomalies, purchases=PURCHASES, formats=STATEMENT_FORMATS)
        marker.write_text(f"{time.perf_counter() - started:.1f}")
    return inbound


def floor(inbound: Path) -> tuple[float, int, int]:
    """Seconds to list and read every input file (second pass: warm cache), files, bytes."""
    def read_all() -> tuple[int, int]:
        files = total = 0
        for folder, _, names in os.walk(inbound):
            for name in names:
                total += len(Path(folder, name).read_bytes())
                files += 1
        return files, total

    read_all()
    started = time.perf_counter()
    files, total = read_all()
    return time.perf_counter() - started, files, total


def _tree_rss_mib(pid: int) -> float:
    """RSS of a process and all its descendants now, in MiB."""
    total = 0
    for process in {pid, *descendants(pid)}:
        try:
            status = Path(f"/proc/{process}/status").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total / 1024


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(inbound: Path, outbound: Path, extra: list[str]) -> tuple[float, float, float, float, dict]:
    """Wall seconds, the largest process's peak RSS, the whole process tree's peak RSS (sampled), CPU seconds
    of every process of the run (each waited for by its parent: the server, the workers), the manifest."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    cpu_before = _children_cpu()
    started = time.perf_counter()
    process = subprocess.Popen([str(ROOT / ".venv" / "bin" / "dpmon"), "run", "--period", PERIOD, "--inbound", str(inbound),
                                "--outbound", str(outbound), *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    tree = 0.0
    while process.poll() is None:
        tree = max(tree, _tree_rss_mib(process.pid))
        time.sleep(0.2)
    wall = time.perf_counter() - started
    _, stderr = process.communicate()
    if process.returncode != 0:
        sys.exit(f"dpmon failed:\n{stderr[-3000:]}")
    peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    manifest = json.loads((outbound / PERIOD / "manifest.json").read_text())
    return wall, peak, tree, _children_cpu() - cpu_before, manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--work", type=Path, default=Path("/tmp/dpmon-bench"))
    parser.add_argument("--workers", type=int, default=0, help="run with --workers N (Dask)")
    args = parser.parse_args()
    extra = ["--workers", str(args.workers)] if args.workers else []
    startup, _, _, startup_cpu, _ = run(council(args.work, 1), args.work / "r1" / "outbound", extra)
    print(f"start-up: a 1-recipient council takes {startup:.1f} s end to end (the CLI's imports, Prefect's server and "
          "flow run, Great Expectations, the reports): "
          f"the part of every run that does not grow with the data; {startup_cpu:.1f} CPU-s")
    walls = {}
    for recipients in args.recipients:
        inbound = council(args.work, recipients)
        floor_s, files, size = floor(inbound)
        wall, peak, tree, cpu, manifest = run(inbound, args.work / f"r{recipients}" / "outbound", extra)
        rows = manifest["input_totals"]["rows_read"]
        timings = manifest["timings_seconds"]
        walls[recipients] = wall
        layouts = [entry.get("layout") or "" for entry in manifest["inputs"] if entry["kind"] == "statement"]
        ofx = sum(layout.startswith("ofx") for layout in layouts)
        print(f"\n{recipients:,} recipients: {files:,} files, {size / 1e6:.0f} MB, {rows:,} rows "
              f"({ofx:,} OFX and {len(layouts) - ofx:,} other statement files)")
        print(f"  floor (list + read bytes, warm): {floor_s:.2f} s")
        print(f"  dpmon run: {wall:.1f} s wall ({wall / floor_s:.1f}x floor; target <= 10x), "
              f"peak RSS {peak:.0f} MiB in one process (target < 2048), {tree:.0f} MiB all processes together, "
              f"{rows / wall:,.0f} rows/s")
        print(f"  CPU: {cpu:.1f} s, all processes (so on {CORES} cores no less than {cpu / CORES:.1f} s wall; "
              f"10x the floor would need at most {10 * floor_s * CORES:.0f} CPU-s, perfectly shared)")
        print(f"  less start-up: {wall - startup:.1f} s ({(wall - startup) / floor_s:.1f}x floor)")
        print("  in-flow steps (s): " + ", ".join(f"{k} {v}" for k, v in timings.items()))
    if 1000 in walls and 10000 in walls:
        print(f"\n10,000 run / 1,000 run: {walls[10000] / walls[1000]:.1f}x (target <= 11x)")


if __name__ == "__main__":
    main()
