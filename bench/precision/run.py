"""mpfix's precision on real repositories: re-run `mpfix check` and compare with the ledger.

    python bench/precision/run.py --trees /work/corpus                   # trees already extracted
    python bench/precision/run.py --git-dirs /work/.mirror --trees DIR   # extract the pinned commits first
    python bench/precision/run.py --trees DIR --repo noxdafox/pebble     # some repositories only
    python bench/precision/run.py --trees DIR --draft new.csv            # new findings as rows to judge
    python bench/precision/run.py --trees DIR --prune                    # drop vanished rows

repos.toml pins every repository to a commit (and, where not the whole tree, the paths
checked). ledger.csv holds every finding of `mpfix check` with the default settings on
those trees, judged by hand: TP (a real breakage under spawn/forkserver, or a guideline
violation with real consequences, that a maintainer would accept), FP, or debatable.

A tree is DIR/<owner>+<name>, holding the repository's files at the pinned commit. With
--git-dirs, each is extracted from a bare git directory DIR/<owner>+<name>[/repo|.git]
(what `git clone --bare` or a snapshot tool gives). The trees are not in this repository,
so this script is not part of the test suite; tests/test_precision_ledger.py checks the
ledger and the comparison logic.

Findings are matched to ledger rows by repository, path, rule and line; a row whose line
moved still matches on the text of its source line. Printed: new (unclassified) findings,
rows whose finding disappeared, and precision TP / (TP + FP) per rule and overall, with
the debatable rows counted apart. Exit 0 when the ledger and the findings agree, 1 when
there are new or disappeared findings, 2 when trees are missing or mpfix failed.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import glob
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional, Sequence

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - mpfix depends on tomli there
    import tomli as tomllib

HERE = Path(__file__).resolve().parent
REPOS_FILE = HERE / "repos.toml"
LEDGER_FILE = HERE / "ledger.csv"
VERDICTS = ("TP", "FP", "debatable")
LEDGER_COLUMNS = ("repo", "commit", "path", "line", "rule", "verdict", "reason", "source")
HOW_TO_GET_TREES = (
    "trees missing: pass --git-dirs DIR of bare git snapshots (DIR/<owner>+<name>) to extract "
    "the pinned commits, or extract each yourself: "
    "git --git-dir=<bare dir> archive <commit> | tar -x -C <trees>/<owner>+<name>"
)


@dataclass(frozen=True)
class Repo:
    name: str  # owner/name
    commit: str
    paths: tuple[str, ...] = (".",)
    kind: str = ""

    @property
    def folder(self) -> str:
        return self.name.replace("/", "+")


@dataclass(frozen=True)
class Finding:
    repo: str
    path: str
    line: int
    rule: str
    source: str = ""  # the reported line's text, stripped


@dataclass(frozen=True)
class LedgerRow:
    repo: str
    commit: str
    path: str
    line: int
    rule: str
    verdict: str
    reason: str
    source: str = ""


@dataclass
class Comparison:
    matched: list[tuple[Finding, LedgerRow]] = field(default_factory=list)
    new: list[Finding] = field(default_factory=list)
    gone: list[LedgerRow] = field(default_factory=list)


@dataclass
class Tally:
    tp: int = 0
    fp: int = 0
    debatable: int = 0

    def add(self, verdict: str) -> None:
        if verdict == "TP":
            self.tp += 1
        elif verdict == "FP":
            self.fp += 1
        else:
            self.debatable += 1

    @property
    def precision(self) -> Optional[float]:
        judged = self.tp + self.fp
        return self.tp / judged if judged else None


# --- the files -------------------------------------------------------------------------

def load_repos(path: Path = REPOS_FILE) -> list[Repo]:
    with open(path, "rb") as stream:
        data = tomllib.load(stream)
    return [Repo(name=entry["name"], commit=entry["commit"],
                 paths=tuple(entry.get("paths", ["."])), kind=entry.get("kind", ""))
            for entry in data["repo"]]


def load_ledger(path: Path = LEDGER_FILE) -> list[LedgerRow]:
    with open(path, newline="", encoding="utf-8") as stream:
        return [LedgerRow(repo=row["repo"], commit=row["commit"], path=row["path"],
                          line=int(row["line"]), rule=row["rule"], verdict=row["verdict"],
                          reason=row["reason"], source=row.get("source") or "")
                for row in csv.DictReader(stream)]


def write_ledger(rows: Iterable[LedgerRow], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(LEDGER_COLUMNS)
        for row in rows:
            writer.writerow([row.repo, row.commit, row.path, row.line, row.rule,
                             row.verdict, row.reason, row.source])


# --- comparison and precision ------------------------------------------------------------

def compare(findings: Sequence[Finding], ledger: Sequence[LedgerRow]) -> Comparison:
    """Pair findings with ledger rows one to one: same line first, then same source text."""
    result = Comparison()
    unmatched_rows = list(ledger)
    unmatched_findings: list[Finding] = []
    by_line: dict[tuple, list[int]] = defaultdict(list)
    for index, row in enumerate(unmatched_rows):
        by_line[(row.repo, row.path, row.rule, row.line)].append(index)
    taken: set[int] = set()
    for finding in findings:
        index = _take(by_line[(finding.repo, finding.path, finding.rule, finding.line)], taken)
        if index is None:
            unmatched_findings.append(finding)
        else:
            result.matched.append((finding, unmatched_rows[index]))
    by_text: dict[tuple, list[int]] = defaultdict(list)
    for index, row in enumerate(unmatched_rows):
        if index not in taken and row.source:
            by_text[(row.repo, row.path, row.rule, row.source)].append(index)
    for finding in unmatched_findings:
        index = None
        if finding.source:
            index = _take(by_text[(finding.repo, finding.path, finding.rule, finding.source)], taken)
        if index is None:
            result.new.append(finding)
        else:
            result.matched.append((finding, unmatched_rows[index]))
    result.gone = [row for index, row in enumerate(unmatched_rows) if index not in taken]
    return result


def _take(candidates: list[int], taken: set[int]) -> Optional[int]:
    for index in candidates:
        if index not in taken:
            taken.add(index)
            return index
    return None


def tally(rows: Iterable[LedgerRow]) -> tuple[dict[str, Tally], Tally]:
    """Verdict counts per rule and overall."""
    per_rule: dict[str, Tally] = defaultdict(Tally)
    overall = Tally()
    for row in rows:
        per_rule[row.rule].add(row.verdict)
        overall.add(row.verdict)
    return dict(sorted(per_rule.items())), overall


def precision_table(per_rule: dict[str, Tally], overall: Tally) -> str:
    lines = ["| rule | findings | TP | FP | debatable | precision TP/(TP+FP) |",
             "|---|---:|---:|---:|---:|---:|"]
    for rule, counts in [*per_rule.items(), ("overall", overall)]:
        total = counts.tp + counts.fp + counts.debatable
        lines.append(f"| {rule} | {total} | {counts.tp} | {counts.fp} | {counts.debatable} "
                     f"| {_percent(counts.precision)} |")
    return "\n".join(lines)


def _percent(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


# --- trees -----------------------------------------------------------------------------

def find_git_dir(git_dirs: Path, repo: Repo) -> Optional[Path]:
    for candidate in (git_dirs / repo.folder / "repo", git_dirs / repo.folder,
                      git_dirs / f"{repo.folder}.git"):
        if (candidate / "HEAD").is_file() and (candidate / "objects").is_dir():
            return candidate
    return None


def materialize(git_dir: Path, commit: str, dest: Path) -> int:
    """Write the commit's files under dest; blobs a snapshot lacks (large files) are skipped.

    Returns how many files were skipped for a missing blob.
    """
    git = ["git", f"--git-dir={git_dir}"]
    subprocess.run([*git, "cat-file", "-e", f"{commit}^{{commit}}"], check=True,
                   capture_output=True)
    listing = subprocess.run([*git, "ls-tree", "-r", "-z", commit], check=True,
                             capture_output=True).stdout.split(b"\0")
    entries = []
    for entry in filter(None, listing):
        meta, path = entry.split(b"\t", 1)
        mode, kind, sha = meta.split()
        if kind == b"blob":
            entries.append((mode.decode(), sha.decode(), os.fsdecode(path)))
    batch = subprocess.run([*git, "cat-file", "--batch"], check=True, capture_output=True,
                           input="".join(f"{sha}\n" for _, sha, _ in entries).encode()).stdout
    skipped = 0
    offset = 0
    for mode, sha, path in entries:
        header_end = batch.index(b"\n", offset)
        header = batch[offset:header_end].split()
        offset = header_end + 1
        if header[-1] == b"missing":
            skipped += 1
            continue
        size = int(header[2])
        content = batch[offset:offset + size]
        offset += size + 1
        _write_entry(dest / path, mode, content)
    return skipped


def _write_entry(target: Path, mode: str, content: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if mode == "120000":
        target.symlink_to(os.fsdecode(content))
        return
    target.write_bytes(content)
    if mode == "100755":
        target.chmod(0o755)


def prepare_trees(repos: Sequence[Repo], trees: Path, git_dirs: Optional[Path]) -> list[str]:
    """Extract the trees that are missing; returns one problem line per tree still missing."""
    problems = []
    for repo in repos:
        tree = trees / repo.folder
        if tree.is_dir() and any(tree.iterdir()):
            continue
        git_dir = find_git_dir(git_dirs, repo) if git_dirs else None
        if git_dir is None:
            problems.append(f"{repo.name}: no tree at {tree}")
            continue
        tree.mkdir(parents=True, exist_ok=True)
        try:
            skipped = materialize(git_dir, repo.commit, tree)
        except subprocess.CalledProcessError as error:
            shutil.rmtree(tree, ignore_errors=True)
            problems.append(f"{repo.name}: cannot extract {repo.commit} from {git_dir}: "
                            f"{error.stderr.decode(errors='replace').strip()}")
            continue
        note = f" ({skipped} large files absent from the snapshot)" if skipped else ""
        print(f"extracted {repo.name} {repo.commit[:12]} into {tree}{note}", file=sys.stderr)
    return problems


# --- running mpfix ---------------------------------------------------------------------

def mpfix_command() -> list[str]:
    script = Path(sys.executable).with_name("mpfix")
    return [str(script)] if script.exists() else [sys.executable, "-I", "-m", "mpfix"]


def mpfix_at_revision(revision: str, dest: Path) -> tuple[list[str], str]:
    """A command running mpfix as committed at `revision` (not the working tree's edits).

    Returns the command and the full commit hash.
    """
    checkout = HERE.parent.parent
    commit = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--verify",
                             f"{revision}^{{commit}}"], check=True, capture_output=True,
                            text=True).stdout.strip()
    archive = subprocess.run(["git", "-C", str(checkout), "archive", commit, "mpfix", "codemods"],
                             check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest)
    # pyproject.toml installs codemods/ as mpfix.codemods.
    (dest / "codemods").rename(dest / "mpfix" / "codemods")
    boot = (f"import sys; sys.path.insert(0, {str(dest)!r}); "
            "from mpfix.cli.app import main; main(prog_name='mpfix')")
    return [sys.executable, "-I", "-c", boot], commit


def check_paths(repo: Repo, tree: Path) -> list[str]:
    paths: list[str] = []
    for pattern in repo.paths:
        if glob.has_magic(pattern):
            paths.extend(sorted(path.relative_to(tree).as_posix() for path in tree.glob(pattern)))
        else:
            paths.append(pattern)
    return paths


def run_mpfix(repo: Repo, tree: Path, command: Sequence[str], jobs: Optional[int]) -> list[Finding]:
    args = [*command, "check", "--no-cache", "--output-format", "json", "--quiet"]
    if jobs:
        args += ["-j", str(jobs)]
    completed = subprocess.run([*args, *check_paths(repo, tree)], cwd=tree,
                               capture_output=True, text=True)
    try:
        reported = json.loads(completed.stdout)
    except json.JSONDecodeError:
        tail = completed.stderr.strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"{repo.name}: mpfix exited {completed.returncode}: {tail[0]}")
    return [finding_from_json(repo, tree, item) for item in reported]


def finding_from_json(repo: Repo, tree: Path, item: dict) -> Finding:
    """A notebook's finding is recorded as `nb.ipynb:cell N` and the line in that cell."""
    path = Path(os.path.relpath(tree / item["path"], tree)).as_posix()
    line, cell = int(item["line"]), item.get("cell")
    source = source_line(tree / path, line, cell)
    if cell is not None:
        path = f"{path}:cell {cell}"
    return Finding(repo=repo.name, path=path, line=line, rule=item["code"], source=source)


def source_line(path: Path, line: int, cell: Optional[int] = None) -> str:
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
        if cell is not None:
            source = json.loads(text)["cells"][cell - 1]["source"]
            text = "".join(source) if isinstance(source, list) else source
    except (OSError, ValueError, LookupError, TypeError):
        return ""
    lines = text.splitlines()
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


# --- the report ------------------------------------------------------------------------

def report(comparison: Comparison, commits: dict[str, str]) -> str:
    out = []
    if comparison.new:
        out.append(f"{len(comparison.new)} new findings, not in the ledger (judge them):")
        out += [f"  {f.repo} {f.path}:{f.line} {f.rule}  {f.source}" for f in comparison.new]
    if comparison.gone:
        out.append(f"{len(comparison.gone)} ledger rows no longer reported:")
        out += [f"  {r.repo} {r.path}:{r.line} {r.rule} [{r.verdict}] {r.reason}"
                for r in comparison.gone]
    moved = [(f, r) for f, r in comparison.matched if f.line != r.line]
    if moved:
        out.append(f"{len(moved)} findings matched on their source text at another line:")
        out += [f"  {f.repo} {f.path}:{r.line}->{f.line} {f.rule}" for f, r in moved]
    per_rule, overall = tally(row for _, row in comparison.matched)
    repos = Counter(f.repo for f, _ in comparison.matched)
    out.append(f"precision on {len(commits)} repositories ({len(repos)} with findings), "
               f"{len(comparison.matched)} judged findings:")
    out.append(precision_table(per_rule, overall))
    return "\n".join(out)


def pruned_ledger(ledger: Sequence[LedgerRow], comparison: Comparison,
                  checked: set[str]) -> list[LedgerRow]:
    """The ledger without the checked repositories' vanished rows; moved rows take their new line."""
    kept = [row for row in ledger if row.repo not in checked]
    kept += [dataclasses.replace(row, line=finding.line, source=finding.source)
             for finding, row in comparison.matched]
    return sorted(kept, key=lambda row: (row.repo.lower(), row.path, row.line, row.rule))


def draft_rows(findings: Iterable[Finding], commits: dict[str, str]) -> list[LedgerRow]:
    return [LedgerRow(repo=f.repo, commit=commits[f.repo], path=f.path, line=f.line,
                      rule=f.rule, verdict="", reason="", source=f.source) for f in findings]


def run_all(repos: Sequence[Repo], trees: Path, command: Sequence[str],
            jobs: Optional[int]) -> list[Finding]:
    findings: list[Finding] = []
    for repo in repos:
        found = run_mpfix(repo, trees / repo.folder, command, jobs)
        print(f"{repo.name}: {len(found)} findings", file=sys.stderr)
        findings += found
    return findings


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trees", type=Path, required=True,
                        help="directory of extracted trees, DIR/<owner>+<name>")
    parser.add_argument("--git-dirs", type=Path, default=None,
                        help="directory of bare git snapshots to extract missing trees from")
    parser.add_argument("--repo", action="append", default=[],
                        help="only this repository (owner/name; repeatable)")
    parser.add_argument("--repos-file", type=Path, default=REPOS_FILE)
    parser.add_argument("--ledger", type=Path, default=LEDGER_FILE)
    parser.add_argument("--jobs", "-j", type=int, default=None, help="mpfix -j")
    parser.add_argument("--mpfix-rev", default=None,
                        help="run mpfix as committed at this git revision of its checkout "
                             "(e.g. HEAD), not the working tree")
    parser.add_argument("--draft", type=Path, default=None,
                        help="write the new findings here as ledger rows with an empty verdict")
    parser.add_argument("--prune", action="store_true",
                        help="drop the rows no longer reported from the ledger, and move rows "
                             "matched at another line to it")
    args = parser.parse_args(argv)

    repos = load_repos(args.repos_file)
    unknown = set(args.repo) - {repo.name for repo in repos}
    if unknown:
        print(f"not in {args.repos_file.name}: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    if args.repo:
        repos = [repo for repo in repos if repo.name in args.repo]
    problems = prepare_trees(repos, args.trees, args.git_dirs)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        print(HOW_TO_GET_TREES, file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="mpfix-precision-") as scratch:
        if args.mpfix_rev:
            command, commit = mpfix_at_revision(args.mpfix_rev, Path(scratch))
            print(f"mpfix at commit {commit}", file=sys.stderr)
        else:
            command = mpfix_command()
        try:
            findings = run_all(repos, args.trees, command, args.jobs)
        except RuntimeError as error:
            print(error, file=sys.stderr)
            return 2

    names = {repo.name for repo in repos}
    full_ledger = load_ledger(args.ledger)
    comparison = compare(findings, [row for row in full_ledger if row.repo in names])
    commits = {repo.name: repo.commit for repo in repos}
    print(report(comparison, commits))
    if args.draft:
        write_ledger(draft_rows(comparison.new, commits), args.draft)
    if args.prune:
        write_ledger(pruned_ledger(full_ledger, comparison, names), args.ledger)
    return 1 if comparison.new or comparison.gone else 0


if __name__ == "__main__":
    sys.exit(main())
