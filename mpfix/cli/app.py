"""The `mpfix` command line.

Exit status: 0 clean; 1 findings reported (check) or files changed or findings
left (fix); 2 usage, configuration or parse errors, and files that could not be
read or written. 2 wins: a run with findings and a file that does not parse
reports both and exits 2 (`--exit-zero` silences findings only). 130: interrupted
(Ctrl-C); mpfix says which files it had written.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Optional

import click

from mpfix import __version__
from mpfix.engine import runner
from mpfix.engine.cache import Cache
from mpfix.engine.config import ConfigError, Overrides, Resolver
from mpfix.engine.discovery import DiscoveryError, discover
from mpfix.findings import FileResult
from mpfix.engine.registry import UnknownRule, expand_codes
from mpfix.cli.report import (
    FIX_REPORT_FORMATS, FORMATS, FORMATS_WITH_EDITS, STATISTICS_FORMATS, fixes_text, summary,
    write_findings, write_fix_report, write_statistics,
)
from mpfix.settings import START_METHODS, FileSettings
from mpfix.engine.writer import WriteError, write_file

from mpfix.errors import EXIT_CLEAN, EXIT_ERROR, EXIT_FOUND, EXIT_INTERRUPTED, UsageError


@dataclass
class Options:
    """Everything a check or fix run was asked to do."""

    mode: str  # "check", "fix" or "diff"
    paths: tuple[str, ...]
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    extend_exclude: tuple[str, ...] = ()
    jobs: Optional[int] = None
    no_cache: bool = False
    output_format: Optional[str] = None  # None: `full` on a terminal, else `text`
    target_start_method: Optional[str] = None
    config_path: Optional[str] = None
    isolated: bool = False
    stdin_filename: Optional[str] = None
    quiet: bool = False
    verbose: bool = False
    exit_zero: bool = False
    add_noqa: bool = False
    report_unused_noqa: Optional[bool] = None
    unsafe_fixes: Optional[bool] = None
    interactive: bool = False
    color: Optional[bool] = None
    statistics: bool = False
    show_fixes: bool = False
    fix: bool = False  # `check --fix`, answered with a usage error

    @property
    def reads_stdin(self) -> bool:
        return self.stdin_filename is not None or self.paths == ("-",)


def _codes(values: tuple[str, ...], option: str) -> Optional[frozenset[str]]:
    codes = [code for value in values for code in value.split(",") if code.strip()]
    if not codes:
        return None
    try:
        return expand_codes(codes)
    except UnknownRule as error:
        raise UsageError(f"{option}: unknown rule code or name {error}") from None


def _resolver(options: Options) -> Resolver:
    edits = options.output_format in FORMATS_WITH_EDITS and options.mode != "diff" \
        and not options.statistics and not (options.reads_stdin and options.mode != "check")
    overrides = Overrides(
        select=_codes(options.select, "--select"),
        ignore=_codes(options.ignore, "--ignore") or frozenset(),
        exclude=options.exclude or None,
        extend_exclude=options.extend_exclude,
        unsafe_fixes=options.unsafe_fixes,
        target_start_method=options.target_start_method,
        report_unused_noqa=options.report_unused_noqa,
        edits=edits,
    )
    try:
        return Resolver(overrides, config_path=options.config_path, isolated=options.isolated)
    except ConfigError as error:
        raise UsageError(str(error)) from None


def common_options(function: Callable) -> Callable:
    options = [
        click.argument("paths", nargs=-1, type=click.Path(path_type=str)),
        click.option("--select", multiple=True, metavar="CODES",
                     help="Rule codes or prefixes to run (comma-separated); replaces the "
                          "configured select and ignore."),
        click.option("--ignore", multiple=True, metavar="CODES",
                     help="Rule codes or prefixes to skip, added to the configured ignore."),
        click.option("--exclude", multiple=True, metavar="GLOB",
                     help="Paths to skip (repeatable); replaces the configured exclude."),
        click.option("--extend-exclude", multiple=True, metavar="GLOB",
                     help="Paths to skip, in addition to the configured ones."),
        click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
                     help="Worker processes (default: the machine's cores)."),
        click.option("--no-cache", is_flag=True, help="Neither read nor write the result cache."),
        click.option("--output-format", type=click.Choice(FORMATS), default=None,
                     help="How findings are printed on stdout (default: full on a "
                          "terminal, else text)."),
        click.option("--target-start-method", type=click.Choice(START_METHODS), default=None,
                     help="The start method you are moving to (default: report for spawn "
                          "and forkserver)."),
        click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
                     help="Use this pyproject.toml's [tool.mpfix] for every path."),
        click.option("--isolated", is_flag=True, help="Ignore every configuration file."),
        click.option("--stdin-filename", default=None, metavar="NAME",
                     help="Read the source from stdin as if it were the file NAME (its "
                          "configuration applies); check prints findings, fix prints the "
                          "fixed source."),
        click.option("-q", "--quiet", is_flag=True, help="No summary on stderr."),
        click.option("-v", "--verbose", is_flag=True,
                     help="On stderr, per file: skipped by the prefilter, served from the "
                          "cache, or parsed (with its parse and analysis time); then the "
                          "slowest file."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


class _Commands(click.Group):
    """`mpfix run` is imported when it is asked for: its subprocess and signal machinery
    would cost every `check` (a pre-commit call on one file) a tenth of its time."""

    LAZY = {"run": ("mpfix.verify.run", "run_command")}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.LAZY})

    def get_command(self, ctx: click.Context, name: str) -> Optional[click.Command]:
        if name in self.LAZY and name not in self.commands:
            import importlib

            module, attribute = self.LAZY[name]
            self.add_command(getattr(importlib.import_module(module), attribute), name)
        return super().get_command(ctx, name)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mpfix")
def main() -> None:
    """Find and fix multiprocessing code that breaks under spawn and forkserver."""


@main.command()
@common_options
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when findings are reported.")
@click.option("--add-noqa", is_flag=True,
              help="Append `# noqa: CODE` to every line with a finding (adopt the rules "
                   "gradually); idempotent.")
@click.option("--report-unused-noqa/--no-report-unused-noqa", default=None,
              help="Report `# noqa` codes that suppress nothing, as MP100.")
@click.option("--statistics", is_flag=True,
              help="Print the number of findings per rule, and how many are fixable, "
                   "instead of the findings.")
@click.option("--fix", is_flag=True, hidden=True)  # answered with "use `mpfix fix`"
def check(**values: Any) -> None:
    """Report findings (in `.` when no path is given); exit 1 if there are any."""
    options = Options(mode="check", **values)
    if not options.paths and not options.reads_stdin:
        options.paths = (".",)
    sys.exit(_execute_interruptible(options))


@main.command()
@common_options
@click.option("--diff", is_flag=True,
              help="Write nothing; print a unified diff `git apply` accepts.")
@click.option("-i", "--interactive", is_flag=True,
              help="Review each fix (y apply, n skip, a all in this file, s skip the rest "
                   "of this file, r skip this rule everywhere, q quit); needs a terminal.")
@click.option("--unsafe-fixes/--no-unsafe-fixes", default=None,
              help="Also apply fixes that change signatures or control flow.")
@click.option("--color/--no-color", default=None,
              help="Colour the diff and the full output (default: when stdout is a "
                   "terminal and NO_COLOR is not set).")
@click.option("--show-fixes", is_flag=True,
              help="List the fixes applied (or, with --diff, that would be), per file "
                   "and rule.")
def fix(diff: bool, **values: Any) -> None:
    """Rewrite files; exit 1 if a file changed or findings remain."""
    sys.exit(_execute_interruptible(Options(mode="diff" if diff else "fix", **values)))


NON_TEXT_FORMATS = ("json", "sarif", "github")


def _validate(options: Options) -> None:
    if options.fix:
        raise UsageError("`mpfix check` only reports; use `mpfix fix` to apply fixes")
    if options.mode == "diff" and options.output_format in NON_TEXT_FORMATS:
        raise UsageError(f"--diff prints a patch; it cannot be combined with "
                         f"--output-format {options.output_format}")
    if options.reads_stdin:
        if options.paths not in ((), ("-",)):
            raise UsageError("--stdin-filename reads the source from stdin; give no paths")
        if options.interactive:
            raise UsageError("--interactive cannot review source read from stdin")
        if options.add_noqa:
            raise UsageError("--add-noqa writes files; it cannot be used on stdin")
    elif not options.paths:
        raise UsageError("no paths given (try `mpfix check .`)")
    if options.interactive:
        from mpfix.cli.interactive import stdin_is_terminal

        if not stdin_is_terminal():
            raise UsageError("--interactive needs a terminal on stdin and never reads answers "
                             "from a pipe; use `mpfix fix --diff` to review without one")
    if options.statistics and options.output_format not in (None, *STATISTICS_FORMATS):
        raise UsageError(f"--statistics prints text or JSON, not "
                         f"--output-format {options.output_format}")
    if options.add_noqa and options.report_unused_noqa:
        raise UsageError("--add-noqa and --report-unused-noqa cannot be combined")


@dataclass
class _Writes:
    """The files a run has to write and those written so far, so that an interrupted run
    can say which. The writer finishes or abandons the file in hand before a Ctrl-C is
    raised, so each file is either written in full or untouched."""

    due: int = 0
    written: list[str] = field(default_factory=list)

    def write(self, name: str, original: Optional[bytes], new: bytes) -> None:
        """Write `name` (read as `original`; None: create it)."""
        try:
            write_file(Path(name), original, new)
        except KeyboardInterrupt:
            # Deferred while the file was in hand, a Ctrl-C is raised as the writer
            # returns: the file may be written; what is on disk says.
            if _holds(Path(name), new):
                self.written.append(name)
            raise
        self.written.append(name)

    def interrupted_message(self) -> str:
        if not self.written:
            return "mpfix: interrupted; nothing was written"
        count = len(self.written)
        names = ", ".join(self.written[:3]) + (", ..." if count > 3 else "")
        done = f"wrote {_files(count)} in full ({names})"
        left = self.due - count
        return f"mpfix: interrupted; {done}" + (
            f"; the other {_files(left)} to write {'is' if left == 1 else 'are'} untouched"
            if left else "")


def _holds(path: Path, content: bytes) -> bool:
    try:
        return path.read_bytes() == content
    except OSError:
        return False


def _files(count: int) -> str:
    return f"{count} file{'' if count == 1 else 's'}"


def _execute_interruptible(options: Options) -> int:
    writes = _Writes()
    try:
        return _execute(options, writes)
    except KeyboardInterrupt:
        click.echo(writes.interrupted_message(), err=True)
        return EXIT_INTERRUPTED


def _default_format() -> str:
    try:
        return "full" if sys.stdout.isatty() else "text"
    except (AttributeError, ValueError):
        return "text"


def _execute(options: Options, writes: _Writes) -> int:
    _validate(options)
    options.output_format = options.output_format or _default_format()
    resolver = _resolver(options)
    if options.reads_stdin:
        return _execute_stdin(options, resolver)
    try:
        found = discover(options.paths, (*options.exclude, *options.extend_exclude),
                         resolver.respect_gitignore(options.paths))
        files = [path for path in found.files if not resolver.excluded(path)]
        settings = {path: resolver.file_settings(path) for path in files}
        cache_directory = resolver.cache_directory()
    except (DiscoveryError, ConfigError) as error:
        raise UsageError(str(error)) from None
    report = _run(options, files, settings, cache_directory)
    if options.add_noqa:
        return _finish_add_noqa(options, report, writes)
    unwritten: dict[str, int] = {}
    if options.mode == "diff":
        _print_patches(report, options.color)
    else:
        if options.mode == "fix":
            unwritten = _write_changes(report, settings, writes)
        _print_results(options, report)
    if options.show_fixes:
        _print_fixes(options, report)
    return _finish(options, report, settings, unwritten)


def _print_results(options: Options, report: runner.RunReport) -> None:
    fmt = options.output_format or "text"
    if options.statistics:
        write_statistics(fmt, report.results, sys.stdout)
    elif options.mode == "fix" and fmt in FIX_REPORT_FORMATS:
        write_fix_report(fmt, report.results, sys.stdout)
    else:
        from mpfix.engine.diff import should_color

        # A fixed file's findings point into its new text.
        sources = {r.path: r.new_source if r.new_source is not None
                   else report.sources.get(r.path, b"") for r in report.results}
        write_findings(fmt, report.results, sys.stdout, sources=sources,
                       color=should_color(sys.stdout, options.color))


def _print_fixes(options: Options, report: runner.RunReport) -> None:
    """--show-fixes: on stdout beside text findings, else on stderr (a patch or JSON
    owns stdout)."""
    to_stdout = options.mode == "fix" and options.output_format in ("text", "full")
    lines = fixes_text(report.results, would=options.mode == "diff")
    click.echo(lines, nl=False, err=not to_stdout)


def _run(options: Options, files: list[Path], settings: dict[Path, FileSettings],
         cache_directory: Path) -> runner.RunReport:
    from mpfix.cli.progress import Progress

    cache = None if options.no_cache else Cache(cache_directory, __version__)
    if options.interactive:
        return _review(options, files, settings, cache)
    progress = Progress.for_stderr(sys.stderr, allowed=True)
    try:
        return runner.run(files, settings.__getitem__, fix=options.mode != "check",
                          jobs=options.jobs or runner.default_jobs(), cache=cache,
                          progress=progress)
    finally:
        progress.close()


def _review(options: Options, files: list[Path], settings: dict[Path, FileSettings],
            cache: Optional[Cache]) -> runner.RunReport:
    """`fix -i`: a check counts the fixes to decide, then the fix run asks about each.
    Stopped by Ctrl-C or the end of input, it writes the files whose review was complete
    and says which (see mpfix.cli.interactive)."""
    from mpfix.engine.diff import should_color
    from mpfix.cli.interactive import Reviewer, ReviewStopped, planned_fixes

    jobs = options.jobs or runner.default_jobs()
    reviewed: list[tuple[FileResult, bytes]] = []
    try:
        check = runner.run(files, settings.__getitem__, fix=False, jobs=jobs, cache=cache)
        unsafe = {str(path): file.unsafe_fixes for path, file in settings.items()}
        reviewer = Reviewer(color=should_color(sys.stderr, options.color),
                            planned=planned_fixes(check.results, unsafe.__getitem__))
        # The fix run's results depend on the answers: never cached.
        return runner.run(files, settings.__getitem__, fix=True, jobs=1, cache=None,
                          approve=reviewer, on_result=lambda *done: reviewed.append(done))
    except (click.Abort, KeyboardInterrupt) as stop:
        written, failed = _write_reviewed(reviewed) if options.mode == "fix" else ([], [])
        raise ReviewStopped(written, failed,
                            interrupted=isinstance(stop, KeyboardInterrupt)) from None


def _write_reviewed(reviewed: list[tuple[FileResult, bytes]]) -> tuple[list[str], list[str]]:
    """Write the files a stopped review had finished; returns those written and those
    that could not be, with the reason."""
    written: list[str] = []
    failed: list[str] = []
    for result, source in reviewed:
        if result.new_source is None:
            continue
        try:
            for companion in result.companions:
                write_file(Path(companion.path), companion.original, companion.new)
                written.append(companion.path)
            write_file(Path(result.path), source, result.new_source)
            written.append(result.path)
        except WriteError as error:
            failed.append(f"{result.path} ({error})")
    return written, failed


def _write_patch(path: str, old: Optional[bytes], new: bytes, color: Optional[bool]) -> None:
    """The patch as bytes, so it applies to the bytes on disk whatever their encoding;
    `old` None: the patch creates the file."""
    from mpfix.engine.diff import colorize, should_color, unified_diff

    patch = unified_diff(path, old, new)
    sys.stdout.flush()
    sys.stdout.buffer.write(colorize(patch) if should_color(sys.stdout, color) else patch)
    sys.stdout.buffer.flush()


def _print_patches(report: runner.RunReport, color: Optional[bool]) -> None:
    for result in report.results:
        if result.new_source is not None:
            for companion in result.companions:
                _write_patch(companion.path, companion.original, companion.new, color)
            _write_patch(result.path, report.sources[result.path], result.new_source, color)


def _echo_errors(results: list[FileResult]) -> None:
    for result in results:
        if result.error:
            click.echo(f"{result.path}: error: {result.error}", err=True)


def _write_changes(report: runner.RunReport, settings: dict[Path, FileSettings],
                   writes: _Writes) -> dict[str, int]:
    """Write every fixed file; returns the files that could not be written, with the
    number of fixes each one loses."""
    unwritten: dict[str, int] = {}
    writes.due = sum(1 + len(result.companions) for result in report.results
                     if result.new_source is not None)
    for index, result in enumerate(report.results):
        if result.new_source is None:
            continue
        try:
            for companion in result.companions:  # first: the file imports from them
                writes.write(companion.path, companion.original, companion.new)
            writes.write(result.path, report.sources[result.path], result.new_source)
        except WriteError as error:
            unwritten[result.path] = sum(result.fixed.values())
            report.results[index] = replace(_as_read(result.path, report, settings),
                                            error=str(error))
    return unwritten


def _as_read(name: str, report: runner.RunReport,
             settings: dict[Path, FileSettings]) -> FileResult:
    """What `check` finds in a file as mpfix read it: the findings a fix that was not
    written leaves in place. The file's settings are the ones the run gave it."""
    from mpfix.engine.libraries import imported_files, package_modules
    from mpfix.engine.pipeline import process_source

    path = Path(name)
    file_settings = settings[path]
    if file_settings.is_library is None:
        loaded = {Path(other): source for other, source in report.sources.items()}
        if package_modules([path], loaded):
            file_settings = replace(file_settings, is_library=True)
        if imported_files([path], loaded):
            file_settings = replace(file_settings, imported_by_run=True)
    return process_source(report.sources[name], file_settings, path=name)


