"""Findings as people and machines read them, and the summary after a run.

Formats (`--output-format`):

* `text`: `path:line:col: CODE [*] message`, one finding a line; the marker
  says what `mpfix fix` can do: `[*]` a safe fix, `[U]` only an unsafe fix
  (applied with `--unsafe-fixes`), none: report only.
* `full`: the `text` line, then the source lines it points at with a caret
  under the reported code and, where a fix exists, the fix as a diff hunk
  (the default when stdout is a terminal; coloured there, `NO_COLOR` honoured).
* `json`: a list of objects, one per finding: `path`, `code`, `name`,
  `message`, `cell`, `line`, `column`, `end_line`, `end_column` (1-based; columns
  count characters; the end is exclusive), `fixable`, and `fix`: null, or
  `{"safety": "safe"|"unsafe", "edits": [...]}` where each edit replaces
  `line:column` up to `end_line:end_column` with `content`; applied together
  (from the last to the first) the edits of one finding are its fix alone.
* `sarif`: SARIF 2.1.0 for GitHub code scanning (see mpfix/cli/sarif.py).
* `github`: GitHub Actions workflow commands, which annotate the pull request:
  `::error file=PATH,line=L,col=C,endLine=L,endColumn=C,title=CODE::message`.

In a Jupyter notebook a finding's place is a code cell (numbered from 1 among
all the notebook's cells, as a reader counts them) and a line and column in it:
`text` and `full` write `nb.ipynb:cell 3:2:5:` (ruff's notation), `json` gives
`cell` (null outside notebooks) with the line and columns in the cell, `sarif`
gives the region in the cell and the cell in the result's `properties`, and
`github` (whose annotations count the file's JSON lines) names the file and puts
`nb.ipynb:cell 3:2:5:` before the message. Fix edits are not given for notebooks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Iterable, Mapping, Optional

from mpfix.findings import FileResult, Finding, Safety

FORMATS = ("text", "full", "json", "sarif", "github")
# Formats whose consumers want each fix's edits (they cost a preview per fix).
FORMATS_WITH_EDITS = frozenset({"full", "json", "sarif"})
# Between the code and the message in `text` and `full`: the fix `mpfix fix` offers.
FIX_MARKERS = {Safety.SAFE: "[*] ", Safety.UNSAFE: "[U] ", Safety.NONE: ""}


def rule_name(code: str) -> str:
    from mpfix.cli.docs import rule_name as name_of

    return name_of(code)


def finding_line(f: Finding) -> str:
    return f"{f.location}: {f.code} {FIX_MARKERS[f.fix_safety]}{f.message}"


def _text(results: list[FileResult], out: IO[str]) -> None:
    for f in _findings(results):
        out.write(finding_line(f) + "\n")


def finding_record(f: Finding) -> dict[str, Any]:
    fix = None
    if f.fixable:
        edits = None if f.edits is None else [
            {"line": e.line, "column": e.col, "end_line": e.end_line, "end_column": e.end_col,
             "content": e.content}
            for e in f.edits
        ]
        fix = {"safety": f.fix_safety.value, "edits": edits}
    return {
        "path": f.path, "code": f.code, "name": rule_name(f.code), "message": f.message,
        "cell": f.cell, "line": f.line, "column": f.col, "end_line": f.end_line,
        "end_column": f.end_col, "fixable": f.fixable, "fix": fix,
    }


def _json(results: list[FileResult], out: IO[str]) -> None:
    json.dump([finding_record(f) for f in _findings(results)], out, indent=2, ensure_ascii=False)
    out.write("\n")


def _sarif(results: list[FileResult], out: IO[str]) -> None:
    from mpfix.cli.sarif import sarif_log

    json.dump(sarif_log(results), out, indent=2, ensure_ascii=False)
    out.write("\n")


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _github(results: list[FileResult], out: IO[str]) -> None:
    for f in _findings(results):
        properties: list[tuple[str, object]] = [("file", f.path)]
        message = f.message
        if f.cell is None:
            properties += [("line", f.line), ("col", f.col)]
            if f.end_line:
                properties += [("endLine", f.end_line), ("endColumn", f.end_col)]
        else:  # the notebook file's lines are JSON: the cell's position goes in the message
            message = f"{f.location}: {message}"
        properties.append(("title", f.code))
        joined = ",".join(f"{key}={_escape_property(str(value))}" for key, value in properties)
        out.write(f"::error {joined}::{_escape_data(message)}\n")
    for result in results:
        if result.error:
            out.write(f"::error file={_escape_property(result.path)},title=mpfix::"
                      f"{_escape_data(result.error)}\n")


WRITERS: dict[str, Callable[[list[FileResult], IO[str]], None]] = {
    "text": _text, "json": _json, "sarif": _sarif, "github": _github,
}


def _findings(results: Iterable[FileResult]) -> list[Finding]:
    return [f for r in results for f in r.findings]


# `fix` -------------------------------------------------------------------------------

# Formats in which `fix` reports the fixes it applied beside the findings that remain.
FIX_REPORT_FORMATS = ("json", "sarif")


def applied_fixes(results: list[FileResult]) -> list[dict[str, Any]]:
    """What a fix run changed: one record per file and rule."""
    return [{"path": r.path, "code": code, "name": rule_name(code), "count": count,
             **({"companions": [c.path for c in r.companions]} if r.companions else {})}
            for r in results for code, count in sorted(r.fixed.items()) if count]


def write_fix_report(fmt: str, results: list[FileResult], out: IO[str]) -> None:
    """`fix --output-format json`: `{"fixes": [...], "findings": [...]}`, each fix record
    a file, a rule and how many of its findings were fixed there, the findings those
    left (records as `check` prints them). `sarif`: the log of the findings that remain,
    the fixes in its invocation's `properties.fixesApplied`."""
    if fmt == "json":
        document: Any = {"fixes": applied_fixes(results),
                         "findings": [finding_record(f) for f in _findings(results)]}
    else:
        from mpfix.cli.sarif import sarif_log

        document = sarif_log(results, fixes=applied_fixes(results))
    json.dump(document, out, indent=2, ensure_ascii=False)
    out.write("\n")


