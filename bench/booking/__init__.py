"""Booking benchmark: the real `POST /api/v1/bookings` against a raw asyncpg baseline, under wrk."""
