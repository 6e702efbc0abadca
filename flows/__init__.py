"""Prefect flows: thin wrappers over services (alerts, escalations, re-scoring).

Importing this package applies Prefect's offline defaults (flows.environment) before any
submodule imports prefect. `flows.stack` (used by `contractflow serve`) imports no Prefect.
"""

from flows.environment import apply_offline_defaults

apply_offline_defaults()
