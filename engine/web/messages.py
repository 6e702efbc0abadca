"""Refusals in the page's words.

The services word their refusals for the command line (`--comment: reject needs a comment
saying why`, `stage legal_review`); a person on a page has a Comment box and sees stage
names, not option names and ids. This turns one into the other, so a refused action shows
as an error banner that says what to do on the page in front of them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

#: Command-line options and the page controls that stand for them.
FIELDS = {
    "--comment": "the Comment box",
    "--reason": "the Reason box",
    "--on": "the date",
    "--force": "the “before the contract starts” box",
}

_OPTION_FIRST = re.compile(r"^(--[a-z-]+): (.*)$", re.S)
_OPTION = re.compile(r"--[a-z][a-z-]*")
_IDENTIFIER = re.compile(r"\b([a-z]+(?:_[a-z]+)+)\b")
_BACKTICKS = re.compile(r"`([^`]*)`")


def _option(match: re.Match[str]) -> str:
    return FIELDS.get(match.group(0), match.group(0).lstrip("-").replace("-", " "))


def page_words(lines: Sequence[str] | str) -> str:
    """`--comment: reject needs a comment saying why` -> `Reject needs a comment saying why
    (write it in the Comment box).`; identifiers (`legal_review`) read as words."""
    out = []
    for line in [lines] if isinstance(lines, str) else lines:
        text = line.strip()
        hint = ""
        first = _OPTION_FIRST.match(text)
        if first:
            option, text = first.groups()
            if option in FIELDS:
                hint = f" (see {FIELDS[option]})"
        text = _BACKTICKS.sub(lambda m: m.group(1), text)
        text = _OPTION.sub(_option, text)
        text = _IDENTIFIER.sub(lambda m: m.group(1).replace("_", " "), text)
        text = text[:1].upper() + text[1:]
        out.append(text.rstrip(".") + hint + ".")
    return " ".join(out)
