"""Config values checked against their dataclass type hints, with messages that name the key.

YAML and ``--set`` give loosely typed values: ``--set model.class_names=person`` is the string
``person`` (which would otherwise be trained as six classes p, e, r, s, o, n), ``1e-3`` is a
string in YAML 1.1, ``true`` is an int in Python. :func:`coerce` turns a value into the type its
field declares or raises ``ValueError`` saying which key wanted what and what it got.
Standard library only, so configs validate before TensorFlow is imported.
"""

from __future__ import annotations

import math
import reprlib
import types
import typing
from typing import Any

_NONE = type(None)


_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = 60
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 6
_REPR.maxlevel = 3


def short_repr(value: Any) -> str:
    """``repr(value)`` cut short, without walking all of a huge (or shared) structure: a message
    stays one readable line whatever the value."""
    return _REPR.repr(value)


_short = short_repr


def _describe(value: Any) -> str:
    return f"the string {_short(value)}" if isinstance(value, str) else _short(value)


def _number(value: Any, key: str, kind: type) -> float | int:
    """An int or a finite float; strings such as ``1e-3`` (YAML 1.1 keeps them as text) too."""
    if isinstance(value, bool):
        raise ValueError(f"{key} must be a number, got {_short(value)}")
    if kind is int:
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ValueError(f"{key} must be a whole number, got {_describe(value)}")
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ValueError(f"{key} must be a number, got {_describe(value)}") from None
    if not isinstance(value, (int, float)):
        raise ValueError(f"{key} must be a number, got {_describe(value)}")
    if not math.isfinite(value):
        raise ValueError(f"{key} must be a finite number, got {_short(value)}")
    return float(value)


def coerce(value: Any, hint: Any, key: str) -> Any:
    """``value`` as the type ``hint`` describes (int, float, bool, str, list[...], dict[...],
    ``X | None``, ``Any``); raises ``ValueError`` naming ``key`` otherwise."""
    if hint is Any:
        return value
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None:
            if _NONE in options:
                return None
            raise ValueError(f"{key} must be given, got null")
        errors = []
        for option in options:
            if option is _NONE:
                continue
            try:
                return coerce(value, option, key)
            except ValueError as error:
                errors.append(str(error))
        raise ValueError(errors[0] if len(errors) == 1 else f"{key}: {'; '.join(errors)}")
    if origin in (list, tuple):
        (item_hint, *_rest) = typing.get_args(hint) or (Any,)
        if not isinstance(value, (list, tuple)):
            example = "[background, person]" if item_hint is str else "[0.75, 1.0, 1.25]"
            raise ValueError(f"{key} must be a list, e.g. {example}; got {_describe(value)}")
        items = [coerce(item, item_hint, f"{key}[{index}]") for index, item in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict:
        key_hint, value_hint = typing.get_args(hint) or (Any, Any)
        if not isinstance(value, dict):
            raise ValueError(f"{key} must be a mapping (key: value), got {_describe(value)}")
        return {coerce(k, key_hint, f"{key} key"): coerce(v, value_hint, f"{key}.{k}")
                for k, v in value.items()}
    if hint is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{key} must be true or false, got {_describe(value)}")
        return value
    if hint in (int, float):
        return _number(value, key, hint)
    if hint is str:
        if not isinstance(value, str):
            raise ValueError(f"{key} must be text, got {_short(value)}")
        return value
    return value
