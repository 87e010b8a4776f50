"""The partner-responsibility graph: who delivers which service where, and from when.

The graph is a :class:`networkx.DiGraph` with four kinds of node, each named ``kind:id``::

    partner:caritas ──delivers──▶ offer:caritas-mbe ──of──▶ service:mbe
                                        │
                                        └──covers──▶ municipality:staufen

An *offer* is one partner delivering one service in some municipalities, in some languages,
within a validity window. Routing a case means finding the offers of a service that cover the
person's municipality on ``as_of``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import networkx as nx

from .models import Lang


@dataclass(frozen=True, slots=True)
class Located:
    """Where something was defined: file and line, for messages that point a rule author to it."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class Text:
    """A short text in German and English."""

    de: str
    en: str

    def get(self, lang: Lang) -> str:
        """The text in ``lang``."""
        return self.de if lang == "de" else self.en


@dataclass(frozen=True, slots=True)
class Municipality:
    """A municipality a partner can serve; ``aliases`` are other spellings of its name."""

    id: str
    name: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Partner:
    """A cooperation partner: a welfare organisation, an authority, a city or a volunteer group."""

    id: str
    name: str
    kind: str
    data_protection: str
    source: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Offer:
    """One partner delivering one service in some municipalities (``None``: all of them)."""

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


class PartnerGraph:
    """Partners, municipalities and offers, as a read-only networkx graph with routing on top."""

    def __init__(
        self,
        municipalities: Iterable[Municipality],
        partners: Iterable[Partner],
        offers: Iterable[Offer],
        not_offered: Iterable[NotOffered] = (),
    ) -> None:
        self.municipalities: Mapping[str, Municipality] = MappingProxyType({m.id: m for m in municipalities})
        self.partners: Mapping[str, Partner] = MappingProxyType({p.id: p for p in partners})
        self.offers: tuple[Offer, ...] = tuple(offers)
        #: Services declared as not offered in some municipalities (see :class:`NotOffered`).
        self.not_offered: tuple[NotOffered, ...] = tuple(not_offered)
        graph = nx.DiGraph()
        for municipality in self.municipalities.values():
            graph.add_node(f"municipality:{municipality.id}", kind="municipality", name=municipality.name)
        for partner in self.partners.values():
            graph.add_node(f"partner:{partner.id}", kind="partner", name=partner.name, type=partner.kind)
        by_service: dict[str, list[Offer]] = {}
        for offer in self.offers:
            node = f"offer:{offer.id}"
            graph.add_node(node, kind="offer", sample=offer.sample, languages=offer.languages)
            graph.add_edge(f"partner:{offer.partner}", node, relation="delivers")
            graph.add_edge(node, f"service:{offer.service}", relation="of")
            graph.nodes[f"service:{offer.service}"]["kind"] = "service"
            for municipality_id in offer.municipalities or tuple(self.municipalities):
                graph.add_edge(node, f"municipality:{municipality_id}", relation="covers")
            by_service.setdefault(offer.service, []).append(offer)
        self.graph: nx.DiGraph = nx.freeze(graph)
        self._by_service = {service: tuple(items) for service, items in by_service.items()}
        self._names = {
            name.casefold(): m.id for m in self.municipalities.values() for name in (m.name, *m.aliases)
        }

    def municipality_id(self, name: str | None) -> str | None:
        """The id of the municipality called ``name`` (or one of its aliases), case-insensitively."""
        return None if name is None else self._names.get(" ".join(name.split()).casefold())

    def offers_for(self, service: str) -> tuple[Offer, ...]:
        """Every offer of ``service``, whatever its area and dates."""
        return self._by_service.get(service, ())

    def route(
        self,
        service: str,
        municipality: str | None,
        on: dt.date,
        languages: Iterable[str] = (),
    ) -> tuple[str, ...]:
        """Ids of the partners responsible for ``service`` in ``municipality`` on ``on``, best first.

        Offers in a language the person speaks come first; ties are broken by partner id, so
        the order is deterministic. An unknown municipality is served only by offers for all
        municipalities.
        """
        place = self.municipality_id(municipality)
        spoken = set(languages)
        ranked: list[tuple[bool, str]] = []
        for offer in self.offers_for(service):
            if not offer.in_force(on):
                continue
            if offer.municipalities is not None and place not in offer.municipalities:
                continue
            ranked.append((not spoken.intersection(offer.languages), offer.partner))
        partners: dict[str, None] = {}
        for _, partner in sorted(ranked):
            partners.setdefault(partner, None)
        return tuple(partners)
