"""Time: one-off and weekly recurring slots with capacity, materialised ahead; iCal feeds."""
