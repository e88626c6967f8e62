"""Suppression comments: reading `# noqa`, reporting unused ones, and adding them.

The rules follow ruff's, so a team that already uses `# noqa` needs to learn
nothing new:

* `# noqa: MP003` (codes separated by commas or spaces) suppresses those codes,
  a bare `# noqa` suppresses every finding, on the line the finding is reported
  on. Only real comments count: `# noqa` inside a string suppresses nothing.
* A finding whose line ends inside a multi-line string, or is continued with a
  backslash, is suppressed (and `--add-noqa` writes the comment) on the line
  where that string or continuation ends: the first line after the reported
  one where a comment can go. Inside brackets a comment can go on any line, so
  the reported line itself is used.
* An unused suppression is reported as MP100 (`mpfix check --report-unused-noqa`),
  like ruff's RUF100: an mpfix code in a `# noqa:` list whose rule is enabled
  for the file but suppressed nothing, or a code no mpfix rule has. Codes of
  other tools (`E501`, `F401`) and bare `# noqa` are never reported: they may
  serve flake8 or ruff.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass, field
from typing import Collection, Iterable, Iterator, Optional

from mpfix.findings import Finding, Safety

UNUSED_NOQA = "MP100"
UNUSED_NOQA_NAME = "unused-noqa"
UNUSED_NOQA_DOC = """\
A `# noqa` comment that suppresses no mpfix finding.

What it finds:
An mpfix code in a `# noqa:` list whose rule is enabled for the file but
reported nothing on that line, and codes that no mpfix rule has (a typo, or a
rule that was renamed). Reported only by `mpfix check --report-unused-noqa`
(or `report-unused-noqa = true` in `[tool.mpfix]`), like ruff's RUF100.

Why:
A suppression outlives the code it was written for: once the finding is fixed,
a stale `# noqa: MP003` silently hides the next real problem on that line.
Codes of other tools (`E501`, `F401`) and a bare `# noqa` are left alone,
because they may serve flake8 or ruff. Files that never mention
multiprocessing are not analysed, so their comments are not checked.

Example:
    procs = [Process(target=work) for _ in range(4)]  # noqa: MP005

Fixed:
    procs = [Process(target=work) for _ in range(4)]

Fix safety:
No fix: remove the code (or the comment) by hand.
"""

_DIRECTIVE = re.compile(
    r"#\s*noqa(?::\s?(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)
_CODE_SEPARATOR = re.compile(r"[,\s]+")
_MPFIX_CODE = re.compile(r"MP[0-9]+")
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def split_lines(text: str) -> list[str]:
    """Lines with their endings, broken where libcst breaks them (\\n, \\r\\n, \\r)."""
    return _LINE.findall(text)


@dataclass
class Directive:
    line: int
    start: int  # offset of the directive's `#` within the line
    end: int
    codes: Optional[tuple[str, ...]]  # None: a bare `# noqa`
    used: set[str] = field(default_factory=set)

    def covers(self, code: str) -> bool:
        return self.codes is None or code in self.codes


class Suppressions:
    """The `# noqa` comments of one module's text, read once on first use."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._mentioned = "noqa" in text.lower()
        self._directives: Optional[dict[int, Directive]] = None
        self._next_line: dict[int, int] = {}
        self._exact = True

    @property
    def exact(self) -> bool:
        """False when the text could not be tokenized and lines were read naively."""
        self._load()
        return self._exact

    def _load(self) -> dict[int, Directive]:
        if self._directives is None:
            self._directives = {}
            try:
                self._read_tokens()
            except (tokenize.TokenError, SyntaxError, ValueError):
                self._exact = False
                self._next_line = {}
                self._directives = dict(self._read_lines())
        return self._directives

    def _read_tokens(self) -> None:
        assert self._directives is not None
        previous: Optional[tokenize.TokenInfo] = None
        fstring_starts: list[int] = []
        fstring_start = getattr(tokenize, "FSTRING_START", None)
        fstring_end = getattr(tokenize, "FSTRING_END", None)
        for token in tokenize.generate_tokens(io.StringIO(self.text, newline=None).readline):
            row = token.start[0]
            if token.type == tokenize.COMMENT:
                directive = _directive(row, token.start[1], token.string)
                if directive is not None:
                    self._directives[row] = directive
            elif token.type == tokenize.STRING:
                self._continue(token.start[0], token.end[0])
            elif token.type == fstring_start:
                fstring_starts.append(row)
            elif token.type == fstring_end and fstring_starts:
                self._continue(fstring_starts.pop(), token.end[0])
            if previous is not None and row > previous.end[0] and previous.type not in (
                    tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT):
                # The lines in between end with a backslash continuation.
                self._continue(previous.end[0], row)
            if token.type not in (tokenize.DEDENT, tokenize.ENDMARKER):
                previous = token

    def _read_lines(self) -> Iterator[tuple[int, Directive]]:
        """Without tokens (the text does not tokenize here) take every `# noqa` on a line."""
        for number, line in enumerate(split_lines(self.text), start=1):
            position = line.find("#")
            if position >= 0:
                directive = _directive(number, position, line[position:].rstrip("\r\n"))
                if directive is not None:
                    yield number, directive

    def _continue(self, first: int, last: int) -> None:
        for row in range(first, last):
            self._next_line[row] = max(last, self._next_line.get(row, last))

    def noqa_line(self, line: int) -> int:
        """The line whose comment governs findings reported on `line`."""
        self._load()
        seen = set()
        while line in self._next_line and line not in seen:
            seen.add(line)
            line = self._next_line[line]
        return line

    def directive_on(self, line: int) -> Optional[Directive]:
        return self._load().get(self.noqa_line(line))

    def suppresses(self, code: str, line: int) -> bool:
        """Whether a finding of `code` reported on `line` is suppressed; records the use."""
        if not self._mentioned:
            return False
        directive = self.directive_on(line)
        if directive is None or not directive.covers(code):
            return False
        directive.used.add(code)
        return True

    def unused(self, enabled: Collection[str], known: Collection[str]) -> list[Finding]:
        """MP100 findings for mpfix codes that suppressed nothing."""
        if not self._mentioned:
            return []
        found = []
        for directive in sorted(self._load().values(), key=lambda d: d.line):
            if directive.codes is None:
                continue
            unknown = [c for c in directive.codes if _MPFIX_CODE.fullmatch(c) and c not in known
                       and c != UNUSED_NOQA]
            unused = [c for c in directive.codes
                      if c in enabled and c not in directive.used]
            parts = []
            if unused:
                parts.append(f"unused noqa code{'s' if len(unused) > 1 else ''}: {', '.join(unused)}")
            if unknown:
                parts.append(f"unknown rule code{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}")
            if parts:
                found.append(Finding(
                    line=directive.line, col=directive.start + 1, code=UNUSED_NOQA,
                    message="; ".join(parts), end_line=directive.line,
                    end_col=directive.end + 1, fix_safety=Safety.NONE))
        return found


