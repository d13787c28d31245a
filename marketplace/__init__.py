"""Residents book partners' services: bookings, waitlist, on-demand orders with SLA, reviews, complaints."""
