"""The case profile that goes in and the recommendation that comes out.

All models are frozen pydantic v2 models that reject unknown fields. ``None`` in a
:class:`CaseProfile` means *unknown*, never "no". Invalid case data raises
:class:`~referral_engine.errors.ProfileError`, which names the field and what is allowed but
never repeats the value that was given.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator, Mapping
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Protocol, cast, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic._internal._model_construction import ModelMetaclass
from pydantic_core import PydanticCustomError
from typing_extensions import Self

if TYPE_CHECKING:
    from pydantic import ModelWrapValidatorHandler
    from pydantic_core import InitErrorDetails

from ._provided import provided
from .errors import FieldProblem, ProfileError, ReferralEngineError, ResultError, UsageError

ResidenceStatus = Literal[
    "arrival_certificate",
    "gestattung",
    "gestattung_safe_country",
    "duldung",
    "duldung_ermessen",
    "duldung_light",
    "ausbildungsduldung",
    "beschaeftigungsduldung",
    "ausreisepflichtig",
    "ae_25_1",
    "ae_25_2_refugee",
    "ae_25_2_subsidiary",
    "ae_25_3",
    "ae_25_4",
    "ae_25_5",
    "ae_25a_25b",
    "ae_104c",
    "ae_24",
    "ae_22_23",
    "ae_16g",
    "ae_employment",
    "ae_family",
    "ae_other",
    "settlement",
    "eu_citizen",
    "spaetaussiedler",
    "german_migration_background",
    "undocumented",
]
LanguageLevel = Literal["none", "A1", "A2", "B1", "B2", "C1", "C2"]
Accommodation = Literal["erstaufnahme", "vorlaeufige_unterbringung", "anschlussunterbringung", "private"]
Benefits = Literal["sgb2", "sgb3", "sgb12", "asylblg", "none"]
Employment = Literal["unemployed", "employed", "training", "school", "not_seeking"]
IntegrationCourse = Literal["none", "attending", "completed"]
DataCategory = Literal[
    "identity",
    "residence",
    "language",
    "benefits",
    "employment",
    "education",
    "qualification",
    "accommodation",
    "family",
    "health",
]
#: The two languages every rule file writes itself. A rule set's language catalogues
#: (``i18n/<lang>.yaml``) add others: APIs that take a language accept any code of
#: ``Ruleset.languages`` (a ``str``).
Lang = Literal["de", "en"]
EngineName = Literal["durable", "python"]
#: The rule engines :func:`referral_engine.recommend` accepts (see :mod:`referral_engine.engines`).
ENGINES: tuple[str, ...] = get_args(EngineName)

#: CEFR levels in ascending order; ``"none"`` (no German) is the lowest.
LANGUAGE_LEVELS: tuple[str, ...] = get_args(LanguageLevel)

_ID_PATTERN = r"^[a-z][a-z0-9_]*$"

#: The dates a profile may hold: anything outside is a typo or a sentinel such as 9999-12-31.
EARLIEST_DATE = dt.date(1900, 1, 1)
#: The last date a profile (or ``as_of``) may hold; see :data:`EARLIEST_DATE`.
LATEST_DATE = dt.date(2100, 12, 31)


def check_as_of(as_of: object) -> dt.date:
    """``as_of`` as a date: today for ``None``, the date of a datetime; anything else is a UsageError.

    Like the dates of a profile, ``as_of`` lies between 1900-01-01 and 2100-12-31.
    """
    if as_of is None:
        return dt.date.today()
    if isinstance(as_of, dt.datetime):
        as_of = as_of.date()
    if not isinstance(as_of, dt.date):
        raise UsageError("as_of must be a datetime.date")
    if not EARLIEST_DATE <= as_of <= LATEST_DATE:
        raise UsageError(f"as_of must be between {EARLIEST_DATE.isoformat()} and {LATEST_DATE.isoformat()}")
    return as_of


# A key that looks like a field name may be named in an error; anything else could be a value.
_FIELD_LIKE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
#: The key used in an error location for a key that does not look like a field name.
UNKNOWN_KEY = "(an unknown key)"
#: The input every error of an input model carries instead of the value that was given.
HIDDEN_INPUT = "<hidden>"


class _Hidden:
    """Stands for a personal value in ``__repr_args__``: printers (rich, devtools) show ``<hidden>``."""

    def __repr__(self) -> str:
        return HIDDEN_INPUT


_HIDDEN = _Hidden()


def _is_unknown(value: object) -> bool:
    """Whether a value from a table means "unknown": ``None``, ``NaN``, pandas' ``NA`` / ``NaT``."""
    if value is None:
        return True
    if isinstance(value, (str, bytes, bool, int, tuple, list, dict, dt.date)) and not isinstance(
        value, dt.datetime
    ):
        return False
    try:
        return bool(value != value)  # NaN, NaT: not equal to themselves
    except (TypeError, ValueError):  # pandas' NA refuses bool()
        return type(value).__name__ in ("NAType", "NaTType")