def _directive(row: int, column: int, comment: str) -> Optional[Directive]:
    match = _DIRECTIVE.search(comment)
    if match is None:
        return None
    codes = match.group("codes")
    parsed = None if codes is None else tuple(
        c.upper() for c in _CODE_SEPARATOR.split(codes) if c)
    return Directive(line=row, start=column + match.start(), end=column + match.end(),
                     codes=parsed)


class NoqaError(Exception):
    pass


def _format(codes: Iterable[str]) -> str:
    return "# noqa: " + ", ".join(codes)


def add_noqa(text: str, findings: Iterable[Finding]) -> tuple[str, int]:
    """`text` with a `# noqa: CODES` for every finding; and how many lines got one.

    Idempotent: a finding already suppressed needs nothing, so a second call
    adds nothing. An existing `# noqa: X` is extended; any other comment stays
    and the directive follows it. Raises NoqaError when the text cannot be
    tokenized, since then no line can be proven to end outside a string.
    """
    suppressions = Suppressions(text)
    if not suppressions.exact:
        raise NoqaError("cannot tokenize the file; no noqa comments added")
    wanted: dict[int, list[str]] = {}
    for finding in findings:
        if finding.code == UNUSED_NOQA or suppressions.suppresses(finding.code, finding.line):
            continue
        codes = wanted.setdefault(suppressions.noqa_line(finding.line), [])
        if finding.code not in codes:
            codes.append(finding.code)
    if not wanted:
        return text, 0
    lines = split_lines(text)
    for number, codes in wanted.items():
        if not 0 < number <= len(lines):
            continue
        directive = suppressions.directive_on(number)
        lines[number - 1] = _with_directive(lines[number - 1], directive, sorted(codes))
    new = "".join(lines)
    _check_only_comments_changed(text, new)
    return new, len(wanted)


def _with_directive(line: str, directive: Optional[Directive], codes: list[str]) -> str:
    body = line.rstrip("\r\n")
    ending = line[len(body):]
    if directive is not None and directive.codes is not None:
        merged = list(directive.codes) + [c for c in codes if c not in directive.codes]
        return body[:directive.start] + _format(merged) + body[directive.end:] + ending
    return body.rstrip(" \t") + "  " + _format(codes) + ending


def _check_only_comments_changed(old: str, new: str) -> None:
    """Adding comments must leave the program itself exactly as it was."""
    try:
        before = ast.dump(ast.parse(old))
    except (SyntaxError, ValueError):
        return  # newer syntax than this interpreter reads; the tokenizer's word stands
    try:
        after = ast.dump(ast.parse(new))
    except (SyntaxError, ValueError) as error:
        raise NoqaError(f"adding noqa comments would break the file ({error})") from None
    if before != after:
        raise NoqaError("adding noqa comments would change the program; none added")



def add_noqa_to_source(source: bytes, findings: Iterable[Finding]) -> tuple[bytes, int]:
    """`add_noqa` on a file's bytes, keeping its encoding, BOM and line endings."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
        text = source.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError) as error:
        raise NoqaError(f"cannot decode: {error}") from None
    new, count = add_noqa(text, findings)
    return (new.encode(encoding) if count else source), count
