"""Hypothesis' entry point for referral-engine: ``st.from_type(CaseProfile)`` draws rule-aware profiles.

Hypothesis runs :func:`_hypothesis_setup_hook` when it is imported. It registers the strategy
only if ``referral_engine`` is already imported (so ``import hypothesis`` never imports the
library); ``import referral_engine`` registers it if hypothesis already is.
"""

from __future__ import annotations

import sys


def _hypothesis_setup_hook() -> None:
    """Register the CaseProfile strategy if referral_engine is imported (else it registers itself)."""
    if sys.modules.get("referral_engine") is not None:
        from referral_engine._hypothesis import _register

        _register()