def _finish(options: Options, report: runner.RunReport,
            settings: dict[Path, FileSettings], unwritten: Optional[dict[str, int]] = None) -> int:
    _echo_errors(report.results)
    if options.verbose:
        from mpfix.cli.timings import verbose_lines

        for line in verbose_lines([r.path for r in report.results], report.timings):
            click.echo(line, err=True)
    if not options.quiet:
        unsafe = {str(path): s.unsafe_fixes for path, s in settings.items()}
        click.echo(summary(report.results, mode=options.mode, skipped=report.skipped,
                           unsafe_enabled=lambda path: unsafe.get(path, False),
                           unwritten=unwritten or {}), err=True)
    if options.verbose:
        from mpfix.cli.timings import slowest_line

        slowest = slowest_line(report.timings)
        if slowest:
            click.echo(slowest, err=True)
    if report.errors:
        return EXIT_ERROR
    found = any(r.findings for r in report.results)
    if options.mode == "check":
        return EXIT_CLEAN if options.exit_zero or not found else EXIT_FOUND
    changed = any(r.changed for r in report.results)
    return EXIT_FOUND if changed or found else EXIT_CLEAN


def _finish_add_noqa(options: Options, report: runner.RunReport, writes: _Writes) -> int:
    from mpfix.engine.noqa import NoqaError, add_noqa_to_source

    added, files = 0, 0
    writes.due = sum(1 for result in report.results if result.findings and not result.error)
    for result in report.results:
        if result.error or not result.findings:
            continue
        source = report.sources[result.path]
        try:
            new_source, count = add_noqa_to_source(source, result.findings)
            if count:
                writes.write(result.path, source, new_source)
        except (NoqaError, WriteError) as error:
            result.error = str(error)
            continue
        added += count
        files += 1 if count else 0
    _echo_errors(report.results)
    if not options.quiet:
        click.echo(f"Added {added} noqa directive{'s' if added != 1 else ''} to "
                   f"{files} file{'s' if files != 1 else ''}.", err=True)
    return EXIT_ERROR if report.errors else EXIT_CLEAN


