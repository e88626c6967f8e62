"""The `mpfix` command line."""

from __future__ import annotations

import fnmatch
import sys
from pathlib import Path
from typing import Callable, Optional

import click

from mpfix import __version__
from mpfix.cache import Cache
from mpfix.config import ConfigError, find_config, load_config, settings_from
from mpfix.discovery import DiscoveryError, discover
from mpfix.findings import FileResult, Safety
from mpfix.registry import ALL_CODES, UnknownRule, expand_codes, rule_class
from mpfix.report import FORMATS, summary, write_findings
from mpfix.runner import default_jobs, run
from mpfix.settings import START_METHODS, FileSettings, Settings
from mpfix.writer import WriteError, write_atomically

EXIT_CLEAN, EXIT_FOUND, EXIT_ERROR = 0, 1, 2


class UsageError(click.ClickException):
    exit_code = EXIT_ERROR

    def show(self, file=None) -> None:  # type: ignore[no-untyped-def]
        click.echo(f"mpfix: error: {self.format_message()}", err=True)


def _split_codes(values: tuple[str, ...]) -> list[str]:
    return [code for value in values for code in value.split(",") if code.strip()]


def _build_settings(select, ignore, exclude, unsafe_fixes, target, config_path, isolated,
                    paths) -> tuple[Settings, Path]:  # type: ignore[no-untyped-def]
    try:
        if isolated:
            config = load_config(None)
        else:
            config = load_config(Path(config_path) if config_path else find_config(paths))
        settings = settings_from(config)
        if select:
            settings.select = expand_codes(_split_codes(select))
        if ignore:
            settings.ignore = settings.ignore | expand_codes(_split_codes(ignore))
    except ConfigError as error:
        raise UsageError(str(error)) from None
    except UnknownRule as error:
        raise UsageError(f"unknown rule code: {error}") from None
    if exclude:
        settings.exclude = tuple(exclude)
    if unsafe_fixes is not None:
        settings.unsafe_fixes = unsafe_fixes
    if target:
        settings.target_start_method = target
    return settings, config.root


def _matches(path: Path, root: Path, pattern: str) -> bool:
    try:
        text = path.absolute().relative_to(root).as_posix()
    except ValueError:
        text = path.as_posix()
    return fnmatch.fnmatch(text, pattern) or fnmatch.fnmatch(path.name, pattern)


def settings_for(settings: Settings, root: Path) -> Callable[[Path], FileSettings]:
    enabled = settings.select if settings.select is not None else frozenset(ALL_CODES)
    enabled = enabled - settings.ignore
    starters = tuple(sorted(settings.extra_starters.items()))

    def for_path(path: Path) -> FileSettings:
        codes = set(enabled)
        for pattern, ignored in settings.per_file_ignores.items():
            if _matches(path, root, pattern):
                codes -= ignored
        library = True if any(_matches(path, root, p) for p in settings.library_paths) else None
        return FileSettings(
            rules=tuple(sorted(codes)), unsafe_fixes=settings.unsafe_fixes,
            target_start_method=settings.target_start_method, extra_starters=starters,
            is_library=library, is_package_init=path.name == "__init__.py",
        )

    return for_path


def common_options(function: Callable) -> Callable:
    options = [
        click.argument("paths", nargs=-1, type=click.Path(path_type=str)),
        click.option("--select", multiple=True, help="Rule codes or prefixes to enable (comma-separated)."),
        click.option("--ignore", multiple=True, help="Rule codes or prefixes to disable."),
        click.option("--exclude", multiple=True, help="Glob of paths to skip (repeatable)."),
        click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
                     help="Worker processes (default: the machine's cores)."),
        click.option("--no-cache", is_flag=True, help="Neither read nor write the result cache."),
        click.option("--output-format", type=click.Choice(FORMATS), default="text", show_default=True),
        click.option("--target-start-method", type=click.Choice(START_METHODS), default=None,
                     help="The start method you are moving to (default: report for spawn and forkserver)."),
        click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
                     help="Read settings from this pyproject.toml."),
        click.option("--isolated", is_flag=True, help="Ignore every configuration file."),
        click.option("-q", "--quiet", is_flag=True, help="Print findings only, no summary."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="mpfix")
def main() -> None:
    """Find and fix multiprocessing code that breaks under spawn and forkserver."""