def _strict_bool(value: object) -> object:
    """Booleans only as booleans (or the strings ``true`` / ``false`` of a CSV cell)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise PydanticCustomError("bool_type", "expected true or false")


def _strict_int(value: object) -> object:
    """A whole number: an int (not a bool), digits in a string, or a whole float from a table."""
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "expected a whole number, not true or false")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit() and value.strip().isascii():
        return int(value.strip())
    if isinstance(value, int):
        return value
    raise PydanticCustomError("int_type", "expected a whole number")


def _strict_date(value: object) -> object:
    """A date, a datetime at midnight (a table's timestamp), or text ``YYYY-MM-DD``; never a number."""
    if isinstance(value, dt.datetime):
        if value.time() != dt.time(0, 0) or value.tzinfo is not None:
            raise PydanticCustomError("date_type", "expected a date, not a date and time")
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value.strip()):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            raise PydanticCustomError("date_from_text", "no such date (expected YYYY-MM-DD)") from None
    raise PydanticCustomError("date_type", "expected a date written as YYYY-MM-DD")


def _date_in_range(value: dt.date) -> dt.date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise PydanticCustomError(
            "date_range", f"must be between {EARLIEST_DATE.isoformat()} and {LATEST_DATE.isoformat()}"
        )
    return value


#: A date of a profile: strict (see :func:`_strict_date`) and between the plausible bounds.
CaseDate = Annotated[dt.date, BeforeValidator(_strict_date), AfterValidator(_date_in_range)]
CaseBool = Annotated[bool, BeforeValidator(_strict_bool)]
CaseInt = Annotated[int, BeforeValidator(_strict_int)]


def _problem_message(kind: str, message: str, model: type[BaseModel]) -> str:
    """Our message for one of pydantic's error types (pydantic's own texts never hold the input)."""
    if kind == "extra_forbidden":
        return f"unknown field; allowed fields are: {', '.join(model.model_fields)}"
    if kind == "missing":
        return "required"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return "expected a mapping of field names to values"
    if kind == "json_invalid":
        return "invalid JSON"
    return message.removeprefix("Value error, ")


def _safe_location(location: tuple[int | str, ...], kind: str) -> tuple[int | str, ...]:
    """The error location, with a key that is no field-like identifier replaced (it may be a value)."""
    if kind == "extra_forbidden" and location:
        key = location[-1]
        if isinstance(key, str) and not _FIELD_LIKE.fullmatch(key):
            return (*location[:-1], UNKNOWN_KEY)
    return location


def _checked(error: ValidationError, model: type[BaseModel]) -> ValidationError:
    """``error`` with our messages, safe locations and :data:`HIDDEN_INPUT` in place of every input.

    Raised from a validator, pydantic merges these errors into the caller's, so a host model that
    holds a profile reports ``profile.age`` and never the value given.
    """
    details: list[InitErrorDetails] = []
    for item in error.errors(include_input=False, include_url=False):
        kind = item["type"]
        if item.get("ctx", {}).get("checked"):
            message, location = item["msg"], item["loc"]  # a nested input model's, already checked
        else:
            message = _problem_message(kind, item["msg"], model)
            location = _safe_location(item["loc"], kind)
        details.append(
            {
                "type": PydanticCustomError(kind, "{message}", {"message": message, "checked": True}),
                "loc": location,
                "input": HIDDEN_INPUT,
            }
        )
    return ValidationError.from_exception_data(model.__name__, details)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @classmethod
    def _invalid(cls, error: ValidationError) -> ReferralEngineError:
        """The library's error for invalid data of this model (never pydantic's, never the input)."""
        return ResultError.from_validation_error(error, cls.__name__)

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Self:
        """Validate data into this model; raises a :class:`ReferralEngineError` on bad data."""
        try:
            return super().model_validate(obj, *args, **kwargs)
        except ValidationError as error:
            failure = cls._invalid(error)
        raise failure from None  # outside the except block: no __context__ holding the error

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, *args: Any, **kwargs: Any) -> Self:
        """Validate JSON text into this model; raises a :class:`ReferralEngineError` on bad data."""
        try:
            return super().model_validate_json(json_data, *args, **kwargs)
        except ValidationError as error:
            failure = cls._invalid(error)
        raise failure from None  # outside the except block: no __context__ holding the error

    @classmethod
    def model_validate_strings(cls, obj: Any, *args: Any, **kwargs: Any) -> Self:
        """Validate string data into this model; raises a :class:`ReferralEngineError` on bad data."""
        try:
            return super().model_validate_strings(obj, *args, **kwargs)
        except ValidationError as error:
            failure = cls._invalid(error)
        raise failure from None  # outside the except block: no __context__ holding the error


