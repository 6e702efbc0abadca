"""Contract templates: the wording lives in `templates/contracts/*.yaml`, the layout in code.

A template is data that legal can edit (headings and clauses in Chinese and English, as
Jinja2 text over pre-formatted values) without touching the tables that intake reads back.
Loading checks the shape strictly so a typo in a template fails at load with its name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from engine import yamlsafe
from engine.errors import InvalidInput, NotFound

TABLES = ("key_terms", "schedule", "guarantees", "obligations")


@dataclass(frozen=True)
class Clause:
    zh: str
    en: str


@dataclass(frozen=True)
class Article:
    heading_en: str
    heading_zh: str
    clauses: tuple[Clause, ...]
    table: str | None


@dataclass(frozen=True)
class ContractTemplate:
    name: str
    title_en: str
    title_zh: str
    our_role: str
    preamble: tuple[Clause, ...]
    articles: tuple[Article, ...]


@dataclass(frozen=True)
class Company:
    """Our side of every contract (`templates/contracts/company.yaml`)."""

    name_en: str
    name_zh: str
    address_en: str = ""
    address_zh: str = ""
    signing_place_en: str = ""
    signing_place_zh: str = ""


def _load_yaml(path: Path) -> Any:
    """Templates are admin data like workflows: the same bounded YAML reader applies."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: cannot read template: {exc}") from None
    return yamlsafe.load(text, str(path), typ="safe")


def _text(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise InvalidInput(f"{where}.{key}: expected text")
    return value


def _clauses(items: Any, where: str) -> tuple[Clause, ...]:
    if items is None:
        return ()
    if not isinstance(items, list):
        raise InvalidInput(f"{where}: expected a list of {{zh, en}} clauses")
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping) or set(item) - {"zh", "en"}:
            raise InvalidInput(f"{where}[{i}]: expected keys zh and en")
        out.append(Clause(zh=str(item.get("zh", "")), en=str(item.get("en", ""))))
    return tuple(out)


def available_templates(templates_dir: Path) -> list[str]:
    folder = templates_dir / "contracts"
    return sorted(p.stem for p in folder.glob("*.yaml") if p.stem != "company")


@lru_cache(maxsize=16)
def _load_template_cached(path: Path, mtime: float) -> ContractTemplate:
    data = _load_yaml(path)
    where = path.name
    if not isinstance(data, Mapping):
        raise InvalidInput(f"{where}: expected a mapping")
    unknown = set(data) - {"title", "our_role", "preamble", "articles"}
    if unknown:
        raise InvalidInput(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    title = data.get("title") or {}
    if not isinstance(title, Mapping):
        raise InvalidInput(f"{where}.title: expected {{en, zh}}")
    articles = []
    for i, art in enumerate(data.get("articles") or []):
        at = f"{where}.articles[{i}]"
        if not isinstance(art, Mapping):
            raise InvalidInput(f"{at}: expected a mapping")
        heading = art.get("heading") or {}
        table = art.get("table")
        if table is not None and table not in TABLES:
            raise InvalidInput(f"{at}.table: {table!r} is not one of {', '.join(TABLES)}")
        articles.append(
            Article(
                heading_en=_text(heading, "en", f"{at}.heading"),
                heading_zh=_text(heading, "zh", f"{at}.heading"),
                clauses=_clauses(art.get("clauses"), f"{at}.clauses"),
                table=table,
            )
        )
    if not any(a.table == "key_terms" for a in articles):
        raise InvalidInput(f"{where}: no article has `table: key_terms` (intake needs it)")
    role = data.get("our_role")
    if role not in {"seller", "buyer"}:
        raise InvalidInput(f"{where}.our_role: expected seller or buyer")
    return ContractTemplate(
        name=path.stem,
        title_en=_text(title, "en", f"{where}.title"),
        title_zh=_text(title, "zh", f"{where}.title"),
        our_role=str(role),
        preamble=_clauses(data.get("preamble"), f"{where}.preamble"),
        articles=tuple(articles),
    )


def load_template(templates_dir: Path, name: str) -> ContractTemplate:
    """The named template; an unknown name lists the templates there are."""
    path = templates_dir / "contracts" / f"{name}.yaml"
    if name == "company" or not path.is_file():
        known = ", ".join(available_templates(templates_dir)) or "(none)"
        raise NotFound(f"template {name!r} does not exist (templates: {known})")
    return _load_template_cached(path, path.stat().st_mtime)


def load_company(templates_dir: Path) -> Company:
    path = templates_dir / "contracts" / "company.yaml"
    if not path.is_file():
        return Company(name_en="Our Company", name_zh="我方公司")
    return _load_company_cached(path, path.stat().st_mtime)


@lru_cache(maxsize=4)
def _load_company_cached(path: Path, mtime: float) -> Company:
    data = _load_yaml(path)
    if not isinstance(data, Mapping):
        raise InvalidInput(f"{path.name}: expected a mapping")
    fields = set(Company.__dataclass_fields__)
    unknown = set(data) - fields
    if unknown:
        raise InvalidInput(f"{path.name}: unknown keys {', '.join(sorted(unknown))}")
    return Company(**{k: str(v) for k, v in data.items()})


def render_text(source: str, values: Mapping[str, Any]) -> str:
    """One clause through Jinja2 (sandboxed, undefined names are an error)."""
    from jinja2 import TemplateError

    try:
        return _compiled(source).render(**values).strip()
    except TemplateError as exc:
        raise InvalidInput(f"contract template clause {source[:40]!r}...: {exc}") from None


@lru_cache(maxsize=512)
def _compiled(source: str) -> Any:
    """Clauses compile once per process (compiling costs more than rendering)."""
    from jinja2 import StrictUndefined, TemplateError
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    try:
        return env.from_string(source)
    except TemplateError as exc:
        raise InvalidInput(f"contract template clause {source[:40]!r}...: {exc}") from None
