"""Every service's status from the rule values, as one generated straight-line function.

For engines that give the rule values as a dict (the durable engine): where some rules' values
are fixed for the cases at hand (a residence status settles them), the function has them as
literals, and statuses they settle become constants. Equal to :func:`referral_engine.decide.statuses`
(the statements are those of :func:`referral_engine.compiled._status`).

Why generating code is safe here: as in :mod:`referral_engine.compiled`, the source comes from
the validated rule tree only; variable names are made here, rule and service ids appear only as
``repr`` of exact ``str`` values, and nothing of a case reaches the source.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .compiled import _status
from .conditions import Tri
from .models import Status
from .ruleset import Rule, Ruleset

StatusFunction = Callable[[Mapping[str, Tri]], dict[str, Status]]
#: The same from the values as a sequence in the order of the rules in force, the statuses in order.
CodeFunction = Callable[[Sequence[Tri]], tuple[Status, ...]]


def status_function(ruleset: Ruleset, in_force: Sequence[Rule], fixed: Mapping[str, Tri]) -> StatusFunction:
    """The statuses of every service (in rule-set order) from the values of the rules ``in_force``.

    ``fixed`` holds the values of rules that are the same on every case the function is for:
    they become literals. The function reads the other rules' values from its argument.
    """
    function: StatusFunction = _generate(ruleset, in_force, fixed, by_position=False)
    return function


def code_function(ruleset: Ruleset, in_force: Sequence[Rule], fixed: Mapping[str, Tri]) -> CodeFunction:
    """:func:`status_function` for values given by position (``in_force`` order); statuses as a tuple."""
    function: CodeFunction = _generate(ruleset, in_force, fixed, by_position=True)
    return function


def _generate(
    ruleset: Ruleset, in_force: Sequence[Rule], fixed: Mapping[str, Tri], *, by_position: bool
) -> Any:
    body: list[str] = []
    variables: dict[str, str] = {}
    for index, rule in enumerate(in_force):
        if rule.id in fixed:
            variables[rule.id] = repr(fixed[rule.id])
        else:
            variables[rule.id] = f"v{index}"
            body.append(f"v{index} = values[{index if by_position else repr(rule.id)}]")
    targets = []
    for index, service in enumerate(ruleset.services):
        target = f"s{index}"
        targets.append(target if by_position else f"{service.id!r}: {target}")
        rules = [(variables[rule.id], rule) for rule in ruleset.rules_of(service.id) if rule.id in variables]
        body += _status(rules, target)
    result = f"({''.join(f'{t}, ' for t in targets)})" if by_position else f"{{{', '.join(targets)}}}"
    lines = [
        "def factory(EL, NE, UN):",
        "    def statuses(values):",
        *(f"        {line}" for line in body),
        f"        return {result}",
        "    return statuses",
    ]
    namespace: dict[str, Any] = {}
    # Safe: the source is generated from the validated rule tree (module docstring).
    exec(compile("\n".join(lines) + "\n", f"<statuses {ruleset.name}>", "exec"), namespace)
    return namespace["factory"](Status.ELIGIBLE, Status.NOT_ELIGIBLE, Status.UNDETERMINED)
