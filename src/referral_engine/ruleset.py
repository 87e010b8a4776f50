"""A loaded rule set: services, eligibility rules, next-step templates and the partner graph.

Everything here is immutable and built once by :func:`referral_engine.load_ruleset`; one
:class:`Ruleset` can serve any number of threads at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from .conditions import Condition
from .graph import PartnerGraph, Text
from .models import Confidence, DataCategory, Effect, StepKind


@dataclass(frozen=True, slots=True)
class Located:
    """Where something was defined: file and line, for messages that point a rule author to it."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


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
    check_with: str | None = None

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


@dataclass(frozen=True, slots=True)
class Messages:
    """The texts of the steps the library writes itself (questions, consents, checks)."""

    clarify: Text
    consent: Text
    check: Text
    no_partner: Text
    categories: Mapping[str, Text]


@dataclass(frozen=True, slots=True)
class Ruleset:
    """Everything :func:`referral_engine.recommend` applies to a case. Build it with ``load_ruleset``."""

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

    @property
    def ruleset_version(self) -> str:
        """The version from ``ruleset.yaml`` plus a hash of every file's content."""
        return f"{self.name}@{self.version}+{self.digest[:12]}"

    def service(self, service_id: str) -> Service:
        """The service with id ``service_id``; raises ``KeyError`` if there is none."""
        for service in self.services:
            if service.id == service_id:
                return service
        raise KeyError(service_id)

    def rules_of(self, service_id: str) -> tuple[Rule, ...]:
        """The rules of one service, in file order."""
        return tuple(rule for rule in self.rules if rule.service == service_id)

    def __repr__(self) -> str:
        return (
            f"Ruleset({self.ruleset_version!r}, services={len(self.services)}, rules={len(self.rules)}, "
            f"partners={len(self.partners.partners)}, offers={len(self.partners.offers)})"
        )