def fixes_text(results: list[FileResult], *, would: bool) -> str:
    """--show-fixes: the fixes per file and rule, or a line saying there were none."""
    records = applied_fixes(results)
    total = sum(record["count"] for record in records)
    verb = "Would fix" if would else "Fixed"
    if not total:
        return f"No fixes {'would be ' if would else ''}applied.\n"
    lines = [f"{verb} {_plural(total, 'finding')}:"]
    path = None
    for record in records:
        if record["path"] != path:
            path = record["path"]
            lines.append(f"- {path}:")
        lines.append(f"    {record['count']} × {record['code']} ({record['name']})")
    return "\n".join(lines) + "\n"


# --statistics ------------------------------------------------------------------------

STATISTICS_FORMATS = ("text", "full", "json")


def statistics(results: list[FileResult]) -> list[dict[str, Any]]:
    """Findings per rule, the most frequent first: how many, and how many `mpfix fix`
    fixes as it is (`fixable`) or with --unsafe-fixes (`unsafe_fixable`)."""
    counts: dict[str, dict[str, Any]] = {}
    for f in _findings(results):
        record = counts.setdefault(f.code, {"code": f.code, "name": rule_name(f.code),
                                            "count": 0, "fixable": 0, "unsafe_fixable": 0})
        record["count"] += 1
        if f.fix_safety is Safety.SAFE:
            record["fixable"] += 1
        elif f.fix_safety is Safety.UNSAFE:
            record["unsafe_fixable"] += 1
    return sorted(counts.values(), key=lambda record: (-record["count"], record["code"]))


def write_statistics(fmt: str, results: list[FileResult], out: IO[str]) -> None:
    records = statistics(results)
    if fmt == "json":
        json.dump(records, out, indent=2, ensure_ascii=False)
        out.write("\n")
        return
    count_width = max((len(str(r["count"])) for r in records), default=1)
    name_width = max((len(r["name"]) for r in records), default=0)
    for r in records:
        fixable = [f"{r['fixable']} fixable"] if r["fixable"] else []
        if r["unsafe_fixable"]:
            fixable.append(f"{r['unsafe_fixable']} fixable with --unsafe-fixes")
        line = (f"{str(r['count']).rjust(count_width)}  {r['code']}  "
                f"{r['name'].ljust(name_width)}  {', '.join(fixable)}")
        out.write(line.rstrip() + "\n")


def write_findings(fmt: str, results: list[FileResult], out: IO[str], *,
                   sources: Optional[Mapping[str, bytes]] = None, color: bool = False) -> None:
    """`sources`: each file's text as the findings' positions refer to it (for `full`)."""
    if fmt == "full":
        from mpfix.cli.fulloutput import write_full

        write_full(results, out, sources or {}, color=color)
        return
    WRITERS[fmt](results, out)


# The summary -------------------------------------------------------------------------

PARSE_ERRORS = ("cannot parse", "cannot decode", "cannot analyse")


@dataclass
class _RuleCount:
    fixed: int = 0
    remaining: int = 0
    need_unsafe: int = 0
    fixable: int = 0


