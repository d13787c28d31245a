"""Piccolo's configuration: the engine and every app, in dependency order."""

from piccolo.conf.apps import AppRegistry

from linli.db import build_engine

DB = build_engine()

APP_REGISTRY = AppRegistry(
    apps=[
        "linli.piccolo_app",
        "community.piccolo_app",
        "volunteers.piccolo_app",
        "notifications.piccolo_app",
        "partners.piccolo_app",
        "scheduling.piccolo_app",
        "marketplace.piccolo_app",
        "welfare.piccolo_app",
    ]
)
