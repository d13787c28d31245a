import os

from piccolo.conf.apps import AppConfig

from linli.tables import AuditEvent, IdempotencyKey, OutboxEvent, ProcessedMessage, ScheduleRun, User

APP_CONFIG = AppConfig(
    app_name="linli",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[User, AuditEvent, OutboxEvent, IdempotencyKey, ProcessedMessage, ScheduleRun],
    migration_dependencies=[],
    commands=[],
)
