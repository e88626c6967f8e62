"""The release artefacts: sdist and wheel build, pass `twine check`, and install with everything.

The wheel is installed into a fresh virtual environment without its dependencies (nothing is
downloaded): what is checked is what the wheel itself puts into site-packages.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# What a release contains: everything the sdist's build needs (tests and fixtures stay out).
SOURCES = ["pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "LICENSE", "CHANGELOG.md",
           "mpfix-startmethod.pth", "_mpfix_starthook.py", "mpfix", "codemods"]

pytest.importorskip("build")


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("tree")
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, tree / name)
    out = tmp_path_factory.mktemp("dist")
    # No isolation: the build backend comes from the test environment (pyproject's test extra),
    # so the test needs no network.
    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(tree)],
                   check=True, capture_output=True, text=True)
    return out


def test_sdist_and_wheel_pass_twine_check(dist: Path) -> None:
    files = sorted(p.name for p in dist.iterdir())
    assert any(name.endswith(".tar.gz") for name in files), files
    assert any(name.endswith(".whl") for name in files), files
    result = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *map(str, dist.iterdir())],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_sdist_carries_license_and_changelog(dist: Path) -> None:
    import tarfile

    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"LICENSE", "CHANGELOG.md", "mpfix-startmethod.pth", "setup.py"} <= names


def test_wheel_installs_hook_codemods_and_pytest_plugin(dist: Path, tmp_path: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    env = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env)
    python = env / "bin" / "python"
    # The test environment's pip installs into the new one: no ensurepip run, no index.
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                    "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True, text=True)
    probe = (
        "import importlib.metadata as m, importlib.util as u, pathlib, sysconfig\n"
        "purelib = pathlib.Path(sysconfig.get_paths()['purelib'])\n"
        "print((purelib / 'mpfix-startmethod.pth').is_file())\n"
        "print(u.find_spec('mpfix.codemods') is not None)\n"
        "print(u.find_spec('_mpfix_starthook') is not None)\n"
        "print(sorted(e.value for e in m.entry_points(group='pytest11') if e.name == 'mpfix'))\n"
        "print(sorted(e.value for e in m.entry_points(group='console_scripts') if e.name == 'mpfix'))\n"
        "print(any(p.name == 'LICENSE' for p in m.distribution('mpfix').files))\n"
    )
    # From a directory without the checkout in it, so only the installed copy can be found.
    result = subprocess.run([str(python), "-I", "-c", probe], cwd=tmp_path,
                            check=True, capture_output=True, text=True)
    assert result.stdout.splitlines() == [
        "True", "True", "True", "['mpfix.verify.pytest_plugin']", "['mpfix.cli:main']", "True",
    ]
