"""Effective settings, from `CONTRACTFLOW_*` environment variables and an optional `.env`.

Everything a deployment may change lives here so that `contractflow config show` can print
one true picture of it. Risk thresholds, the base currency and FX rates are data that risk
officers edit, so they live in `config/risk.yaml` (see `engine.definitions.riskconfig`);
`base_currency` here only overrides the file.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from engine.cron import cron_problem

#: The checkout (or, installed, the folder that holds the `engine` and `flows` packages).
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _defaults_root() -> Path:
    """Where the default config/, rules/ and templates/ are: the checkout's own folders, or
    the copy a wheel carries in `engine/defaults/` (setup.py) after a regular install."""
    if all((PROJECT_ROOT / name).is_dir() for name in ("config", "rules", "templates")):
        return PROJECT_ROOT
    return Path(__file__).resolve().parent / "defaults"


DEFAULTS_ROOT = _defaults_root()


class Settings(BaseSettings):
    """Deployment settings. Secrets are `SecretStr` so they never print by accident."""

    model_config = SettingsConfigDict(
        env_prefix="CONTRACTFLOW_", env_file=".env", extra="ignore", frozen=True
    )

    database_url: str = Field(
        default="sqlite:///contractflow.db",
        description="Any SQLAlchemy URL; PostgreSQL as postgresql+psycopg://user@host/db",
    )
    data_dir: Path = Field(
        default=Path(".contractflow"), description="Runtime files (Prefect home)"
    )
    config_dir: Path = DEFAULTS_ROOT / "config"
    rules_dir: Path = DEFAULTS_ROOT / "rules"
    templates_dir: Path = DEFAULTS_ROOT / "templates"
    base_currency: str | None = Field(default=None, description="Overrides config/risk.yaml")
    risk_backend: Literal["durable", "python"] = "durable"
    risk_workers: int = Field(default=1, ge=1, le=32)

    user: str | None = Field(default=None, description="Acting user when --as is not given")
    default_language: Literal["en", "zh-CN"] = Field(
        default="en", description="Pages and emails for readers with no setting or browser match"
    )

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_ssl: bool = Field(
        default=False, description="Implicit TLS from the first byte (SMTPS, usually port 465)"
    )
    smtp_timeout_seconds: float = 10.0
    mail_from: str = "contractflow@localhost"
    base_url: str | None = Field(
        default=None, description="Links in emails, e.g. https://cf.example.com"
    )

    task_emails: bool = Field(
        default=True,
        description="Email reviewers when a task is theirs (off: only inbox, digest and alerts)",
    )
    action_link_days: int = Field(
        default=7, ge=1, le=90, description="Days a one-click approval link in an email works"
    )
    notice_poll_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How often `serve` looks for task emails written by other processes",
    )
    digest_cron: str = "0 8 * * *"
    reminders_cron: str = "0 6 * * *"

    secret_key: SecretStr | None = Field(
        default=None,
        description="Signs web session cookies; unset: a random key kept in data_dir/session.key",
    )
    session_cookie_secure: bool | None = Field(
        default=None,
        description="Mark the session cookie Secure (HTTPS only); unset: on when base_url is https",
    )
    audit_key: SecretStr | None = Field(
        default=None,
        description="Keys the audit trail's HMAC chain (default: audit.key in data_dir, "
        "made on first use)",
    )
    upload_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    timezone: str = Field(
        default="Asia/Shanghai",
        description="IANA time zone for displayed times, cron schedules and 'today' in due "
        "dates and alerts; storage stays UTC",
    )
    alerts_time_budget_seconds: float = Field(
        default=300.0,
        gt=0,
        le=86_400,
        description="An alerts run starts no new delivery after this long; the rest stay "
        "pending for the next run",
    )
    alerts_cron: str = "0 7 * * *"
    escalations_cron: str = "0 * * * *"
    rescore_cron: str = "30 2 * * *"
    prefect_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Port of the local Prefect server/UI under `serve` (default 4200, "
        "else any free port)",
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["text", "json"] = Field(
        default="text", description="text lines, or one JSON object per line"
    )

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("alerts_cron", "escalations_cron", "rescore_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        """A bad schedule would only kill the flow runner later; refuse it at load."""
        problem = cron_problem(value)
        if problem:
            raise ValueError(problem)
        return value.strip()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{value!r} is not a time zone (an IANA name such as Asia/Shanghai or UTC)"
            ) from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def cookie_secure(self) -> bool:
        """Whether the session cookie is sent over HTTPS only (the setting, else the scheme
        of `base_url`)."""
        if self.session_cookie_secure is not None:
            return self.session_cookie_secure
        return (self.base_url or "").lower().startswith("https://")


def settings_problems(exc: Exception) -> list[str] | None:
    """One line per bad setting, named as the operator wrote it (`CONTRACTFLOW_SMTP_PORT`),
    when `exc` is the settings' own validation error; None for anything else."""
    from pydantic import ValidationError

    if not isinstance(exc, ValidationError) or exc.title != Settings.__name__:
        return None
    lines = []
    for err in exc.errors():
        name = "CONTRACTFLOW_" + "_".join(str(p) for p in err["loc"][:1]).upper()
        value = err.get("input")
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        quiet = name.endswith(("_CRON", "_PASSWORD", "_KEY")) or not isinstance(value, str)
        lines.append(f"{name}: {message}" + ("" if quiet else f" (got {value!r})"))
    return lines


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once; tests call `get_settings.cache_clear()`)."""
    return Settings()