class Pending(Protocol):
    """What builds the lazy fields of a result on first access (see :class:`_Lazy`)."""

    def build(self, model: Any, name: str) -> Any:
        """The value of field ``name`` of ``model``: the same every time it is asked for."""


_set = object.__setattr__
_new = object.__new__


def _slot_setter(name: str) -> Callable[[object, object], None]:
    """What ``object.__setattr__(model, name, value)`` does, for one of pydantic's instance slots.

    The slot's own descriptor, called directly: half the cost, for the fifteen results of a case.
    """
    descriptor = BaseModel.__dict__.get(name)
    setter = getattr(descriptor, "__set__", None)
    if setter is None:  # pragma: no cover - a pydantic that keeps these elsewhere
        return lambda model, value: _set(model, name, value)
    return cast(Callable[[object, object], None], setter)


_SET_DICT = _slot_setter("__dict__")
_SET_FIELDS_SET = _slot_setter("__pydantic_fields_set__")
_SET_EXTRA = _slot_setter("__pydantic_extra__")
_SET_PRIVATE = _slot_setter("__pydantic_private__")


class _Lazy(_Frozen):
    """A frozen result whose costly fields (``_lazy_fields``) are built on first access.

    :func:`referral_engine.recommend` decides statuses, partners and open questions at once and
    leaves reasons, next steps and change dates to a :class:`Pending` builder, which runs when
    such a field is first read. A lazy field is then stored like any other, so the result is
    indistinguishable from one built eagerly: equality, hashing, ``model_dump`` (also nested in a
    host model), JSON, pickling and copies build whatever is still missing first. Building is
    deterministic, so two threads reading a field at once get equal values and the first one
    stored wins.
    """

    _lazy_fields: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def _lazily(cls, fields: dict[str, Any], pending: Pending) -> Self:
        """An instance from validated ``fields`` (every field but the lazy ones) and their builder."""
        model = _new(cls)
        _SET_DICT(model, fields)
        _SET_FIELDS_SET(model, set(cls.__pydantic_fields__))
        _SET_EXTRA(model, None)
        _SET_PRIVATE(model, {"_pending": pending})
        return model

    @classmethod
    def _all_lazily(cls, rows: list[dict[str, Any]], pending: Pending) -> tuple[Self, ...]:
        """:meth:`_lazily` for each of ``rows``, with one builder (a recommendation's decisions).

        The instances share their set of fields and the record of their builder (:meth:`_settle`
        gives a settled one its own): a recommendation has fifteen of them, built per case.
        """
        every = set(cls.__pydantic_fields__)
        private = {"_pending": pending}
        built = []
        for fields in rows:
            model = _new(cls)
            _SET_DICT(model, fields)
            _SET_FIELDS_SET(model, every)
            _SET_EXTRA(model, None)
            _SET_PRIVATE(model, private)
            built.append(model)
        return tuple(built)

    def _pending(self) -> Pending | None:
        private = self.__pydantic_private__
        return private.get("_pending") if private else None

    def _settle(self) -> None:
        """Build every lazy field still missing and let go of the builder (and the case it holds)."""
        pending = self._pending()
        if pending is None:
            return
        for name in type(self)._lazy_fields:
            if name not in self.__dict__:
                self.__dict__.setdefault(name, pending.build(self, name))
        # The fields in their declared order, as an eager result holds them: JSON and repr then
        # list them in that order, whichever was read first.
        _set(self, "__dict__", {name: self.__dict__[name] for name in type(self).__pydantic_fields__})
        # Its own record, not the one it may share with its siblings that are still lazy.
        _set(self, "__pydantic_private__", {"_pending": None})

    if not TYPE_CHECKING:  # mypy keeps checking attribute names; at run time lazy fields appear here

        def __getattr__(self, name: str) -> Any:
            if name in type(self)._lazy_fields:
                pending = self._pending()
                if pending is not None:
                    return self.__dict__.setdefault(name, pending.build(self, name))
                if name in self.__dict__:  # another thread settled it meanwhile
                    return self.__dict__[name]
            return super().__getattr__(name)

    # No return annotation on purpose: pydantic then keeps the model's own serialization schema
    # (with one, Recommendation's JSON Schema would become "anything").
    @model_serializer(mode="wrap")
    def _serialize(self, handler: SerializerFunctionWrapHandler):  # type: ignore[no-untyped-def]
        self._settle()
        return handler(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BaseModel):
            return NotImplemented
        if isinstance(other, _Lazy):
            other._settle()
        self._settle()
        return type(self) is type(other) and self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        self._settle()
        return hash((type(self), *(self.__dict__[name] for name in type(self).model_fields)))

    def __iter__(self) -> Any:
        self._settle()
        return super().__iter__()

    def __getstate__(self) -> dict[Any, Any]:
        self._settle()
        return super().__getstate__()

    def __copy__(self) -> Self:
        self._settle()
        return super().__copy__()

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Self:
        self._settle()
        return super().__deepcopy__(memo)

    def __repr_args__(self) -> Any:
        self._settle()
        return super().__repr_args__()


