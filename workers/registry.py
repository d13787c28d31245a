"""Imports every package's actors so workers (and the relay) know them. Add a domain's tasks here."""

import marketplace.tasks  # noqa: F401
import notifications.tasks  # noqa: F401
import scheduling.tasks  # noqa: F401
import volunteers.tasks  # noqa: F401
import welfare.tasks  # noqa: F401

TASK_MODULES = ["notifications.tasks"]
