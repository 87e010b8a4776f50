"""A hand-written Python function that decides every service of the bundled rule set.

The yardstick of issue 10 ("hand-written = 1×"): what a competent developer would write by hand
for ``rules/eligibility/*.yaml`` as they stand — nested ``if``\\ s per service, each fact read once,
no engine machinery (no condition objects, no rule values, no generated code). It takes the facts
that :func:`referral_engine.facts.facts_for` builds and ``as_of``, and returns
``{service id: Status}`` in the order of ``rules/services.yaml``.

Semantics written out by hand (``rules/README.md``): a fact that is ``None`` is unknown; a service
is ``eligible`` when some ``eligible`` rule surely holds and no ``not_eligible`` rule may hold,
``not_eligible`` when a ``not_eligible`` rule surely holds or no grant rule may hold, else
``undetermined``; a ``check`` rule grants at most "undetermined"; only rules whose validity window
contains ``as_of`` take part. ``within`` / ``older_than`` windows are date comparisons against the
earliest event date whose period (§§ 187, 188 BGB) still contains ``as_of``, computed once per
``as_of``. ``facts_for`` refuses event dates after ``as_of``, so every known event date here lies
on or before it.

**This function is a copy of the rules, not derived from them.** ``tests/test_handwritten_baseline.py``
proves it equal to the python engine on generated cases and on both sides of every age, date and
validity limit; when the bundled rule set changes, that test fails on purpose — update this file
with the rules (and the benchmarks measure the new rule set against a matching yardstick).
"""

from __future__ import annotations

import datetime as dt

from referral_engine.dates import add_months
from referral_engine.facts import Facts
from referral_engine.models import Status

EL = Status.ELIGIBLE
NE = Status.NOT_ELIGIBLE
UN = Status.UNDETERMINED

#: The services in the order of rules/services.yaml (the order of the result).
SERVICES = (
    "integrationsmanagement",
    "fluechtlingssozialarbeit",
    "jmd",
    "mbe",
    "asylverfahrensberatung",
    "integrationskurs",
    "erstorientierungskurs",
    "berufssprachkurs",
    "asylblg",
    "jobcenter",
    "arbeitsagentur",
    "berufsberatung",
    "anerkennungsberatung",
    "helferkreis",
)

# --- residence statuses, grouped as the rules group them ------------------------------------------
RESTRICTED = frozenset({"undocumented", "ausreisepflichtig"})  # § 87 AufenthG: confidential routes only
ASYLUM = frozenset({"arrival_certificate", "gestattung", "gestattung_safe_country"})
DULDUNGEN = frozenset(
    {"duldung", "duldung_ermessen", "duldung_light", "ausbildungsduldung", "beschaeftigungsduldung"}
)
PROTECTION = frozenset({"ae_25_1", "ae_25_2_refugee", "ae_25_2_subsidiary"})
#: Titles with full access to the labour market and SGB II (jobcenter, asylblg exclusion).
SETTLED_TITLES = frozenset({"ae_25_3", "ae_25a_25b", "ae_104c", "ae_employment", "ae_family", "settlement"})
HUMANITARIAN_UNCLEAR = frozenset({"ae_25_4", "ae_22_23"})

IM_PRIVATE = frozenset(  # integrationsmanagement-private-after-follow-up-accommodation
    {
        *ASYLUM - {"arrival_certificate"},
        *DULDUNGEN,
        *PROTECTION,
        *("ae_25_3", "ae_25_4", "ae_25_5", "ae_22_23", "ae_25a_25b", "ae_104c", "ae_16g", "ae_family"),
    }
)

JMD_FROM = dt.date(2017, 1, 1)  # jmd-lawful-or-tolerated etc.; before: only checks
#: mbe-long-resident-need (a check) and, with spaetaussiedler, mbe-within-3-years-of-arrival.
MBE_LONG_RESIDENT = frozenset(
    {
        *PROTECTION,
        *SETTLED_TITLES,
        *HUMANITARIAN_UNCLEAR,
        *("ae_25_5", "ae_24", "ae_16g", "eu_citizen"),
    }
)
MBE_PERMANENT = frozenset({*PROTECTION, "settlement", "ae_25a_25b", "ae_22_23", "ae_employment", "ae_family"})
MBE_ASK = frozenset({*ASYLUM, *DULDUNGEN, "ae_other", "german_migration_background", "ausreisepflichtig"})

