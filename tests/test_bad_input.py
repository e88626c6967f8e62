"""Bad input: one clear line and the documented exit code, never a traceback or a crash.

Exit codes (README, `mpfix --help`): 0 clean, 1 findings or changes, 2 usage,
configuration or parse errors.

Most cases run the command line in this process (run_mpfix_in_process); a real
`python -m mpfix` process runs every bad file at once, the stdin case, the files too
deep for the parser (a crash would kill only a process of its own) and the files that
could hang.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from safety_support import (
    GUARDED_POOL,
    UNGUARDED_POOL,
    assert_no_traceback,
    error_lines,
    run_mpfix,
    run_mpfix_in_process,
    write_files,
)

EXIT_CLEAN, EXIT_FOUND, EXIT_ERROR = 0, 1, 2
MULTIPROCESSING = b"import multiprocessing\npool = multiprocessing.Pool(2)\n"


def _one_error(completed: subprocess.CompletedProcess, path: str, message: str) -> None:
    """Exactly one error line, about `path`, starting with `message`."""
    assert_no_traceback(completed)
    lines = error_lines(completed)
    assert len(lines) == 1 and lines[0].startswith(f"{path}: error: {message}"), completed.stderr


# Paths ---------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["check", "fix"])
def test_nonexistent_path(tmp_path: Path, command: str) -> None:
    completed = run_mpfix_in_process(command, "--no-cache", "missing.py", cwd=tmp_path)
    assert completed.returncode == EXIT_ERROR
    assert completed.stderr.splitlines() == ["mpfix: error: missing.py: no such file or directory"]
    assert completed.stdout == ""


def test_nonexistent_path_beside_a_real_one_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / "script.py").write_text(UNGUARDED_POOL)
    completed = run_mpfix_in_process("fix", "--no-cache", "script.py", "missing", cwd=tmp_path)
    assert completed.returncode == EXIT_ERROR
    assert completed.stderr.splitlines() == ["mpfix: error: missing: no such file or directory"]
    assert (tmp_path / "script.py").read_text() == UNGUARDED_POOL


def test_directory_without_python_files(tmp_path: Path) -> None:
    write_files(tmp_path / "docs", {"README.md": "# hello\n", "data.json": "{}\n"})
    completed = run_mpfix_in_process("check", "--no-cache", "docs", cwd=tmp_path)
    assert_no_traceback(completed)
    assert completed.returncode == EXIT_CLEAN
    assert completed.stdout == ""
    assert completed.stderr.splitlines()[0].startswith("0 files scanned")


def test_no_paths_at_all(tmp_path: Path) -> None:
    # `check` reads the current directory, as ruff does; `fix` writes, so it wants paths.
    (tmp_path / "script.py").write_text(UNGUARDED_POOL)
    checked = run_mpfix_in_process("check", "--no-cache", cwd=tmp_path)
    assert checked.returncode == 1 and "script.py" in checked.stdout
    completed = run_mpfix_in_process("fix", cwd=tmp_path)
    assert completed.returncode == EXIT_ERROR
    assert len(completed.stderr.splitlines()) == 1
    assert completed.stderr.startswith("mpfix: error: no paths given")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_named_pipe_in_a_tree_is_skipped_not_read(tmp_path: Path) -> None:
    """Reading a FIFO blocks until someone writes to it: the walk must not open it."""
    os.mkfifo(tmp_path / "pipe.py")
    (tmp_path / "script.py").write_text(UNGUARDED_POOL)
    completed = run_mpfix("fix", "--no-cache", ".", cwd=tmp_path, timeout=120)
    assert completed.returncode == EXIT_FOUND, completed.stderr
    assert (tmp_path / "script.py").read_text() == GUARDED_POOL


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges")
def test_a_dangling_symlink_is_one_error(tmp_path: Path) -> None:
    (tmp_path / "dangling.py").symlink_to("nowhere.py")
    (tmp_path / "script.py").write_text(UNGUARDED_POOL)
    completed = run_mpfix_in_process("fix", "--no-cache", ".", cwd=tmp_path)
    assert completed.returncode == EXIT_ERROR
    _one_error(completed, "dangling.py", "cannot read: No such file or directory")
    assert (tmp_path / "script.py").read_text() == GUARDED_POOL


# File contents ---------------------------------------------------------------------------

CONTENTS = {
    # name: (bytes, exit code of `check`, the start of its error line or None)
    "empty.py": (b"", EXIT_CLEAN, None),
    "blank_lines.py": (b"\n\n\n", EXIT_CLEAN, None),
    "binary.py": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), EXIT_ERROR,
                  "not a Python source file (binary content)"),
    "null_byte.py": (MULTIPROCESSING + b'name = "a\x00b"\n', EXIT_ERROR,
                     "not a Python source file (binary content)"),
    "undecodable.py": (MULTIPROCESSING + b'name = "\xff\xfe caf\xe9"\n', EXIT_ERROR,
                       "cannot decode: 'utf-8' codec can't decode byte 0xff"),
    "latin1_without_cookie.py": (MULTIPROCESSING + b'name = "caf\xe9"\n', EXIT_ERROR,
                                 "cannot decode: 'utf-8' codec can't decode byte 0xe9"),
    "unknown_cookie.py": (b"# -*- coding: klingon -*-\n" + MULTIPROCESSING, EXIT_ERROR,
                          "cannot decode: unknown encoding: klingon"),
    "undecodable_unrelated.py": (b'name = "\xff\xfe"\n', EXIT_CLEAN, None),  # never parsed
    "python2.py": (MULTIPROCESSING + b'print "hello"\n', EXIT_ERROR, "cannot parse: "),
    "unclosed.py": (MULTIPROCESSING + b"pool.map(abs, [1,\n", EXIT_ERROR, "cannot parse: "),
    "unguarded.py": (UNGUARDED_POOL.encode(), EXIT_FOUND, None),
}


@pytest.mark.parametrize("name", sorted(CONTENTS))
def test_file_contents(tmp_path: Path, name: str) -> None:
    data, expected_exit, error = CONTENTS[name]
    (tmp_path / name).write_bytes(data)
    for command in ("check", "fix"):
        completed = run_mpfix_in_process(command, "--no-cache", name, cwd=tmp_path)
        assert_no_traceback(completed)
        if error is None:
            assert not error_lines(completed), completed.stderr
        else:
            _one_error(completed, name, error)
        assert completed.returncode == expected_exit, completed.stderr
        if expected_exit == EXIT_ERROR:
            assert (tmp_path / name).read_bytes() == data  # never written


def test_bad_files_do_not_stop_the_others(tmp_path: Path) -> None:
    for name, (data, _, _) in CONTENTS.items():
        (tmp_path / name).write_bytes(data)
    completed = run_mpfix("fix", "--no-cache", ".", cwd=tmp_path)
    assert_no_traceback(completed)
    assert completed.returncode == EXIT_ERROR
    expected = sorted(name for name, (_, _, error) in CONTENTS.items() if error)
    assert sorted(line.split(":")[0] for line in error_lines(completed)) == expected
    assert (tmp_path / "unguarded.py").read_text() == GUARDED_POOL
    for name, (data, _, error) in CONTENTS.items():
        if error:
            assert (tmp_path / name).read_bytes() == data


UNPARSABLE = {
    # name: a source libcst and CPython both refuse
    "python2.py": MULTIPROCESSING + b'print "hello"\n',
    "unclosed.py": MULTIPROCESSING + b"pool.map(abs, [1,\n",
    "unclosed_def.py": MULTIPROCESSING + b"def f(x:\n    return x\n",
    "bytes_and_text.py": MULTIPROCESSING + b'x = u"a" rb"b"\n',
    "dedent.py": MULTIPROCESSING + b"if x:\n  pass\n else:\n  pass\n",
    "tabs.py": MULTIPROCESSING + b"def f():\n\tif x:\n        pass\n",
}


def _cpython_position(data: bytes, name: str) -> tuple[str, int, int]:
    try:
        compile(data, name, "exec", dont_inherit=True)
    except SyntaxError as error:
        return error.msg, error.lineno, error.offset
    raise AssertionError(f"{name} compiles")


@pytest.mark.parametrize("name", sorted(UNPARSABLE))
def test_a_parse_error_gives_one_position_cpythons(tmp_path: Path, name: str) -> None:
    data = UNPARSABLE[name]
    (tmp_path / name).write_bytes(data)
    completed = run_mpfix_in_process("check", "--no-cache", name, cwd=tmp_path)
    assert completed.returncode == EXIT_ERROR
    message, line, column = _cpython_position(data, name)
    [error] = error_lines(completed)
    assert error == f"{name}: error: cannot parse: {message} (line {line}, column {column})"


def test_a_file_only_libcst_refuses_gets_libcsts_one_position() -> None:
    """A file CPython compiles but libcst rejects (syntax libcst does not know yet)."""
    import libcst as cst

    from mpfix.engine.fixer import parse_error

    with pytest.raises(cst.ParserSyntaxError) as raised:
        cst.parse_module(b"import multiprocessing\nx = (1,\n")
    libcst_error = raised.value
    message = parse_error(b"import multiprocessing\n", "new.py", libcst_error)
    assert libcst_error.message.startswith("parser error: error at ")  # its own position
    reason = libcst_error.message.split(": ", 2)[-1]
    assert message.startswith(f"cannot parse: {reason} (line {libcst_error.raw_line}, column "
                              f"{libcst_error.raw_column + 1}); Python ")
    assert message.count("line ") == 1 and "error at" not in message


def test_binary_source_on_stdin_is_given_back_unchanged(tmp_path: Path) -> None:
    data = b"\x00\x01\x02import multiprocessing\n"
    completed = subprocess.run(
        [sys.executable, "-I", "-m", "mpfix", "fix", "--stdin-filename", "x.py"],
        input=data, capture_output=True, cwd=tmp_path, timeout=120)
    assert completed.returncode == EXIT_ERROR
    assert completed.stdout == data
    assert completed.stderr.decode().splitlines() == [
        "x.py: error: not a Python source file (binary content)"]


# Size and depth ------------------------------------------------------------------------

def test_five_megabyte_file(tmp_path: Path) -> None:
    """A generated module with a large embedded data blob, fixed like any other file."""
    blob = "".join(f"{number:08d} " + "abcdefghij" * 7 + "\n" for number in range(62_500))
    source = UNGUARDED_POOL.replace("\npool =", f'\nDATA = """\\\n{blob}"""\n\npool =')
    assert len(source) > 5_000_000
    (tmp_path / "big.py").write_text(source)

    completed = run_mpfix("fix", "--no-cache", "big.py", cwd=tmp_path, timeout=600)

    assert_no_traceback(completed)
    assert completed.returncode == EXIT_FOUND, completed.stderr
    fixed = (tmp_path / "big.py").read_text()
    assert fixed == source.replace(
        "pool = multiprocessing.Pool(2)\nprint(pool.map(work, [1, 2, 3]))\n",
        GUARDED_POOL[GUARDED_POOL.index("if __name__"):])


def test_large_generated_module(tmp_path: Path) -> None:
    """Thousands of small functions: every one is parsed and analysed, in seconds."""
    functions = "".join(f"def work_{number}(x):\n    return x * {number} + len(str(x))\n\n\n"
                        for number in range(8_000))
    source = UNGUARDED_POOL.replace("\npool =", "\n" + functions + "pool =")
    (tmp_path / "generated.py").write_text(source)

    completed = run_mpfix("check", "--no-cache", "generated.py", cwd=tmp_path, timeout=600)

    assert_no_traceback(completed)
    assert completed.returncode == EXIT_FOUND, completed.stderr
    assert completed.stdout.startswith(f"generated.py:{source.count(chr(10)) - 1}:1: MP001 ")


def _nested(depth: int, opening: str, closing: str) -> bytes:
    return MULTIPROCESSING + f"x = {opening * depth}1{closing * depth}\n".encode()


DEEP = {
    "parens_1000.py": _nested(1000, "(", ")"),
    "lists_1000.py": _nested(1000, "[", "]"),
    "calls_1000.py": _nested(1000, "f(", ")"),
    "dicts_1000.py": _nested(1000, "{1: ", "}"),
    "parens_100000.py": _nested(100_000, "(", ")"),
    "and_chain_20000.py": MULTIPROCESSING + b"x = " + b" and ".join([b"a"] * 20_000) + b"\n",
    "plus_chain_20000.py": MULTIPROCESSING + b"x = " + b" + ".join([b"a"] * 20_000) + b"\n",
    "attributes_30000.py": MULTIPROCESSING + b"x = a" + b".b" * 30_000 + b"\n",
    "unary_30000.py": MULTIPROCESSING + b"x = " + b"-" * 30_000 + b"1\n",
    "lambdas_3000.py": MULTIPROCESSING + b"x = " + b"lambda: " * 3000 + b"1\n",
    "elifs_10000.py": MULTIPROCESSING + b"if a:\n    pass\n" + b"elif a:\n    pass\n" * 10_000,
}


def test_deeply_nested_expressions_are_errors_not_crashes(tmp_path: Path) -> None:
    """libcst's native parser overflows the machine stack on these (SIGSEGV) if let."""
    for name, data in DEEP.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / "unguarded.py").write_text(UNGUARDED_POOL)

    completed = run_mpfix("fix", "--no-cache", "-j", "2", ".", cwd=tmp_path, timeout=600)

    assert_no_traceback(completed)
    assert completed.returncode == EXIT_ERROR, completed.stderr  # not -11: no crash
    reported = {line.split(": error: ")[0]: line.split(": error: ")[1]
                for line in error_lines(completed)}
    assert sorted(reported) == sorted(DEEP)
    assert all("nesting too deep" in message for message in reported.values()), reported
    assert (tmp_path / "unguarded.py").read_text() == GUARDED_POOL
    for name, data in DEEP.items():
        assert (tmp_path / name).read_bytes() == data


