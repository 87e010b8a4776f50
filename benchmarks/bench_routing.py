"""Routing per service: graph queries over dated offer nodes against a plain scan of the offers.

Run: python benchmarks/bench_routing.py [--rounds 5] [--repeat 3000]

Both are timed in the same process, interleaved round by round (CPU time, median of the rounds);
the scan is what routing did before it read the graph (a dict of offers by service, filtered).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from collections.abc import Callable

from referral_engine import default_ruleset
from referral_engine.graph import Offer

AS_OF = dt.date(2026, 3, 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3000)
    args = parser.parse_args()
    graph = default_ruleset().partners
    services = [s.id for s in default_ruleset().services]
    by_service: dict[str, list[Offer]] = {}
    for offer in graph.offers:
        by_service.setdefault(offer.service, []).append(offer)

    def scan(service: str, municipality: str, on: dt.date, languages: tuple[str, ...]) -> tuple[str, ...]:
        place = graph.municipality_id(municipality)
        ranked = sorted(
            (not set(languages) & set(offer.languages), offer.partner)
            for offer in by_service.get(service, ())
            if offer.in_force(on) and (offer.municipalities is None or place in offer.municipalities)
        )
        return tuple(dict.fromkeys(partner for _, partner in ranked))

    ways: dict[str, Callable[[str, str, dt.date, tuple[str, ...]], tuple[str, ...]]] = {
        "graph query": graph.route,
        "offer scan": scan,
    }
    for service in services:
        assert graph.route(service, "Staufen", AS_OF, ("ar",)) == scan(service, "Staufen", AS_OF, ("ar",))
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(args.rounds):
        for name, route in ways.items():
            started = time.process_time()
            for _ in range(args.repeat):
                for service in services:
                    route(service, "Staufen", AS_OF, ("ar",))
            times[name].append((time.process_time() - started) / (args.repeat * len(services)) * 1e6)
    base = statistics.median(times["offer scan"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:12s} {median:6.2f} µs per service  ({median / base:.2f}× the scan)")


if __name__ == "__main__":
    main()