def _execute_stdin(options: Options, resolver: Resolver) -> int:
    """Editor integration: source on stdin; findings, the fixed source or a patch on stdout."""
    from mpfix.engine.pipeline import process_source

    name = options.stdin_filename or "-"
    source = sys.stdin.buffer.read()
    path = Path(name)
    try:
        excluded = resolver.excluded(path)
        settings = resolver.file_settings(path)
    except ConfigError as error:
        raise UsageError(str(error)) from None
    fixing = options.mode != "check"
    result = FileResult(path=name) if excluded else process_source(
        source, settings, path=name, fix=fixing)
    _echo_errors([result])
    if options.mode == "check":
        if options.statistics:
            write_statistics(options.output_format or "text", [result], sys.stdout)
        else:
            from mpfix.engine.diff import should_color

            write_findings(options.output_format or "text", [result], sys.stdout,
                           sources={name: source}, color=should_color(sys.stdout, None))
        if result.error:
            return EXIT_ERROR
        return EXIT_FOUND if result.findings and not options.exit_zero else EXIT_CLEAN
    if options.mode == "diff":
        if result.new_source is not None:
            _write_patch(name, source, result.new_source, options.color)
    else:
        # On an error the source goes back unchanged: an editor must never lose text.
        sys.stdout.buffer.write(result.new_source if result.new_source is not None else source)
        sys.stdout.buffer.flush()
    if result.error:
        return EXIT_ERROR
    # stdout holds the source: what is left to do goes to stderr.
    write_findings("text", [result], sys.stderr)
    if options.mode == "diff" and result.new_source is not None:
        return EXIT_FOUND
    return EXIT_FOUND if result.findings else EXIT_CLEAN


