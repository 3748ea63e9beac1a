"""Helpers that treat parsed YAML values as JSON values and quote values and paths in messages."""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Mapping
from typing import Any

from reck8s.schema.openapi import Schema

SIMPLE_PATH_KEY = re.compile(r"[A-Za-z0-9_-]+")
# Longer values are cut to this many characters when a message quotes them.
MAX_QUOTED_CHARS = 80


def is_text(value: Any) -> bool:
    # PyYAML turns unquoted timestamps into date objects, while go.yaml.in/yaml/v2
    # keeps them as strings for untyped values.
    return isinstance(value, (str, datetime.date))


def as_text(value: str | datetime.date) -> str:
    return value if isinstance(value, str) else value.isoformat()


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_integer(value: Any) -> bool:
    # An integral float counts, as in the type check of k8s.io/kube-openapi.
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, int) and not isinstance(value, bool)


def is_multiple(value: int | float, divisor: int | float) -> bool:
    quotient = value / divisor
    return abs(quotient - round(quotient)) < 1e-9


def expected_type(schema: Schema) -> str | None:
    if schema.get("x-kubernetes-int-or-string") is True:
        return "integer or string"
    type_name = schema.get("type")
    return type_name if isinstance(type_name, str) else None


def type_matches(value: Any, schema: Schema) -> bool:
    if schema.get("x-kubernetes-int-or-string") is True:
        return is_integer(value) or is_text(value)
    type_name = schema.get("type")
    if type_name == "object":
        return isinstance(value, Mapping)
    if type_name == "array":
        return isinstance(value, (list, tuple))
    if type_name == "string":
        return is_text(value)
    if type_name == "integer":
        return is_integer(value)
    if type_name == "number":
        return is_number(value)
    if type_name == "boolean":
        return isinstance(value, bool)
    return True


def json_equal(left: Any, right: Any) -> bool:
    """Return whether two values are equal as JSON values: True differs from 1, and 1 equals 1.0."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if is_text(left) and is_text(right):
        return as_text(left) == as_text(right)
    if is_number(left) and is_number(right):
        return left == right
    return type(left) is type(right) and left == right


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean {format_value(value)}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {format_value(value)}"
    if is_text(value):
        return f"string {quote(as_text(value))}"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    return type(value).__name__


def format_value(value: Any) -> str:
    if is_text(value):
        return quote(as_text(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = json.dumps(value, default=str)
    return text if len(text) <= MAX_QUOTED_CHARS else text[: MAX_QUOTED_CHARS - 3] + "..."


def quote(text: str) -> str:
    if len(text) > MAX_QUOTED_CHARS:
        text = text[: MAX_QUOTED_CHARS - 3] + "..."
    return json.dumps(text, ensure_ascii=False)


def child_path(path: str, key: str) -> str:
    if not SIMPLE_PATH_KEY.fullmatch(key):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key
