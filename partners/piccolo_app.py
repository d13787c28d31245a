import os

from piccolo.conf.apps import AppConfig

from partners.tables import Offering, Partner, PartnerMember, RevenueShareAgreement

APP_CONFIG = AppConfig(
    app_name="partners",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[Partner, PartnerMember, RevenueShareAgreement, Offering],
    migration_dependencies=["community.piccolo_app"],
    commands=[],
)
