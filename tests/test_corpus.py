"""mpfix on real code nobody here wrote: the standard library and the site-packages of
the interpreter running the tests (about 3,800 files), copied to a temporary directory.

`mpfix fix --unsafe-fixes` with every registered rule must finish without a
traceback; every file it changes must still parse and compile, every other file
must stay byte for byte (and never be rewritten), a second run must change
nothing, and files libcst cannot read must be reported as errors (exit 2)
without stopping the others. The command line parses only what its prefilter
lets through, so the engine is also run directly, prefilter bypassed, on every
file that mentions multiprocessing, `Pool` or `Process` and on every file
CPython itself cannot compile; no finding may vanish in its fix rounds without
being fixed (tests/test_findings_survive.py).
"""

from __future__ import annotations

import ast
import importlib.util
import multiprocessing
import os
import re
import shutil
import sysconfig
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

import libcst
import pytest
from finding_rounds import describe, lost_in
from safety_support import (
    GUARDED_POOL,
    UNGUARDED_POOL,
    assert_no_traceback,
    run_mpfix,
    snapshot,
)

from mpfix.engine.crossmodule import with_summaries
from mpfix.engine.fixer import FixRound, run_rules
from mpfix.engine.pipeline import needs_parse
from mpfix.engine.registry import ALL_CODES
from mpfix.settings import FileSettings

EVERY_RULE = FileSettings(rules=ALL_CODES, unsafe_fixes=True)
MENTIONS = re.compile(rb"multiprocess|billiard|ProcessPoolExecutor|\bPool\b|\bProcess\b")
READ_ERRORS = ("cannot parse", "cannot decode")
# Appended to the files CPython cannot compile, so that the prefilter sends them to the parser.
SEED_TAIL = b"\nimport multiprocessing\npool = multiprocessing.Pool(2)\n"


@pytest.fixture(scope="module")
def workers() -> Iterator[ProcessPoolExecutor]:
    """Two processes for the in-process checks (the machines have two cores)."""
    with ProcessPoolExecutor(max_workers=2,
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        yield pool


def _compiles(data: bytes, path: str = "<corpus>") -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(data, path, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def _file_compiles(path: str) -> bool:
    return _compiles(Path(path).read_bytes(), path)


def _sources() -> tuple[Path, list[Path]]:
    """The standard library, and the site-packages of the running interpreter (a venv's)."""
    paths = sysconfig.get_paths()
    site = {Path(paths[key]).resolve() for key in ("purelib", "platlib")}
    return Path(paths["stdlib"]).resolve(), sorted(path for path in site if path.is_dir())


def _copy_tree(source: Path, target: Path, skip: set[Path]) -> Iterator[tuple[Path, Path]]:
    """Copies the tree's Python files; yields each (original, copy)."""
    for directory, subdirectories, files in os.walk(source):
        here = Path(directory)
        subdirectories[:] = [name for name in subdirectories
                             if name != "__pycache__" and (here / name).resolve() not in skip]
        for name in files:
            path = here / name
            if not name.endswith(".py") or path.is_symlink() or not path.is_file():
                continue
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)
            yield path, destination


def _compiled_by_cpython(source: Path) -> bool:
    """Whether this interpreter's bytecode cache holds `source` compiled, as the import
    system trusts it (a timestamp pyc recording the file's modification time and size):
    then it compiles, and the corpus need not compile it again to know. Nearly every file
    of the standard library and site-packages has one; the others are compiled here."""
    try:
        with open(importlib.util.cache_from_source(str(source)), "rb") as cached:
            header = cached.read(16)
        status = source.stat()
    except (OSError, ValueError, NotImplementedError):
        return False
    return (len(header) == 16 and header[:4] == importlib.util.MAGIC_NUMBER
            and int.from_bytes(header[4:8], "little") == 0
            and int.from_bytes(header[8:12], "little") == int(status.st_mtime) & 0xFFFFFFFF
            and int.from_bytes(header[12:16], "little") == status.st_size & 0xFFFFFFFF)


@dataclass
class Corpus:
    root: Path
    original: dict[Path, bytes] = field(default_factory=dict)
    not_compiling: list[Path] = field(default_factory=list)
    seeds: list[Path] = field(default_factory=list)
    fixable_seed: Optional[Path] = None


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory, workers: ProcessPoolExecutor) -> Corpus:
    root = tmp_path_factory.mktemp("corpus") / "corpus"
    stdlib, site = _sources()
    # The base interpreter's own site-packages is not the running interpreter's.
    copied = list(_copy_tree(stdlib, root / "stdlib",
                             {*site, stdlib / "site-packages", stdlib / "dist-packages"}))
    for number, directory in enumerate(site):
        copied += _copy_tree(directory, root / f"site{number}", set())
    found = Corpus(root)
    paths = sorted(root.rglob("*.py"))
    found.original = {path: path.read_bytes() for path in paths}
    compiled = {copy for original, copy in copied if _compiled_by_cpython(original)}
    unproven = [path for path in paths if path not in compiled]
    compiling = workers.map(_file_compiles, map(str, unproven), chunksize=4)
    found.not_compiling = [path for path, compiles in zip(unproven, compiling) if not compiles]
    seeds = root / "seeds"
    seeds.mkdir()
    for number, path in enumerate(found.not_compiling):
        seed = seeds / f"seed{number:03d}_{path.name}"
        seed.write_bytes(found.original[path] + SEED_TAIL)
        found.seeds.append(seed)
    found.fixable_seed = seeds / "unguarded_pool.py"
    found.fixable_seed.write_text(UNGUARDED_POOL)
    for path in [*found.seeds, found.fixable_seed]:
        found.original[path] = path.read_bytes()
    assert len(found.original) > 1500, "the corpus should hold the whole standard library"
    return found


