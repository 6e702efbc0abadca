"""Files -> domain: contract files, workflow YAML and rule YAML, with line numbers."""