class _InputMeta(ModelMetaclass):
    """Calling an input model (``CaseProfile(...)``) raises ProfileError instead of ValidationError.

    Only the call is wrapped: pydantic validates a profile nested in a host model through its
    schema, so the host gets a ValidationError with per-field locations (and no input).
    """

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except ValidationError as error:
            failure = ProfileError.from_validation_error(error)
        raise failure from None  # outside the except block: no __context__ holding the error


class _ValidatedInput(_Frozen, metaclass=_InputMeta):
    """Base for input models: every way of building one raises ProfileError, not ValidationError.

    Validation is pydantic's own (field types, validators); a wrap validator replaces every
    error's input with :data:`HIDDEN_INPUT` and its message with ours. Values are hidden from
    ``repr``, ``rich.pretty`` and ``devtools`` alike (``__repr_args__``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    @model_validator(mode="wrap")
    @classmethod
    def _without_input(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        if isinstance(data, Mapping):
            # A table's NaN / NA / NaT is "unknown"; so is a None for a field that is never None.
            data = {
                key: None if _is_unknown(value) else value
                for key, value in data.items()
                if not (_is_unknown(value) and key in cls.model_fields and _never_none(cls, key))
            }
        try:
            return handler(data)
        except ValidationError as error:
            raise _checked(error, cls) from None

    def __setattr__(self, name: str, value: Any) -> None:
        # pydantic's own error for a frozen field would repeat the value: personal data.
        shown = name if _FIELD_LIKE.fullmatch(name) else "field"
        raise UsageError(f"{type(self).__name__} is frozen; use .replace({shown}=...) for a changed copy")

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name in type(self).model_fields:
            if getattr(self, name) not in (None, ()):
                yield name, _HIDDEN

    def replace(self, **changes: Any) -> Self:
        """A validated copy with ``changes`` applied; raises ProfileError like the constructor.

        ``model_copy(update=...)`` is routed here too: pydantic's own would skip validation.
        """
        values = {name: getattr(self, name) for name in type(self).model_fields}
        return type(self).model_validate({**values, **changes})

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy; with ``update``, a validated one (see :meth:`replace`)."""
        copy = self.replace(**update) if update else super().model_copy(deep=deep)
        return copy

    @classmethod
    def _invalid(cls, error: ValidationError) -> ReferralEngineError:
        return ProfileError.from_validation_error(error)

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, *args: Any, **kwargs: Any) -> Self:
        """Validate JSON text into this model; raises ProfileError on bad data or a duplicate key."""
        duplicates = _duplicate_keys(json_data)
        if duplicates:
            raise ProfileError([FieldProblem(where, "duplicate key") for where in duplicates])
        return super().model_validate_json(json_data, *args, **kwargs)


def _never_none(model: type[BaseModel], name: str) -> bool:
    """Whether the field has a default other than None (``consents``): None there means "not given"."""
    return model.model_fields[name].default is not None


class _Keys(dict[str, Any]):
    """A JSON object that remembers the keys it held more than once."""

    duplicates: list[str]


def _object(pairs: list[tuple[str, Any]]) -> _Keys:
    result = _Keys()
    result.duplicates = []
    for key, value in pairs:
        if key in result:
            result.duplicates.append(key)
        result[key] = value
    return result


def _duplicate_keys(json_data: str | bytes | bytearray) -> list[str]:
    """Locations (``consents.0.partner``) of keys given twice; [] if none or not parseable here."""
    try:
        parsed = json.loads(json_data, object_pairs_hook=_object)
    except (ValueError, RecursionError, TypeError):
        return []  # pydantic reports invalid JSON itself
    found: list[str] = []

    def walk(node: Any, path: tuple[str, ...]) -> None:
        if isinstance(node, _Keys):
            for key in node.duplicates:
                shown = key if _FIELD_LIKE.fullmatch(key) else UNKNOWN_KEY
                found.append(".".join((*path, shown)))
            for key, value in node.items():
                walk(value, (*path, key if _FIELD_LIKE.fullmatch(key) else UNKNOWN_KEY))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, (*path, str(index)))

    try:
        walk(parsed, ())
    except RecursionError:
        return []
    return found


