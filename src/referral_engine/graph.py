"""The partner-responsibility graph: who delivers which service where, and from when.

The graph is a :class:`networkx.DiGraph` with four kinds of node, each named ``kind:id``::

    partner:caritas ──delivers──▶ offer:caritas-mbe ──of──▶ service:mbe
                                        │
                                        └──covers──▶ municipality:staufen

An *offer* is one partner delivering one service in some municipalities, in some languages,
within a validity window. Routing a case means finding the offers of a service that cover the
person's municipality on ``as_of``.

An *office* is a public function that steps and checks send a person to without it being a service
of the catalogue (the Ausländerbehörde, the AsylbLG office): its offers route it by place and date
like a service's (``office:auslaenderbehoerde ──▶ offer ──▶ partner``), so that Bad Krozingen's own
Ausländerbehörde (since 2025) and the Landratsamt's are told apart.

Partners are organisational *units*: one id is one office with one purpose (``landratsamt_abh``,
``landratsamt_sozialamt``, ``landratsamt_fsa``), because a release from confidentiality names one
recipient and one purpose. Each unit says what kind of body it is and whether it has the reporting
duty of § 87 AufenthG.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import networkx as nx

from . import dates
from ._provided import provided
from .models import Lang


@dataclass(frozen=True, slots=True)
class Located:
    """Where something was defined: file and line, for messages that point a rule author to it."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


_NO_TRANSLATIONS: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Text:
    """A short text in German and English, and in the languages of the rule set's catalogues.

    ``translations`` maps every catalogue language to the text it shows there, already resolved
    along the language's fallback chain (``uk → de``) when the loader read the catalogues;
    ``own`` holds the languages whose catalogue translates this text itself, and ``key`` is the
    text's catalogue key (``steps.jmd-first-appointment``), empty for texts no catalogue can name.
    """

    de: str
    en: str
    translations: Mapping[str, str] = field(
        default_factory=lambda: _NO_TRANSLATIONS, compare=False, repr=False
    )
    own: frozenset[str] = field(default=frozenset(), compare=False, repr=False)
    key: str = field(default="", compare=False, repr=False)

    def get(self, lang: Lang | str) -> str:
        """The text in ``lang``: German for a language the rule set has no catalogue for."""
        if lang == "de":
            return self.de
        if lang == "en":
            return self.en
        return self.translations.get(lang, self.de)

    def fell_back(self, lang: Lang | str) -> bool:
        """Whether :meth:`get` gives a fallback's text in ``lang``, not a translation of its own."""
        return lang != "de" and lang != "en" and lang not in self.own


@dataclass(frozen=True, slots=True)
class Municipality:
    """A municipality a partner can serve; ``aliases`` are other spellings of its name."""

    id: str
    name: str
    aliases: tuple[str, ...] = ()


#: The kinds of partner unit. ``public_body``: an authority, city or federal agency (the § 87
#: AufenthG reporting duty applies); ``education``: a school, educational or child-care institution
#: (public or not, exempt from § 87); ``free_welfare``: Caritas, Diakonie, DRK and other free-welfare
#: services; ``provider``: a private or non-profit provider; ``volunteer``: a volunteer group.
PARTNER_KINDS = ("public_body", "education", "free_welfare", "provider", "volunteer")


@dataclass(frozen=True, slots=True)
class Partner:
    """A cooperation partner unit: one office of one organisation, with one purpose.

    ``reporting_duty`` is the duty of public bodies under § 87 AufenthG to tell the
    Ausländerbehörde of a stay without a title or Duldung (research §9.2 item 11). ``organisation``
    groups the units of one organisation (``landratsamt`` for ``landratsamt_abh``). ``sample``
    marks a placeholder partner that a deployment must replace. ``replaced_by`` lists the units
    an old, split-up id was divided into: such an id stays loadable (old consents name it) but
    routes nowhere and covers no handover.
    """

    id: str
    name: str
    kind: str
    data_protection: str
    source: tuple[str, ...] = ()
    reporting_duty: bool = False
    organisation: str | None = None
    sample: bool = False
    replaced_by: tuple[str, ...] = ()
    #: Directory data as far as it is known and sourced (see :data:`CONTACT_KEYS`); absent = unknown.
    contact: Mapping[str, str] = field(default_factory=dict, compare=False)
    where: Located | None = field(default=None, compare=False)


#: The directory data a partner unit may carry in ``partners.yaml`` under ``contact:``.
CONTACT_KEYS = ("web", "email", "phone", "address", "opening_hours", "accessibility")


@dataclass(frozen=True, slots=True)
class Office:
    """A public function that steps route to by place and date (e.g. the Ausländerbehörde)."""

    id: str
    name: Text
    source: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Offer:
    """One partner delivering one service (or office) in some municipalities (``None``: all of them).

    ``service`` is the id of a service of the catalogue or, for an office's offer, ``office:<id>``.
    """

    id: str
    partner: str
    service: str
    municipalities: tuple[str, ...] | None
    languages: tuple[str, ...] = ()
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    sample: bool = False
    source: tuple[str, ...] = ()
    where: Located | None = field(default=None, compare=False)

    def in_force(self, on: dt.date) -> bool:
        """Whether the offer's validity window contains ``on``."""
        return (self.valid_from is None or self.valid_from <= on) and (
            self.valid_to is None or on <= self.valid_to
        )


