"""The README's first example as a script: one case, one recommendation."""

import datetime as dt

from referral_engine import recommend

rec = recommend(
    {"age": 19, "residence_status": "gestattung", "municipality": "Staufen",
     "accommodation": "vorlaeufige_unterbringung"},
    as_of=dt.date(2026, 3, 1),
    lang="en",
)  # fmt: skip
print(rec.eligible)  # services that fit, best first
print(rec.decision("jmd").partners)  # who is responsible in Staufen
print(rec.missing[:3])  # what to ask next
for step in rec.next_steps[:3]:
    print("-", step.text)
