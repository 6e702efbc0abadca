"""The product's `Runtime` for a flow or task run, closed afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from engine.services.runtime import Runtime
from engine.settings import get_settings


@contextmanager
def open_runtime() -> Iterator[Runtime]:
    """A runtime from the process's settings (`CONTRACTFLOW_*`): flows take no connection
    strings as parameters, so nothing secret ends up in Prefect's database."""
    rt = Runtime(get_settings())
    try:
        yield rt
    finally:
        rt.close()
