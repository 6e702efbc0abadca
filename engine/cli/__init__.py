"""The `contractflow` command. Start-up stays light: heavy libraries load inside commands."""

from __future__ import annotations


def main() -> None:
    from engine.cli.app import run

    run()
