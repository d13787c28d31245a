import os

from piccolo.conf.apps import AppConfig

from volunteers.tables import (
    Assignment,
    Availability,
    Certificate,
    DayOff,
    HoursEntry,
    ServiceCertificate,
    Skill,
    Task,
    Team,
    TeamMember,
    TeamOffer,
    TimeAccount,
    TimeEntry,
    TimeTransaction,
    Volunteer,
    VolunteerSettings,
    VolunteerSkill,
)

APP_CONFIG = AppConfig(
    app_name="volunteers",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[
        Skill,
        VolunteerSettings,
        Volunteer,
        VolunteerSkill,
        Availability,
        DayOff,
        Certificate,
        Team,
        TeamMember,
        Task,
        TeamOffer,
        Assignment,
        HoursEntry,
        ServiceCertificate,
        TimeAccount,
        TimeTransaction,
        TimeEntry,
    ],
    migration_dependencies=["community.piccolo_app"],
    commands=[],
)