@dataclass(frozen=True, slots=True)
class NotOffered:
    """A declaration that ``service`` is not offered in some municipalities (``None``: anywhere).

    Routing is unaffected (no offer, no partner); ``referral-engine check`` accepts the missing
    partner instead of reporting a coverage gap.
    """

    id: str
    service: str
    municipalities: tuple[str, ...] | None
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    source: tuple[str, ...] = ()
    where: Located | None = field(default=None, compare=False)

    def in_force(self, on: dt.date) -> bool:
        """Whether the declaration's validity window contains ``on``."""
        return (self.valid_from is None or self.valid_from <= on) and (
            self.valid_to is None or on <= self.valid_to
        )


_MEMO_SIZE = 4096


@dataclass(frozen=True, slots=True)
class Routing:
    """The partners of one service (or office) at one place on one date, before languages order them.

    ``partners`` by id, each once; ``speaks`` the languages of each one's offers there (``None``
    when no offer names a language, so that the person's languages change nothing); ``samples``
    those that deliver only through placeholder offers or are placeholders themselves;
    ``names`` and ``placeholders``: the names of ``partners`` and the samples among them, in order.
    """

    partners: tuple[str, ...]
    speaks: Mapping[str, frozenset[str]] | None
    samples: frozenset[str]
    names: tuple[str, ...]
    placeholders: tuple[str, ...]

    def order(self, languages: Iterable[str]) -> tuple[str, ...]:
        """The partners best first: those with an offer in a language of ``languages`` first, then by id."""
        speaks = self.speaks
        if speaks is None:
            return self.partners
        spoken = set(languages)
        if not spoken:
            return self.partners
        first = tuple(p for p in self.partners if not spoken.isdisjoint(speaks[p]))
        if not first or len(first) == len(self.partners):
            return self.partners
        return first + tuple(p for p in self.partners if spoken.isdisjoint(speaks[p]))


def _target(service: str) -> str:
    """The graph node of a service id or an ``office:<id>``."""
    return service if service.startswith("office:") else f"service:{service}"


