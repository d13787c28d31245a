import os

from piccolo.conf.apps import AppConfig

from welfare.tables import (
    BudgetProposal,
    BudgetRound,
    BudgetVote,
    Deposit,
    Disbursement,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    SettlementLine,
    SettlementRun,
    SettlementRunPartner,
)

APP_CONFIG = AppConfig(
    app_name="welfare",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[
        LedgerAccount,
        LedgerTransaction,
        LedgerEntry,
        Deposit,
        Disbursement,
        SettlementRun,
        SettlementRunPartner,
        SettlementLine,
        BudgetRound,
        BudgetProposal,
        BudgetVote,
    ],
    migration_dependencies=[
        "marketplace.piccolo_app",
        "partners.piccolo_app",
        "community.piccolo_app",
        "linli.piccolo_app",
    ],
    commands=[],
)
