"""Cron expressions as the scheduler reads them, checked when the settings load.

Prefect accepts a schedule only when its (vendored) croniter does, and a bad one kills the
flow runner with a line nobody reads (issue 19). The settings check the same grammar up
front so that `CONTRACTFLOW_ALERTS_CRON='every day'` stops every command with one line:
five fields (minute hour day-of-month month day-of-week), each `*`, a number, a range
`a-b`, a step `*/n` or `a-b/n`, or a comma list of those; month and weekday names
(`jan`, `mon`); the nicknames `@hourly`, `@daily`, `@midnight`, `@weekly`, `@monthly`,
`@yearly`, `@annually`. tests/unit/test_cron.py checks it agrees with Prefect's validator.
"""

from __future__ import annotations

import re

NICKNAMES = frozenset(
    {"@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually"}
)
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")

#: (name, lowest, highest, names mapped to numbers)
FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {m: i + 1 for i, m in enumerate(MONTHS)}),
    ("day of week", 0, 7, {d: i for i, d in enumerate(DAYS)}),
)
_ITEM = re.compile(r"^(?P<range>\*|[0-9a-z]+(?:-[0-9a-z]+)?)(?:/(?P<step>[0-9]+))?$")


def cron_problem(expression: str) -> str | None:
    """Why `expression` is not a cron schedule, or None when it is one."""
    text = expression.strip().lower()
    if text in NICKNAMES:
        return None
    parts = text.split()
    if len(parts) != 5:
        return (
            f"{expression!r} is not a cron expression: it needs 5 fields "
            "(minute hour day-of-month month day-of-week), e.g. '0 7 * * *'"
        )
    for part, (name, low, high, names) in zip(parts, FIELDS, strict=True):
        for item in part.split(","):
            match = _ITEM.match(item)
            if match is None:
                return f"{expression!r}: the {name} field {part!r} is not valid cron"
            if match["step"] is not None and int(match["step"]) == 0:
                return f"{expression!r}: the {name} field {part!r} has a step of 0"
            if match["range"] == "*":
                continue
            bounds = match["range"].split("-")
            values: list[int] = []
            for bound in bounds:
                value = names.get(bound) if not bound.isdigit() else int(bound)
                if value is None or not low <= value <= high:
                    return (
                        f"{expression!r}: {bound!r} is out of range for the {name} field "
                        f"({low}-{high})"
                    )
                values.append(value)
            if len(values) == 2 and values[0] > values[1]:
                return f"{expression!r}: the {name} range {match['range']!r} runs backwards"
    return None
