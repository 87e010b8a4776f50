"""The errors referral-engine raises.

Every error the library raises derives from :class:`ReferralEngineError`::

    ReferralEngineError
    ├── ProfileError      (also a ValueError) - bad case data; never echoes the values given
    ├── ResultError       (also a ValueError) - a stored result (JSON of a Recommendation) is invalid
    ├── RuleFileError     (also a ValueError) - bad rule files; lists every problem with file:line
    ├── CaseFileError     (also a ValueError) - a bad file of cases (``diff --cases``), as file:line
    ├── UsageError        (also a ValueError) - a wrong argument, such as an unknown language
    └── EngineError       (also a RuntimeError) - the durable-rules engine failed; nothing was decided

Case data is personal data: messages name fields and what is allowed, never what was given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError

# A key that looks like a field name may be named; anything else could be a value.
_FIELD_LIKE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


class ReferralEngineError(Exception):
    """Root of every error referral-engine raises."""


@dataclass(frozen=True)
class FieldProblem:
    """One bad field of a case profile: where it is and what is allowed (never the value given)."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class ProfileError(ReferralEngineError, ValueError):
    """A case profile is invalid. ``problems`` names each bad field and what is allowed.

    ``index`` is the profile's position (from 0) in a batch (:func:`referral_engine.recommend_many`),
    ``None`` for a single profile.
    """

    def __init__(
        self, problems: list[FieldProblem] | tuple[FieldProblem, ...], *, index: int | None = None
    ) -> None:
        self.problems: tuple[FieldProblem, ...] = tuple(problems)
        self.index = index
        count = len(self.problems)
        where = "" if index is None else f" at index {index} of the batch"
        header = f"invalid case profile{where} ({count} problem{'s' if count != 1 else ''})"
        super().__init__("; ".join([header, *map(str, self.problems)]))

    @classmethod
    def from_validation_error(cls, error: ValidationError) -> ProfileError:
        """The problems of pydantic's ``error``, located, without the values given."""
        return cls(_field_problems(error))

    def __reduce__(self) -> tuple[object, ...]:
        # The default would rebuild it from the message; this keeps the problems (and pickles).
        return _profile_error, (self.problems, self.index)


class ResultError(ReferralEngineError, ValueError):
    """Data read back into a result model (``Recommendation.model_validate_json``) is invalid.

    ``problems`` names each bad field; results hold case data, so no value is repeated.
    """

    def __init__(self, problems: list[FieldProblem] | tuple[FieldProblem, ...], model: str) -> None:
        self.problems: tuple[FieldProblem, ...] = tuple(problems)
        self.model = model
        count = len(self.problems)
        header = f"invalid {model} ({count} problem{'s' if count != 1 else ''})"
        super().__init__("; ".join([header, *map(str, self.problems)]))

    @classmethod
    def from_validation_error(cls, error: ValidationError, model: str) -> ResultError:
        """The problems of pydantic's ``error`` for ``model``, located, without the values given."""
        return cls(_field_problems(error), model)


def _field_problems(error: ValidationError) -> list[FieldProblem]:
    """One problem per pydantic error: its location and message, never its input."""
    problems = []
    for item in error.errors(include_input=False, include_url=False):
        location = [str(part) for part in item["loc"]]
        if item["type"] == "extra_forbidden" and location and not _FIELD_LIKE.fullmatch(location[-1]):
            location[-1] = "(an unknown key)"
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden" and message == "Extra inputs are not permitted":
            message = "unknown field"
        problems.append(FieldProblem(".".join(location) or "(profile)", message))
    return problems


def _profile_error(problems: tuple[FieldProblem, ...], index: int | None) -> ProfileError:
    return ProfileError(problems, index=index)


@dataclass(frozen=True)
class RuleProblem:
    """One problem in a rule file, located as ``file:line:column``.

    ``rule`` is the id of the rule (or, as ``subject`` says, the service, partner, offer or step)
    the problem belongs to, where there is one.
    """

    file: str
    line: int
    column: int
    message: str
    rule: str | None = None
    subject: str = "rule"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        if self.rule:
            return f"{where}: {self.subject} '{self.rule}': {self.message}"
        return f"{where}: {self.message}"


class RuleFileError(ReferralEngineError, ValueError):
    """Rule files are invalid. ``problems`` lists every problem found, each with its file and line."""

    def __init__(self, problems: list[RuleProblem] | tuple[RuleProblem, ...]) -> None:
        self.problems: tuple[RuleProblem, ...] = tuple(problems)
        count = len(self.problems)
        lines = [f"{count} problem{'s' if count != 1 else ''} in rule files:"]
        lines += [f"  {problem}" for problem in self.problems]
        super().__init__("\n".join(lines))


class CaseFileError(ReferralEngineError, ValueError):
    """A file of cases cannot be read: the message names ``file:line`` and the field, never a value."""


class UsageError(ReferralEngineError, ValueError):
    """An argument other than case data is wrong (an unknown ``lang``, an ``as_of`` that is no date)."""


class EngineError(ReferralEngineError, RuntimeError):
    """The rule engine failed for a reason that is not the input's fault (e.g. a durable-rules error).

    The case was not decided; the message names what failed, never case data.
    """
