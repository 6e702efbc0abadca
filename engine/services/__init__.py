"""Use cases. Interfaces (CLI, web, flows) call these; they own transactions."""
