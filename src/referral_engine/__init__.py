"""referral-engine: declarative eligibility rules and a partner graph for migrants' referrals.

>>> from referral_engine import recommend
>>> rec = recommend({"age": 19, "residence_status": "gestattung", "municipality": "Staufen"})
>>> rec.eligible                                       # doctest: +SKIP

The library logs to ``logging.getLogger("referral_engine")`` (a ``NullHandler`` by default):
debug records of rule loading and engine choice, never case data.
"""

import logging as _logging
import sys as _sys

# Every module that registers functions for the layers below it (see _provided), and the pickling
# of rule sets (copyreg), is imported here, so that any use of the package finds them.
from . import _pickling, engines, explain, exports  # noqa: F401
from .batch import CaseStatuses, recommend_many
from .errors import (
    CaseFileError,
    EngineError,
    FieldProblem,
    ProfileError,
    ReferralEngineError,
    ResultError,
    RuleFileError,
    RuleProblem,
    UsageError,
)
from .handover import HandoverPacket, HandoverRecord
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
from .ruleset import Ruleset, purge_caches
from .whatif import DecisionChange, WhatIf, WhyNot, what_if, why_not

__all__ = [
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
    "ResultError",
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
    "purge_caches",
    "recommend",
    "recommend_many",
    "what_if",
    "why_not",
]
__version__ = "0.1.0"

_logging.getLogger(__name__).addHandler(_logging.NullHandler())

if _sys.modules.get("hypothesis") is not None:  # imported first: register now (its hook did not)
    from ._hypothesis import _register

    _register()
