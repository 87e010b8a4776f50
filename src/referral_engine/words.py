"""The library's own words (status words, operators, field names, headings) as data, in every language.

German and English come from ``words.yaml`` next to this module, read once with the strict YAML
reader. Other languages come from a rule set's catalogues (``i18n/<lang>.yaml``, keys
``words.<key>``): the loader resolves them along each language's fallback chain into
``Ruleset.words``, and a rule set makes its words the ones shown in a language when it is built
and whenever it answers in that language (:meth:`Ruleset.check_language`). An explanation needs
nothing but the frozen decision, so it looks its words up here by language: the words of the rule
set that last answered in that language (one process rarely holds two rule sets whose catalogues
of one language differ; if it does, the last one to answer wins).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from functools import cache
from importlib import resources
from types import MappingProxyType

from yaml.nodes import MappingNode, ScalarNode

from ._yaml import Reader
from .errors import RuleFileError, RuleProblem
from .graph import Text

#: The prefix of the library's words in a catalogue (``words.status.eligible``).
PREFIX = "words."
_FILE = "words.yaml"
#: The languages every rule file writes itself; catalogues (``i18n/<lang>.yaml``) add others.
BASE_LANGUAGES: tuple[str, ...] = ("de", "en")
#: The words of each catalogue language, from the rule set that last answered in it, and the
#: languages a missing word falls back to, in order (``("ru", "de")``).
_ACTIVE: dict[str, tuple[Mapping[str, Text], tuple[str, ...]]] = {}
#: The writing direction of each catalogue language (``ltr`` or ``rtl``), from the same rule set.
_DIRECTIONS: dict[str, str] = {}
#: Every word as shown in a language (fallbacks marked), made on first use after each change.
_SHOWN: dict[str, Mapping[str, str]] = {}


@cache
def base_words() -> Mapping[str, Text]:
    """Every word of the library in German and English, by key (``status.eligible``)."""
    text = (resources.files(__package__) / _FILE).read_text(encoding="utf-8")
    problems: list[RuleProblem] = []
    reader = Reader(f"referral_engine/{_FILE}", problems, subject="word")
    root = reader.compose(text)
    words: dict[str, Text] = {}
    if not isinstance(root, MappingNode):
        reader.problem(root, "expected a mapping of words")
    else:
        for key_node, value_node in root.value:
            key = key_node.value if isinstance(key_node, ScalarNode) else None
            entries = reader.mapping(value_node, ("de", "en"), rule=key)
            if not isinstance(key, str) or entries is None or key in words:
                reader.problem(key_node, "expected one new key with a de and an en text")
                continue
            de, en = (reader.string(entries[lang], key) for lang in ("de", "en"))
            if de is not None and en is not None:
                if placeholders(de) != placeholders(en):
                    reader.problem(value_node, "de and en must have the same placeholders", key)
                words[key] = Text(de, en, key=PREFIX + key)
    if problems:  # a broken installation: the file ships with the package
        raise RuleFileError(problems)
    return MappingProxyType(words)


def placeholders(text: str) -> set[str]:
    """The names of the ``{placeholders}`` of ``text`` (none for text that is not a valid template)."""
    try:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError:
        return set()


def activate(lang: str, words: Mapping[str, Text], fallbacks: tuple[str, ...], direction: str) -> None:
    """Show ``words`` (translated into ``lang`` by a rule set's catalogues) for ``lang`` from now on.

    ``fallbacks`` is the language's fallback chain after it, ending at de or en; ``direction`` is
    how its catalogue says it is written (``rtl`` for Arabic), for the HTML.
    """
    current = _ACTIVE.get(lang)
    if current is None or current[0] is not words or current[1] != fallbacks:
        _ACTIVE[lang] = (words, fallbacks)
        _SHOWN.pop(lang, None)
    _DIRECTIONS[lang] = direction


def known_language(lang: object) -> bool:
    """Whether ``lang`` is de, en or the language of a catalogue of a rule set built in this process.

    What texts that carry no rule set (``ServiceDecision.explain``) accept: every rule set shows
    its catalogues' words from when it is built (:func:`activate`).
    """
    return isinstance(lang, str) and (lang in BASE_LANGUAGES or lang in _ACTIVE)


def language_direction(lang: str) -> str | None:
    """``ltr`` or ``rtl`` as the catalogue of ``lang`` says, or None for a language no rule set has."""
    return _DIRECTIONS.get(lang)


def lookup(key: str, lang: str) -> Text:
    """The word ``key`` with its translations into ``lang`` if a rule set has any (else only de/en)."""
    if lang not in ("de", "en"):
        active = _ACTIVE.get(lang)
        found = active[0].get(key) if active is not None else None
        if found is not None:
            return found
    return base_words()[key]


def word(key: str, lang: str, **values: str) -> str:
    """The word ``key`` in ``lang``, its placeholders filled in from ``values``.

    A word the language's catalogue lacks is shown in its fallback language and marked with
    that language's code in brackets (``berechtigt [de]``), as the HTML marks a step's text.
    """
    shown = _SHOWN.get(lang)
    if shown is None:
        shown = _SHOWN[lang] = MappingProxyType({key: _shown(key, lang) for key in base_words()})
    text = shown[key]
    return text.format_map(values) if values else text


def _shown(key: str, lang: str) -> str:
    """The word ``key`` as shown in ``lang``: a fallback's text ends with ``[<its language>]``."""
    text = lookup(key, lang)
    shown = text.get(lang)
    if text.fell_back(lang):
        shown += f" [{_fallback_language(text, lang)}]"
    return shown


def _fallback_language(text: Text, lang: str) -> str:
    """The language a fell-back word is shown in: the first of the chain that has it (de if unknown)."""
    active = _ACTIVE.get(lang)
    for code in active[1] if active is not None else ():
        if code in ("de", "en") or code in text.own:
            return code
    return "de"
