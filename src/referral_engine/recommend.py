"""The main entry point: :func:`recommend` turns a case profile into a :class:`Recommendation`."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any, Literal, cast

from .conditions import Tri
from .decide import Decided, decision_table, reasons_of
from .engines import decider, resolve
from .errors import FieldProblem, ProfileError, UsageError
from .facts import Facts, facts_for
from .graph import Routing, Text
from .handover import is_restricted, without_reporting
from .loader import default_ruleset
from .models import (
    CaseProfile,
    Lang,
    NextStep,
    Question,
    Recommendation,
    ServiceDecision,
    Status,
    StatusChange,
    Translation,
    check_as_of,
)
from .ruleset import Ruleset
from .steps import CONFIDENTIAL_STEP, ServiceSteps, lacking_partner, plan_steps, service_steps
from .timeline import states_of, upcoming_changes, valid_until

_log = logging.getLogger(__name__)


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

    place = _place(profile, ruleset)
    if profile.consents:
        check_consents(profile, ruleset)
    if _log.isEnabledFor(logging.DEBUG):  # the engine and the rules, never the case
        _log.debug("recommend: engine %s, rule set %s", resolve(engine, ruleset), ruleset.ruleset_version)
    facts = facts_for(profile, as_of)
    values, by_service = decider(ruleset, engine)(facts, as_of)
    case = _Case(ruleset, profile, facts, as_of, lang, values, place)
    table = _table(ruleset)
    # Each service's decision fields with a status and nothing of the case yet: copied, then filled.
    blank_eligible, blank_open, blank_closed = table.blank(ruleset, lang)
    decisions = decision_table(ruleset)
    settled_eligible, settled_closed = decisions.eligible, decisions.not_eligible
    routes = case.routes
    graph = ruleset.partners
    spoken = profile.languages or ()
    restricted = case.restricted
    # Eligible first, then undetermined, then not eligible; in rule-set order within each. Every
    # value of a decision comes from the validated rule set or from the engine: no re-validation.
    eligible: list[str] = []
    decided: tuple[list[Decided], list[Decided], list[Decided]] = ([], [], [])
    rows: tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]] = ([], [], [])
    for service, status in by_service.items():
        if status is Status.ELIGIBLE:
            fields = blank_eligible[service].copy()
            eligible.append(service)
            decided[0].append(settled_eligible[service])
            rows[0].append(fields)
            routing = graph.routing(service, place, as_of)
            routed = routing.order(spoken)
            if restricted:
                routed = without_reporting(ruleset, service, routed, values)
            routes[service] = routed
            if routed is routing.partners:  # the route most cases get: its names are known
                fields["partners"], fields["partner_names"] = routed, routing.names
                fields["sample_partners"] = routing.placeholders
            elif routed:
                fields["partners"] = routed
                fields["partner_names"] = tuple(graph.partners[p].name for p in routed)
                if routing.samples:
                    fields["sample_partners"] = tuple(p for p in routed if p in routing.samples)
        elif status is Status.UNDETERMINED:
            fields = blank_open[service].copy()
            found = decisions.open(service, facts, values)
            decided[1].append(found)
            rows[1].append(fields)
            if found.missing:
                fields["missing"] = found.missing
        else:
            decided[2].append(settled_closed[service])
            rows[2].append(blank_closed[service].copy())
    case.decided = decided[0] + decided[1] + decided[2]
    # The municipality settles who is responsible, not whether: asked for where a step lacks a partner.
    unrouted = case.unrouted()
    asked_by = {"municipality": list(unrouted)} if unrouted else {}
    missing, counts = _rank_missing(ruleset, decided[1], asked_by)
    case.missing, case.asked_by = missing, asked_by
    return Recommendation._lazily(
        {
            # The case does not keep them (it would be a cycle that only the garbage collector frees).
            "decisions": ServiceDecision._all_lazily(rows[0] + rows[1] + rows[2], case),
            "eligible": tuple(eligible),
            "missing": missing,
            "as_of": as_of,
            "ruleset_version": table.version(ruleset),
            "lang": lang,
            "questions": tuple(
                table.question(ruleset, name, lang, counts[name])
                for name in missing
                if name in ruleset.fields
            )
            if missing
            else (),
        },
        case,
    )


class _Table:
    """What every recommendation reads of one rule set, looked up once: rule-set facts only.

    Each service's decision fields before the case (its name) by language, and the open
    questions by field, language and count (frozen values, shared by the recommendations that
    ask them). Kept with the rule set.
    """

    def __init__(self) -> None:
        self._blank: dict[str, tuple[dict[str, dict[str, Any]], ...]] = {}
        self._questions: dict[tuple[str, str, int], Question] = {}
        self._version = ""

    def blank(self, ruleset: Ruleset, lang: str) -> tuple[dict[str, dict[str, Any]], ...]:
        """Each service's decision fields in ``lang`` before the case, by service id, per status.

        One mapping for each status: eligible, undetermined, not eligible.
        """
        found = self._blank.get(lang)
        if found is None:
            found = self._blank[lang] = tuple(
                {
                    s.id: {
                        "service": s.id,
                        "name": s.name.get(lang),
                        "status": status,
                        "partners": (),
                        "sample_partners": (),
                        "missing": (),
                        "partner_names": (),
                        "lang": lang,
                    }
                    for s in ruleset.services
                }
                for status in (Status.ELIGIBLE, Status.UNDETERMINED, Status.NOT_ELIGIBLE)
            )
        return found

    def version(self, ruleset: Ruleset) -> str:
        """``ruleset.ruleset_version``."""
        if not self._version:
            self._version = ruleset.ruleset_version
        return self._version

    def question(self, ruleset: Ruleset, field: str, lang: str, settles: int) -> Question:
        """The question for ``field`` in ``lang`` that settles ``settles`` open decisions."""
        key = (field, lang, settles)
        found = self._questions.get(key)
        if found is None:
            found = self._questions[key] = Question.model_construct(
                field=field, text=ruleset.fields[field].question.get(lang), settles=settles
            )
        return found


_TABLE = "recommend"


def _table(ruleset: Ruleset) -> _Table:
    found = ruleset._engines.get(_TABLE)
    if not isinstance(found, _Table):
        found = ruleset._engines[_TABLE] = _Table()  # any thread's table is as good as another's
    return found


class _Case:
    """One case being recommended: what is decided at once, and what is built on first access.

    The :class:`~referral_engine.models.Pending` builder of a recommendation and its decisions.
    Statuses, the partners of eligible services and the open questions are decided when the
    case is; reasons, next steps, change dates and the translation notes when a field that
    shows them is first read. Each piece is built at most once per thread race and is the same
    every time (everything it reads is immutable), so no lock is needed.
    """

    __slots__ = (
        "_all_routes",
        "_changes",
        "_planned",
        "_steps",
        "as_of",
        "asked_by",
        "decided",
        "facts",
        "lang",
        "missing",
        "place",
        "profile",
        "restricted",
        "routes",
        "ruleset",
        "values",
    )

    def __init__(
        self,
        ruleset: Ruleset,
        profile: CaseProfile,
        facts: Facts,
        as_of: dt.date,
        lang: str,
        values: Mapping[str, Tri],
        place: str | None,
    ) -> None:
        self.ruleset, self.profile, self.facts, self.as_of, self.lang = ruleset, profile, facts, as_of, lang
        self.values = values
        self.place = place
        self.restricted = is_restricted(profile)
        #: The decisions, eligible first, then undetermined, then not eligible (set by recommend).
        self.decided: list[Decided] = []
        #: Safe routes of the eligible services: the partners their decisions show (set by recommend).
        self.routes: dict[str, tuple[str, ...]] = {}
        self.missing: tuple[str, ...] = ()
        self.asked_by: dict[str, list[str]] = {}
        self._all_routes: dict[str, tuple[str, ...]] | None = None
        self._planned: ServiceSteps | None = None
        self._steps: tuple[tuple[NextStep, ...], Translation | None] | None = None
        self._changes: tuple[StatusChange, ...] | None = None

    def routing(self, service: str) -> Routing:
        """The partners of ``service`` at the case's place on its date, before its languages order them."""
        return self.ruleset.partners.routing(service, self.place, self.as_of)

    def safe(self, service: str, routing: Routing) -> tuple[str, ...]:
        """``safe_route`` of ``service`` for this case, from its ``routing``."""
        route = routing.order(self.profile.languages or ())
        if self.restricted:
            route = without_reporting(self.ruleset, service, route, self.values)
        return route

    def all_routes(self) -> dict[str, tuple[str, ...]]:
        """Safe routes of every service not ruled out (an open one may need a partner's check)."""
        if self._all_routes is None:
            routes = self.routes
            self._all_routes = {
                d.service: routes[d.service]
                if d.status is Status.ELIGIBLE
                else self.safe(d.service, self.routing(d.service))
                for d in self.decided
                if d.status is not Status.NOT_ELIGIBLE
            }
        return self._all_routes

    def planned(self) -> ServiceSteps:
        """Every service's own steps (checks, appointments, applications), on the safe routes."""
        if self._planned is None:
            self._planned = service_steps(
                self.ruleset, self.decided, self.all_routes(), self.profile, self.facts, self.as_of, self.lang
            )
        return self._planned

    def unrouted(self) -> tuple[str, ...]:
        """The services a step of which lacks a partner because the municipality is unknown."""
        if self.profile.municipality is not None or all(
            d.status is Status.NOT_ELIGIBLE for d in self.decided
        ):
            return ()
        return lacking_partner(self.ruleset, self.decided, self._routed, self.facts, self.as_of)

    def _routed(self, service: str) -> bool:
        """Whether the safe route of ``service`` names a partner."""
        route = self.routes.get(service)
        return bool(route if route is not None else self.safe(service, self.routing(service)))

    def changes(self) -> tuple[StatusChange, ...]:
        if self._changes is None:
            start = states_of(self.decided, self.routes)
            self._changes = upcoming_changes(self.ruleset, self.profile, self.as_of, start)
        return self._changes

    def steps(
        self, decisions: tuple[ServiceDecision, ...]
    ) -> tuple[tuple[NextStep, ...], Translation | None]:
        """The next steps and the translation notes, for the recommendation with ``decisions``."""
        if self._steps is None:
            ruleset, lang = self.ruleset, self.lang
            next_steps = plan_steps(
                ruleset,
                self.decided,
                self.planned(),
                self.missing,
                self.profile,
                self.facts,
                self.as_of,
                lang,
                asked_by=self.asked_by,
            )
            translation = None
            if lang in ruleset.catalogues:
                next_steps, translation = translate_marks(ruleset, lang, next_steps, decisions, self.missing)
            self._steps = (next_steps, translation)
        return self._steps

    def build(self, model: Any, name: str) -> Any:
        """The lazy field ``name`` of the recommendation or of one of its decisions."""
        if isinstance(model, ServiceDecision):
            if name == "reasons":
                decided = next(d for d in self.decided if d.service == model.service)
                return reasons_of(self.ruleset, decided, self.values, self.facts, self.as_of, self.lang)
            return valid_until(self.changes()).get(model.service)  # valid_until
        if name == "changes":
            return self.changes()
        next_steps, translation = self.steps(model.decisions)
        return next_steps if name == "next_steps" else translation


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


def check_municipality(profile: CaseProfile, ruleset: Ruleset) -> None:
    """Raise ProfileError if the profile names a municipality the rule set does not know.

    A misspelt place would otherwise silently lose every local partner. The message lists the
    rule set's municipalities (public names, not case data); the name given is not repeated.
    """
    _place(profile, ruleset)


def _place(profile: CaseProfile, ruleset: Ruleset) -> str | None:
    """The id of the profile's municipality (``None``: unknown); ProfileError for one the rule set lacks."""
    if profile.municipality is None:
        return None
    place = ruleset.partners.municipality_id(profile.municipality)
    if place is not None:
        return place
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
    if len(counts) < 2:
        return tuple(counts), counts
    rank = ruleset._field_rank
    return tuple(sorted(counts, key=lambda name: (-counts[name], rank.get(name, len(rank)), name))), counts
