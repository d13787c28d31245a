"""Welfare fund services. Callers own the unit of work; nothing here commits."""
