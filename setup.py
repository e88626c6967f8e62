"""Install mpfix's start-up hook file, `mpfix-startmethod.pth`, into site-packages.

Everything else is declared in pyproject.toml. A `.pth` file must sit at the root
of site-packages, which no pyproject.toml setting can ask for, so two commands
put it at the root of the wheel (the wheel format installs that root into
purelib):

- `pip install .` builds a regular wheel: build_py copies the file into build_lib;
- `pip install -e .` builds an editable wheel, where setuptools skips build_py's
  outputs and points at the source tree instead: the file is added to the finished
  wheel, with its RECORD row.

What the file does is explained in `_mpfix_starthook.py`.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

HOOK_PTH = "mpfix-startmethod.pth"


class build_py_with_hook(build_py):
    def run(self) -> None:
        super().run()
        if not self.editable_mode:
            self.copy_file(HOOK_PTH, str(Path(self.build_lib, HOOK_PTH)), preserve_mode=False)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = list(super().get_outputs(include_bytecode))
        if self.editable_mode:
            return outputs
        return [*outputs, str(Path(self.build_lib, HOOK_PTH))]

    def get_source_files(self) -> list[str]:
        return [*super().get_source_files(), HOOK_PTH]


class editable_wheel_with_hook(editable_wheel):
    def run(self) -> None:
        super().run()
        name = self.distribution.get_name().replace("-", "_")
        for wheel in Path(self.dist_dir).glob(f"{name}-*.whl"):
            add_to_wheel_root(wheel, Path(HOOK_PTH))


def add_to_wheel_root(wheel: Path, file: Path) -> None:
    """Rewrite `wheel` with `file` at its root and a row for it in RECORD (PEP 427)."""
    data = file.read_bytes()
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    row = f"{file.name},sha256={digest},{len(data)}\n".encode()
    rewritten = wheel.with_name(wheel.name + ".tmp")
    with zipfile.ZipFile(wheel) as source:
        if file.name in source.namelist():
            return
        with zipfile.ZipFile(rewritten, "w", zipfile.ZIP_DEFLATED) as target:
            for item in source.infolist():
                content = source.read(item)
                if item.filename.endswith(".dist-info/RECORD"):
                    content = content.rstrip(b"\r\n") + b"\n" + row
                target.writestr(item, content)
            target.writestr(file.name, data)
    rewritten.replace(wheel)


setup(cmdclass={"build_py": build_py_with_hook, "editable_wheel": editable_wheel_with_hook})
