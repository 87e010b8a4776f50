"""Hypothesis integration: ``st.from_type(CaseProfile)`` draws rule-aware profiles.

Registered through hypothesis' ``hypothesis`` entry point
(``referral_engine_plugins.hypothesis_hook``), which hypothesis runs when it is imported.
Neither side forces the other's import: the hook registers only if referral_engine is already
imported, and ``import referral_engine`` registers if hypothesis already is. The strategy is
:func:`referral_engine.testing.case_profiles` for the bundled rules, built on first use.
"""

from __future__ import annotations


def _register() -> None:
    """Register :class:`~referral_engine.CaseProfile` with hypothesis (hypothesis is imported)."""
    from hypothesis import strategies as st

    from .models import CaseProfile

    def profiles() -> st.SearchStrategy[CaseProfile]:
        from .testing import case_profiles

        return case_profiles()

    st.register_type_strategy(CaseProfile, st.deferred(profiles))