def test_moderate_nesting_is_fixed(tmp_path: Path) -> None:
    """What CPython accepts at its own limit (200 brackets) is fixed like any file."""
    source = UNGUARDED_POOL + "x = " + "(" * 190 + "1" + ")" * 190 + "\n"
    (tmp_path / "script.py").write_text(source)
    completed = run_mpfix_in_process("fix", "--no-cache", "script.py", cwd=tmp_path)
    assert completed.returncode == EXIT_FOUND, completed.stderr
    assert 'if __name__ == "__main__":' in (tmp_path / "script.py").read_text()


# Rule codes and configuration ------------------------------------------------------------

@pytest.mark.parametrize("option,value", [("--select", "MP999"), ("--ignore", "XYZ1"),
                                          ("--select", "MP001,NOPE")])
def test_unknown_rule_codes(tmp_path: Path, option: str, value: str) -> None:
    (tmp_path / "script.py").write_text(UNGUARDED_POOL)
    completed = run_mpfix_in_process("fix", "--no-cache", option, value, "script.py", cwd=tmp_path)
    assert completed.returncode == EXIT_ERROR
    [line] = completed.stderr.splitlines()
    bad = value.split(",")[-1]
    assert line.startswith("mpfix: error: ") and option in line and bad in line
    assert (tmp_path / "script.py").read_text() == UNGUARDED_POOL


