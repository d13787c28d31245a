"""Settlement benchmark: 1,000,000 completed bookings settled against one raw INSERT … SELECT."""
