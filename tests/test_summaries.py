"""Cross-module summaries (mpfix/analysis/summaries.py) and their use in a run
(mpfix/engine/crossmodule.py): what a function is said to do, and what is never guessed."""

from __future__ import annotations

from pathlib import Path

from mpfix.analysis.starters import StarterTable
from mpfix.analysis.summaries import extract
from mpfix.analysis.summarylinks import link
from mpfix.engine import runner
from mpfix.engine.cache import Cache
from mpfix.engine.crossmodule import with_summaries
from mpfix.settings import FileSettings

MP001 = FileSettings(rules=("MP001",))


def _summary(source: str):  # type: ignore[no-untyped-def]
    summary = extract(source.encode(), StarterTable())
    assert summary is not None
    return summary.functions


def test_a_pool_opened_through_a_context_starts_processes_and_its_task_is_handed_over() -> None:
    functions = _summary(
        "import multiprocessing as mp\n"
        "def run(fn, items):\n"
        "    ctx = mp.get_context('spawn')\n"
        "    with ctx.Pool(2) as pool:\n"
        "        return pool.map(fn, items)\n")
    assert functions["run"].starts and functions["run"].hands == {"fn"}


def test_a_by_value_family_takes_any_callable() -> None:
    functions = _summary(
        "import multiprocess\n"
        "def run(fn):\n"
        "    with multiprocess.Pool(2) as pool:\n"
        "        return pool.map(fn, [1])\n")
    assert functions["run"].starts and not functions["run"].hands


def test_threads_and_error_paths_start_nothing() -> None:
    functions = _summary(
        "import threading\n"
        "from multiprocessing import Process\n"
        "def run(fn):\n"
        "    threading.Thread(target=fn).start()\n"
        "def check(ok):\n"
        "    if not ok:\n"
        "        Process(target=print).start()\n"
        "        raise RuntimeError('diagnosed in a child')\n"
        "    try:\n"
        "        pass\n"
        "    except OSError:\n"
        "        Process(target=print).start()\n")
    assert not functions["run"].starts and not functions["run"].hands
    assert not functions["check"].starts


def test_links_follow_relative_imports_and_re_exports_and_parameters_passed_on() -> None:
    work = extract(b"from multiprocessing import Pool\n"
                   b"def run(fn):\n    with Pool() as p:\n        p.map(fn, [1])\n", StarterTable())
    api = extract(b"from .work import run\n"
                  b"def submit(task):\n    return run(task)\n", StarterTable())
    package = extract(b"from .api import submit\n", StarterTable())
    assert work and api and package
    linked = link({"pkg.work": (work, False), "pkg.api": (api, False), "pkg": (package, True)})
    assert linked.starters["pkg.api.submit"] == "starts-processes"
    assert linked.starters["pkg.submit"] == "starts-processes"  # the re-export
    assert linked.handoffs["pkg.submit"] == ("task", 0)


def _project(tmp_path: Path, files: dict[str, str]) -> list[Path]:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return sorted(tmp_path.rglob("*.py"))


def test_an_import_the_environment_cannot_resolve_is_not_guessed(tmp_path: Path) -> None:
    files = _project(tmp_path, {"main.py": "from parallel_helpers import run_all\nrun_all()\n"})
    report = runner.run(files, lambda path: MP001, fix=False, jobs=1, cache=None,
                        environment=[str(tmp_path / "nowhere")])
    assert not [f for r in report.results for f in r.findings]


