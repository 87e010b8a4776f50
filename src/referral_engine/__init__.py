"""referral-engine: declarative eligibility rules and a partner graph for migrants' referrals.

>>> from referral_engine import recommend
>>> rec = recommend({"age": 19, "residence_status": "gestattung", "municipality": "Staufen"})
>>> rec.eligible                                       # doctest: +SKIP
"""

from .batch import CaseStatuses, recommend_many
from .errors import (
    CaseFileError,
    EngineError,
    FieldProblem,
    ProfileError,
    ReferralEngineError,
    RuleFileError,
    RuleProblem,
    UsageError,
)
from .handover import RESTRICTED_STATUSES, HandoverPacket, HandoverRecord
from .loader import default_ruleset, load_ruleset
from .models import (
    CaseProfile,
    ConditionOutcome,
    Consent,
    Handover,
    NextStep,
    Question,
    Reason,
    Recommendation,
    ServiceDecision,
    Status,
    StatusChange,
    Timeline,
)
from .recommend import recommend
from .ruleset import Ruleset
from .whatif import DecisionChange, WhatIf, WhyNot, what_if, why_not

__all__ = [
    "RESTRICTED_STATUSES",
    "CaseFileError",
    "CaseProfile",
    "CaseStatuses",
    "ConditionOutcome",
    "Consent",
    "DecisionChange",
    "EngineError",
    "FieldProblem",
    "Handover",
    "HandoverPacket",
    "HandoverRecord",
    "NextStep",
    "ProfileError",
    "Question",
    "Reason",
    "Recommendation",
    "ReferralEngineError",
    "RuleFileError",
    "RuleProblem",
    "Ruleset",
    "ServiceDecision",
    "Status",
    "StatusChange",
    "Timeline",
    "UsageError",
    "WhatIf",
    "WhyNot",
    "default_ruleset",
    "load_ruleset",
    "recommend",
    "recommend_many",
    "what_if",
    "why_not",
]
__version__ = "0.1.0"
