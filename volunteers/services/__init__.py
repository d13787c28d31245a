"""Volunteers' services, one module per concern; each function joins the caller's unit of work."""
