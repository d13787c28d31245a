import os

from piccolo.conf.apps import AppConfig

from scheduling.tables import Schedule, Slot

APP_CONFIG = AppConfig(
    app_name="scheduling",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[Schedule, Slot],
    migration_dependencies=["partners.piccolo_app"],
    commands=[],
)
