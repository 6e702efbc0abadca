"""The pure workflow machine (DESIGN.md "One transition function") and SLA arithmetic."""
