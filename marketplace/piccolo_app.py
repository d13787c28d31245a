import os

from piccolo.conf.apps import AppConfig

from marketplace.tables import Booking, Complaint, OrderDispatch, Review, WaitlistEntry

APP_CONFIG = AppConfig(
    app_name="marketplace",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[Booking, WaitlistEntry, OrderDispatch, Review, Complaint],
    migration_dependencies=["scheduling.piccolo_app", "partners.piccolo_app", "linli.piccolo_app"],
    commands=[],
)