@main.command()
@click.argument("code", required=False)
@click.option("--all", "show_all", is_flag=True, help="Every rule's full documentation.")
@click.option("--output-format", type=click.Choice(("text", "json")), default="text",
              show_default=True)
def rule(code: Optional[str], show_all: bool, output_format: str) -> None:
    """Show a rule's documentation (CODE is a code or a name, e.g. MP001 or main-guard);
    without one, list every rule: code, name, fix safety, on by default or opt-in."""
    import json

    from mpfix.cli.docs import documented_rules, rule_for, rule_line, rule_record, rule_text

    if show_all:
        classes = documented_rules()
    elif code:
        try:
            classes = [rule_for(code)]
        except UnknownRule:
            raise UsageError(f"unknown rule code: {code}") from None
    else:
        classes = documented_rules()
        if output_format == "text":
            click.echo("\n".join(rule_line(cls) for cls in classes))
            return
    if output_format == "json":
        records = [rule_record(cls) for cls in classes]
        one = code and not show_all
        click.echo(json.dumps(records[0] if one else records, indent=2, ensure_ascii=False))
        return
    click.echo("\n".join(rule_text(cls) for cls in classes), nl=False)


@main.command()
def clean() -> None:
    """Remove the result cache (.mpfix_cache at the project root, or `cache-dir`)."""
    try:
        directory = Resolver(Overrides()).cache_directory()
    except ConfigError as error:
        raise UsageError(str(error)) from None
    removed = Cache(directory, __version__, code="").clear()
    click.echo(f"removed {directory}" if removed else f"no cache to remove at {directory}",
               err=True)


if __name__ == "__main__":  # pragma: no cover
    main()
