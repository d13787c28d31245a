"""Marketplace services: bookings, waitlist, on-demand orders, reviews and complaints, reports, revenue.

Callers own the unit of work; every function is keyword-only and raises domain errors.
"""