CONFIGS = {
    # pyproject.toml text: what the one-line message must name
    '[tool.mpfix]\nselct = ["MP001"]\n': "selct",
    '[tool.mpfix]\nselect = ["MP999"]\n': "MP999",
    '[tool.mpfix]\nselect = "MP001"\n': "select",
    '[tool.mpfix]\nunsafe-fixes = "yes"\n': "unsafe-fixes",
    '[tool.mpfix]\ntarget-start-method = "threads"\n': "target-start-method",
    '[tool.mpfix]\nexclude = 3\n': "exclude",
    '[tool.mpfix]\nper-file-ignores = ["MP001"]\n': "per-file-ignores",
    '[tool.mpfix]\nselect = ["MP001"\n': "pyproject.toml",  # not TOML at all
    "[tool]\nmpfix = 3\n": "[tool.mpfix]",
}


@pytest.mark.parametrize("config", list(CONFIGS), ids=list(CONFIGS.values()))
def test_malformed_config(tmp_path: Path, config: str) -> None:
    (tmp_path / "pyproject.toml").write_text(config)
    (tmp_path / "script.py").write_text(UNGUARDED_POOL)
    for command in ("check", "fix"):
        completed = run_mpfix_in_process(command, "--no-cache", "script.py", cwd=tmp_path)
        assert_no_traceback(completed)
        assert completed.returncode == EXIT_ERROR, completed.stderr
        [line] = completed.stderr.splitlines()
        assert line.startswith("mpfix: error: ") and CONFIGS[config] in line, line
    assert (tmp_path / "script.py").read_text() == UNGUARDED_POOL