def _execute(paths, select, ignore, exclude, jobs, no_cache, output_format, target,
             config_path, isolated, quiet, *, fix: bool, unsafe_fixes: Optional[bool],
             diff: bool = False) -> int:  # type: ignore[no-untyped-def]
    if not paths:
        raise UsageError("no paths given (try `mpfix check .`)")
    settings, root = _build_settings(select, ignore, exclude, unsafe_fixes, target,
                                     config_path, isolated, paths)
    try:
        found = discover(paths, (*settings.exclude, *settings.extend_exclude),
                         settings.respect_gitignore)
    except DiscoveryError as error:
        raise UsageError(str(error)) from None
    cache = None if no_cache else Cache(Path.cwd(), __version__)
    report = run(found.files, settings_for(settings, root), fix=fix, jobs=jobs or default_jobs(),
                 cache=cache)
    changed = _apply_changes(report.results, report.sources, diff=diff)
    write_findings(output_format, report.results, sys.stdout)
    for result in report.results:
        if result.error:
            click.echo(f"{result.path}: error: {result.error}", err=True)
    if not quiet:
        hidden = 0 if settings.unsafe_fixes else sum(
            1 for r in report.results for f in r.findings if f.fix_safety is Safety.UNSAFE)
        click.echo(summary(report.results, fix=fix and not diff, skipped=report.skipped,
                           unsafe_hidden=hidden), err=True)
    if report.errors:
        return EXIT_ERROR
    if changed or any(r.findings for r in report.results):
        return EXIT_FOUND
    return EXIT_CLEAN


def _apply_changes(results: list[FileResult], sources: dict[str, bytes], *, diff: bool) -> int:
    from mpfix.diff import unified_diff

    changed = 0
    for result in results:
        if result.new_source is None:
            continue
        changed += 1
        if diff:
            sys.stdout.write(unified_diff(result.path, sources[result.path], result.new_source))
            continue
        try:
            write_atomically(Path(result.path), sources[result.path], result.new_source)
        except WriteError as error:
            result.error = str(error)
    return changed


@main.command()
@common_options
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when findings are reported.")
def check(paths, select, ignore, exclude, jobs, no_cache, output_format, target_start_method,
          config_path, isolated, quiet, exit_zero) -> None:  # type: ignore[no-untyped-def]
    """Report findings; exit 1 if there are any."""
    code = _execute(paths, select, ignore, exclude, jobs, no_cache, output_format,
                    target_start_method, config_path, isolated, quiet, fix=False, unsafe_fixes=None)
    sys.exit(EXIT_CLEAN if exit_zero and code == EXIT_FOUND else code)


@main.command()
@common_options
@click.option("--diff", is_flag=True, help="Write nothing; print a unified diff `git apply` accepts.")
@click.option("--unsafe-fixes/--no-unsafe-fixes", default=None,
              help="Also apply fixes that change signatures or control flow.")
def fix(paths, select, ignore, exclude, jobs, no_cache, output_format, target_start_method,
        config_path, isolated, quiet, diff, unsafe_fixes) -> None:  # type: ignore[no-untyped-def]
    """Rewrite files; exit 1 if a file changed or findings remain."""
    sys.exit(_execute(paths, select, ignore, exclude, jobs, no_cache, output_format,
                      target_start_method, config_path, isolated, quiet, fix=True,
                      unsafe_fixes=unsafe_fixes, diff=diff))


@main.command()
@click.argument("code", required=False)
@click.option("--all", "show_all", is_flag=True, help="Every rule.")
def rule(code: Optional[str], show_all: bool) -> None:
    """Show a rule's documentation."""
    if show_all:
        codes = list(ALL_CODES)
    elif code:
        codes = [code.upper()]
    else:
        raise UsageError("give a rule code (e.g. `mpfix rule MP001`) or --all")
    for index, current in enumerate(codes):
        try:
            cls = rule_class(current)
        except UnknownRule:
            raise UsageError(f"unknown rule code: {current}") from None
        if index:
            click.echo()
        click.echo(f"{cls.code} {cls.name} (fix: {cls.fix_safety})\n")
        click.echo(cls.documentation())


@main.command()
def clean() -> None:
    """Remove the result cache (.mpfix_cache) of the current directory."""
    removed = Cache(Path.cwd(), __version__).clear()
    click.echo("removed .mpfix_cache" if removed else "no cache to remove", err=True)


if __name__ == "__main__":  # pragma: no cover
    main()