@dataclass
class _Totals:
    rules: dict[str, _RuleCount] = field(default_factory=dict)

    def rule(self, code: str) -> _RuleCount:
        return self.rules.setdefault(code, _RuleCount())

    def total(self, attribute: str) -> int:
        return sum(getattr(count, attribute) for count in self.rules.values())


def _plural(count: int, word: str, plural: Optional[str] = None) -> str:
    return f"{count} {word if count == 1 else (plural or word + 's')}"


def summary(results: list[FileResult], *, mode: str, skipped: int,
            unsafe_enabled: Callable[[str], bool],
            unwritten: Optional[Mapping[str, int]] = None) -> str:
    """What a person reads after a run. `mode` is "check", "fix" or "diff".

    `unwritten` maps the files whose fixes could not be written (read-only, changed on
    disk meanwhile) to the number of fixes lost; their results are those of the file as
    read, so their fixes count as not applied and their findings as remaining.
    """
    totals = _Totals()
    for result in results:
        for code, count in result.fixed.items():
            totals.rule(code).fixed += count
        for f in result.findings:
            count = totals.rule(f.code)
            count.remaining += 1
            if f.fix_safety is Safety.SAFE or (f.fix_safety is Safety.UNSAFE
                                               and unsafe_enabled(result.path)):
                count.fixable += 1
            elif f.fix_safety is Safety.UNSAFE:
                count.need_unsafe += 1
    lines = [_head(results, mode, skipped)]
    for code in sorted(totals.rules):
        lines.append(f"  {code} {rule_name(code)}: {_rule_line(totals.rules[code], mode)}")
    lines.append(_totals_line(totals, mode))
    lines.extend(_error_lines(results, unwritten or {}))
    hidden = totals.total("need_unsafe")
    if hidden:
        lines.append(f"{hidden} more fix{'es are' if hidden != 1 else ' is'} "
                     "available with --unsafe-fixes")
    return "\n".join(line for line in lines if line)


def _head(results: list[FileResult], mode: str, skipped: int) -> str:
    head = f"{_plural(len(results), 'file')} scanned ({skipped} skipped by the prefilter)"
    changed = sum(1 for r in results if r.changed)
    beside = [c for r in results if r.changed for c in r.companions]
    created = sum(1 for c in beside if c.original is None)
    if mode == "fix":
        head += f", {changed} changed"
    elif mode == "diff":
        head += f", {changed} would change"
    if beside and mode in ("fix", "diff"):  # a notebook's helpers module (MP007)
        verb = ("" if mode == "fix" else "would be ") + \
            ("created" if created == len(beside) else "written")
        head += f"; {_plural(len(beside), 'module')} beside them {verb} " \
                f"({', '.join(c.path for c in beside)})"
    return head


def _rule_line(count: _RuleCount, mode: str) -> str:
    parts = []
    if count.fixed:
        parts.append(f"{count.fixed} {'would fix' if mode == 'diff' else 'fixed'}")
    if count.remaining:
        word = "found" if mode == "check" else ("would remain" if mode == "diff" else "remaining")
        parts.append(f"{count.remaining} {word}")
    text = ", ".join(parts)
    if count.need_unsafe:
        text += f" ({count.need_unsafe} need{'s' if count.need_unsafe == 1 else ''} --unsafe-fixes)"
    return text


def _totals_line(totals: _Totals, mode: str) -> str:
    fixed, remaining = totals.total("fixed"), totals.total("remaining")
    if mode == "check":
        if not remaining:
            return "no findings"
        fixable = totals.total("fixable")
        return f"{_plural(remaining, 'finding')}, {fixable} fixable with `mpfix fix`"
    if not fixed and not remaining:
        return "no findings"
    if mode == "diff":
        return (f"{_plural(fixed, 'fix', 'fixes')} would be applied, "
                f"{_plural(remaining, 'finding')} would remain")
    return f"{_plural(fixed, 'fix', 'fixes')} applied, {_plural(remaining, 'finding')} remaining"


def _error_lines(results: list[FileResult], unwritten: Mapping[str, int]) -> list[str]:
    errors = [r.error for r in results if r.error and r.path not in unwritten]
    parse = sum(1 for e in errors if e.startswith(PARSE_ERRORS))
    other = len(errors) - parse
    lines = []
    if parse:
        lines.append(f"{_plural(parse, 'file')} could not be parsed")
    if unwritten:
        lost = sum(unwritten.values())
        lines.append(f"{_plural(len(unwritten), 'file')} could not be written: "
                     f"{_plural(lost, 'fix', 'fixes')} not applied")
    if other:
        lines.append(f"{_plural(other, 'file')} could not be processed")
    return lines
