"""Opt-in rules run only when selected: by code, `ALL`, or `extend-select` in the config."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from cli_helpers import codes, mpfix, write

from mpfix import check_code
from mpfix.codemods import OPT_IN
from mpfix.engine.registry import ALL_CODES, DEFAULT_CODES

# A process started by the main guard and never joined: MP005's only finding here.
UNJOINED = textwrap.dedent('''\
    from multiprocessing import Process


    def work():
        pass


    if __name__ == "__main__":
        worker = Process(target=work)
        worker.start()
''')


@pytest.fixture
def project(tmp_path: Path) -> Path:
    previous = os.getcwd()
    os.chdir(tmp_path)
    yield tmp_path
    os.chdir(previous)


def test_opt_in_rules_are_registered_rules_left_out_of_the_default() -> None:
    assert OPT_IN <= set(ALL_CODES)
    assert set(DEFAULT_CODES) == set(ALL_CODES) - OPT_IN


def test_an_opt_in_rule_runs_only_when_selected() -> None:
    assert [f.code for f in check_code(UNJOINED)] == []
    assert [f.code for f in check_code(UNJOINED, select=["MP005"])] == ["MP005"]
    assert [f.code for f in check_code(UNJOINED, select=["ALL"])] == ["MP005"]


def test_the_command_line_and_the_config_select_an_opt_in_rule(project: Path) -> None:
    write(project / "app.py", UNJOINED)
    assert mpfix("check", "app.py").exit_code == 0
    assert codes(mpfix("check", "--select", "MP005", "app.py")) == ["app.py:MP005"]
    write(project / "pyproject.toml", '[tool.mpfix]\nextend-select = ["MP005"]\n')
    assert codes(mpfix("check", "app.py")) == ["app.py:MP005"]
    # --select says exactly what runs: the configured extend-select no longer applies.
    assert mpfix("check", "--select", "MP001", "app.py").exit_code == 0


def test_extend_select_takes_rule_codes_only(project: Path) -> None:
    write(project / "pyproject.toml", '[tool.mpfix]\nextend-select = ["MP999"]\n')
    write(project / "app.py", UNJOINED)
    result = mpfix("check", "app.py")
    assert result.exit_code == 2
    assert "extend-select" in result.stderr and "MP999" in result.stderr