def test_an_installed_helper_that_starts_processes_is_found_and_cached(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _project(site, {"helpers/__init__.py": "from .pool import run_all\n",
                    "helpers/pool.py": "from concurrent.futures import ProcessPoolExecutor\n"
                                       "def run_all(f, xs):\n"
                                       "    with ProcessPoolExecutor() as e:\n"
                                       "        return list(e.map(f, xs))\n"})
    project = tmp_path / "project"
    files = _project(project, {"main.py": "import helpers\nprint(helpers.run_all(abs, [-1]))\n"})
    cache = Cache(tmp_path / "cache", "test", code="test")
    for _ in range(2):  # the second run reads the summaries back
        report = runner.run(files, lambda path: MP001, fix=False, jobs=1, cache=cache,
                            environment=[str(site)])
        assert [(f.line, f.code) for r in report.results for f in r.findings] == [(2, "MP001")]


def test_a_script_checked_alone_finds_the_project_package_it_imports(
        tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A pre-commit call passes only the changed script: the project's own packages are
    found from its root, and their modules that start processes are summarised."""
    _project(tmp_path, {"pyproject.toml": "",
                        "pkg/__init__.py": "",
                        "pkg/cli.py": "from pkg.work import run\ndef main():\n    run()\n",
                        "pkg/work.py": "import multiprocessing\n"
                                       "def run():\n"
                                       "    with multiprocessing.Pool(2) as pool:\n"
                                       "        pool.map(abs, [-1])\n",
                        "main.py": "from pkg.cli import main\nmain()\n"})
    monkeypatch.chdir(tmp_path)
    report = runner.run([Path("main.py")], lambda path: MP001, fix=False, jobs=1, cache=None)
    assert [(f.line, f.code) for r in report.results for f in r.findings] == [(2, "MP001")]


def test_the_family_a_function_starts_processes_through_travels_to_its_callers() -> None:
    helper = extract(
        b"import billiard\n"
        b"from multiprocess import Process\n"
        b"def run(fn, items):\n"
        b"    ctx = billiard.get_context('spawn')\n"
        b"    with ctx.Pool(2) as pool:\n"
        b"        return pool.map(fn, items)\n"
        b"def watch():\n"
        b"    p = Process(target=print)\n"
        b"    p.start()\n", StarterTable())
    caller = extract(
        b"from pkg.helper import run, watch\n"
        b"import joblib\n"
        b"def main():\n"
        b"    watch()\n"
        b"    return run(print, [1])\n"
        b"def loky():\n"
        b"    return joblib.Parallel(n_jobs=-1)(x for x in [])\n"
        b"def legacy():\n"
        b"    return joblib.Parallel(n_jobs=-1, backend='multiprocessing')(x for x in [])\n",
        StarterTable())
    assert helper is not None and caller is not None
    assert helper.functions["run"].families == {"billiard"}
    assert helper.functions["watch"].families == {"multiprocess"}
    assert not caller.functions["loky"].starts
    assert caller.functions["legacy"].families == {"multiprocessing"}
    linked = link({"pkg.helper": (helper, False), "pkg.caller": (caller, False)})
    assert linked.families["pkg.caller.main"] == ["billiard", "multiprocess"]
    assert "pkg.caller.loky" not in linked.families


def test_parameters_a_function_iterates_and_the_ones_it_only_looks_at() -> None:
    helper = extract(
        b"import itertools\n"
        b"def consume(loader):\n"
        b"    for batch in loader:\n"
        b"        pass\n"
        b"def peek(loader):\n"
        b"    return next(iter(loader))\n"
        b"def head(loader, n):\n"
        b"    return list(itertools.islice(loader, n))\n"
        b"def describe(loader, fn):\n"
        b"    print(len(loader), repr(loader))\n"
        b"    return map(fn, [1])\n"
        b"def keep(loader):\n"
        b"    return [loader]\n"
        b"def passes(model, data):\n"
        b"    consume(data)\n", StarterTable())
    assert helper is not None
    iterated = {name: f.iterates for name, f in helper.functions.items()}
    assert iterated == {"consume": {"loader"}, "peek": {"loader"}, "head": {"loader"},
                        "describe": set(), "keep": set(), "passes": set()}
    linked = link({"pkg.helper": (helper, False)})
    assert linked.iterates["pkg.helper.passes"] == [("data", 1)]
    assert "pkg.helper.keep" not in linked.iterates


def test_parameters_a_function_puts_on_or_gets_from_as_a_queue() -> None:
    helper = extract(
        b"def drain(results, count):\n"
        b"    return [results.get() for _ in range(count)]\n"
        b"def fill(out, items):\n"
        b"    for item in items:\n"
        b"        out.put_nowait(item)\n"
        b"def collect(pending, results, count):\n"
        b"    pending.append(count)\n"
        b"    return sorted(drain(results, count))\n"
        b"def nested(queue):\n"
        b"    def inner():\n"
        b"        queue.get()\n"
        b"    return inner\n", StarterTable())
    assert helper is not None
    assert {name: (f.puts, f.gets) for name, f in helper.functions.items()} == {
        "drain": (set(), {"results"}), "fill": ({"out"}, set()),
        "collect": (set(), set()), "nested": (set(), set())}
    linked = link({"pkg.helper": (helper, False)})
    assert linked.gets["pkg.helper.collect"] == [("results", 1)]
    assert linked.puts["pkg.helper.fill"] == [("out", 0)]
    assert "pkg.helper.nested" not in linked.gets
    table = StarterTable(facts=[("pkg.helper.collect", "gets", "results:1")])
    assert [(h.name, h.position) for h in table.queue_parameters("pkg.helper.collect", "gets")] \
        == [("results", 1)]
    assert table.queue_parameters("pkg.helper.collect", "puts") == []


def test_a_function_reads_its_module_globals_itself_or_through_its_module_helpers() -> None:
    """What MP002 asks before it reports a parent's change to a worker module's global."""
    source = (b"SCALE = 1\nVERBOSE = False\n\n"
              b"def _scaled(v):\n    return v * SCALE\n\n"
              b"def work(values, out):\n    total = 0\n    for v in values:\n"
              b"        total += _scaled(v)\n    out.put(total)\n\n"
              b"def bump():\n    global SCALE\n    SCALE = SCALE + 1\n")
    summary = extract(source, StarterTable())
    assert summary is not None
    assert summary.functions["work"].reads == {"_scaled"}  # its locals and parameters are not
    assert summary.functions["bump"].reads == {"SCALE"}
    linked = link({"jobs.worker": (summary, False)})
    assert "SCALE" in linked.reads["jobs.worker.work"]
    assert "VERBOSE" not in linked.reads["jobs.worker.work"]


def _reads_facts(tmp_path: Path, main: str) -> list[tuple[str, str, str]]:
    worker = "CONFIG = 1\n\ndef work(q):\n    q.put(CONFIG)\n"
    files = _project(tmp_path, {"worker.py": worker, "main.py": main})
    settings = FileSettings(rules=("MP002",))
    entries = [(index, path, path.read_bytes(), settings) for index, path in enumerate(files)]
    candidates = [entry for entry in entries if entry[1].name == "main.py"]
    skipped = [entry for entry in entries if entry[1].name == "worker.py"]
    chosen, _ = with_summaries(candidates, skipped, None, environment=[])
    return [fact for fact in chosen[0][3].summary_facts if fact[1] == "reads"]


def test_a_parent_setting_a_module_global_gets_what_the_modules_functions_read(
        tmp_path: Path) -> None:
    main = ("import multiprocessing\nimport worker\n\nworker.CONFIG = 2\n"
            "p = multiprocessing.Process(target=worker.work, args=(multiprocessing.Queue(),))\n")
    assert ("worker.work", "reads", "CONFIG") in _reads_facts(tmp_path, main)


def test_setting_an_instance_or_class_attribute_sets_no_module_global(tmp_path: Path) -> None:
    main = ("import multiprocessing\nimport worker\n\nclass Job:\n    def __init__(self):\n"
            "        self.CONFIG = 2\n\n    @classmethod\n    def reset(cls):\n"
            "        cls.CONFIG = 3\n\n"
            "p = multiprocessing.Process(target=worker.work, args=(multiprocessing.Queue(),))\n")
    assert _reads_facts(tmp_path, main) == []
