"""Repositories: translate between the pydantic domain and the SQLAlchemy rows.

Services never see a row or a session; they see these methods and domain models. One module
per resource:

- ``users``: users, API tokens, sign-in sessions
- ``missions``: missions, roles, council members, quarters
- ``candidates``: candidates and options, evidence, red-team challenges
- ``council``: scores, seed questions and answers, pooled estimates
- ``audit``: the chained (and sealed) audit trail
- ``history_checks``: the background checks of that history, with their reports
- ``runs``: optimiser runs, their analyses and charts
- ``cycle``: allocation changes, dissents, update letters, trajectory, review comments
- ``ledger``: spend ledger, contracts, Treasury approvals
"""

from portfolio.adapters.repository._shared import STALE
from portfolio.adapters.repository.audit import CHAIN_LOCK, AuditTrail
from portfolio.adapters.repository.candidates import Candidates, Challenges, EvidenceLog
from portfolio.adapters.repository.council import Aggregates, Scores, Seeds
from portfolio.adapters.repository.cycle import CycleLog, Reviews
from portfolio.adapters.repository.history_checks import HistoryChecks
from portfolio.adapters.repository.ledger import Contracts, SpendLedger, TreasuryApprovals
from portfolio.adapters.repository.missions import Missions
from portfolio.adapters.repository.runs import Analyses, Charts, Runs
from portfolio.adapters.repository.users import Sessions, Users

__all__ = [
    "CHAIN_LOCK",
    "STALE",
    "Aggregates",
    "Analyses",
    "AuditTrail",
    "Candidates",
    "Challenges",
    "Charts",
    "Contracts",
    "CycleLog",
    "EvidenceLog",
    "HistoryChecks",
    "Missions",
    "Reviews",
    "Runs",
    "Scores",
    "Seeds",
    "Sessions",
    "SpendLedger",
    "TreasuryApprovals",
    "Users",
]
