"""`config/risk.yaml`: base currency, FX rates, rule thresholds and the business calendar.

Risk officers edit this file; it is validated strictly (unknown keys refused) and every
problem names `file:line`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import ValidationError

from engine.definitions.yamlio import format_loc, load_yaml_text, read_text
from engine.domain.riskconfig import RiskConfig
from engine.errors import InvalidDefinition

__all__ = ["RiskConfig", "load_risk_config"]


def load_risk_config(path: Path, base_currency: str | None = None) -> RiskConfig:
    """Read and check `risk.yaml`; a missing file gives the defaults (CNY, no FX rates)."""
    if not path.exists():
        cfg = RiskConfig()
    else:
        text = read_text(path)
        data, lines = load_yaml_text(text, str(path))
        if data is None:
            data = {}
        try:
            cfg = RiskConfig.model_validate(data)
        except ValidationError as exc:
            raise InvalidDefinition(
                f"{path}:{lines.line(err['loc']) or 1}: {format_loc(err['loc'])}: {err['msg']}"
                for err in exc.errors()
            ) from None
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        cfg = cfg.model_copy(update={"checksum": digest})
    if base_currency and base_currency != cfg.base_currency:
        cfg = cfg.model_copy(update={"base_currency": base_currency})
    return cfg
