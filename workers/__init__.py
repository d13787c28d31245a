"""Dramatiq broker, the typed actor wrapper, the outbox relay, schedules and the worker entry point."""