ConsentGiver = Literal["person", "guardian"]


class Consent(_ValidatedInput):
    """A release from confidentiality (Schweigepflichtentbindung) for one recipient and one purpose.

    It covers a handover only to its recipient unit (``partner``), for its ``purpose`` (a service
    id, or the id of one step), of its ``categories``, from ``given_on`` until it is withdrawn or
    expires (research §9.2 items 2, 4 and 10). For a person under 14 only a consent the guardians
    gave (``given_by="guardian"``) counts (§ 12 DSG-EKD, § 65 SGB VIII; research §9.2 items 12-13).
    """

    partner: str = Field(pattern=_ID_PATTERN, description="recipient partner unit id, e.g. 'jobcenter'")
    purpose: str = Field(
        pattern=r"^[a-z][a-z0-9_.:-]*$",
        max_length=200,
        description="the service id (or step id) the release is given for, e.g. 'jobcenter'",
    )
    categories: tuple[DataCategory, ...] = Field(min_length=1, description="data categories released")
    given_on: CaseDate
    withdrawn_on: CaseDate | None = None
    expires_on: CaseDate | None = Field(default=None, description="last day the release is valid")
    given_by: ConsentGiver = Field(default="person", description="'person' or 'guardian' (under 14)")
    id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.:/-]+$",
        max_length=100,
        description="the application's reference for this consent; handover records cite it",
    )

    @model_validator(mode="after")
    def _dates_in_order(self) -> Self:
        if self.withdrawn_on is not None and self.withdrawn_on < self.given_on:
            raise _located("withdrawn_on", "must not be before given_on")
        if self.expires_on is not None and self.expires_on < self.given_on:
            raise _located("expires_on", "must not be before given_on")
        return self

    def valid_on(self, on: dt.date) -> bool:
        """Whether the consent was given on or before ``on`` and neither withdrawn nor expired by then."""
        return (
            self.given_on <= on
            and (self.withdrawn_on is None or on < self.withdrawn_on)
            and (self.expires_on is None or on <= self.expires_on)
        )

    def covers(
        self,
        partner: str,
        categories: frozenset[str],
        on: dt.date,
        purposes: frozenset[str] | None = None,
    ) -> bool:
        """Whether this consent releases ``categories`` to ``partner`` on ``on`` for one of ``purposes``.

        ``purposes`` are the service id and step id of a handover; ``None`` ignores the purpose
        (only for looking at consents, never for deciding a handover).
        """
        return (
            self.partner == partner
            and (purposes is None or self.purpose in purposes)
            and self.valid_on(on)
            and categories <= set(self.categories)
        )