ASYLVERFAHRENSBERATUNG_FROM = dt.date(2023, 1, 1)

# Integrationskurs: the entitlement in the first year, admissions until the stop (2025-10-31), then
# checks whose scope changes on 2026-02-09 and 2027-01-01.
IK_ENTITLED = frozenset({*PROTECTION, "ae_employment", "ae_family"})
IK_DEPENDS_ON_PARAGRAPH = frozenset({"ae_22_23", "ae_25a_25b", "settlement"})
IK_STOP_SCOPE = frozenset({*PROTECTION, *SETTLED_TITLES, *HUMANITARIAN_UNCLEAR, "ae_16g", "ae_other"})
IK_BEFORE_STOP = frozenset(
    {*IK_STOP_SCOPE, "duldung_ermessen", "ausbildungsduldung", "beschaeftigungsduldung", "ae_24", "ae_25_5"}
    | {"eu_citizen"}
)
IK_STOP_ALL = IK_BEFORE_STOP | {"gestattung", "gestattung_safe_country"}
IK_OBLIGATION = frozenset(
    {*ASYLUM - {"arrival_certificate"}, *DULDUNGEN - {"duldung_light"}, "ae_24", "ae_25_5"}
)
IK_GESTATTUNG_FROM = dt.date(2022, 12, 31)
IK_STOP = dt.date(2025, 11, 1)
IK_DE_FACTO_STOP_TO = dt.date(2026, 2, 8)
IK_SCOPE_TO = dt.date(2026, 12, 31)
IK_OBLIGATION_FROM = dt.date(2017, 1, 1)
NO_STATUSES: frozenset[str] = frozenset()

EOK_UKRAINE_FROM = dt.date(2022, 3, 1)
EOK_WAITING = frozenset(
    {*DULDUNGEN, *HUMANITARIAN_UNCLEAR, "ae_25_5", "eu_citizen", "ae_25_3", "settlement", "ae_104c"}
    | {"ae_25a_25b", "ae_16g", "ae_other"}
)
EOK_AFTER_A_YEAR = frozenset({*PROTECTION, "ae_employment", "ae_family"})

BSK_TITLES = frozenset(MBE_LONG_RESIDENT | {"ae_other", "spaetaussiedler", "german_migration_background"})
BSK_DISCRETIONARY = frozenset({"duldung_ermessen", "ausbildungsduldung", "beschaeftigungsduldung"})
BSK_ASK = frozenset({*ASYLUM, "duldung_light"})
BSK_JOB_FROM = dt.date(2024, 2, 1)
WORKING = frozenset({"employed", "training"})
B1, A2 = 3, 2  # language_level is its rank: none 0, A1 1, A2 2, B1 3, ...

UKRAINE_SWITCH = dt.date(2026, 7, 1)  # asylblg / jobcenter: benefit switch for permits after 2025-03-31
UKRAINE_FIRST_PERMITS = dt.date(2025, 3, 31)
UKRAINE_SGB2_FROM = dt.date(2022, 6, 1)
UKRAINE_SGB2_TO = dt.date(2026, 6, 30)
EU_RULES_FROM = dt.date(2016, 12, 29)
JOBCENTER_EXCLUDED = frozenset({*ASYLUM, *DULDUNGEN, "ausreisepflichtig"})
JOBCENTER_GRANTED = frozenset(
    {*PROTECTION, *SETTLED_TITLES, "spaetaussiedler", "german_migration_background"}
)
JOBCENTER_ASK = frozenset({*HUMANITARIAN_UNCLEAR, "ae_16g", "ae_other"})

