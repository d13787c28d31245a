"""Imports every package's actors so a worker (and its relay) knows them. Add a domain's tasks here."""

import marketplace.tasks  # noqa: F401
import notifications.tasks  # noqa: F401
import scheduling.tasks  # noqa: F401
import volunteers.tasks  # noqa: F401
import welfare.tasks  # noqa: F401
