"""Finding messages read like ruff's: one sentence, what is wrong and the fix, under about
160 characters; the longer explanation is the rule's documentation (`mpfix rule CODE`).

A message names the code it is about, so its length depends on the names in that code:
each quoted identifier or snippet (`...` or '...') is counted as at most NAME_ALLOWANCE
characters, and the rest of the message must fit in MAX_MESSAGE. The fixtures use
ordinary names, so in practice the whole message fits.
"""

from __future__ import annotations

import re

import pytest

from conftest import CASES
from fixture_cases import Case
from mpfix import check_code

MAX_MESSAGE = 160
NAME_ALLOWANCE = 20
QUOTED = re.compile(r"`[^`]*`|'[^'\s]*'")


def measured_length(message: str) -> int:
    """The message's length with each quoted name or snippet capped at NAME_ALLOWANCE."""
    return len(QUOTED.sub(lambda quoted: quoted.group()[:NAME_ALLOWANCE], message))


def test_measured_length_caps_only_long_quoted_names() -> None:
    assert measured_length("`short` is read") == len("`short` is read")
    long_name = "`" + "n" * 50 + "`"
    assert measured_length(f"{long_name} is read") == NAME_ALLOWANCE + len(" is read")
    assert measured_length("plain " * 40) == len("plain " * 40)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_finding_messages_are_one_short_line(case: Case) -> None:
    findings = check_code(case.before, **case.check_options())  # once: the suite's CPU
    for finding in findings:
        assert "\n" not in finding.message and finding.message == finding.message.strip()
    too_long = [f"{f.line}:{f.col} {f.code} ({measured_length(f.message)}): {f.message}"
                for f in findings if measured_length(f.message) > MAX_MESSAGE]
    assert not too_long, "\n".join(too_long)
