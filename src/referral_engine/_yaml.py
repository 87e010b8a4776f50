"""Strict YAML reading for rule files: every value keeps its ``file:line:column``.

Files are composed into YAML nodes with PyYAML's safe loader (nothing is ever executed), and a
:class:`Reader` turns nodes into plain values while collecting every problem instead of stopping
at the first: duplicate keys, unknown keys (listing the allowed ones), wrong types, ambiguous
YAML 1.1 booleans such as ``no`` and custom tags.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import RuleProblem

T = TypeVar("T")

_PLAIN_TAGS = {
    "tag:yaml.org,2002:str": "a string",
    "tag:yaml.org,2002:int": "an integer",
    "tag:yaml.org,2002:bool": "true or false",
    "tag:yaml.org,2002:timestamp": "a date",
    "tag:yaml.org,2002:null": "null",
    "tag:yaml.org,2002:float": "a number",
}
#: How deeply mappings and lists may nest in a rule file (PyYAML composes recursively).
MAX_DEPTH = 64
ID = re.compile(r"^[a-z][a-z0-9_]*$")
# A whole number as people write it: YAML 1.1 also reads 027 as 23 (octal), 0x1b, 1_000, 1:30.
_DECIMAL = re.compile(r"^[-+]?(0|[1-9][0-9]*)$")
RULE_ID = re.compile(r"^[a-z][a-z0-9_.-]*$")
#: A step's partner or a rule's check_with: a partner id or ``office:<id>``.
TARGET = re.compile(r"^(office:)?[a-z][a-z0-9_]*$")


def describe(node: Node) -> str:
    """What kind of YAML value ``node`` is, for messages."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == "tag:yaml.org,2002:timestamp" and len(str(node.value)) > 10:
        return "a date with a time"
    return _PLAIN_TAGS.get(node.tag, f"a value tagged {node.tag}")


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader without anchors and aliases, and with a bounded nesting depth.

    Rule files have no use for anchors, and they allow loops and exponentially large documents;
    deep nesting would exhaust Python's recursion limit.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.events.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(
                None,
                None,
                "anchors and aliases (&name, *name) are not allowed in rule files",
                event.start_mark,
            )
        if self._depth >= MAX_DEPTH:
            raise yaml.composer.ComposerError(
                None, None, f"nested more than {MAX_DEPTH} levels deep", event.start_mark
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _line_column(text: str, position: int) -> tuple[int, int]:
    before = text[:position]
    return before.count("\n") + 1, position - (before.rfind("\n") + 1) + 1


class Reader:
    """Reads the nodes of one file and records the problems it finds there."""

    def __init__(self, file: str, problems: list[RuleProblem], subject: str = "rule") -> None:
        self.file = file
        self.problems = problems
        self.subject = subject  # what the ids passed as ``rule`` name: rule, service, offer, …

    def problem(self, node: Node | None, message: str, rule: str | None = None) -> None:
        """Record a problem at ``node`` (or at the top of the file)."""
        line, column = (node.start_mark.line + 1, node.start_mark.column + 1) if node else (1, 1)
        self.problems.append(RuleProblem(self.file, line, column, message, rule, self.subject))

    def compose(self, text: str) -> Node | None:
        """The root node of ``text``, or None (with a problem recorded) if it is not valid YAML.

        Every failure of the parser becomes a located problem, never an exception.
        """
        loader: _StrictLoader | None = None
        try:
            loader = _StrictLoader(text)
            return loader.get_single_node()
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            message = f"invalid YAML: {error.problem or error.context}"
            self.problems.append(RuleProblem(self.file, line, column, message))
        except yaml.YAMLError as error:
            # A ReaderError (a control character) has a position, but no mark.
            position = getattr(error, "position", None)
            line, column = _line_column(text, position) if isinstance(position, int) else (1, 1)
            reason = getattr(error, "reason", None) or type(error).__name__
            self.problems.append(RuleProblem(self.file, line, column, f"invalid YAML: {reason}"))
        except RecursionError:
            self.problems.append(RuleProblem(self.file, 1, 1, "invalid YAML: nested too deeply"))
        except Exception as error:
            self.problems.append(RuleProblem(self.file, 1, 1, f"invalid YAML ({type(error).__name__})"))
        finally:
            if loader is not None:
                loader.dispose()
        return None

    def mapping(
        self,
        node: Node | None,
        required: Iterable[str],
        optional: Iterable[str] = (),
        rule: str | None = None,
    ) -> dict[str, Node] | None:
        """The entries of a mapping node, checked for duplicate, unknown and missing keys."""
        if not isinstance(node, MappingNode):
            self.problem(node, f"expected a mapping, found {describe(node) if node else 'nothing'}", rule)
            return None
        if node.tag != "tag:yaml.org,2002:map":
            self.problem(node, f"YAML tags are not allowed (found {node.tag})", rule)
            return None
        required = tuple(required)
        allowed = (*required, *optional)
        entries: dict[str, Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, ScalarNode) else None
            if not isinstance(key, str) or key_node.tag != "tag:yaml.org,2002:str":
                self.problem(
                    key_node, f"keys must be plain names; expected one of: {', '.join(allowed)}", rule
                )
            elif key in entries:
                first = entries[key].start_mark.line + 1
                self.problem(key_node, f"duplicate key '{key}' (first given on line {first})", rule)
            elif key not in allowed:
                self.problem(key_node, f"unknown key '{key}'; expected one of: {', '.join(allowed)}", rule)
            else:
                entries[key] = value_node
        for key in required:
            if key not in entries:
                self.problem(node, f"missing key '{key}'", rule)
        return entries

    def sequence(self, node: Node, rule: str | None = None) -> list[Node]:
        """The items of a list node (an empty list, with a problem, for anything else)."""
        if not isinstance(node, SequenceNode):
            self.problem(node, f"expected a list, found {describe(node)}", rule)
            return []
        if node.tag != "tag:yaml.org,2002:seq":
            self.problem(node, f"YAML tags are not allowed (found {node.tag})", rule)
            return []
        return list(node.value)

    def scalar(self, node: Node, rule: str | None = None) -> tuple[bool, Any]:
        """``(ok, value)`` for a plain scalar; custom tags and ambiguous booleans are problems."""
        if not isinstance(node, ScalarNode):
            self.problem(node, f"expected a single value, found {describe(node)}", rule)
            return False, None
        if node.tag not in _PLAIN_TAGS:
            self.problem(node, f"YAML tags are not allowed (found {node.tag})", rule)
            return False, None
        if node.tag == "tag:yaml.org,2002:int" and not _DECIMAL.match(node.value):
            self.problem(
                node,
                f"'{node.value}' is not a plain decimal number (YAML would read octal, hex, _ or :); "
                "write it like 23, or quote it for text",
                rule,
            )
            return False, None
        if node.tag == "tag:yaml.org,2002:bool" and node.value.lower() not in ("true", "false"):
            self.problem(
                node, f"'{node.value}' is read as a boolean; write true/false, or quote it for text", rule
            )
            return False, None
        # A constructor per value: PyYAML's keeps every node it constructed (a shared one leaked
        # every rule file ever loaded).
        try:
            return True, yaml.constructor.SafeConstructor().construct_object(node)
        except (yaml.YAMLError, ValueError, OverflowError) as error:
            self.problem(node, f"unreadable value: {error}", rule)
            return False, None

    def typed(self, node: Node, kind: type[T], what: str, rule: str | None = None) -> T | None:
        """A scalar of Python type ``kind`` (described as ``what`` in messages), or None."""
        ok, value = self.scalar(node, rule)
        if not ok:
            return None
        # bool is an int and datetime a date in Python, but not what a rule author means.
        is_bool_for_int = kind is int and isinstance(value, bool)
        is_datetime_for_date = kind is dt.date and isinstance(value, dt.datetime)
        if is_bool_for_int or is_datetime_for_date or not isinstance(value, kind):
            self.problem(node, f"expected {what}, found {describe(node)}", rule)
            return None
        return value

    def string(self, node: Node, rule: str | None = None) -> str | None:
        """A non-empty string."""
        value = self.typed(node, str, "text", rule)
        if value is not None and not value.strip():
            self.problem(node, "expected non-empty text", rule)
            return None
        return value

    def identifier(self, node: Node, rule: str | None = None, pattern: re.Pattern[str] = ID) -> str | None:
        """An id: lower-case letters, digits and underscores (rule ids may also use ``-`` and ``.``)."""
        value = self.typed(node, str, "an id", rule)
        if value is not None and not pattern.match(value):
            allowed = "lower-case letters, digits and _" + (", - and ." if pattern is RULE_ID else "")
            self.problem(node, f"invalid id '{value}': use {allowed}, starting with a letter", rule)
            return None
        return value

    def date(self, node: Node, rule: str | None = None) -> dt.date | None:
        """A date written as ``YYYY-MM-DD`` (``null`` counts as no date)."""
        if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null":
            return None
        return self.typed(node, dt.date, "a date (YYYY-MM-DD)", rule)

    def choice(self, node: Node, allowed: Iterable[str], rule: str | None = None) -> str | None:
        """One of ``allowed``."""
        allowed = tuple(allowed)
        value = self.typed(node, str, f"one of: {', '.join(allowed)}", rule)
        if value is not None and value not in allowed:
            self.problem(node, f"unknown value '{value}'; expected one of: {', '.join(allowed)}", rule)
            return None
        return value

    def items(self, node: Node, read: Callable[[Node], T | None], rule: str | None = None) -> tuple[T, ...]:
        """The readable items of a list node, each read with ``read``."""
        values = (read(item) for item in self.sequence(node, rule))
        return tuple(value for value in values if value is not None)

    def strings(self, node: Node, rule: str | None = None) -> tuple[str, ...]:
        """One string or a list of strings."""
        if isinstance(node, SequenceNode):
            return self.items(node, lambda item: self.string(item, rule), rule)
        value = self.string(node, rule)
        return () if value is None else (value,)
