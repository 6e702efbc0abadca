"""Domain models: pydantic and the standard library only, no I/O."""