AA_FREE_ACCESS = frozenset(
    {*PROTECTION, *HUMANITARIAN_UNCLEAR, "ae_25_3", "ae_25_5", "ae_25a_25b", "ae_24", "ae_employment"}
    | {"ae_family", "settlement", "eu_citizen", "spaetaussiedler", "german_migration_background"}
)
AA_GESTATTUNG = frozenset({"arrival_certificate", "gestattung"})
AA_DULDUNG = frozenset({"duldung", "duldung_ermessen"})
AA_TRAINING_DULDUNG = frozenset({"ae_16g", "ausbildungsduldung", "beschaeftigungsduldung"})
AA_TITLE_DEPENDENT = frozenset({"ae_104c", "ae_other"})
AA_MOVING_TO_JOBCENTER = frozenset({*PROTECTION, *SETTLED_TITLES - {"ae_104c"}})
AA_REFORM = dt.date(2024, 2, 27)  # work access for Gestattung / Duldung after 3 or 6 months
AA_SAFE_COUNTRY_BAN_FROM = dt.date(2023, 12, 23)

ANERKENNUNG_FROM = dt.date(2012, 4, 1)
HELFERKREIS = frozenset({*ASYLUM, *DULDUNGEN, *MBE_LONG_RESIDENT}) - {
    "settlement",
    "eu_citizen",
    "ae_employment",
    "ae_family",
}
HELFERKREIS_ASK = frozenset({"ae_family", "ausreisepflichtig"})
IM_UKRAINE_FROM = dt.date(2022, 3, 11)

Day = tuple[dt.date, dt.date, dt.date, dt.date, dt.date, dt.date, dt.date, frozenset[str], frozenset[str]]
_days: dict[dt.date, Day] = {}


def _earliest(as_of: dt.date, months: int) -> dt.date:
    """The earliest event date whose period of ``months`` (§§ 187, 188 BGB) still contains ``as_of``."""
    start = add_months(as_of, -months)
    return start if add_months(start, months) >= as_of else start + dt.timedelta(days=1)


def _day(as_of: dt.date) -> Day:
    """What depends only on ``as_of``: the window limits and the integration course's admissions."""
    if as_of < IK_STOP:  # admitted (eligible) and to be checked, by residence status
        admitted = IK_BEFORE_STOP | ({"gestattung"} if as_of >= IK_GESTATTUNG_FROM else NO_STATUSES)
        ask = frozenset({"gestattung_safe_country" if as_of >= IK_GESTATTUNG_FROM else "gestattung"})
    else:
        admitted = NO_STATUSES
        ask = IK_STOP_SCOPE if IK_DE_FACTO_STOP_TO < as_of <= IK_SCOPE_TO else IK_STOP_ALL
    w3m, w6m, w1y, w18m, w3y, w4y, w5y = (_earliest(as_of, months) for months in (3, 6, 12, 18, 36, 48, 60))
    day = _days[as_of] = (w3m, w6m, w1y, w18m, w3y, w4y, w5y, admitted, ask)
    return day


