"""Build step that pyproject.toml cannot express: ship the default data folders.

`config/`, `rules/` and `templates/` live at the top of the checkout, where operators and
reviewers edit them. A wheel gets a copy under `engine/defaults/` so that a regular
`pip install .` (not editable) has them; `engine.settings` uses that copy when the
checkout's folders are not beside the package (issue 19 item 4).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
DATA_FOLDERS = ("config", "rules", "templates")


class BuildWithDefaults(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / "engine" / "defaults"
        for name in DATA_FOLDERS:
            destination = target / name
            if destination.exists():
                shutil.rmtree(destination)
            shutil.copytree(
                HERE / name, destination, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )


setup(cmdclass={"build_py": BuildWithDefaults})
