"""Suppressions: `# noqa`, `# mpfix: skip-file`, `check --add-noqa`, unused noqa (MP100)."""

from __future__ import annotations

import pytest
from cli_helpers import UNGUARDED, codes, mpfix, write

from mpfix import check_code
from mpfix.findings import Finding
from mpfix.engine.noqa import NoqaError, Suppressions, add_noqa

START = "p.start()"  # the line MP001 reports in UNGUARDED


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("comment, suppressed", [
    ("  # noqa: MP001", True),
    ("  # NOQA:MP001", True),
    ("  # noqa: E501, MP001", True),
    ("  # noqa: E501 MP001 -- started on purpose", True),
    ("  # noqa", True),
    ("  # type: ignore  # noqa: MP001", True),
    ("  # noqa: MP003", False),
    ("  # noqa: MP0011", False),
    ("  # no qa", False),
])
def test_noqa_on_the_reported_line(comment, suppressed):
    source = UNGUARDED.replace(START, START + comment)
    assert (check_code(source, select=["MP001"]) == []) is suppressed


def test_noqa_inside_a_string_suppresses_nothing():
    source = UNGUARDED.replace(START, 'p.start(); x = "# noqa"')
    assert [f.code for f in check_code(source)] == ["MP001"]


def test_skip_file():
    assert check_code("# mpfix: skip-file\n" + UNGUARDED) == []
    assert check_code(UNGUARDED + "\n# mpfix: skip-file\n") == []


def test_noqa_line_of_strings_and_continuations():
    text = ('x = f("""a\n'          # 1: ends inside a string
            'b""") + \\\n'          # 2: the string ends; continued by a backslash
            '    g(  # c\n'         # 3: inside brackets: a comment can go here
            '    1)\n'              # 4
            'y = 2\n')              # 5
    suppressions = Suppressions(text)
    assert [suppressions.noqa_line(n) for n in range(1, 6)] == [3, 3, 3, 4, 5]


def test_add_noqa_places_and_merges():
    text = 'import os  # noqa: E501\nx = 1  # keep me\ny = 2   \n'
    findings = [Finding(1, 1, "MP001", "m"), Finding(2, 1, "MP003", "m"),
                Finding(2, 1, "MP001", "m"), Finding(3, 1, "MP001", "m")]
    new, count = add_noqa(text, findings)
    assert new == ('import os  # noqa: E501, MP001\n'
                   'x = 1  # keep me  # noqa: MP001, MP003\n'
                   'y = 2  # noqa: MP001\n')
    assert count == 3
    assert add_noqa(new, findings) == (new, 0)


def test_add_noqa_refuses_what_it_cannot_tokenize():
    with pytest.raises(NoqaError):
        add_noqa('x = """never closed\n', [Finding(1, 1, "MP001", "m")])


def test_check_add_noqa_is_idempotent(tmp_path):
    multiline = UNGUARDED.replace("p = Process(target=work)\np.start()\n",
                                  'Process(target=work, name="""two\nlines""").start()\n')
    continued = UNGUARDED.replace(START, "p.start() ; \\\n    print(1)")
    crlf = UNGUARDED.replace(START, START + "  # noqa:E501").replace("\n", "\r\n")
    latin = "# -*- coding: latin-1 -*-\n# caf\xe9\n" + UNGUARDED
    write(tmp_path / "multiline.py", multiline)
    write(tmp_path / "continued.py", continued)
    write(tmp_path / "crlf.py", crlf.encode())
    write(tmp_path / "latin.py", latin.encode("latin-1"))
    bom = "\ufeff# with a byte order mark\n" + UNGUARDED
    write(tmp_path / "bom.py", bom.encode())
    first = mpfix("check", "--add-noqa", ".")
    assert first.exit_code == 0
    assert "Added 5 noqa directives to 5 files." in first.stderr
    assert (tmp_path / "multiline.py").read_text() == multiline.replace(
        'lines""").start()\n', 'lines""").start()  # noqa: MP001\n')
    assert (tmp_path / "continued.py").read_text() == continued.replace(
        "print(1)", "print(1)  # noqa: MP001")
    assert (tmp_path / "crlf.py").read_bytes() == crlf.replace(
        "# noqa:E501", "# noqa: E501, MP001").encode()
    assert (tmp_path / "latin.py").read_bytes() == latin.replace(
        START, START + "  # noqa: MP001").encode("latin-1")
    assert (tmp_path / "bom.py").read_bytes() == bom.replace(
        START, START + "  # noqa: MP001").encode()
    assert mpfix("check", ".").exit_code == 0
    second = mpfix("check", "--add-noqa", ".")
    assert "Added 0 noqa directives to 0 files." in second.stderr


def test_add_noqa_only_for_selected_rules(tmp_path):
    bad = write(tmp_path / "bad.py", UNGUARDED)
    mpfix("check", "--add-noqa", "--select", "MP003", "bad.py")
    assert bad.read_text() == UNGUARDED


def test_report_unused_noqa(tmp_path):
    source = UNGUARDED.replace(
        "from multiprocessing import Process",
        "from multiprocessing import Process  # noqa: MP001\nx = 1  # noqa: E501\n"
        "y = 2  # noqa\nz = 3  # noqa: MP999, MP003",
    )
    write(tmp_path / "u.py", source)
    assert codes(mpfix("check", "u.py")) == ["u.py:MP001"]
    report = mpfix("check", "--report-unused-noqa", "u.py")
    assert report.exit_code == 1
    lines = [line for line in report.stdout.splitlines() if "MP100" in line]
    assert lines == ["u.py:1:38: MP100 unused noqa code: MP001",
                     "u.py:4:8: MP100 unused noqa code: MP003; unknown rule code: MP999"]
    # A rule that is not enabled cannot prove its code unused.
    selected = mpfix("check", "--report-unused-noqa", "--select", "MP001", "u.py")
    assert "u.py:4:8: MP100 unknown rule code: MP999" in selected.stdout
    assert "MP003" not in selected.stdout


def test_report_unused_noqa_from_config_and_used_codes_stay_quiet(tmp_path):
    write(tmp_path / "pyproject.toml", "[tool.mpfix]\nreport-unused-noqa = true\n")
    write(tmp_path / "ok.py", UNGUARDED.replace(START, START + "  # noqa: MP001"))
    assert mpfix("check", "ok.py").exit_code == 0
    write(tmp_path / "stale.py", UNGUARDED.replace("def work():", "def work():  # noqa: MP001")
          .replace(START, START + "  # noqa: MP001"))
    result = mpfix("check", "stale.py")
    assert codes(result) == ["stale.py:MP100"]
    assert mpfix("check", "--no-report-unused-noqa", "stale.py").exit_code == 0


def test_add_noqa_conflicts(tmp_path):
    write(tmp_path / "bad.py", UNGUARDED)
    assert mpfix("check", "--add-noqa", "--report-unused-noqa", "bad.py").exit_code == 2
    assert mpfix("check", "--add-noqa", "--stdin-filename", "x.py", input=UNGUARDED).exit_code == 2
