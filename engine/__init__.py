"""contractflow: contract approval workflows and risk rules."""

__version__ = "0.1.0"
