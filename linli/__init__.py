"""Linli composition root: settings, database, auth, errors, outbox, app factory and CLI."""

import os

# Piccolo finds its engine and apps through this module, wherever the process was started from.
os.environ.setdefault("PICCOLO_CONF", "linli.piccolo_conf")
