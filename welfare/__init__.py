"""The community welfare fund (社区福利基金): a double-entry ledger, settlement of partners' revenue share,
relief disbursements, reports, reconciliation and participatory budgeting (百姓微实事)."""
