"""Volunteers (志愿服务): profiles, teams, tasks and help requests, matching, offers, hours, stars, time bank.

Where the rules live:
- `volunteers.matching` — eligibility (hard rules), the score with its reasons, and the optimal batch solver
  (pure functions; `python -m bench.matching` measures it at 1,000 tasks x 10,000 volunteers).
- `volunteers.services.offers` — per-task matching, accept/decline, expiry, withdrawal, escalation, batch mode.
- `volunteers.services.hours` — check-in/out, approval once, the append-only hours ledger, totals, stars.
- `volunteers.timebank` — the double-entry time bank; `spend(...)` is the marketplace's entry point.
- `volunteers.tasks` — the worker side: a once-a-minute sweep and notifications from outbox events.

State machines. Task: open -> full (last place accepted) -> completed; open|full -> cancelled.
Assignment: offered -> accepted | declined | expired | withdrawn; accepted -> checked_in | cancelled | no_show;
checked_in -> checked_out (by the volunteer, or by the sweep, flagged for review); checked_out -> approved.
"""