def _errors(stderr: str, root: Path) -> dict[Path, str]:
    errors = {}
    for line in stderr.splitlines():
        path, separator, message = line.partition(": error: ")
        if separator:
            errors[root.parent / path] = message
    return errors


def parsed_files(paths: list[Path], contents: dict) -> set[Path]:
    """The files a run parses: those the prefilter lets through, and those the cross-module
    summaries promote (a file that calls another module's function that starts processes)."""
    entries = [(index, path, contents[path][0], EVERY_RULE) for index, path in enumerate(paths)]
    candidates = [entry for entry in entries if needs_parse(entry[2], EVERY_RULE)]
    skipped = [entry for entry in entries if not needs_parse(entry[2], EVERY_RULE)]
    _, promoted = with_summaries(candidates, skipped, None)
    return {entry[1] for entry in candidates} | {paths[index] for index in promoted}


def test_fix_every_rule_on_the_corpus(corpus: Corpus) -> None:
    root = corpus.root
    before = snapshot(corpus.original)
    command = ("fix", "--unsafe-fixes", "--no-cache", "-j", "2", root.name)

    first = run_mpfix(*command, cwd=root.parent, timeout=1800)

    assert_no_traceback(first)
    assert first.returncode == 2, first.stderr[-3000:]
    errors = _errors(first.stderr, root)
    assert errors, "the unparsable seeds must be reported"
    assert set(errors) <= set(corpus.seeds), errors
    assert all(message.startswith(READ_ERRORS) for message in errors.values()), errors
    expected_errors = {seed for seed in corpus.seeds
                       if run_rules(corpus.original[seed], EVERY_RULE, fix=True).error}
    assert set(errors) == expected_errors

    after = snapshot(corpus.original)
    changed = [path for path in corpus.original if after[path][0] != before[path][0]]
    parsed = parsed_files(list(corpus.original), before)
    for path in changed:
        new = after[path][0]
        libcst.parse_module(new)
        if _compiles(before[path][0]):
            compile(new, str(path), "exec", dont_inherit=True)
        assert path in parsed, f"{path} changed, yet never parsed"
        assert path not in errors
    assert corpus.fixable_seed in changed  # the errors did not stop the other files
    assert corpus.fixable_seed.read_text() == GUARDED_POOL
    assert f"{len(changed)} changed" in first.stderr
    for path in set(corpus.original) - set(changed):
        assert after[path] == before[path], f"{path} was rewritten"
    assert not list(root.rglob("*.mpfix-tmp"))

    second = run_mpfix(*command, cwd=root.parent, timeout=1800)

    assert_no_traceback(second)
    assert second.returncode == 2
    assert set(_errors(second.stderr, root)) == set(errors)
    assert ", 0 changed" in second.stderr
    assert snapshot(corpus.original) == after


@dataclass
class Examined:
    path: str
    compiles: bool
    error: Optional[str]
    changed: bool
    problems: list[str]


def _examine(path: str, data: bytes, compiles: bool) -> Examined:
    """The engine on one file's original bytes (an earlier test may have fixed the copy on
    disk), prefilter bypassed; runs in a worker process. Its fix rounds are followed as
    tests/test_findings_survive.py follows the fixtures': no finding may vanish unfixed."""
    rounds: list[FixRound] = []
    result = run_rules(data, EVERY_RULE, path=path, fix=True, observe=rounds.append)
    problems = [describe(path, number, rounds[number], finding)
                for number, finding in lost_in(rounds)] if not result.error else []
    if compiles and result.error:
        problems.append(f"error on a file CPython compiles: {result.error}")
    if not compiles and result.error and not result.error.startswith(READ_ERRORS):
        problems.append(f"unexpected error: {result.error}")
    new = result.new_source
    if new is not None:
        try:
            libcst.parse_module(new)
        except Exception as error:  # noqa: BLE001 - reported as a test failure
            problems.append(f"fixed code does not parse: {error}")
        if compiles and not _compiles(new, path):
            problems.append("fixed code does not compile")
        again = run_rules(new, EVERY_RULE, path=path, fix=True)
        if again.new_source is not None:
            problems.append(f"a second fix changes it again: {sorted(again.fixed)}")
    return Examined(path, compiles, result.error, new is not None, problems)


def _known_to_compile(corpus: Corpus, path: Path) -> bool:
    """What the corpus found for a copied file; the seeds, made here, are compiled."""
    if path in corpus.seeds or path == corpus.fixable_seed:
        return _compiles(corpus.original[path], str(path))
    return path not in corpus.not_compiling


def test_engine_on_every_file_that_mentions_processes(corpus: Corpus,
                                                     workers: ProcessPoolExecutor) -> None:
    chosen = [path for path, data in corpus.original.items()
              if MENTIONS.search(data) or path in corpus.not_compiling]
    chosen.sort(key=lambda path: len(corpus.original[path]), reverse=True)  # largest first
    examined = list(workers.map(_examine, map(str, chosen),
                                [corpus.original[path] for path in chosen],
                                [_known_to_compile(corpus, path) for path in chosen],
                                chunksize=2))

    assert len(examined) > 100
    problems = {e.path: e.problems for e in examined if e.problems}
    assert not problems, problems
    unreadable = [e for e in examined if e.error]
    assert unreadable, "the corpus has files libcst cannot read; they must be errors"
    assert all(not e.compiles for e in unreadable)
    assert any(e.changed for e in examined), "no rule fixed anything in the corpus"
