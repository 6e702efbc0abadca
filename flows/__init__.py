"""Prefect flows: thin wrappers over services (alerts, escalations, re-scoring)."""
