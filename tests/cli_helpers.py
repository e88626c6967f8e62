"""Shared by the tests/test_cli*.py files: run the command line in-process."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Optional, Union

from click.testing import CliRunner, Result

from mpfix.cli.app import main

# MP001 (main-guard) reports `p.start()` on line 7 and fixes it safely into GUARDED.
UNGUARDED = textwrap.dedent('''\
    from multiprocessing import Process

    def work():
        print("hello")

    p = Process(target=work)
    p.start()
''')

GUARDED = textwrap.dedent('''\
    from multiprocessing import Process, freeze_support

    def work():
        print("hello")

    if __name__ == "__main__":
        freeze_support()
        p = Process(target=work)
        p.start()
''')

NOT_MULTIPROCESSING = "import threading\n\nthreading.Thread(target=print).start()\n"


def mpfix(*args: str, input: Optional[Union[str, bytes]] = None) -> Result:
    """`mpfix ARGS` in the current directory, without the cache (tests stay independent)."""
    command = list(args)
    if command and command[0] in ("check", "fix") and "--no-cache" not in command:
        command.insert(1, "--no-cache")
    return cli_runner().invoke(main, command, input=input, catch_exceptions=False)


def cli_runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)  # click 8.1 (Python 3.9) mixes them by default
    except TypeError:
        return CliRunner()  # click 8.2+ always captures stderr apart


def write(path: Path, text: Union[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def codes(result: Result) -> list[str]:
    """`path:CODE` for each line of text output."""
    found = []
    for line in result.stdout.splitlines():
        location, _, rest = line.partition(": ")
        found.append(f"{location.split(':')[0]}:{rest.split()[0]}")
    return sorted(found)

# MP004 (cooperative-shutdown) reports `p.terminate()` on line 13; its fix is unsafe.
TERMINATES = textwrap.dedent('''\
    import multiprocessing as mp

    def work(q):
        while True:
            item = q.get()
            print(item)

    def main():
        q = mp.Queue()
        p = mp.Process(target=work, args=(q,))
        p.start()
        q.put(1)
        p.terminate()

    if __name__ == "__main__":
        mp.freeze_support()
        main()
''')
