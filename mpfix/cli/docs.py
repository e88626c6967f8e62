"""Rule documentation, from one source: each rule class's docstring.

`mpfix rule CODE`, `mpfix rule --all`, the README's rule table and the SARIF
rule descriptors are all rendered here from the docstring's sections, so they
cannot drift apart; the docstrings are read from the rule modules' source
(mpfix.rulekit.ruledoc), without importing libcst. The README holds the table
between two marker lines:

    <!-- rules-table-start -->
    <!-- rules-table-end -->

    python -m mpfix.cli.docs --readme-table         print the table
    python -m mpfix.cli.docs --update-readme [PATH]  rewrite it between the markers
    python -m mpfix.cli.docs --check-readme [PATH]   exit 1 if the README's table is stale
    python -m mpfix.cli.docs --rules-markdown        every rule's documentation as Markdown
"""

from __future__ import annotations

import argparse
import inspect
import sys
import textwrap
from pathlib import Path
from typing import Any, Optional

from mpfix.engine.noqa import UNUSED_NOQA, UNUSED_NOQA_DOC, UNUSED_NOQA_NAME
from mpfix.engine.registry import ALL_CODES, CODES_BY_NAME, OPT_IN, REGISTRY, UnknownRule, code_for
from mpfix.rulekit.ruledoc import RuleDoc, read_rule_doc

TABLE_START = "<!-- rules-table-start -->"
TABLE_END = "<!-- rules-table-end -->"
SECTION_ORDER = ("what it finds", "why", "example", "fixed", "fix safety")
SAFETY_LABELS = {"safe": "safe", "unsafe": "unsafe", "mixed": "safe or unsafe",
                 "none": "report only"}

# The engine reports MP100 from the file's comments after every other rule has run
# (mpfix/engine/noqa.py): it has documentation but no rule class.
UNUSED_NOQA_RULE = RuleDoc(UNUSED_NOQA, UNUSED_NOQA_NAME, "none", inspect.cleandoc(UNUSED_NOQA_DOC))
_NAMES = {code: name for name, code in CODES_BY_NAME.items()}


def rule_doc(code: str) -> RuleDoc:
    """A registered rule's documentation, read from its module's source (see
    mpfix.rulekit.ruledoc: `mpfix rule` and the reports never import libcst)."""
    try:
        location = REGISTRY[code]
    except KeyError:
        raise UnknownRule(code) from None
    module_name, class_name = location.rsplit(".", 1)
    return read_rule_doc(f"mpfix.codemods.{module_name}", class_name)


def rule_for(code: str) -> RuleDoc:
    """The rule of a code (`MP001`) or a name (`main-guard`)."""
    if code.strip().lower() == UNUSED_NOQA_NAME:
        return UNUSED_NOQA_RULE
    code = code_for(code)
    if code == UNUSED_NOQA:
        return UNUSED_NOQA_RULE
    return rule_doc(code)


def documented_rules() -> list[RuleDoc]:
    return [rule_doc(code) for code in ALL_CODES] + [UNUSED_NOQA_RULE]


def rule_name(code: str) -> str:
    """`MP001` -> `main-guard`, from the registry (no rule source is read)."""
    if code == UNUSED_NOQA:
        return UNUSED_NOQA_NAME
    return _NAMES.get(code, code)


def safety_label(cls: RuleDoc) -> str:
    return SAFETY_LABELS.get(cls.fix_safety, cls.fix_safety)


def _ordered_sections(cls: RuleDoc) -> list[tuple[str, str]]:
    sections = cls.sections()
    names = [n for n in SECTION_ORDER if n in sections]
    names += [n for n in sections if n not in SECTION_ORDER and n != "summary"]
    return [(name, sections[name]) for name in names]


def _is_code(name: str) -> bool:
    return name in ("example", "fixed")


def rule_line(cls: RuleDoc) -> str:
    """One line of `mpfix rule`'s list: code, name, fix safety, on or off by default."""
    default = ("opt-in" if cls.code in OPT_IN
               else "off (--report-unused-noqa)" if cls is UNUSED_NOQA_RULE else "on")
    return f"{cls.code}  {cls.name:<26}  fix: {safety_label(cls):<14}  {default}"


def rule_text(cls: RuleDoc) -> str:
    """A rule's documentation for a terminal (`mpfix rule CODE`)."""
    title = f"{cls.code} {cls.name}"
    lines = [title, "=" * len(title), cls.summary(), "", f"Fix: {safety_label(cls)}"]
    for name, body in _ordered_sections(cls):
        lines += ["", f"{name.capitalize()}:", body]
    return "\n".join(lines) + "\n"


def rule_markdown(cls: RuleDoc) -> str:
    lines = [f"## {cls.code} `{cls.name}`", "", cls.summary(), "", f"**Fix:** {safety_label(cls)}"]
    for name, body in _ordered_sections(cls):
        lines += ["", f"### {name.capitalize()}", ""]
        if _is_code(name):
            lines += ["```python", textwrap.dedent(body), "```"]
        else:
            lines.append(body)
    return "\n".join(lines) + "\n"


def rule_record(cls: RuleDoc) -> dict[str, Any]:
    return {"code": cls.code, "name": cls.name, "summary": cls.summary(),
            "fix_safety": cls.fix_safety,
            "sections": dict(_ordered_sections(cls))}


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def readme_table() -> str:
    """The README's rule table (without the marker lines)."""
    rows = ["| Code | Name | What it finds | Fix |", "|---|---|---|---|"]
    for cls in documented_rules():
        rows.append(f"| {cls.code} | `{cls.name}` | {_cell(cls.summary())} | {safety_label(cls)} |")
    return "\n".join(rows) + "\n"


class MarkersMissing(Exception):
    pass


def table_in(readme: str) -> str:
    """The text between the marker lines."""
    try:
        start = readme.index(TABLE_START + "\n") + len(TABLE_START) + 1
        end = readme.index(TABLE_END, start)
    except ValueError:
        raise MarkersMissing(f"the README needs the lines {TABLE_START} and {TABLE_END}") from None
    return readme[start:end]


def with_table(readme: str, table: str) -> str:
    current = table_in(readme)
    start = readme.index(TABLE_START + "\n") + len(TABLE_START) + 1
    return readme[:start] + table + readme[start + len(current):]


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mpfix.cli.docs", description=__doc__.split("\n")[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--readme-table", action="store_true", help="print the README rule table")
    group.add_argument("--update-readme", nargs="?", const="README.md", metavar="PATH")
    group.add_argument("--check-readme", nargs="?", const="README.md", metavar="PATH")
    group.add_argument("--rules-markdown", action="store_true",
                       help="print every rule's documentation as Markdown")
    args = parser.parse_args(argv)
    if args.readme_table:
        sys.stdout.write(readme_table())
        return 0
    if args.rules_markdown:
        sys.stdout.write("\n".join(rule_markdown(cls) for cls in documented_rules()))
        return 0
    path = Path(args.update_readme or args.check_readme)
    text = path.read_text(encoding="utf-8")
    try:
        current = table_in(text)
    except MarkersMissing as error:
        print(f"{path}: {error}", file=sys.stderr)
        return 2
    if args.check_readme:
        if current != readme_table():
            print(f"{path}: the rule table is out of date; run python -m mpfix.cli.docs "
                  "--update-readme", file=sys.stderr)
            return 1
        return 0
    path.write_text(with_table(text, readme_table()), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
