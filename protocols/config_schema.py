"""One validator for the project's TOML files: the edge's configuration and the fleet files.

It works on tables already parsed (``tomllib`` in the caller: this module does no I/O)
and owns two things:

- :func:`setting` declares a setting on a frozen dataclass once: its default, its range
  or its choices (``baud: int = setting(2400, lo=300, hi=115200)``);
- :class:`Table` reads one table with typed getters that name the field path in every
  error (``bus[1].meter[3].address: ...``), reads declared settings with
  :meth:`Table.setting`, and reports keys nobody asked for (``bus[0].colour: unknown
  key``).

Errors are raised as the caller's own exception class (the edge's ``ConfigError``, the
fleet's ``FleetError``), so each layer keeps its error tree. What a file *means*
(cross-field rules, ids used twice, file paths) stays with the caller.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from functools import cache
from typing import Any, Final

from protocols.wire.codec import text_fault

SCHEMA_KEY: Final = "meterlink.setting"


class SchemaError(ValueError):
    """A table that does not fit its schema (the default error class of :class:`Table`)."""


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: The default of a setting that must be given.
REQUIRED: Final[Any] = _Required()


@dataclasses.dataclass(frozen=True)
class Rule:
    """What a declared setting accepts beyond its type: a closed range or a set of choices."""

    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] | None = None


def setting(
    default: Any = REQUIRED,
    *,
    lo: float | None = None,
    hi: float | None = None,
    choices: tuple[str, ...] | None = None,
    repr: bool = True,  # noqa: A002 - the dataclasses.field keyword
) -> Any:
    """A dataclass field with its default and bounds, read back by :meth:`Table.setting`."""
    meta = {SCHEMA_KEY: Rule(lo, hi, choices)}
    if default is REQUIRED:
        return dataclasses.field(metadata=meta, repr=repr)
    return dataclasses.field(default=default, metadata=meta, repr=repr)


@dataclasses.dataclass(frozen=True)
class Declared:
    """A dataclass field as the validator sees it: scalar type, default and rule."""

    name: str
    type: type
    default: Any
    rule: Rule


@cache
def declared(cls: type) -> Mapping[str, Declared]:
    """The scalar fields of dataclass ``cls`` (``int``, ``float``, ``str``, ``bool``, and
    those ``| None``), by name."""
    hints = typing.get_type_hints(cls)
    out: dict[str, Declared] = {}
    for f in dataclasses.fields(cls):
        typ = _scalar(hints[f.name])
        if typ is None:
            continue
        default = f.default if f.default is not dataclasses.MISSING else REQUIRED
        out[f.name] = Declared(f.name, typ, default, f.metadata.get(SCHEMA_KEY, Rule()))
    return out


def default_of(cls: type, name: str) -> Any:
    """The declared default of ``cls.name`` (:data:`REQUIRED` if it has none)."""
    f = {f.name: f for f in dataclasses.fields(cls)}[name]
    return f.default if f.default is not dataclasses.MISSING else REQUIRED


def _scalar(hint: Any) -> type | None:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        hint = args[0] if len(args) == 1 else None
    return hint if hint in (int, float, str, bool) else None


_TYPE_NAMES: Final = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true/false",
    list: "a list",
    dict: "a table",
}


def type_names(typ: type | tuple[type, ...]) -> str:
    """``an integer or a string``: how errors name what was expected."""
    options = typ if isinstance(typ, tuple) else (typ,)
    return " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in options)


class Table:
    """Typed access to one table at ``path``; remembers the keys read, so that
    :meth:`done` can name the first key nobody asked for."""

    def __init__(
        self, data: Any, path: str, *, error: type[Exception] = SchemaError, name: str = ""
    ) -> None:
        self.error = error
        if not isinstance(data, Mapping):
            raise error(f"{path or name or 'file'}: expected a table, got {type(data).__name__}")
        self.data: Mapping[str, Any] = data
        self.path = path
        self.used: set[str] = set()

    def key_path(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, message: str) -> Exception:
        """The caller's error for ``key``, to raise: ``raise table.fail(key, "...")``."""
        return self.error(f"{self.key_path(key)}: {message}")

    def table(self, key: str, *, required: bool = False) -> Table:
        """The sub-table ``key`` (empty when absent and not required)."""
        raw = self.get(key, dict) if required else self.get(key, dict, {})
        return Table(raw, self.key_path(key), error=self.error)

    def tables(self, key: str) -> list[Any]:
        """The raw items of the array of tables ``key`` (empty when absent)."""
        return list(self.get(key, list, []))

    def get(self, key: str, typ: type | tuple[type, ...], default: Any = REQUIRED) -> Any:
        """The value of ``key`` if it has type ``typ`` (an integer passes for a number and
        is made one; a boolean passes only for ``bool``), else ``default``."""
        self.used.add(key)
        if key not in self.data:
            if default is REQUIRED:
                raise self.fail(key, "required")
            return default
        value = self.data[key]
        options = typ if isinstance(typ, tuple) else (typ,)
        if isinstance(value, bool) and bool not in options:
            raise self.fail(key, f"expected {type_names(typ)}, got a boolean")
        if float in options and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, options):
            raise self.fail(key, f"expected {type_names(typ)}, got {value!r}")
        if isinstance(value, str):
            fault = text_fault(value)  # such text could not be sent, logged or stored
            if fault:
                raise self.fail(key, f"text {fault}: {value!r}")
        return value

    def integer(self, key: str, lo: int, hi: int, default: Any = REQUIRED) -> Any:
        """An integer within ``lo..hi`` (or ``default``, which may be None)."""
        return self._within(key, self.get(key, int, default), lo, hi)

    def number(self, key: str, lo: float, hi: float, default: Any = REQUIRED) -> Any:
        """A number within ``lo..hi`` as a float (or ``default``, which may be None)."""
        return self._within(key, self.get(key, float, default), lo, hi)

    def _within(self, key: str, value: Any, lo: float, hi: float) -> Any:
        if value is not None and not lo <= value <= hi:
            raise self.fail(key, f"must be within {lo}..{hi}, got {value}")
        return value

    def choice(self, key: str, options: tuple[str, ...], default: Any = REQUIRED) -> str:
        """One of ``options``; an integer is read as its digits (``protocol = 2007``)."""
        value = str(self.get(key, (str, int), default))
        if value not in options:
            raise self.fail(key, f"must be one of {', '.join(options)}, got {value!r}")
        return value

    def setting(self, cls: type, name: str, *, key: str | None = None, default: Any = ...) -> Any:
        """Read the setting ``cls.name`` (from ``key``, default the field's name) with the
        type, default and rule declared on the dataclass; ``default`` overrides the
        declared default where it depends on other settings."""
        spec = declared(cls)[name]
        key = key or name
        dflt = spec.default if default is ... else default
        rule = spec.rule
        if rule.choices is not None:
            return self.choice(key, rule.choices, dflt)
        if spec.type is int and rule.lo is not None and rule.hi is not None:
            return self.integer(key, int(rule.lo), int(rule.hi), dflt)
        if spec.type is float and rule.lo is not None and rule.hi is not None:
            return self.number(key, rule.lo, rule.hi, dflt)
        return self.get(key, spec.type, dflt)

    def settings(self, cls: type, *names: str) -> dict[str, Any]:
        """:meth:`setting` for each of ``names``, as keyword arguments for ``cls``."""
        return {n: self.setting(cls, n) for n in names}

    def done(self) -> None:
        """Raise for the first key (in sorted order) that no getter asked for."""
        extra = sorted(set(self.data) - self.used)
        if extra:
            raise self.fail(extra[0], "unknown key")