class PartnerGraph:
    """Partners, municipalities and offers, as a read-only networkx graph with routing on top."""

    def __init__(
        self,
        municipalities: Iterable[Municipality],
        partners: Iterable[Partner],
        offers: Iterable[Offer],
        not_offered: Iterable[NotOffered] = (),
        offices: Iterable[Office] = (),
    ) -> None:
        self.municipalities: Mapping[str, Municipality] = MappingProxyType({m.id: m for m in municipalities})
        self.partners: Mapping[str, Partner] = MappingProxyType({p.id: p for p in partners})
        #: Public functions routed like services (see :class:`Office`), by id.
        self.offices: Mapping[str, Office] = MappingProxyType({o.id: o for o in offices})
        self.offers: tuple[Offer, ...] = tuple(offers)
        #: Services declared as not offered in some municipalities (see :class:`NotOffered`).
        self.not_offered: tuple[NotOffered, ...] = tuple(not_offered)
        graph = nx.DiGraph()
        for municipality in self.municipalities.values():
            graph.add_node(f"municipality:{municipality.id}", kind="municipality", name=municipality.name)
        for partner in self.partners.values():
            graph.add_node(
                f"partner:{partner.id}",
                kind="partner",
                name=partner.name,
                type=partner.kind,
                reporting_duty=partner.reporting_duty,
                sample=partner.sample,
            )
        for office in self.offices.values():
            graph.add_node(f"office:{office.id}", kind="office", name=office.name.de)
        for offer in self.offers:
            node = f"offer:{offer.id}"
            graph.add_node(
                node,
                kind="offer",
                name=offer.id,
                offer=offer,
                partner=offer.partner,
                valid_from=offer.valid_from,
                valid_to=offer.valid_to,
                languages=offer.languages,
                sample=offer.sample,
                everywhere=offer.municipalities is None,
            )
            graph.add_edge(f"partner:{offer.partner}", node, relation="delivers")
            target = _target(offer.service)
            graph.add_edge(node, target, relation="of")
            graph.nodes[target].setdefault("kind", "service")
            graph.nodes[target].setdefault("name", offer.service)
            for municipality_id in offer.municipalities or tuple(self.municipalities):
                graph.add_edge(node, f"municipality:{municipality_id}", relation="covers")
        #: The graph every query reads: ``partner ─delivers▶ offer ─of▶ service|office`` and
        #: ``offer ─covers▶ municipality``; offers carry their validity window and languages.
        self.graph: nx.DiGraph = nx.freeze(graph)
        # The graph's own attribute and adjacency dicts of each target's offers, looked up once
        # here rather than through networkx's views on every query (routing runs per case).
        self._offer_nodes = {
            target: tuple((graph.nodes[node], graph.succ[node]) for node in graph.pred[target])
            for target, data in graph.nodes(data=True)
            if data.get("kind") in ("service", "office")
        }
        #: Offers in force by (service, municipality id, date): bounded, emptied by ``purge_caches``.
        self._in_force: dict[tuple[str, str | None, dt.date], tuple[Offer, ...]] = dates.memo()
        #: Routings by (service, municipality id, date): bounded, emptied by ``purge_caches``.
        self._routings: dict[tuple[str, str | None, dt.date], Routing] = dates.memo()
        self._names = {
            name.casefold(): m.id for m in self.municipalities.values() for name in (m.name, *m.aliases)
        }

    def to_networkx(self, *, service: str | None = None, municipality: str | None = None) -> nx.DiGraph:
        """A mutable networkx copy for notebooks (see :func:`referral_engine.exports.partner_network`)."""
        network: nx.DiGraph = provided("partner_network")(self, service=service, municipality=municipality)
        return network

    def municipality_id(self, name: str | None) -> str | None:
        """The id of the municipality called ``name`` (or one of its aliases), case-insensitively."""
        return None if name is None else self._names.get(" ".join(name.split()).casefold())

    def offers_for(self, service: str) -> tuple[Offer, ...]:
        """Every offer of ``service`` (or of ``office:<id>``), whatever its area and dates, in file order."""
        return tuple(data["offer"] for data, _ in self._offer_nodes.get(_target(service), ()))

    def offers_in_force(self, service: str, municipality: str | None, on: dt.date) -> tuple[Offer, ...]:
        """The offers of ``service`` (or ``office:<id>``) that cover ``municipality`` on ``on``.

        A graph query: the offer nodes before the service node whose validity window contains
        ``on`` and that have an edge to the municipality's node (an unknown municipality is covered
        only by offers for all municipalities).
        """
        return self._offers_at(service, self.municipality_id(municipality), on)

    def _offers_at(self, service: str, place: str | None, on: dt.date) -> tuple[Offer, ...]:
        """:meth:`offers_in_force` at the municipality with id ``place`` (``None``: unknown)."""
        key = (service, place, on)
        cached = self._in_force.get(key)
        if cached is not None:
            return cached
        covered = f"municipality:{place}"
        found = []
        for data, edges in self._offer_nodes.get(_target(service), ()):
            start, end = data["valid_from"], data["valid_to"]
            if (start is not None and on < start) or (end is not None and end < on):
                continue
            if data["everywhere"] or (place is not None and covered in edges):
                found.append(data["offer"])
        if len(self._in_force) >= _MEMO_SIZE:
            self._in_force.clear()
        self._in_force[key] = result = tuple(found)
        return result

    def reports(self, partner: str) -> bool:
        """Whether ``partner`` has the § 87 AufenthG reporting duty (an unknown id counts as having it)."""
        unit = self.partners.get(partner)
        return True if unit is None else unit.reporting_duty

    def routing(self, service: str, place: str | None, on: dt.date) -> Routing:
        """The partners of ``service`` (or ``office:<id>``) at municipality id ``place`` on ``on``.

        Memoised by service, place and date (never by anything of a person): :meth:`route` and
        :meth:`is_sample` read it, and so does ``recommend`` for every case.
        """
        key = (service, place, on)
        found = self._routings.get(key)
        if found is not None:
            return found
        speaks: dict[str, frozenset[str]] = {}
        offered: dict[str, list[bool]] = {}
        for offer in self._offers_at(service, place, on):
            speaks[offer.partner] = speaks.get(offer.partner, frozenset()) | frozenset(offer.languages)
            offered.setdefault(offer.partner, []).append(offer.sample)
        samples = frozenset(
            partner
            for partner, sample in offered.items()
            if all(sample) or ((unit := self.partners.get(partner)) is not None and unit.sample)
        )
        partners = tuple(sorted(speaks))
        found = Routing(
            partners,
            MappingProxyType(speaks) if any(speaks.values()) else None,
            samples,
            tuple(self.partners[p].name if p in self.partners else p for p in partners),
            tuple(p for p in partners if p in samples),
        )
        if len(self._routings) >= _MEMO_SIZE:
            self._routings.clear()
        self._routings[key] = found
        return found

    def is_sample(self, partner: str, service: str, municipality: str | None, on: dt.date) -> bool:
        """Whether naming ``partner`` for ``service`` rests on a placeholder (``sample: true``).

        True when the partner itself is a sample, or when every offer through which it delivers
        ``service`` (or ``office:<id>``) for ``municipality`` on ``on`` is one.
        """
        unit = self.partners.get(partner)
        if unit is not None and unit.sample:
            return True
        return partner in self.routing(service, self.municipality_id(municipality), on).samples

    def route(
        self,
        service: str,
        municipality: str | None,
        on: dt.date,
        languages: Iterable[str] = (),
    ) -> tuple[str, ...]:
        """Ids of the partners responsible for ``service`` in ``municipality`` on ``on``, best first.

        ``service`` may also be ``office:<id>`` for an office (see :class:`Office`).

        Offers in a language the person speaks come first; ties are broken by partner id, so
        the order is deterministic. An unknown municipality is served only by offers for all
        municipalities.
        """
        return self.routing(service, self.municipality_id(municipality), on).order(languages)
