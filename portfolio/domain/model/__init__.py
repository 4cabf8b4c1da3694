"""The domain of a technological innovation mission, as pydantic models with no I/O.

Validation follows DESIGN.md sections 2 and 4: probabilities 0.01-0.99, low <= most likely <= high,
TRL 1-9, financial years like ``2026-27``, quarters like ``2026-27 Q3``, money >= 0, ids slug-safe.

One module per subject: ``common`` (patterns, typed quantities, quarter helpers, ``Strict``),
``mission`` (envelopes, candidates, funding options), ``council`` (scores, evidence, seed
questions, challenges), ``quarter`` (quarter state, allocation changes, the letter), ``runs``
(optimiser runs and their analyses), ``people`` (users, roles, the audit trail) and ``spending``
(spend, contracts, Treasury approvals). Every public name is importable from here.
"""

# part of this model, defined once where they are stated: the three-point estimate and PERT
# (optimiser.pert) and the delivery-confidence rating (portfolio.domain.rag)
from optimiser.pert import MAX_QUANTITY as MAX_QUANTITY
from optimiser.pert import ORDER_RULE as ORDER_RULE
from optimiser.pert import ThreePoint as ThreePoint
from portfolio.domain.model.common import FY_RE as FY_RE
from portfolio.domain.model.common import MAX_MONEY as MAX_MONEY
from portfolio.domain.model.common import QUARTER_RE as QUARTER_RE
from portfolio.domain.model.common import SLUG_PATTERN as SLUG_PATTERN
from portfolio.domain.model.common import TRL as TRL
from portfolio.domain.model.common import USERNAME_PATTERN as USERNAME_PATTERN
from portfolio.domain.model.common import Amount as Amount
from portfolio.domain.model.common import FinancialYear as FinancialYear
from portfolio.domain.model.common import FiniteFloat as FiniteFloat
from portfolio.domain.model.common import Money as Money
from portfolio.domain.model.common import Name as Name
from portfolio.domain.model.common import Probability as Probability
from portfolio.domain.model.common import Quantity as Quantity
from portfolio.domain.model.common import QuarterLabel as QuarterLabel
from portfolio.domain.model.common import Share as Share
from portfolio.domain.model.common import Slug as Slug
from portfolio.domain.model.common import Strict as Strict
from portfolio.domain.model.common import Text as Text
from portfolio.domain.model.common import Username as Username
from portfolio.domain.model.common import next_quarter as next_quarter
from portfolio.domain.model.common import quarter_dates as quarter_dates
from portfolio.domain.model.common import quarter_of as quarter_of
from portfolio.domain.model.council import MAX_COST_OVERRUN as MAX_COST_OVERRUN
from portfolio.domain.model.council import Challenge as Challenge
from portfolio.domain.model.council import Confidence as Confidence
from portfolio.domain.model.council import CouncilMember as CouncilMember
from portfolio.domain.model.council import Dissent as Dissent
from portfolio.domain.model.council import Evidence as Evidence
from portfolio.domain.model.council import EvidenceKind as EvidenceKind
from portfolio.domain.model.council import ReviewComment as ReviewComment
from portfolio.domain.model.council import Score as Score
from portfolio.domain.model.council import ScoreStatus as ScoreStatus
from portfolio.domain.model.council import Sector as Sector
from portfolio.domain.model.council import SeedAnswer as SeedAnswer
from portfolio.domain.model.council import SeedQuestion as SeedQuestion
from portfolio.domain.model.council import StoredAggregate as StoredAggregate
from portfolio.domain.model.council import SubmittedP as SubmittedP
from portfolio.domain.model.mission import AGGREGATION_LABELS as AGGREGATION_LABELS
from portfolio.domain.model.mission import MAX_OPTIONS as MAX_OPTIONS
from portfolio.domain.model.mission import AggregationMethod as AggregationMethod
from portfolio.domain.model.mission import Candidate as Candidate
from portfolio.domain.model.mission import Envelope as Envelope
from portfolio.domain.model.mission import FundingOption as FundingOption
from portfolio.domain.model.mission import Mission as Mission
from portfolio.domain.model.mission import OrganisationType as OrganisationType
from portfolio.domain.model.mission import Tier as Tier
from portfolio.domain.model.mission import (
    check_candidate_fits_mission as check_candidate_fits_mission,
)
from portfolio.domain.model.people import HISTORY_CHECK_ACTIVE as HISTORY_CHECK_ACTIVE
from portfolio.domain.model.people import ROLE_LABELS as ROLE_LABELS
from portfolio.domain.model.people import AuditEntry as AuditEntry
from portfolio.domain.model.people import ChainedAuditEntry as ChainedAuditEntry
from portfolio.domain.model.people import Hash as Hash
from portfolio.domain.model.people import HistoryCheck as HistoryCheck
from portfolio.domain.model.people import Role as Role
from portfolio.domain.model.people import RoleAssignment as RoleAssignment
from portfolio.domain.model.people import User as User
from portfolio.domain.model.quarter import AllocationChange as AllocationChange
from portfolio.domain.model.quarter import ChangeKind as ChangeKind
from portfolio.domain.model.quarter import Quarter as Quarter
from portfolio.domain.model.quarter import QuarterlyUpdate as QuarterlyUpdate
from portfolio.domain.model.quarter import QuarterState as QuarterState
from portfolio.domain.model.quarter import ScoringState as ScoringState
from portfolio.domain.model.quarter import TrajectoryPoint as TrajectoryPoint
from portfolio.domain.model.runs import ANALYTICS_KINDS as ANALYTICS_KINDS
from portfolio.domain.model.runs import RUN_ACTIVE as RUN_ACTIVE
from portfolio.domain.model.runs import RUN_STATUSES as RUN_STATUSES
from portfolio.domain.model.runs import Allocation as Allocation
from portfolio.domain.model.runs import OptimiserRun as OptimiserRun
from portfolio.domain.model.runs import RunAnalysis as RunAnalysis
from portfolio.domain.model.runs import RunRecord as RunRecord
from portfolio.domain.model.runs import p_target_of as p_target_of
from portfolio.domain.model.spending import ApprovalState as ApprovalState
from portfolio.domain.model.spending import Contract as Contract
from portfolio.domain.model.spending import ContractState as ContractState
from portfolio.domain.model.spending import SpendEntry as SpendEntry
from portfolio.domain.model.spending import SpendKind as SpendKind
from portfolio.domain.model.spending import TreasuryApproval as TreasuryApproval
from portfolio.domain.rag import Rag as Rag
