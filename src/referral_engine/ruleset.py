"""A loaded rule set: services, eligibility rules, next-step templates and the partner graph.

Everything here is immutable and built once by :func:`referral_engine.load_ruleset`; one
:class:`Ruleset` can serve any number of threads at once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from . import dates
from .conditions import Condition, Leaf
from .errors import UsageError
from .graph import Located, PartnerGraph, Text
from .models import ENGINES, ConditionOutcome, Confidence, DataCategory, Effect, StepKind
from .words import BASE_LANGUAGES
from .words import activate as activate_words

_MEMO_DATES = 4096


def purge_caches() -> None:
    """Empty every cache that may hold values of cases seen so far (personal data).

    The rules in force by date of all rule sets and the memoised date arithmetic of the
    engines (both keyed by dates of cases); reasons are built per result and never cached.
    Results stay the same; the next cases are a little slower until the caches are warm again.
    Thread-safe.
    """
    dates.purge()


@dataclass(frozen=True, slots=True)
class Service:
    """One service of the catalogue."""

    id: str
    name: Text
    kind: str
    priority: int
    where: Located


@dataclass(frozen=True, slots=True)
class Rule:
    """One eligibility rule of one service."""

    id: str
    service: str
    effect: Effect
    when: Condition
    source: tuple[str, ...]
    where: Located
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    confidence: Confidence | None = None
    note: Text | None = None
    #: For a check: the partner unit (or ``office:<id>``) that settles it; None: the responsible partner.
    check_with: str | None = None
    #: For a check: the data categories its question needs; None: the categories of the rule's fields.
    handover: tuple[DataCategory, ...] | None = None
    #: For a grant: it may send a person with a restricted status to a body with the § 87 AufenthG
    #: duty, because the step is the person's own application that the law requires.
    own_application: bool = False
    leaves: tuple[Leaf, ...] = field(init=False, repr=False, compare=False)
    outcomes: tuple[Mapping[bool | None, ConditionOutcome], ...] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        leaves = tuple(self.when.leaves())
        # A reason shows each leaf as met, failed or unknown: three immutable values per leaf,
        # made once here instead of once per case.
        outcomes = tuple(
            MappingProxyType(
                {
                    value: ConditionOutcome(field=leaf.field, op=leaf.op, value=leaf.shown, outcome=label)
                    for value, label in ((True, "met"), (False, "failed"), (None, "unknown"))
                }
            )
            for leaf in leaves
        )
        object.__setattr__(self, "leaves", leaves)
        object.__setattr__(self, "outcomes", outcomes)

    def in_force(self, on: dt.date) -> bool:
        """Whether the rule's validity window contains ``on``."""
        return (self.valid_from is None or self.valid_from <= on) and (
            self.valid_to is None or on <= self.valid_to
        )


@dataclass(frozen=True, slots=True)
class FieldInfo:
    """What a profile field means for referrals: its data category and the question asking for it."""

    name: str
    category: DataCategory
    question: Text


@dataclass(frozen=True, slots=True)
class StepTemplate:
    """A next step a service's decision leads to, with its text in German and English."""

    id: str
    service: str
    kind: StepKind
    for_status: str
    partner: str | None
    handover: tuple[DataCategory, ...]
    text: Text
    where: Located
    when: Condition | None = None
    source: tuple[str, ...] = ()
    #: Position among the service's steps (lower first); None: after the ordered ones, by kind.
    order: int | None = None
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    #: The person's own application that the law requires (may go to a body with a reporting duty).
    own_application: bool = False

    def in_force(self, on: dt.date) -> bool:
        """Whether the step's validity window contains ``on``."""
        return (self.valid_from is None or self.valid_from <= on) and (
            self.valid_to is None or on <= self.valid_to
        )