def decide_all(facts: Facts, as_of: dt.date) -> dict[str, Status]:
    """The status of every service for ``facts`` on ``as_of``, decided by hand."""
    day = _days.get(as_of) or _day(as_of)
    w3m, w6m, w1y, w18m, w3y, w4y, w5y, ik_admitted, ik_ask = day
    age = facts["age"]
    rs = facts["residence_status"]
    entry = facts["entry_date"]
    since = facts["status_since"]
    level = facts["language_level"]
    accommodation = facts["accommodation"]
    moved = facts["accommodation_since"]
    benefits = facts["benefits"]
    employment = facts["employment"]
    jobseeker = facts["registered_jobseeker"]
    restricted = None if rs is None else rs in RESTRICTED

    # Integrationsmanagement: three years after moving into follow-up accommodation (the fourth year
    # and a restricted status: checks); private housing: checks for Ukraine and recent arrivals.
    if accommodation == "anschlussunterbringung":
        if moved is None:
            im = UN
        elif moved >= w3y:
            im = EL if restricted is False else UN
        else:
            im = UN if moved >= w4y else NE
    elif accommodation == "private":
        if rs is None:
            im = NE if as_of < IM_UKRAINE_FROM and entry is not None and entry < w5y else UN
        elif rs == "ae_24":
            im = UN if as_of >= IM_UKRAINE_FROM else NE
        elif rs in IM_PRIVATE:
            im = NE if entry is not None and entry < w5y else UN
        else:
            im = NE
    elif accommodation is None:
        # No rule can hold; not eligible only when every rule surely fails on the other facts.
        moved_too_long_ago = moved is not None and moved < w4y
        if rs is None:
            no_im = moved_too_long_ago and as_of < IM_UKRAINE_FROM and entry is not None and entry < w5y
        elif restricted:
            no_im = moved_too_long_ago
        else:
            no_ukraine = rs != "ae_24" or as_of < IM_UKRAINE_FROM
            no_private = rs not in IM_PRIVATE or (entry is not None and entry < w5y)
            no_im = moved_too_long_ago and no_ukraine and no_private
        im = NE if no_im else UN
    else:
        im = NE

    # Flüchtlingssozialarbeit: provisional accommodation; a restricted status only a check.
    if accommodation is None:
        fsa = UN
    elif accommodation != "vorlaeufige_unterbringung":
        fsa = NE
    else:
        fsa = EL if restricted is False else UN

    # JMD: 12 to 26. From 2017 everyone but the undocumented (arrival certificate, ausreisepflichtig:
    # checks); before 2017 only checks, for everyone with a status other than restricted.
    if age is not None and not 12 <= age < 27:
        jmd = NE
    elif rs is None:
        jmd = UN
    elif as_of >= JMD_FROM:
        if rs == "undocumented":
            jmd = NE
        elif rs == "arrival_certificate" or rs == "ausreisepflichtig" or age is None:
            jmd = UN
        else:
            jmd = EL
    else:
        jmd = NE if restricted else UN

    # MBE: 27 and over; within three years of arrival or of a lasting status, or Spätaussiedler;
    # every other status except the undocumented is a check.
    if age is not None and age < 27:
        mbe = NE
    elif rs is None:
        mbe = UN
    elif rs == "spaetaussiedler":
        mbe = UN if age is None else EL
    elif rs in MBE_LONG_RESIDENT:
        recent = (entry is not None and entry >= w3y) or (
            rs in MBE_PERMANENT and since is not None and since >= w3y
        )
        mbe = EL if recent and age is not None else UN
    else:
        mbe = UN if rs in MBE_ASK else NE

    # Asylverfahrensberatung: asylum seekers, from 2023.
    if as_of < ASYLVERFAHRENSBERATUNG_FROM:
        avb = NE
    elif rs is None:
        avb = UN
    else:
        avb = EL if rs in ASYLUM else NE

    # Integrationskurs. Excluded: B1 reached, at school under 27, under 16.
    if (
        (level is not None and level >= B1)
        or (age is not None and age < 16)
        or (employment == "school" and age is not None and age < 27)
    ):
        ik = NE
    else:
        ik_open = (
            level is None or age is None or (employment is None and age < 27)
        )  # an exclusion may still hold
        if rs is None:
            ik = UN
        elif (
            rs == "spaetaussiedler"
            or rs in ik_admitted
            or (rs in IK_ENTITLED and since is not None and since >= w1y)
        ):
            ik = UN if ik_open else EL
        elif (
            (rs in IK_ENTITLED and since is None)
            or (rs in IK_DEPENDS_ON_PARAGRAPH and (since is None or since >= w1y))
            or rs in ik_ask
            or rs == "german_migration_background"
            or (benefits in (None, "sgb2") and not restricted)
            or (
                as_of >= IK_OBLIGATION_FROM
                and rs in IK_OBLIGATION
                and benefits in (None, "asylblg")
                and (age is None or age >= 18)
                and employment in (None, "unemployed", "not_seeking")
            )
        ):
            ik = UN
        else:
            ik = NE

    # Erstorientierungskurs: asylum seekers and Ukraine; checks for the arrival certificate and for
    # those waiting for an integration course (titles with an entitlement after its first year).
    if age is not None and age < 16:
        eok = NE
    elif rs is None:
        eok = UN
    elif rs == "gestattung" or (rs == "ae_24" and as_of >= EOK_UKRAINE_FROM):
        eok = UN if age is None else EL
    elif (
        rs == "arrival_certificate"
        or rs in EOK_WAITING
        or (rs in EOK_AFTER_A_YEAR and (since is None or since < w1y))
    ):
        eok = UN
    else:
        eok = NE

    # Berufssprachkurs: with access to work or training (or SGB II) and German at B1 (or a finished
    # integration course); at work with A2 from 2024-02; Duldung variants; under 16 excluded.
    employment_known = employment is not None
    if jobseeker is True or employment in WORKING:
        working: bool | None = True
    elif jobseeker is False and employment_known:
        working = False
    else:
        working = None
    if age is not None and age < 16:
        bsk = NE
    else:
        if rs is None or rs in BSK_TITLES:
            course = facts["integration_course"]
            if working is True or benefits == "sgb2":
                need: bool | None = True
            elif working is False and benefits is not None:
                need = False
            else:
                need = None
            if (level is not None and level >= B1) or course == "completed":
                german: bool | None = True
            elif level is not None and course is not None:
                german = False
            else:
                german = None
            job_bsk_on = as_of >= BSK_JOB_FROM
            if rs is None:
                # every rule fails only without work (so not employed) and without need or German
                grant: bool | None = (
                    False if working is False and (need is False or german is False) else None
                )
            elif (need and german) or (
                job_bsk_on and employment == "employed" and level is not None and level >= A2
            ):
                grant = True
            elif (need is False or german is False) and (
                not job_bsk_on
                or (employment_known and employment != "employed")
                or (level is not None and level < A2)
            ):
                grant = False
            else:
                grant = None
        elif rs in BSK_DISCRETIONARY:
            grant = working
        elif rs == "duldung":
            if working is False or (since is not None and since >= w6m):
                grant = False
            else:
                grant = True if working and since is not None else None
        elif rs in BSK_ASK:
            grant = False if working is False else None
        else:
            grant = False
        bsk = NE if grant is False else (EL if grant and age is not None else UN)

    # AsylbLG: asylum seekers, Duldung, ausreisepflichtig; checks for unclear titles; not for
    # protection and other titles, nor for Ukrainian first permits up to 2025-03-31.
    if rs is None:
        asylblg = UN
    elif rs in ASYLUM or rs in DULDUNGEN or rs == "ausreisepflichtig":
        asylblg = EL
    elif rs == "undocumented" or rs in HUMANITARIAN_UNCLEAR or rs == "ae_16g":
        asylblg = UN
    elif rs == "ae_25_5":
        asylblg = NE if since is not None and since < w18m else UN
    elif rs == "ae_24":
        switched = as_of >= UKRAINE_SWITCH and (since is None or since > UKRAINE_FIRST_PERMITS)
        asylblg = UN if switched else NE
    else:
        asylblg = NE

    # Jobcenter: protection, other titles and German citizens; Ukraine by permit date and benefit
    # switch; EU citizens working or after five years (first months and job seeking: checks).
    # Excluded: the AsylbLG statuses, SGB XII recipients, pension age.
    if benefits == "sgb12" or (age is not None and age >= 67):
        jobcenter = NE
    else:
        excluded_open = benefits is None or age is None
        if rs is None:
            jobcenter = UN
        elif rs in JOBCENTER_EXCLUDED or rs == "undocumented":
            jobcenter = NE
        elif rs in JOBCENTER_GRANTED:
            jobcenter = UN if excluded_open else EL
        elif rs in JOBCENTER_ASK:
            jobcenter = UN
        elif rs == "ae_25_5":
            jobcenter = UN if since is None or since < w18m else NE
        elif rs == "ae_24":
            if as_of < UKRAINE_SGB2_FROM:
                jobcenter = NE
            elif as_of <= UKRAINE_SGB2_TO or (since is not None and since <= UKRAINE_FIRST_PERMITS):
                jobcenter = UN if excluded_open else EL
            else:
                jobcenter = UN
        else:  # eu_citizen
            if employment in WORKING or (as_of >= EU_RULES_FROM and entry is not None and entry < w5y):
                jobcenter = UN if excluded_open else EL
            elif as_of >= EU_RULES_FROM or employment is None:
                jobcenter = UN
            else:
                jobcenter = NE

    # Arbeitsagentur: ALG I, job seekers with free access, Gestattung / Duldung after 3 or 6 months
    # (from 2024-02-27), training and employment Duldung; excluded: SGB II, recognised people on
    # AsylbLG, the first months, work bans, under 15.
    if employment == "unemployed" or jobseeker is True:
        seeking: bool | None = True
    elif jobseeker is False and employment_known:
        seeking = False
    else:
        seeking = None
    reform = as_of >= AA_REFORM
    if benefits == "sgb2" or (age is not None and age < 15):
        aa = NE
    elif rs is None:
        aa = NE if seeking is False and benefits is not None and benefits != "sgb3" else UN
    else:
        # grant: ALG I, or the status's own way in
        if restricted:
            alg1: bool | None = False
        else:
            alg1 = None if benefits is None else benefits == "sgb3"
        if rs in AA_FREE_ACCESS or rs in AA_TRAINING_DULDUNG:
            own: bool | None = seeking
        elif rs in AA_GESTATTUNG:
            if not reform or seeking is False or (entry is not None and entry >= w3m):
                own = False
            elif entry is not None and entry < w6m and seeking:
                own = True
            else:
                own = None
        elif rs in AA_DULDUNG:
            if not reform or seeking is False or (entry is not None and entry >= w3m):
                own = False
            else:
                own = True if seeking and entry is not None else None
        elif rs in AA_TITLE_DEPENDENT:
            own = False if seeking is False else None
        else:
            own = False
        grant = True if alg1 or own else (False if alg1 is False and own is False else None)
        # exclusion besides SGB II and age: by status
        if rs in AA_MOVING_TO_JOBCENTER:
            excluded: bool | None = None if benefits is None else benefits == "asylblg"
        elif rs in AA_GESTATTUNG or rs in AA_DULDUNG:
            if entry is None:
                excluded = None
            elif entry >= w3m:
                excluded = True
            elif entry >= w6m and reform:
                excluded = None if accommodation is None else accommodation == "erstaufnahme"
            else:
                excluded = False
        elif rs == "gestattung_safe_country":
            excluded = as_of >= AA_SAFE_COUNTRY_BAN_FROM
        else:
            excluded = rs == "duldung_light"
        if excluded or grant is False:
            aa = NE
        elif grant and excluded is False and benefits is not None and age is not None:
            aa = EL
        else:
            aa = UN

    # Berufsberatung: 14 to 66; a restricted status is a check.
    if age is not None and not 14 <= age < 67:
        bb = NE
    elif age is None or restricted is not False:
        bb = UN
    else:
        bb = EL

    # Anerkennungsberatung: a foreign qualification, from 16.
    qualification = facts["foreign_qualification"]
    if (age is not None and age < 16) or as_of < ANERKENNUNG_FROM or qualification is False:
        ab = NE
    else:
        ab = EL if qualification and age is not None else UN

    # Helferkreis: refugees; a check for family reunification and ausreisepflichtig.
    if rs is None:
        hk = UN
    elif rs in HELFERKREIS:
        hk = EL
    else:
        hk = UN if rs in HELFERKREIS_ASK else NE

    return {
        "integrationsmanagement": im,
        "fluechtlingssozialarbeit": fsa,
        "jmd": jmd,
        "mbe": mbe,
        "asylverfahrensberatung": avb,
        "integrationskurs": ik,
        "erstorientierungskurs": eok,
        "berufssprachkurs": bsk,
        "asylblg": asylblg,
        "jobcenter": jobcenter,
        "arbeitsagentur": aa,
        "berufsberatung": bb,
        "anerkennungsberatung": ab,
        "helferkreis": hk,
    }
