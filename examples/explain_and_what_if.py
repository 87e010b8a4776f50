"""Explanations, why-not, what-if and time on three worked cases (README: "Explanations, what-if and time").

1. A 26-year-old: the JMD hands over to the MBE on the 27th birthday.
2. A refugee moving from vorläufige Unterbringung into Anschlussunterbringung.
3. An asylum seeker on either side of the 2026 stop of integration-course admissions.
"""

import datetime as dt

from referral_engine import recommend, what_if, why_not

AS_OF = dt.date(2026, 3, 1)

# 1. JMD -> MBE at 27 ---------------------------------------------------------------------------
young = {
    "birth_date": dt.date(1999, 5, 15),
    "residence_status": "ae_25_2_refugee",
    "entry_date": dt.date(2024, 1, 10),
    "municipality": "Staufen",
}
rec = recommend(young, as_of=AS_OF, lang="en")
print(rec.decision("jmd").explain("en", redact=True))
print("JMD valid until:", rec.decision("jmd").valid_until)
print(rec.timeline(dt.date(2027, 12, 31)).text())

# 2. Moving into Anschlussunterbringung -----------------------------------------------------------
refugee = {
    "age": 34,
    "residence_status": "ae_25_2_refugee",
    "accommodation": "vorlaeufige_unterbringung",
    "accommodation_since": dt.date(2025, 9, 1),
    "municipality": "Bad Krozingen",
}
move = what_if(
    refugee, {"accommodation": "anschlussunterbringung", "accommodation_since": AS_OF}, as_of=AS_OF, lang="en"
)
print("changed:", move.changed)
for change in move.decisions:
    print(f"- {change.service}: {change.before} -> {change.after}, partners {change.partners_after}")
print("Integrationsmanagement until:", move.after.decision("integrationsmanagement").valid_until)

# What would open the Berufssprachkurs for this person?
options = why_not(refugee | {"employment": "unemployed"}, "berufssprachkurs", as_of=AS_OF)
print("Berufssprachkurs, smallest changes:", [dict(sorted(a.items())) for a in options.alternatives])

# 3. The 2026 admission stop ----------------------------------------------------------------------
applicant = {
    "age": 30,
    "residence_status": "gestattung",
    "language_level": "A1",
    "employment": "employed",
    "benefits": "asylblg",
    "municipality": "Bad Krozingen",
}
for day in (dt.date(2025, 10, 31), dt.date(2026, 2, 8), dt.date(2026, 2, 9)):
    course = recommend(applicant, as_of=day).decision("integrationskurs")
    print(day, course.status, "until", course.valid_until)
