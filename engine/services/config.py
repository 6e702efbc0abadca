"""What `config show` prints: every effective setting, secrets masked."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from engine.services.runtime import Runtime

MASK = "********"


def effective_settings(rt: Runtime) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in rt.settings.model_dump().items():
        if isinstance(value, SecretStr):
            out[name] = MASK if value.get_secret_value() else ""
        else:
            out[name] = value
    out["database_url"] = rt.db.redacted_url()
    cfg = rt.risk_config
    out["base_currency"] = cfg.base_currency
    out["fx_rates"] = {k: str(v) for k, v in sorted(cfg.fx_rates.items())}
    out["risk_parameters"] = {k: str(v) for k, v in sorted(cfg.parameters.items())}
    out["holidays"] = [d.isoformat() for d in cfg.holidays]
    out["workdays"] = [d.isoformat() for d in cfg.workdays]
    out["business_calendar"] = cfg.business_calendar
    return out