class CaseProfile(_ValidatedInput):
    """What is known about a person. Every field is optional: ``None`` means unknown, never "no".

    The ``repr`` shows only which fields are known, never their values: profiles are personal data.
    """

    age: CaseInt | None = Field(default=None, ge=0, le=120, description="age on as_of")
    birth_date: CaseDate | None = None
    residence_status: ResidenceStatus | None = None
    entry_date: CaseDate | None = Field(default=None, description="arrival in Germany")
    status_since: CaseDate | None = Field(default=None, description="first issue of the current title")
    language_level: LanguageLevel | None = Field(default=None, description="German, CEFR")
    literate_latin: CaseBool | None = None
    accommodation: Accommodation | None = None
    accommodation_since: CaseDate | None = None
    municipality: str | None = Field(default=None, min_length=1, max_length=100)
    benefits: Benefits | None = None
    employment: Employment | None = None
    registered_jobseeker: CaseBool | None = None
    foreign_qualification: CaseBool | None = None
    integration_course: IntegrationCourse | None = None
    languages: tuple[str, ...] | None = Field(default=None, description="ISO 639-1 codes")
    consents: tuple[Consent, ...] = ()

    @field_validator("languages")
    @classmethod
    def _iso_639_1(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        codes = tuple(code.strip().lower() for code in value)
        if not all(len(code) == 2 and code.isascii() and code.isalpha() for code in codes):
            raise ValueError("each language must be a two-letter ISO 639-1 code such as 'ar' or 'uk'")
        return codes

    @field_validator("municipality")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        return None if value is None else " ".join(value.split())

    @model_validator(mode="after")
    def _plausible(self) -> Self:
        # Events of a life happen after its start; each problem is reported at its own field.
        if self.birth_date is not None:
            problems = [
                (name, "must not be before birth_date")
                for name in EVENT_DATES
                if (value := getattr(self, name)) is not None and value < self.birth_date
            ]
            if problems:
                raise _located_all(problems)
        return self

    def known_fields(self) -> tuple[str, ...]:
        """Names of the fields whose value is known (not ``None``), in field order."""
        return tuple(name for name in type(self).model_fields if getattr(self, name) not in (None, ()))

    def __repr__(self) -> str:
        return f"CaseProfile(<personal data; known: {', '.join(self.known_fields()) or 'nothing'}>)"

    def __str__(self) -> str:
        return repr(self)


#: The dates of events in a person's life: none may lie before ``birth_date``, none after ``as_of``.
EVENT_DATES: tuple[str, ...] = ("entry_date", "status_since", "accommodation_since")


def _located(field: str, message: str) -> ValidationError:
    """An error at ``field`` of the model being validated (pydantic merges it into the caller's)."""
    return _located_all([(field, message)])


def _located_all(problems: list[tuple[str, str]]) -> ValidationError:
    return ValidationError.from_exception_data(
        "CaseProfile",
        [
            {"type": PydanticCustomError("implausible", message), "loc": (field,), "input": HIDDEN_INPUT}
            for field, message in problems
        ],
    )


class Status(str, Enum):
    """The outcome of one service decision. Compares equal to its string value."""

    ELIGIBLE = "eligible"
    NOT_ELIGIBLE = "not_eligible"
    UNDETERMINED = "undetermined"

    def __str__(self) -> str:
        return self.value


Outcome = Literal["met", "failed", "unknown"]
RuleOutcome = Literal["holds", "fails", "unknown"]
Effect = Literal["eligible", "not_eligible", "check"]
Confidence = Literal["verified", "secondary", "unverified"]
ConditionValue = bool | int | str | tuple[str, ...]


class ConditionOutcome(_Frozen):
    """One leaf condition of a rule: field, operator, required value, the case's value and the outcome.

    ``actual`` is the person's value (``None``: unknown); ``repr`` and ``str`` never show it.
    """

    field: str
    op: str
    value: ConditionValue = Field(description="required value; dates as ISO text, durations as ISO 8601")
    outcome: Outcome
    actual: ConditionValue | None = Field(
        default=None,
        repr=False,
        description="the case's value (None: unknown); dates as ISO text, German level as CEFR name",
    )


class Reason(_Frozen):
    """A rule that took part in a decision, with its source and the conditions it checked."""

    rule: str
    effect: Effect
    outcome: RuleOutcome
    in_force: bool = Field(description="whether the rule's validity window contains as_of")
    source: tuple[str, ...]
    confidence: Confidence | None = None
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    note: str | None = None
    conditions: tuple[ConditionOutcome, ...] = ()


class ServiceDecision(_Lazy):
    """Whether one service fits the case, who is responsible, and why.

    From :func:`~referral_engine.recommend`, ``reasons`` and ``valid_until`` are built on first
    access (see :class:`_Lazy`); they behave like any other field.
    """

    _lazy_fields = frozenset({"reasons", "valid_until"})

    service: str
    name: str = Field(description="service name in the requested language")
    status: Status
    partners: tuple[str, ...] = Field(default=(), description="responsible partner ids, best first")
    sample_partners: tuple[str, ...] = Field(
        default=(),
        description="those of partners that rest on a placeholder offer (sample: true): example "
        "operators a deployment must replace",
    )
    reasons: tuple[Reason, ...] = ()
    missing: tuple[str, ...] = Field(default=(), description="unknown fields that could settle it")
    valid_until: dt.date | None = Field(
        default=None,
        description="first date after as_of on which status or partners change if the facts stay as "
        "they are; None: no change ahead",
    )
    partner_names: tuple[str, ...] = Field(
        default=(), description="the names of partners, in the same order (what texts and HTML show)"
    )
    lang: str = Field(default="de", description="the language of name, explain() and the HTML")

    @property
    def blocking(self) -> tuple[ConditionOutcome, ...]:
        """The failed or unknown conditions of the rules in force that keep this decision from eligible.

        Empty for an eligible decision. For an exclusion, its met conditions are what blocks.
        """
        if self.status is Status.ELIGIBLE:
            return ()
        found: dict[tuple[str, str, str], ConditionOutcome] = {}
        for reason in self.reasons:
            if not reason.in_force:
                continue
            # An exclusion blocks by what it meets; a grant or check by what it fails or lacks.
            blocking = ("met", "unknown") if reason.effect == "not_eligible" else ("failed", "unknown")
            for condition in reason.conditions:
                if condition.outcome in blocking:
                    found.setdefault((condition.field, condition.op, repr(condition.value)), condition)
        return tuple(found.values())

    def explain(self, lang: str | None = None, *, redact: bool = False) -> str:
        """The decision as short readable text: status, partners, each rule with source and conditions.

        In the decision's own language unless ``lang`` asks for another. ``redact=True`` leaves out
        every value of the person (the actual values and ``valid_until``), for text that leaves
        the caseworker's desk.
        """
        text: str = provided("explain_decision")(self, lang or self.lang, redact=redact)
        return text

    def _repr_html_(self) -> str:
        html: str = provided("decision_html")(self, self.lang)
        return html

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, (_HIDDEN if name == "valid_until" and value is not None else value)

    def __repr__(self) -> str:
        return (
            f"ServiceDecision(service={self.service!r}, status={self.status.value!r}, "
            f"partners={self.partners!r}, sample_partners={self.sample_partners!r}, "
            f"reasons={len(self.reasons)}, missing={self.missing!r}, "
            f"valid_until={'<set>' if self.valid_until else None})"
        )

    def __str__(self) -> str:
        return repr(self)


class StatusChange(_Frozen):
    """A date on which one service's decision changes while the facts stay as they are."""

    on: dt.date = Field(description="first day of the new decision")
    service: str
    kind: str = Field(description="the service's kind (counselling, language, work, benefits, ...)")
    before: Status
    after: Status
    partners_before: tuple[str, ...] = ()
    partners_after: tuple[str, ...] = ()

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # The date can reveal a birth date: rich.pretty and devtools must not show it either.
        for name, value in super().__repr_args__():
            if name != "on":
                yield name, value

    def __repr__(self) -> str:
        # The date can reveal a birth date: keep it out of repr like every personal value.
        return f"StatusChange(service={self.service!r}, {self.before.value} -> {self.after.value})"

    def __str__(self) -> str:
        return repr(self)


class Handover(_Frozen):
    """Responsibility passing from one service to another of the same kind on one date (JMD → MBE)."""

    on: dt.date
    kind: str
    from_service: str
    to_service: str

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            if name != "on":
                yield name, value

    def __repr__(self) -> str:
        return f"Handover({self.from_service!r} -> {self.to_service!r})"

    def __str__(self) -> str:
        return repr(self)


class Timeline(_Frozen):
    """The coming changes of a recommendation up to a date, and the handovers they imply."""

    as_of: dt.date
    until: dt.date
    changes: tuple[StatusChange, ...] = ()
    handovers: tuple[Handover, ...] = ()
    lang: str = "de"

    def text(self, *, redact: bool = False) -> str:
        """The timeline as short readable text, one line per change or handover, in date order.

        ``redact=True`` leaves out the dates (most follow from the person's birth and event dates).
        """
        text: str = provided("timeline_text")(self, redact=redact)
        return text

    def _repr_html_(self) -> str:
        html: str = provided("timeline_html")(self)
        return html

    def __repr__(self) -> str:
        return f"Timeline(changes={len(self.changes)}, handovers={[repr(h) for h in self.handovers]})"

    def __str__(self) -> str:
        return repr(self)


class Question(_Frozen):
    """An open question: the unknown field, the question text, and how many open decisions need it."""

    field: str
    text: str
    settles: int = Field(ge=1, description="undetermined decisions this field takes part in")


StepKind = Literal["clarify", "consent", "check", "appointment", "application", "information", "no_partner"]


class NextStep(_Frozen):
    """One thing to do next, for one service and (where known) one partner."""

    id: str
    service: str
    partner: str | None
    kind: StepKind
    text: str
    data_categories: tuple[DataCategory, ...] = Field(
        default=(), description="case data this step passes to the partner"
    )
    sample: bool = Field(
        default=False,
        description="the partner rests on a placeholder offer (sample: true): replace it for your deployment",
    )
    reporting_duty: bool = Field(
        default=False, description="the partner must report an irregular stay (§ 87 AufenthG)"
    )
    own_application: bool = Field(
        default=False,
        description="the person's own application that the law requires, to a body with the reporting duty",
    )
    guardian_consent: bool = Field(
        default=False, description="a consent step for a person under 14: the guardians must sign it"
    )
    text_lang: str | None = Field(
        default=None,
        description="the language of text when it is not the recommendation's: the catalogue lacks it "
        "and the text fell back (uk → de); None: in the recommendation's language",
    )


class Translation(_Frozen):
    """How a recommendation in a catalogue's language was translated, and whether a reviewer confirmed it."""

    language: str
    name: str = Field(description="the language's own name (Українська)")
    direction: Literal["ltr", "rtl"]
    status: Literal["draft", "reviewed"] = Field(
        description="draft: not yet confirmed by a reviewer; reviewed: confirmed (see reviewed_by)"
    )
    reviewed_by: str | None = None
    fell_back: tuple[str, ...] = Field(
        default=(),
        description="catalogue keys of the texts in this recommendation shown in a fallback language",
    )

    @property
    def draft(self) -> bool:
        """Whether the translation is still a draft that no reviewer has confirmed."""
        return self.status == "draft"


class Recommendation(_Lazy):
    """The result of :func:`referral_engine.recommend`: decisions, next steps and open questions.

    ``next_steps``, ``changes`` and ``translation`` are built on first access, and so are the
    decisions' reasons: a caller that reads statuses and partners only does not pay for them.
    """

    _lazy_fields = frozenset({"next_steps", "changes", "translation"})

    decisions: tuple[ServiceDecision, ...]
    eligible: tuple[str, ...]
    next_steps: tuple[NextStep, ...]
    missing: tuple[str, ...]
    as_of: dt.date
    ruleset_version: str
    lang: str = Field(default="de", description="de, en or a language of the rule set's catalogues")
    questions: tuple[Question, ...] = Field(default=(), description="the missing fields as questions, ranked")
    changes: tuple[StatusChange, ...] = Field(
        default=(), description="every coming change of a decision while the facts stay as they are"
    )
    translation: Translation | None = Field(
        default=None,
        description="for a language of a catalogue: its status (draft or reviewed) and the texts that "
        "fell back; None for de and en",
    )

    def next_question(self) -> Question | None:
        """The single most useful question to ask next (in the recommendation's language), or None."""
        return self.questions[0] if self.questions else None

    def timeline(self, until: dt.date) -> Timeline:
        """The changes of decisions after ``as_of`` up to and including ``until``, with handovers.

        A handover is a date on which a service stops being eligible and another one of the same
        kind becomes eligible (or needs a partner's check): JMD → MBE on the 27th birthday.
        Changes that need new facts (a move, a recognition) are what :func:`what_if` shows.
        """
        if not isinstance(until, dt.date) or isinstance(until, dt.datetime):
            raise UsageError("until must be a datetime.date")
        if until < self.as_of:
            raise UsageError("until must not be before as_of")
        changes = tuple(change for change in self.changes if change.on <= until)
        return Timeline(
            as_of=self.as_of, until=until, changes=changes, handovers=_handovers(changes), lang=self.lang
        )

    def _repr_html_(self) -> str:
        html: str = provided("recommendation_html")(self)
        return html

    def handover(self, step_id: str, profile: CaseProfile | Mapping[str, Any], *, ruleset: Any = None) -> Any:
        """What may actually be passed on for one next step: a :class:`~referral_engine.HandoverPacket`.

        ``profile`` is the profile this recommendation was made for (the packet takes the values
        from it) and ``ruleset`` the rule set (default: the bundled rules; its version must match).
        The packet holds exactly the profile fields the step needs *and* a valid consent for its
        recipient and purpose releases — nothing of a restricted status for a body with the § 87
        AufenthG duty, nothing sensitive for volunteers — plus an audit record without values.
        """
        return provided("packet_for")(self, step_id, profile, ruleset)

    def decision(self, service_id: str) -> ServiceDecision:
        """The decision for one service; raises ``KeyError`` for an id the ruleset does not know."""
        for decision in self.decisions:
            if decision.service == service_id:
                return decision
        raise KeyError(service_id)

    @property
    def undetermined(self) -> tuple[str, ...]:
        """Ids of the services that need more facts (or a partner's check) to decide."""
        return tuple(d.service for d in self.decisions if d.status is Status.UNDETERMINED)

    def __repr__(self) -> str:
        return (
            f"Recommendation(as_of={self.as_of.isoformat()}, eligible={self.eligible!r}, "
            f"undetermined={self.undetermined!r}, next_steps={len(self.next_steps)}, "
            f"missing={self.missing!r}, ruleset_version={self.ruleset_version!r})"
        )

    def __str__(self) -> str:
        return repr(self)


def _handovers(changes: tuple[StatusChange, ...]) -> tuple[Handover, ...]:
    """Same-day pairs of one service losing eligibility and another of its kind gaining it."""
    handovers = []
    for ending in changes:
        if ending.before is not Status.ELIGIBLE or ending.after is Status.ELIGIBLE:
            continue
        for starting in changes:
            if (
                starting.on == ending.on
                and starting.kind == ending.kind
                and starting.before is Status.NOT_ELIGIBLE
                and starting.after is not Status.NOT_ELIGIBLE
            ):
                handovers.append(
                    Handover(
                        on=ending.on,
                        kind=ending.kind,
                        from_service=ending.service,
                        to_service=starting.service,
                    )
                )
    return tuple(handovers)
