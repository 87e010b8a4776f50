"""The partner graph as an Open Referral HSDS 3 service directory (organizations and services).

`HSDS <https://docs.openreferral.org/>`_ (Human Services Data Specification) is the exchange format
of service directories. :func:`hsds_directory` maps the rule set onto it:

- each partner unit is an ``organization`` (a unit of a larger body names it as
  ``parent_organization_id``);
- each offer of a service is a ``service`` of its partner's organization, with the service's name,
  an ``eligibility_description`` from the notes of its grant rules, ``minimum_age`` /
  ``maximum_age`` where every grant names them, one ``service_area`` per municipality it covers
  and its ``languages``; ``status`` is ``active`` on the export date and ``inactive`` outside the
  offer's validity window.

Identifiers are deterministic UUIDs (version 5) of the rule set's ids, so a re-export keeps them.
Placeholder offers (``sample: true``) are left out unless asked for: a directory must not present
an example operator as a fact; with ``include_samples=True`` they carry an ``alert`` saying so.
Offices (the Ausländerbehörde, the confidential first contact) are routing roles, not services,
and are not exported.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

from .ruleset import Rule, Ruleset

#: The namespace of the deterministic identifiers (uuid5 of ``kind:id`` in it).
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:referral-engine")

#: English names of the ISO 639-1 codes the bundled rules use (HSDS ``language.name``).
LANGUAGE_NAMES = {
    "ar": "Arabic",
    "de": "German",
    "en": "English",
    "fa": "Persian",
    "fr": "French",
    "ku": "Kurdish",
    "ps": "Pashto",
    "ru": "Russian",
    "so": "Somali",
    "ti": "Tigrinya",
    "tr": "Turkish",
    "uk": "Ukrainian",
}
SAMPLE_ALERT = {
    "de": "Beispiel-Träger (Platzhalter): nicht als Tatsache verwenden, für den eigenen Einsatz ersetzen.",
    "en": "Example operator (placeholder): not a fact; replace it for your deployment.",
}


def hsds_id(kind: str, key: str) -> str:
    """The deterministic HSDS identifier of one entry of the rule set."""
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{key}"))


def hsds_directory(
    ruleset: Ruleset, *, as_of: dt.date | None = None, lang: str = "de", include_samples: bool = False
) -> dict[str, list[dict[str, Any]]]:
    """``{"organizations": [...], "services": [...]}`` in HSDS 3 form for ``ruleset`` on ``as_of``."""
    on = as_of or dt.date.today()
    graph = ruleset.partners
    organizations = []
    for partner in graph.partners.values():
        organization: dict[str, Any] = {
            "id": hsds_id("partner", partner.id),
            "name": partner.name,
            "description": _partner_description(
                partner.kind, partner.reporting_duty, partner.data_protection, lang
            ),
        }
        if (
            partner.organisation
            and partner.organisation != partner.id
            and partner.organisation in graph.partners
        ):
            organization["parent_organization_id"] = hsds_id("partner", partner.organisation)
        contact = partner.contact
        if "web" in contact:
            organization["website"] = contact["web"]
        if "email" in contact:
            organization["email"] = contact["email"]
        if "phone" in contact:
            organization["phones"] = [{"id": hsds_id("phone", partner.id), "number": contact["phone"]}]
        organizations.append(organization)
    services = []
    for offer in graph.offers:
        if offer.service.startswith("office:") or (offer.sample and not include_samples):
            continue
        definition = ruleset.service(offer.service)
        service_id = hsds_id("offer", offer.id)
        grants = [r for r in ruleset.rules_of(offer.service) if r.effect == "eligible" and r.in_force(on)]
        service: dict[str, Any] = {
            "id": service_id,
            "organization_id": hsds_id("partner", offer.partner),
            "name": definition.name.get(lang),
            "description": f"{definition.name.get(lang)} – {graph.partners[offer.partner].name}",
            "status": "active" if offer.in_force(on) else "inactive",
            "eligibility_description": " ".join(r.note.get(lang) for r in grants if r.note),
            "service_areas": [
                {
                    "id": hsds_id("service_area", f"{offer.id}:{municipality}"),
                    "service_id": service_id,
                    "name": graph.municipalities[municipality].name,
                }
                for municipality in (offer.municipalities or tuple(graph.municipalities))
            ],
            "languages": [
                {
                    "id": hsds_id("language", f"{offer.id}:{code}"),
                    "service_id": service_id,
                    "name": LANGUAGE_NAMES.get(code, code),
                    "code": code,
                }
                for code in offer.languages
            ],
        }
        low, high = age_limits(grants)
        if low is not None:
            service["minimum_age"] = low
        if high is not None:
            service["maximum_age"] = high
        if offer.sample:
            service["alert"] = SAMPLE_ALERT[lang]
        services.append(service)
    return {"organizations": organizations, "services": services}


def write_hsds(
    ruleset: Ruleset,
    folder: str | Path,
    *,
    as_of: dt.date | None = None,
    lang: str = "de",
    include_samples: bool = False,
) -> list[Path]:
    """Write ``organizations.json`` and ``services.json`` into ``folder`` (created); return their paths."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, items in hsds_directory(
        ruleset, as_of=as_of, lang=lang, include_samples=include_samples
    ).items():
        path = target / f"{name}.json"
        path.write_text(json.dumps(items, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        written.append(path)
    return written


def age_limits(grants: list[Rule]) -> tuple[int | None, int | None]:
    """The youngest and oldest age (in whole years) any of ``grants`` admits, where all of them bound it.

    A grant that tests no lower age admits 0; one with no upper limit leaves the maximum open.
    Bounds inside ``any``/``not`` are not read (the result then stays open), so the limits never
    claim more than the rules say.
    """
    if not grants:
        return None, None
    lows, highs = [], []
    for rule in grants:
        low, high = 0, None
        for leaf in _top_level_leaves(rule):
            if leaf.field != "age" or not isinstance(leaf.value, int):
                continue
            if leaf.op == "ge":
                low = max(low, leaf.value)
            elif leaf.op == "gt":
                low = max(low, leaf.value + 1)
            elif leaf.op == "lt":
                high = leaf.value - 1 if high is None else min(high, leaf.value - 1)
            elif leaf.op == "le":
                high = leaf.value if high is None else min(high, leaf.value)
        lows.append(low)
        highs.append(high)
    lowest = min(lows)
    highest = None if any(h is None for h in highs) else max(h for h in highs if h is not None)
    return (lowest if lowest > 0 else None), highest


def _top_level_leaves(rule: Rule) -> list[Any]:
    from .conditions import AllOf, Leaf

    when = rule.when
    if isinstance(when, Leaf):
        return [when]
    if isinstance(when, AllOf):
        return [part for part in when.parts if isinstance(part, Leaf)]
    return []


def _partner_description(kind: str, reporting_duty: bool, regime: str, lang: str) -> str:
    kinds = {
        "public_body": ("öffentliche Stelle", "public body"),
        "education": ("Bildungseinrichtung", "educational institution"),
        "free_welfare": ("Freie Wohlfahrtspflege", "free-welfare organisation"),
        "provider": ("Träger", "provider"),
        "volunteer": ("Ehrenamtliche Gruppe", "volunteer group"),
    }
    de, en = kinds.get(kind, (kind, kind))
    if lang == "de":
        duty = "; Übermittlungspflicht nach § 87 AufenthG" if reporting_duty else ""
        return f"{de}{duty}; Datenschutz: {regime}"
    duty = "; reporting duty under § 87 AufenthG" if reporting_duty else ""
    return f"{en}{duty}; data protection: {regime}"
