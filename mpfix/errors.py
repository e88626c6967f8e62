from __future__ import annotations

import click

EXIT_CLEAN, EXIT_FOUND, EXIT_ERROR = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for a Ctrl-C


class UsageError(click.ClickException):
    """A one-line `mpfix: error: ...` on stderr and exit 2: never a traceback."""

    exit_code = EXIT_ERROR

    def show(self, file=None) -> None:  # type: ignore[no-untyped-def]
        click.echo(f"mpfix: error: {self.format_message()}", err=True)
