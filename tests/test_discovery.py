"""Which files a run takes from a directory: .gitignore as git reads it."""

from __future__ import annotations

from pathlib import Path

from mpfix.engine.discovery import discover


def _found(root: Path) -> list[str]:
    return sorted(Path(p).relative_to(root).as_posix() for p in discover([str(root)], ()).files)


def test_a_pattern_git_cannot_read_is_skipped_and_the_rest_still_apply(tmp_path: Path) -> None:
    # A lone "!" is no pattern for git: it skips the line, and so must discovery
    # (pathspec raises on it; a real repository's test data holds such a file).
    (tmp_path / ".gitignore").write_text("!\nbuild/\n")
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "gen.py").write_text("x = 1\n")
    (tmp_path / "app.py").write_text("x = 1\n")
    assert _found(tmp_path) == ["app.py"]
