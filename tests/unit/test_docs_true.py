"""The README and docs/ say what is true: links lead to pages that ship, no references to
documents that do not ship, the demo users listed are the demo's, and a new user learns
how to run the command."""

from __future__ import annotations

import re

import pytest

from engine.cli.demo import DEMO_USERS
from engine.settings import PROJECT_ROOT

PAGES = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_link_leads_to_a_file_that_ships(page: object) -> None:
    path = PROJECT_ROOT / str(page)
    text = path.read_text()
    missing = [
        target
        for target in LINK.findall(text)
        if "://" not in target and not (path.parent / target).exists()
    ]
    named = [
        m for m in re.findall(r"`(docs/[a-z_-]+\.md)`", text) if not (PROJECT_ROOT / m).exists()
    ]
    assert missing + named == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_no_page_refers_to_the_spec_which_does_not_ship(page: object) -> None:
    assert not re.search(r"\bSPEC\b", (PROJECT_ROOT / str(page)).read_text())


def test_the_readme_lists_exactly_the_demo_users() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    section = readme[readme.index("## Screenshots") :].split("\n\n")[1]
    listed = set(re.findall(r"`([a-z]+)`\s+\(", section))
    assert listed == {name for name, _, _ in DEMO_USERS}


def test_the_readme_says_how_to_run_the_command_and_pick_a_port() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert ".venv/bin/contractflow" in readme and "source .venv/bin/activate" in readme
    assert "make demo PORT=" in readme
