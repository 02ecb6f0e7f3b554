"""The faults the report knows how to talk about: their names in sentences, and which are power cuts.

One place, so the recommendation, the caveats, the tables and the charts name a fault the same way.
"""

from __future__ import annotations

POWER_FAULTS = frozenset({"power-loss", "torn-power-loss"})

FAULT_PHRASES = {
    "kill9": "a process crash (kill -9)",
    "power-loss": "a power loss (fault `power-loss`)",
    "torn-power-loss": "a power loss with torn writes (fault `torn-power-loss`)",
}

# Short labels for chart annotations, where a sentence does not fit.
FAULT_LABELS = {"kill9": "kill -9", "power-loss": "power cut", "torn-power-loss": "torn power cut"}


def fault_phrase(fault: str) -> str:
    return FAULT_PHRASES.get(fault, f"fault `{fault}`")


def fault_label(fault: str) -> str:
    return FAULT_LABELS.get(fault, fault)


def is_power_fault(fault: object) -> bool:
    return str(fault) in POWER_FAULTS


# The order a reader meets the faults in: the gentlest first, so each group reads as "and then worse".
CANONICAL_ORDER = ("kill9", "power-loss", "torn-power-loss")


def fault_order(faults: list[str]) -> list[str]:
    """Distinct faults, the known ones in CANONICAL_ORDER, any others after them as first seen."""
    distinct = list(dict.fromkeys(str(f) for f in faults))
    rank = {name: i for i, name in enumerate(CANONICAL_ORDER)}
    return sorted(distinct, key=lambda f: (rank.get(f, len(rank)), distinct.index(f)))