@dataclass(frozen=True, slots=True)
class Messages:
    """The texts of the steps the library writes itself (questions, consents, checks, warnings)."""

    clarify: Text
    consent: Text
    check: Text
    no_partner: Text
    #: Added to a consent for a person under 14: the guardians must give it.
    guardian: Text
    #: Marks a partner that rests on a placeholder offer (``sample: true``).
    sample: Text
    #: The confidential first contact for a person with a restricted status (§ 87 AufenthG).
    restricted: Text
    #: The warning on a person's own application to a body with the reporting duty.
    own_application: Text
    categories: Mapping[str, Text]


@dataclass(frozen=True, slots=True)
class Catalogue:
    """The header of one language catalogue (``i18n/<language>.yaml``); its texts live in the ``Text``s.

    ``fallback`` is the language a missing text is taken from (``uk → de``); ``status`` is
    ``draft`` until a reviewer (``reviewed_by``) has confirmed the translation, then ``reviewed``.
    ``keys`` are the texts the catalogue translates itself.
    """

    language: str
    name: str
    direction: str
    fallback: str
    status: str
    where: Located
    reviewed_by: str | None = None
    keys: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Ruleset:
    """Everything :func:`referral_engine.recommend` applies to a case. Build it with ``load_ruleset``.

    A rule set pickles (for process pools): a process rebuilds each rule set it receives once.
    :mod:`referral_engine._pickling` registers how with :mod:`copyreg` (so that copies, too,
    share the compiled engines' source instead of copying closures).
    """

    name: str
    version: str
    digest: str
    services: tuple[Service, ...]
    rules: tuple[Rule, ...]
    fields: Mapping[str, FieldInfo]
    steps: tuple[StepTemplate, ...]
    messages: Messages
    partners: PartnerGraph
    path: str
    #: The engine :func:`referral_engine.recommend` uses when it is given none (``None``: the default).
    engine: str | None = None
    #: The language catalogues by language code (never ``de`` or ``en``, which the rule files hold).
    catalogues: Mapping[str, Catalogue] = field(default_factory=lambda: MappingProxyType({}))
    #: The library's words (:mod:`referral_engine.words`, by key) with the catalogues' translations;
    #: empty for a rule set without catalogues.
    words: Mapping[str, Text] = field(default_factory=lambda: MappingProxyType({}))
    _services_by_id: Mapping[str, Service] = field(init=False, repr=False, compare=False)
    _rules_by_service: Mapping[str, tuple[Rule, ...]] = field(init=False, repr=False, compare=False)
    _rules_by_id: Mapping[str, Rule] = field(init=False, repr=False, compare=False)
    _steps_by_id: Mapping[str, StepTemplate] = field(init=False, repr=False, compare=False)
    #: The step templates of each (service, status), with their position in ``steps``.
    _steps_for: Mapping[tuple[str, str], tuple[tuple[int, StepTemplate], ...]] = field(
        init=False, repr=False, compare=False
    )
    #: Each field's position in ``fields`` (the order open fields and questions are listed in).
    _field_rank: Mapping[str, int] = field(init=False, repr=False, compare=False)
    #: The rules in force on a date, by date (bounded; see :meth:`rules_in_force`).
    _in_force_memo: dict[dt.date, tuple[Rule, ...]] = field(
        init=False, repr=False, compare=False, default_factory=dates.memo
    )
    #: Compiled engines by name, built on first use (see :mod:`referral_engine.engines`).
    _engines: dict[str, object] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        by_service: dict[str, list[Rule]] = {service.id: [] for service in self.services}
        for rule in self.rules:
            by_service.setdefault(rule.service, []).append(rule)
        # Frozen dataclass: the indexes are set once here and never change.
        object.__setattr__(self, "_services_by_id", MappingProxyType({s.id: s for s in self.services}))
        object.__setattr__(
            self, "_rules_by_service", MappingProxyType({k: tuple(v) for k, v in by_service.items()})
        )
        object.__setattr__(self, "_rules_by_id", MappingProxyType({rule.id: rule for rule in self.rules}))
        for lang in self.catalogues:
            self._show_words(lang)
        object.__setattr__(self, "_steps_by_id", MappingProxyType({step.id: step for step in self.steps}))
        object.__setattr__(
            self, "_field_rank", MappingProxyType({name: i for i, name in enumerate(self.fields)})
        )
        steps_for: dict[tuple[str, str], list[tuple[int, StepTemplate]]] = {}
        for position, step in enumerate(self.steps):
            steps_for.setdefault((step.service, step.for_status), []).append((position, step))
        object.__setattr__(self, "_steps_for", MappingProxyType({k: tuple(v) for k, v in steps_for.items()}))

    @property
    def ruleset_version(self) -> str:
        """The version from ``ruleset.yaml`` plus a hash of every file's content."""
        return f"{self.name}@{self.version}+{self.digest[:12]}"

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages this rule set can answer in: ``de``, ``en`` and its catalogues' (sorted)."""
        return (*BASE_LANGUAGES, *sorted(self.catalogues))

    def check_language(self, lang: object) -> str:
        """``lang`` if the rule set has it; a :class:`UsageError` naming the available ones otherwise."""
        if isinstance(lang, str) and lang in BASE_LANGUAGES:
            return lang
        if isinstance(lang, str) and lang in self.catalogues:
            self._show_words(lang)
            return lang
        raise UsageError(f"lang must be one of: {', '.join(self.languages)}")

    def _show_words(self, lang: str) -> None:
        """Make this rule set's words in ``lang`` the ones explanations show (see :mod:`.words`)."""
        chain: list[str] = []
        code = lang
        while code not in BASE_LANGUAGES and code in self.catalogues and len(chain) <= len(self.catalogues):
            code = self.catalogues[code].fallback
            chain.append(code)
        activate_words(lang, self.words, tuple(chain), self.catalogues[lang].direction)

    def text_language(self, text: Text, lang: str) -> str:
        """The language :meth:`Text.get` actually gives ``text`` in for ``lang``: along the fallback chain."""
        seen = set()
        while lang not in BASE_LANGUAGES and lang not in text.own and lang not in seen:
            seen.add(lang)
            catalogue = self.catalogues.get(lang)
            if catalogue is None:
                return "de"
            lang = catalogue.fallback
        return lang if lang not in seen else "de"

    def service(self, service_id: str) -> Service:
        """The service with id ``service_id``; raises ``KeyError`` if there is none."""
        return self._services_by_id[service_id]

    def rule(self, rule_id: str) -> Rule:
        """The rule with id ``rule_id``; raises ``KeyError`` if there is none."""
        return self._rules_by_id[rule_id]

    def step_template(self, step_id: str) -> StepTemplate | None:
        """The next-step template with id ``step_id``, or None."""
        return self._steps_by_id.get(step_id)

    def rules_of(self, service_id: str) -> tuple[Rule, ...]:
        """The rules of one service, in file order; raises ``KeyError`` for an unknown service."""
        return self._rules_by_service[service_id]

    def rules_in_force(self, on: dt.date) -> tuple[Rule, ...]:
        """The rules whose validity window contains ``on``, in file order."""
        rules = self._in_force_memo.get(on)
        if rules is None:
            rules = tuple(rule for rule in self.rules if rule.in_force(on))
            if len(self._in_force_memo) >= _MEMO_DATES:
                self._in_force_memo.clear()
            self._in_force_memo[on] = rules
        return rules

    def with_engine(self, engine: str | None) -> Ruleset:
        """The same rule set with another default engine (``"durable"``, ``"python"`` or ``None``).

        The copy shares this rule set's compiled engines and memos, so switching engines (even
        once per request) compiles nothing again.
        """
        if engine is not None and engine not in ENGINES:
            raise UsageError(f"engine must be one of: {', '.join(ENGINES)} (or None for the default)")
        copy = dataclasses.replace(self, engine=engine)
        for cache in ("_in_force_memo", "_engines"):
            object.__setattr__(copy, cache, getattr(self, cache))
        return copy

    def __repr__(self) -> str:
        return (
            f"Ruleset({self.ruleset_version!r}, services={len(self.services)}, rules={len(self.rules)}, "
            f"partners={len(self.partners.partners)}, offers={len(self.partners.offers)})"
        )
