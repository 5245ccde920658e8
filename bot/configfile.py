"""Reading the configuration file: one TOML table into one frozen dataclass, whose fields are the table's
settings (same names), whose defaults are the settings' defaults, and whose field metadata says how a
value is checked.

Both :mod:`bot.config` (every section) and :mod:`bot.web.settings` (``[web]``) read their tables with
:func:`read_table`; neither imports the other's internals. A key that is not a field is refused with the
nearest known name, so a typo (``[safety] hotlne``) stops start-up instead of being ignored in silence.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import MISSING, Field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = [
    "ConfigError",
    "RUNTIME",
    "at_least",
    "between",
    "not_a_setting",
    "one_of",
    "positive",
    "read_table",
    "setting",
    "table",
]

T = TypeVar("T", bound="DataclassInstance")

#: ``(value, "section.key") -> value``: checks (and may convert) a value read from the file.
Check = Callable[[Any, str], Any]


class ConfigError(Exception):
    """A setting is missing or invalid; the message names it."""


def setting(*, check: Check | None = None, parse: Check | None = None) -> dict[str, Any]:
    """A field's metadata: `parse` replaces the type check for values TOML has no type for (a time zone,
    a list of ids); `check` runs on the typed value (a range, a choice)."""
    return {"parse": parse, "check": check}


#: The metadata of a field that is not read from the file (set by the program: a secret, a test's limit).
RUNTIME: Final[dict[str, Any]] = {"runtime": True}


def positive(value: Any, name: str) -> Any:
    """More than 0 (numbers)."""
    if not value > 0:
        raise ConfigError(f"{name} must be greater than 0, not {value!r}")
    return value


def at_least(minimum: int) -> Check:
    """`minimum` or more."""

    def check(value: Any, name: str) -> Any:
        if value < minimum:
            raise ConfigError(f"{name} must be {minimum} or more, not {value!r}")
        return value

    return check


def between(low: int, high: int) -> Check:
    """From `low` to `high`, both included."""

    def check(value: Any, name: str) -> Any:
        if not low <= value <= high:
            raise ConfigError(f"{name} must be from {low} to {high}, not {value!r}")
        return value

    return check


def one_of(choices: Collection[str]) -> Check:
    """One of `choices`."""

    def check(value: Any, name: str) -> Any:
        if value not in choices:
            raise ConfigError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
        return value

    return check


def table(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """The ``[name]`` table of the file (empty when absent)."""
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"[{name}] must be a table")
    return value


def file_settings(cls: type[DataclassInstance]) -> list[str]:
    """The names a table read into `cls` may have: its fields, less those set by the program."""
    return [f.name for f in fields(cls) if not f.metadata.get("runtime")]


def not_a_setting(name: str, known: Iterable[str], what: str = "a setting") -> ConfigError:
    """"`name` is not a setting (did you mean …?)", with the nearest of `known` by spelling."""
    key = name.rsplit(".", 1)[-1]
    near = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    hint = f" (did you mean {near[0]}?)" if near else ""
    return ConfigError(f"{name} is not {what}{hint}")


def read_table(
    cls: type[T],
    values: Mapping[str, Any],
    where: str,
    *,
    resolve: Callable[[str], Path] = Path,
    elsewhere: Mapping[str, str] | None = None,
) -> T:
    """The ``cls`` that the TOML table `values` (called `where` in messages, e.g. "reports") describes.

    A missing key takes the field's default (a field without one is required); a key that is no field
    is an error naming the nearest field, or the section it belongs in (`elsewhere`: key -> section).
    Paths are resolved with `resolve` (relative to the file's folder).
    """
    known = file_settings(cls)
    for key in values:
        if key not in known:
            if elsewhere and key in elsewhere and not difflib.get_close_matches(key, known, n=1):
                raise ConfigError(
                    f"{where}.{key} is not a setting of [{where}] (it belongs in [{elsewhere[key]}])"
                )
            raise not_a_setting(f"{where}.{key}", known)
    hints = typing.get_type_hints(cls)
    given: dict[str, Any] = {}
    for f in fields(cls):
        if f.metadata.get("runtime"):
            continue
        name = f"{where}.{f.name}"
        if f.name not in values:
            if _required(f):
                raise ConfigError(f"{name} is required")
            continue
        raw = values[f.name]
        parse: Check | None = f.metadata.get("parse")
        value = parse(raw, name) if parse is not None else _typed(raw, hints[f.name], name, resolve)
        check: Check | None = f.metadata.get("check")
        given[f.name] = check(value, name) if check is not None and value is not None else value
    return cls(**given)


def _required(f: Field[Any]) -> bool:
    return f.default is MISSING and f.default_factory is MISSING


def _typed(value: Any, kind: Any, name: str, resolve: Callable[[str], Path]) -> Any:
    """`value` checked against the field's type: bool, int, float (an int is taken), str, Path (a
    string, resolved) and ``Path | None`` (an empty string is None)."""
    if isinstance(kind, types.UnionType) and type(None) in kind.__args__:
        (inner,) = [k for k in kind.__args__ if k is not type(None)]
        if inner is Path:
            text = _typed(value, str, name, resolve).strip()
            return resolve(text) if text else None
        kind = inner
    if kind is Path:
        return resolve(_typed(value, str, name, resolve))
    # bool is an int in Python; a number setting given `true` is still a mistake.
    if kind in (int, float) and isinstance(value, bool):
        raise ConfigError(f"{name} must be a number, not {value!r}")
    if kind is float and isinstance(value, int):
        return float(value)
    if not isinstance(kind, type):
        raise TypeError(f"{name}: a field of type {kind} needs a parse function")  # a programming error
    if not isinstance(value, kind):
        raise ConfigError(f"{name} must be {kind.__name__}, not {value!r}")
    return value
