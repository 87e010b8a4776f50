"""The README's first example: one case, one recommendation."""

import datetime as dt

from referral_engine import recommend

rec = recommend(
    {"age": 19, "residence_status": "gestattung", "municipality": "Staufen", "language_level": "A1"},
    as_of=dt.date(2026, 3, 1),
    lang="en",
)
print(rec.eligible)
print(rec.decision("jmd").partners)
for step in rec.next_steps[:3]:
    print("-", step.text)
