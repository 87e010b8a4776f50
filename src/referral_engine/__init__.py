"""referral-engine: declarative eligibility rules and a partner graph for migrants' referrals.

>>> from referral_engine import recommend
>>> rec = recommend({"age": 19, "residence_status": "gestattung", "municipality": "Staufen"})
>>> rec.eligible                                       # doctest: +SKIP
"""

from .errors import (
    CaseFileError,
    FieldProblem,
    ProfileError,
    ReferralEngineError,
    RuleFileError,
    RuleProblem,
    UsageError,
)
from .loader import default_ruleset, load_ruleset
from .models import (
    CaseProfile,
    ConditionOutcome,
    Consent,
    NextStep,
    Reason,
    Recommendation,
    ServiceDecision,
    Status,
)
from .recommend import recommend
from .ruleset import Ruleset

__all__ = [
    "CaseFileError",
    "CaseProfile",
    "ConditionOutcome",
    "Consent",
    "FieldProblem",
    "NextStep",
    "ProfileError",
    "Reason",
    "Recommendation",
    "ReferralEngineError",
    "RuleFileError",
    "RuleProblem",
    "Ruleset",
    "ServiceDecision",
    "Status",
    "UsageError",
    "default_ruleset",
    "load_ruleset",
    "recommend",
]
__version__ = "0.1.0"
