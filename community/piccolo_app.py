import os

from piccolo.conf.apps import AppConfig

from community.tables import Community, Grid, Membership, Resident

APP_CONFIG = AppConfig(
    app_name="community",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[Community, Membership, Grid, Resident],
    migration_dependencies=["linli.piccolo_app"],
    commands=[],
)
