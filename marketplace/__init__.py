"""Residents book partners' services: bookings, waitlist, on-demand orders with SLA, reviews, complaints.

Where each rule lives:
- capacity: `services/placing.py` (one atomic UPDATE of `slots.booked`; the marketplace is its only writer);
- price snapshot, best price and the daily limit (it caps *subsidised* units; extra units sell at list price):
  `pricing.py`;
- the booking state machine, cancellation rules and revenue recognition at completion: `services/bookings.py`;
- FIFO waitlist promotion: `services/waitlist.py`; on-demand dispatch, escalation: `services/orders.py`;
- SLA and service-quality reports: `services/reports.py`; what settlement reads: `services/revenue.py`.

Decisions worth knowing: any registered user may book for themself (priced with their priority groups in the
offering's community); community staff or the resident's grid worker may book on a resident's behalf (代办,
audited). Completing a confirmed slot booking accepts it implicitly; orders must be accepted first. The resident
cancels until the offering's cutoff; the partner side (its staff, its community's staff) any time with a reason.
"""
