"""The main entry point: :func:`recommend` turns a case profile into a :class:`Recommendation`."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any, Literal, cast

from .decide import decide
from .engines import evaluator, resolve
from .errors import FieldProblem, ProfileError, UsageError
from .facts import facts_for
from .graph import Text
from .handover import safe_route
from .loader import default_ruleset
from .models import (
    EARLIEST_DATE,
    LATEST_DATE,
    CaseProfile,
    Lang,
    NextStep,
    Question,
    Recommendation,
    ServiceDecision,
    Status,
    Translation,
)
from .ruleset import Ruleset
from .steps import CONFIDENTIAL_STEP, plan_steps, service_steps
from .timeline import states_of, upcoming_changes, valid_until

_log = logging.getLogger(__name__)
_STATUS_ORDER = {Status.ELIGIBLE: 0, Status.UNDETERMINED: 1, Status.NOT_ELIGIBLE: 2}


def recommend(
    profile: CaseProfile | Mapping[str, Any],
    *,
    as_of: dt.date | None = None,
    ruleset: Ruleset | None = None,
    lang: Lang | str = "de",
    engine: str | None = None,
) -> Recommendation:
    """Recommend services, responsible partners and next steps for one case.

    ``profile`` is a :class:`CaseProfile` or a mapping validated into one (bad data raises
    :class:`ProfileError`). ``as_of`` is the date the rules are applied for (default: today);
    ``ruleset`` defaults to the bundled rules; ``lang`` is ``"de"``, ``"en"`` or a language of
    the rule set's catalogues (``ruleset.languages``: the bundled rules add ``"ar"`` and ``"uk"``,
    drafts whose missing texts fall back to German; ``Recommendation.translation`` says so);
    ``engine`` is ``"durable"``, ``"python"`` or ``None`` for the ruleset's or the library's default
    (see :mod:`referral_engine.engines`). Both engines give the same recommendation.
    """
    if not isinstance(profile, CaseProfile):
        profile = CaseProfile.model_validate(profile)
    as_of = check_as_of(as_of)
    if ruleset is None:
        ruleset = default_ruleset()
    elif not isinstance(ruleset, Ruleset):
        raise UsageError("ruleset must be a Ruleset from load_ruleset() or default_ruleset()")
    lang = ruleset.check_language(lang)

    check_municipality(profile, ruleset)
    check_consents(profile, ruleset)
    if _log.isEnabledFor(logging.DEBUG):  # the engine and the rules, never the case
        _log.debug("recommend: engine %s, rule set %s", resolve(engine, ruleset), ruleset.ruleset_version)
    evaluate = evaluator(ruleset, engine)
    facts = facts_for(profile, as_of)
    values = evaluate(facts, as_of)
    decided = decide(ruleset, facts, as_of, values, lang)
    decided.sort(key=lambda d: _STATUS_ORDER[d.status])  # stable: priority order within a status
    routes = {
        d.service: safe_route(ruleset, d.service, profile, as_of, values)
        for d in decided
        if d.status is not Status.NOT_ELIGIBLE
    }
    planned = service_steps(ruleset, decided, routes, profile, facts, as_of, lang)
    # The municipality settles who is responsible, not whether: asked for where a step lacks a partner.
    asked_by = {"municipality": list(planned.unrouted)} if planned.unrouted else {}
    missing, counts = _rank_missing(ruleset, decided, asked_by)
    changes = upcoming_changes(ruleset, evaluate, profile, as_of, states_of(decided, routes))
    until = valid_until(changes)
    decisions = tuple(
        ServiceDecision(
            service=d.service,
            name=ruleset.service(d.service).name.get(lang),
            status=d.status,
            partners=routes[d.service] if d.status is Status.ELIGIBLE else (),
            sample_partners=tuple(
                p
                for p in (routes[d.service] if d.status is Status.ELIGIBLE else ())
                if ruleset.partners.is_sample(p, d.service, profile.municipality, as_of)
            ),
            reasons=d.reasons,
            missing=d.missing,
            valid_until=until.get(d.service),
            partner_names=tuple(
                ruleset.partners.partners[p].name
                for p in (routes[d.service] if d.status is Status.ELIGIBLE else ())
            ),
            lang=lang,
        )
        for d in decided
    )
    next_steps = plan_steps(
        ruleset, decided, planned, missing, profile, facts, as_of, lang, asked_by=asked_by
    )
    translation = None
    if lang in ruleset.catalogues:
        next_steps, translation = translate_marks(ruleset, lang, next_steps, decisions, missing)
    return Recommendation(
        decisions=decisions,
        eligible=tuple(d.service for d in decided if d.status is Status.ELIGIBLE),
        next_steps=next_steps,
        missing=missing,
        as_of=as_of,
        ruleset_version=ruleset.ruleset_version,
        lang=lang,
        questions=tuple(
            Question(field=name, text=ruleset.fields[name].question.get(lang), settles=counts[name])
            for name in missing
            if name in ruleset.fields
        ),
        changes=changes,
        translation=translation,
    )


_MESSAGE_OF_KIND = {"clarify": "clarify", "consent": "consent", "check": "check", "no_partner": "no_partner"}


def _step_text(ruleset: Ruleset, step: NextStep) -> Text | None:
    """The text a next step was written from: its template's, or the library's message for its kind."""
    if step.id == CONFIDENTIAL_STEP:
        return ruleset.messages.restricted
    message = _MESSAGE_OF_KIND.get(step.kind)
    if message is not None and ":" in step.id:
        text: Text = getattr(ruleset.messages, message)
        return text
    template = ruleset.step_template(step.id)
    return template.text if template is not None else None


def translate_marks(
    ruleset: Ruleset,
    lang: str,
    steps: tuple[NextStep, ...],
    decisions: tuple[ServiceDecision, ...],
    missing: tuple[str, ...],
) -> tuple[tuple[NextStep, ...], Translation]:
    """Mark the steps whose text fell back to another language, and say how ``lang`` was translated."""
    catalogue = ruleset.catalogues[lang]
    fell_back: set[str] = set()
    marked = []
    for step in steps:
        text = _step_text(ruleset, step)
        if text is not None and text.fell_back(lang):
            fell_back.add(text.key)
            step = step.model_copy(update={"text_lang": ruleset.text_language(text, lang)})
        marked.append(step)
    texts = [ruleset.fields[name].question for name in missing if name in ruleset.fields]
    texts += [ruleset.service(d.service).name for d in decisions]
    texts += [r.note for d in decisions for r in map(ruleset.rule, (x.rule for x in d.reasons)) if r.note]
    fell_back |= {text.key for text in texts if text.fell_back(lang)}
    translation = Translation(
        language=lang,
        name=catalogue.name,
        direction=cast(Literal["ltr", "rtl"], catalogue.direction),
        status=cast(Literal["draft", "reviewed"], catalogue.status),
        reviewed_by=catalogue.reviewed_by,
        fell_back=tuple(sorted(fell_back)),
    )
    return tuple(marked), translation


def check_as_of(as_of: object) -> dt.date:
    """``as_of`` as a date: today for ``None``, the date of a datetime; anything else is a UsageError.

    Like the dates of a profile, ``as_of`` lies between 1900-01-01 and 2100-12-31.
    """
    if as_of is None:
        return dt.date.today()
    if isinstance(as_of, dt.datetime):
        as_of = as_of.date()
    if not isinstance(as_of, dt.date):
        raise UsageError("as_of must be a datetime.date")
    if not EARLIEST_DATE <= as_of <= LATEST_DATE:
        raise UsageError(f"as_of must be between {EARLIEST_DATE.isoformat()} and {LATEST_DATE.isoformat()}")
    return as_of


def check_municipality(profile: CaseProfile, ruleset: Ruleset) -> None:
    """Raise ProfileError if the profile names a municipality the rule set does not know.

    A misspelt place would otherwise silently lose every local partner. The message lists the
    rule set's municipalities (public names, not case data); the name given is not repeated.
    """
    if profile.municipality is None or ruleset.partners.municipality_id(profile.municipality) is not None:
        return
    names = sorted(m.name for m in ruleset.partners.municipalities.values())
    message = f"unknown municipality; this rule set knows: {', '.join(names)}"
    raise ProfileError([FieldProblem("municipality", message)])


def check_consents(profile: CaseProfile, ruleset: Ruleset) -> None:
    """Each consent names a partner and a purpose (service or step id) of ``ruleset``: a typo is an error.

    The message names the consent's position and what is allowed, never the value given.
    """
    purposes = {s.id for s in ruleset.services} | {t.id for t in ruleset.steps}
    problems = []
    for index, consent in enumerate(profile.consents):
        if consent.partner not in ruleset.partners.partners:
            problems.append(
                FieldProblem(
                    f"consents.{index}.partner", "unknown partner unit; use an id from partners.yaml"
                )
            )
        if consent.purpose not in purposes and not consent.purpose.startswith(("check:", "consent:")):
            problems.append(
                FieldProblem(
                    f"consents.{index}.purpose",
                    "unknown purpose; use a service id (e.g. 'jobcenter') or a step id of the rule set",
                )
            )
    if problems:
        raise ProfileError(problems)


def _rank_missing(
    ruleset: Ruleset, decided: list[Any], asked_by: Mapping[str, list[str]]
) -> tuple[tuple[str, ...], dict[str, int]]:
    """Unknown fields, the ones that appear in the most undetermined decisions first, and those counts."""
    counts: dict[str, int] = {}
    for decision in decided:
        for field in decision.missing:
            counts[field] = counts.get(field, 0) + 1
    for field, services in asked_by.items():
        counts[field] = counts.get(field, 0) + len(services)
    rank = {name: index for index, name in enumerate(ruleset.fields)}
    return tuple(sorted(counts, key=lambda name: (-counts[name], rank.get(name, len(rank)), name))), counts
