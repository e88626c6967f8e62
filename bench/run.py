"""mpfix's benchmark: how close a whole-repository check gets to the cost of reading it.

    python bench/run.py                      # the running interpreter's stdlib
    python bench/run.py --corpus DIR         # add a directory of your own
    python bench/run.py --slice 40 --runs 1  # a quick smoke run

Every figure is the median wall time of whole-process runs (each a fresh
interpreter, as a user or pre-commit would start it), with the ratio to its
anchor: the read floor (reading every file once in Python) for tree runs, and
a bare interpreter start (`python -c pass`) for one-file runs. Peak RSS is the
largest single process of the run. The table is printed and written to
bench/results/.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

HERE = Path(__file__).resolve().parent
READ_FLOOR = (
    "import os,sys\n"
    "for d, _, fs in os.walk(sys.argv[1]):\n"
    "    for f in fs:\n"
    "        open(os.path.join(d, f), 'rb').read()\n"
)
SMALL_SCRIPT = (
    "import multiprocessing as mp\n\n"
    "def square(x):\n    return x * x\n\n"
    "with mp.Pool(2) as pool:\n    print(pool.map(square, range(10)))\n"
)


@dataclass
class Figure:
    name: str
    seconds: list[float]
    peak_kb: int
    anchor: Optional[str] = None
    capped: bool = False

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def timed(command: list[str], cwd: Path, cap: Optional[float] = None) -> tuple[float, int, bool]:
    """Wall seconds, peak RSS (KiB) of the run's largest process, and whether the cap hit."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    capped = False
    deadline = None if cap is None else start + cap
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if deadline is not None and time.perf_counter() > deadline:
            os.killpg(process.pid, 9)
            capped = True
            _, status, usage = os.wait4(process.pid, 0)
            break
        time.sleep(0.002)
    process.returncode = 0  # reaped above
    elapsed = time.perf_counter() - start
    return elapsed, usage.ru_maxrss, capped


def measure(name: str, command: list[str], cwd: Path, runs: int, *, anchor: Optional[str] = None,
            warmup: int = 1, cap: Optional[float] = None, before_each=None) -> Figure:
    for _ in range(warmup):
        if before_each:
            before_each()
        timed(command, cwd, cap)
    seconds, peak, capped = [], 0, False
    for _ in range(runs):
        if before_each:
            before_each()
        elapsed, rss, hit = timed(command, cwd, cap)
        seconds.append(elapsed)
        peak = max(peak, rss)
        capped = capped or hit
    return Figure(name, seconds, peak, anchor, capped)


def build_corpus(target: Path, extra: list[Path], slice_size: Optional[int]) -> tuple[int, int]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    sources = [(stdlib, p) for p in sorted(stdlib.rglob("*.py")) if "site-packages" not in p.parts]
    for directory in extra:
        sources += [(directory, p) for p in sorted(directory.rglob("*.py"))]
    if slice_size:
        sources = sources[:slice_size]
    total = 0
    for base, path in sources:
        destination = target / base.name / path.relative_to(base)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)
        total += path.stat().st_size
    return len(sources), total


def mentions(corpus: Path) -> int:
    return sum(1 for p in corpus.rglob("*.py") if b"multiprocessing" in p.read_bytes())


def table(figures: list[Figure], anchors: dict[str, Figure]) -> str:
    rows = ["| measurement | median s | min s | max s | ratio to anchor | peak RSS MB |",
            "|---|---:|---:|---:|---:|---:|"]
    for f in figures:
        ratio = ""
        if f.anchor:
            ratio = f"{f.median / anchors[f.anchor].median:.1f}x {f.anchor}"
        median = f"{f.median:.3f}" + (" (capped)" if f.capped else "")
        rows.append(f"| {f.name} | {median} | {min(f.seconds):.3f} | {max(f.seconds):.3f} | "
                    f"{ratio} | {f.peak_kb / 1024:.0f} |")
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, action="append", default=[],
                        help="another directory of Python files to include")
    parser.add_argument("--slice", type=int, default=None, help="use only the first N files")
    parser.add_argument("--runs", type=int, default=5, help="counted runs per figure")
    parser.add_argument("--jobs", type=int, default=None, help="mpfix -j (default: all cores)")
    parser.add_argument("--libcst-cap", type=float, default=150.0,
                        help="seconds after which libcst's own runner is stopped")
    parser.add_argument("--skip-libcst", action="store_true")
    parser.add_argument("--output", type=Path, default=HERE / "results")
    args = parser.parse_args()

    python = sys.executable
    work = Path(tempfile.mkdtemp(prefix="mpfix-bench-"))
    try:
        corpus = work / "corpus"
        files, size = build_corpus(corpus, args.corpus, args.slice)
        jobs = ["-j", str(args.jobs)] if args.jobs else []
        mpfix = [python, "-m", "mpfix"]
        cache_home = work / "cache-home"
        cache_home.mkdir()
        runs = args.runs
        figures = [
            measure("interpreter start (`python -c pass`)", [python, "-c", "pass"], work, runs),
            measure("read floor (read every file once)", [python, "-c", READ_FLOOR, str(corpus)],
                    work, runs),
        ]
        anchors = {"start": figures[0], "read": figures[1]}
        figures[0].anchor = None
        figures.append(measure("mpfix check, cold (--no-cache)",
                               [*mpfix, "check", "-q", "--no-cache", *jobs, str(corpus)],
                               work, max(1, runs - 2), anchor="read"))
        measure("populate cache", [*mpfix, "check", "-q", *jobs, str(corpus)], cache_home, 1, warmup=0)
        figures.append(measure("mpfix check, warm (cache hit)",
                               [*mpfix, "check", "-q", *jobs, str(corpus)],
                               cache_home, runs, anchor="read"))
        plain = work / "plain.py"
        plain.write_text("import os\n\nprint(os.getcwd())\n")
        small = work / "small.py"
        small.write_text(SMALL_SCRIPT)
        figures.append(measure("one file, no parse needed",
                               [*mpfix, "check", "-q", "--no-cache", str(plain)], work, runs,
                               anchor="start"))
        figures.append(measure("one file, parse and fix (--diff)",
                               [*mpfix, "fix", "--diff", "-q", "--no-cache", str(small)], work,
                               runs, anchor="start"))
        if not args.skip_libcst:
            copy = work / "libcst-copy"

            def fresh_copy() -> None:
                shutil.rmtree(copy, ignore_errors=True)
                shutil.copytree(corpus, copy)

            figures.append(measure(
                "libcst codemod runner, no-op codemod",
                [python, "-m", "libcst.tool", "codemod", "--no-format", "--hide-progress",
                 *jobs, "noop.NOOPCommand", str(copy)],
                work, 1, warmup=0, anchor="read", cap=args.libcst_cap, before_each=fresh_copy))
        header = (
            f"mpfix benchmark, {datetime.date.today().isoformat()}: {files} files, "
            f"{size / 1e6:.1f} MB ({mentions(corpus)} mention multiprocessing); "
            f"Python {platform.python_version()} on {platform.machine()}, "
            f"{os.cpu_count()} cores, {platform.system()}"
        )
        text = f"{header}\n\n{table(figures, anchors)}\n"
        print(text)
        args.output.mkdir(parents=True, exist_ok=True)
        (args.output / f"bench-{datetime.date.today().isoformat()}.md").write_text(text)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
