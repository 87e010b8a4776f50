"""Explanations, what-if, why-not and time give the same answers with every available engine."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings

from referral_engine import CaseProfile, recommend, what_if, why_not
from referral_engine.engines import durable_available
from tests.conftest import examples
from tests.strategies import cases

from .test_timeline import APPLICANT, TWENTY_SIX
from .test_whatif import JOBSEEKER, MOVE, PROVISIONAL
from .worked import AS_OF

ENGINES = [
    "python",
    pytest.param("durable", marks=pytest.mark.skipif(not durable_available(), reason="no durable")),
]


@pytest.mark.parametrize("engine", ENGINES)
def test_same_answers_as_the_reference_engine(engine: str) -> None:
    """Explanations, valid_until, timelines, what-if and why-not match the python engine's."""
    for profile, as_of in ((TWENTY_SIX, AS_OF), (APPLICANT, dt.date(2025, 10, 1))):
        ours = recommend(profile, as_of=as_of, engine=engine)
        reference = recommend(profile, as_of=as_of, engine="python")
        assert ours == reference
        assert [d.explain("en") for d in ours.decisions] == [d.explain("en") for d in reference.decisions]
        assert ours.timeline(dt.date(2030, 1, 1)) == reference.timeline(dt.date(2030, 1, 1))
    assert what_if(PROVISIONAL, MOVE, as_of=AS_OF, engine=engine) == what_if(
        PROVISIONAL, MOVE, as_of=AS_OF, engine="python"
    )
    assert why_not(JOBSEEKER, "berufssprachkurs", as_of=AS_OF, engine=engine) == why_not(
        JOBSEEKER, "berufssprachkurs", as_of=AS_OF, engine="python"
    )


@pytest.mark.skipif(not durable_available(), reason="durable-rules is not installed")
@given(case=cases())
@settings(max_examples=examples(25), deadline=None)
def test_generated_cases_explain_alike(case: tuple[CaseProfile, dt.date]) -> None:
    """On generated cases, durable gives the reference's reasons, valid_until and changes."""
    profile, as_of = case
    durable = recommend(profile, as_of=as_of, engine="durable")
    assert durable == recommend(profile, as_of=as_of, engine="python")
    assert durable.changes == recommend(profile, as_of=as_of, engine="python").changes
