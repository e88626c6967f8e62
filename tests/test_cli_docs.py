"""`mpfix rule` and the README rule table come from the rule docstrings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import mpfix

from mpfix.cli.docs import (TABLE_END, TABLE_START, MarkersMissing, documented_rules, main,
                        readme_table, table_in, with_table)
from mpfix.engine.registry import ALL_CODES, rule_class

README = Path(__file__).resolve().parent.parent / "README.md"
SECTIONS = ("What it finds:", "Why:", "Example:", "Fixed:", "Fix safety:")


@pytest.mark.parametrize("code", ALL_CODES)
def test_every_rule_documents_every_section(code):
    result = mpfix("rule", code)
    assert result.exit_code == 0
    cls = rule_class(code)
    assert result.stdout.startswith(f"{code} {cls.name}\n")
    assert cls.summary() in result.stdout
    for heading in SECTIONS:
        assert f"\n{heading}\n" in result.stdout, f"{code} lacks {heading}"
    assert mpfix("rule", code.lower()).stdout == result.stdout


def test_rule_all_and_json():
    everything = mpfix("rule", "--all").stdout
    for cls in documented_rules():
        assert f"{cls.code} {cls.name}\n" in everything
    records = json.loads(mpfix("rule", "--all", "--output-format", "json").stdout)
    assert [r["code"] for r in records] == [*ALL_CODES, "MP100"]
    one = json.loads(mpfix("rule", "MP100", "--output-format", "json").stdout)
    assert one["name"] == "unused-noqa" and "why" in one["sections"]


def test_rule_usage_errors():
    unknown = mpfix("rule", "MP999")
    assert unknown.exit_code == 2 and "unknown rule code: MP999" in unknown.stderr


def test_readme_table_matches_the_rules():
    if not README.exists():
        pytest.skip("README.md is not written yet")
    text = README.read_text(encoding="utf-8")
    assert TABLE_START in text and TABLE_END in text, (
        f"README.md needs the rule table between the lines {TABLE_START} and {TABLE_END}")
    assert table_in(text) == readme_table(), (
        "README.md's rule table is stale: run `python -m mpfix.cli.docs --update-readme`")


def test_table_has_a_row_per_rule():
    rows = readme_table().splitlines()
    assert rows[0] == "| Code | Name | What it finds | Fix |"
    assert [row.split(" | ")[0].lstrip("| ") for row in rows[2:]] == [*ALL_CODES, "MP100"]


def test_update_and_check_readme(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{TABLE_START}\nold\n{TABLE_END}\n\nmore\n", encoding="utf-8")
    assert main(["--check-readme", str(readme)]) == 1
    assert main(["--update-readme", str(readme)]) == 0
    assert main(["--check-readme", str(readme)]) == 0
    text = readme.read_text(encoding="utf-8")
    assert text == f"# x\n\n{TABLE_START}\n{readme_table()}{TABLE_END}\n\nmore\n"
    assert with_table(text, readme_table()) == text
    readme.write_text("no markers\n", encoding="utf-8")
    assert main(["--check-readme", str(readme)]) == 2
    with pytest.raises(MarkersMissing):
        table_in("no markers\n")


def test_module_prints_the_table():
    printed = subprocess.run([sys.executable, "-m", "mpfix.cli.docs", "--readme-table"],
                             capture_output=True, text=True, timeout=60, check=True).stdout
    assert printed == readme_table()
