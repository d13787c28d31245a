"""The welfare fund's stable error codes (declared once, here)."""

from linli.errors import Conflict, DomainError, register_code

INSUFFICIENT_FUNDS = register_code(
    "insufficient_funds", 409, "福利基金余额不足", "The welfare fund has insufficient funds"
)
LEDGER_UNBALANCED = register_code(
    "ledger_unbalanced", 422, "记账分录借贷不平衡", "Ledger entries of a transaction must sum to zero"
)
INVALID_PERIOD = register_code("invalid_period", 422, "账期格式应为 YYYY-MM", "A period is written YYYY-MM")
PERIOD_IN_FUTURE = register_code("period_in_future", 422, "不能结算或查询未来的账期", "This period is in the future")
SETTLEMENT_NOT_FOUND = register_code("settlement_not_found", 404, "结算任务不存在", "No such settlement run")
DISBURSEMENT_NOT_FOUND = register_code("disbursement_not_found", 404, "救助支出申请不存在", "No such disbursement")
SAME_PERSON_APPROVAL = register_code(
    "same_person_approval", 409, "申请人不能审批自己的申请(双人复核)", "The requester cannot approve their own request"
)
RECIPIENT_NOT_RESIDENT = register_code(
    "recipient_not_resident", 422, "受助人不是本社区居民", "The recipient is not a resident of this community"
)
TRANSACTION_NOT_FOUND = register_code("welfare_transaction_not_found", 404, "账目不存在", "No such ledger transaction")
ALREADY_REVERSED = register_code("already_reversed", 409, "该账目已冲正", "This transaction was already reversed")
NOT_REVERSIBLE = register_code(
    "not_reversible", 409, "该账目不能直接冲正", "This kind of transaction cannot be reversed directly"
)
ROUND_NOT_FOUND = register_code("budget_round_not_found", 404, "微实事轮次不存在", "No such budgeting round")
PROPOSAL_NOT_FOUND = register_code("budget_proposal_not_found", 404, "微实事提案不存在", "No such proposal")
ALREADY_VOTED = register_code("already_voted", 409, "本轮您已投过票", "You have already voted in this round")
STATEMENT_PARTNER_NOT_FOUND = register_code("statement_partner_not_found", 404, "合伙人不存在", "No such partner")


class InsufficientFunds(Conflict):
    code = INSUFFICIENT_FUNDS


class UnbalancedTransaction(DomainError):
    code = LEDGER_UNBALANCED
