"""Messages for values that fail allOf, anyOf, oneOf or not.

Branches that only test which fields are set get a message that names those
fields. Other branches report the violation of the closest branch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reck8s.schema.errors import SchemaViolation
from reck8s.schema.openapi import Schema

def _required_only(branch: Any) -> list[str] | None:
    """Return the field names of a branch that only lists required fields."""
    if isinstance(branch, Mapping) and set(branch) <= {"required", "description"} and "required" in branch:
        return [str(name) for name in branch["required"]]
    return None


def _none_of_required(branch: Any) -> list[str] | None:
    """Return the field names of a branch shaped ``not: {anyOf: [{required: [...]}, ...]}``."""
    if not isinstance(branch, Mapping) or set(branch) != {"not"}:
        return None
    inner = branch["not"]
    if not isinstance(inner, Mapping) or set(inner) != {"anyOf"}:
        return None
    names: list[str] = []
    for alternative in inner["anyOf"]:
        required = _required_only(alternative)
        if required is None:
            return None
        names.extend(required)
    return names


def _presence_fields(branches: Sequence[Any]) -> list[str] | None:
    """Return the fields of branches that only test which fields are set, or None for other branches."""
    names: list[str] = []
    for branch in branches:
        required = _required_only(branch)
        if required is None:
            required = _none_of_required(branch)
        if required is None:
            return None
        names.extend(name for name in required if name not in names)
    return names


def one_of_violation(
    value: Any, branches: Sequence[Any], results: Sequence[list[SchemaViolation]], matches: int, path: str
) -> SchemaViolation:
    names = _presence_fields(branches)
    if names is not None and isinstance(value, Mapping):
        listed = _join_names(names)
        present = [name for name in names if value.get(name) is not None]
        if matches > 1:
            return SchemaViolation(path, f"only one of {listed} may be set, but {_join_names(present)} are set")
        return SchemaViolation(path, f"exactly one of {listed} must be set")
    if matches > 1:
        message = f"matches {matches} of the {len(branches)} schemas in oneOf, but must match exactly one"
        return SchemaViolation(path, message)
    return _closest_branch_violation(results, "oneOf")


def any_of_violation(
    value: Any, branches: Sequence[Any], results: Sequence[list[SchemaViolation]], path: str
) -> SchemaViolation:
    names = _presence_fields(branches)
    if names is not None and isinstance(value, Mapping):
        return SchemaViolation(path, f"at least one of {_join_names(names)} must be set")
    return _closest_branch_violation(results, "anyOf")


def _closest_branch_violation(results: Sequence[list[SchemaViolation]], keyword: str) -> SchemaViolation:
    """Return the first violation of the branch with the fewest violations, so that the message names a concrete fix."""
    closest = min(results, key=len)[0]
    return SchemaViolation(
        closest.path, f"{closest.message} (no schema in {keyword} matches; this is the closest one)"
    )


def not_message(excluded: Schema) -> str:
    required = _required_only(excluded)
    if required is None and set(excluded) == {"anyOf"}:
        required = _presence_fields(excluded["anyOf"])
    if required:
        return f"{_join_names(required)} must not be set"
    return "matches a schema that the not keyword excludes"


def _join_names(names: Sequence[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)
