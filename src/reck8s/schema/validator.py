"""The structural walk of one object against its schema."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reck8s.schema.composition import any_of_violation, not_message, one_of_violation
from reck8s.schema.errors import SchemaLoadError, SchemaViolation
from reck8s.schema.names import NameRule, object_meta_violations
from reck8s.schema.openapi import (
    EMBEDDED_RESOURCE_PROPERTIES,
    INT_OR_STRING,
    OBJECT_META,
    QUANTITY,
    REF_PREFIX,
    Schema,
)
from reck8s.schema.patterns import QUANTITY_PATTERN, compile_pattern, string_format_problem
from reck8s.schema.values import (
    as_text,
    canonical_json,
    child_path,
    describe,
    expected_type,
    format_value,
    is_integer,
    is_multiple,
    is_number,
    is_text,
    json_equal,
    quote,
    type_matches,
)

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
INTEGER_RANGES = {"int32": (INT32_MIN, INT32_MAX), "int64": (INT64_MIN, INT64_MAX)}

# Maximum chain of "$ref" and single-"$ref" "allOf" wrappers to follow when a
# schema is resolved for its defaults or nullable flag.
MAX_REFERENCE_DEPTH = 16


class Mode(enum.Enum):
    """Rule for the fields that a schema node does not declare."""

    # Built-in OpenAPI: an object schema without properties is opaque, as
    # RawExtension and FieldsV1 are.
    BUILTIN = "builtin"
    # CRD structural schema: the API server prunes every undeclared field, which
    # strict field validation reports as unknown.
    CUSTOM = "custom"
    # Inside a CRD allOf, anyOf, oneOf or not: only value checks apply, because
    # the surrounding structural schema already declares the fields.
    BRANCH = "branch"


@dataclass
class Validator:
    """Walk of one object against its schema that collects violations in document order.

    ``components`` resolves "$ref" targets. For a custom resource it comes from
    the built-in document that supplies ObjectMeta.
    """

    components: Mapping[str, Schema]
    name_rule: NameRule
    violations: list[SchemaViolation] = field(default_factory=list)

    def add(self, path: str, message: str) -> None:
        self.violations.append(SchemaViolation(path, message))

    def check(self, value: Any, schema: Schema, path: str, mode: Mode) -> None:
        # NOTE: x-kubernetes-validations (CEL rules) are not evaluated here. The
        # real API server checks them, so objects that pass can still be rejected.
        if value is None:
            self._check_null(schema, path)
            return
        reference = schema.get("$ref")
        if isinstance(reference, str):
            self._check_reference(value, reference, path)
            return
        if not self._check_type(value, schema, path):
            return
        if "enum" in schema:
            self._check_enum(value, schema["enum"], path)

        if isinstance(value, Mapping):
            self._check_object(value, schema, path, mode)
        elif isinstance(value, (list, tuple)):
            self._check_array(value, schema, path, mode)
        elif is_text(value):
            self._check_string(as_text(value), schema, path)
        elif is_number(value):
            self._check_number(value, schema, path)

        self._check_combinations(value, schema, path, mode)

    def resolve(self, schema: Schema) -> Schema:
        """Return the schema that a "$ref", or an "allOf" wrapping a single "$ref", points to."""
        for _ in range(MAX_REFERENCE_DEPTH):
            reference = schema.get("$ref")
            all_of = schema.get("allOf")
            if isinstance(reference, str):
                schema = self.components.get(reference.removeprefix(REF_PREFIX), {})
            elif (
                "type" not in schema and "properties" not in schema
                and isinstance(all_of, list) and len(all_of) == 1
                and isinstance(all_of[0], Mapping) and "$ref" in all_of[0]
            ):
                schema = all_of[0]
            else:
                break
        return schema

    def is_nullable(self, schema: Schema) -> bool:
        return self.resolve(schema).get("nullable") is True

    def _check_null(self, schema: Schema, path: str) -> None:
        target = self.resolve(schema)
        expected = expected_type(target)
        if target.get("nullable") is True or expected is None:
            return
        self.add(path, f"invalid type: expected {expected}, got null")

    def _check_reference(self, value: Any, reference: str, path: str) -> None:
        name = reference.removeprefix(REF_PREFIX)
        if name == QUANTITY:
            self._check_quantity(value, path)
            return
        if name == INT_OR_STRING:
            self._check_int_or_string(value, path)
            return

        target = self.components.get(name)
        if target is None:
            raise SchemaLoadError(f"the OpenAPI document has no schema for the reference {reference}")
        # A referenced schema always comes from the built-in documents, even
        # when a custom resource's metadata leads there.
        self.check(value, target, path, Mode.BUILTIN)
        if name == OBJECT_META and isinstance(value, Mapping):
            self.violations.extend(object_meta_violations(value, path, self.name_rule))

    def _check_quantity(self, value: Any, path: str) -> None:
        if is_number(value):
            return
        if isinstance(value, str) and QUANTITY_PATTERN.fullmatch(value):
            return
        self.add(
            path,
            f"invalid quantity {format_value(value)}: expected a number or a string such as "
            '"500m", "1Gi", "1.5" or "1e3"',
        )

    def _check_int_or_string(self, value: Any, path: str) -> None:
        if is_text(value):
            return
        if not is_integer(value):
            self.add(path, f"invalid type: expected integer or string, got {describe(value)}")
        elif not INT32_MIN <= value <= INT32_MAX:
            self.add(path, f"invalid value {format_value(value)}: out of range for int32")

    def _check_type(self, value: Any, schema: Schema, path: str) -> bool:
        expected = expected_type(schema)
        if expected is None or type_matches(value, schema):
            return True
        self.add(path, f"invalid type: expected {expected}, got {describe(value)}")
        return False

    def _check_enum(self, value: Any, allowed: Sequence[Any], path: str) -> None:
        if any(json_equal(value, option) for option in allowed):
            return
        options = ", ".join(format_value(option) for option in allowed)
        self.add(path, f"unsupported value {format_value(value)}; supported values: {options}")

    def _check_object(self, value: Mapping, schema: Schema, path: str, mode: Mode) -> None:
        properties: Mapping[str, Schema] = schema.get("properties") or {}
        if schema.get("x-kubernetes-embedded-resource") is True:
            # The API server validates an embedded resource's metadata as
            # ObjectMeta, whatever the CRD schema declares for it.
            properties = {**EMBEDDED_RESOURCE_PROPERTIES, **properties}
            properties["metadata"] = EMBEDDED_RESOURCE_PROPERTIES["metadata"]
        additional = schema.get("additionalProperties")

        for name in schema.get("required") or []:
            if not self._is_missing(value, name, properties.get(name), mode):
                continue
            self.add(child_path(path, name), f'missing required field "{name}"')
        self._check_size(len(value), schema, "minProperties", "maxProperties", "properties", path)

        reports_unknown = _reports_unknown_fields(schema, mode)
        for key, item in value.items():
            child = child_path(path, str(key))
            field_schema = properties.get(key)
            if field_schema is None and isinstance(additional, Mapping):
                field_schema = additional
            if field_schema is not None:
                # A null field counts as absent: the API server prunes it from a
                # custom resource, and Go decoding leaves a built-in field unset.
                if item is None and not self.is_nullable(field_schema):
                    continue
                self.check(item, field_schema, child, mode)
            elif reports_unknown:
                self.add(child, f'unknown field "{key}"')

    def _is_missing(self, value: Mapping, name: str, field_schema: Schema | None, mode: Mode) -> bool:
        if value.get(name) is not None:
            return False
        if field_schema is None:
            return True
        if name in value and self.is_nullable(field_schema):
            return False
        # The API server applies CRD defaults before it validates. In built-in
        # schemas a default only records the Go zero value, which the API server's
        # validation code usually rejects for required fields.
        # NOTE: a few built-in kinds accept a missing required object whose zero
        # value is valid, such as CSIDriver.spec, and are still reported here.
        return mode is Mode.BUILTIN or "default" not in field_schema

    def _check_array(self, value: Sequence[Any], schema: Schema, path: str, mode: Mode) -> None:
        self._check_size(len(value), schema, "minItems", "maxItems", "items", path)
        items = schema.get("items") if isinstance(schema.get("items"), Mapping) else None
        list_type = schema.get("x-kubernetes-list-type")
        map_keys = schema.get("x-kubernetes-list-map-keys") or []
        unique = list_type == "set" or schema.get("uniqueItems") is True
        first_index: dict[str, int] = {}

        for index, item in enumerate(value):
            child = f"{path}[{index}]"
            if items is not None:
                self.check(item, items, child, mode)
            if list_type == "map" and map_keys and isinstance(item, Mapping):
                parts = self._list_map_key(item, items or {}, map_keys)
                if parts is None:
                    continue
                key = canonical_json(parts)
                if key in first_index:
                    described = ", ".join(f"{name}={format_value(part)}" for name, part in zip(map_keys, parts))
                    message = f"duplicate entry for key {described}; the first one is at index {first_index[key]}"
                    self.add(child, message)
                else:
                    first_index[key] = index
            elif unique:
                key = canonical_json(item)
                if key in first_index:
                    message = f"duplicate value {format_value(item)}; the first one is at index {first_index[key]}"
                    self.add(child, message)
                else:
                    first_index[key] = index

    def _list_map_key(self, item: Mapping, items: Schema, map_keys: Sequence[str]) -> tuple[Any, ...] | None:
        """Return the item's values for the list-map keys, filling in schema defaults.

        Returns None when a key has neither a value nor a default. The required
        check reports that case.
        """
        properties = self.resolve(items).get("properties") or {}
        parts = []
        for name in map_keys:
            part = item.get(name)
            if part is None and name in properties:
                part = properties[name].get("default", self.resolve(properties[name]).get("default"))
            if part is None:
                return None
            parts.append(part)
        return tuple(parts)

    def _check_string(self, text: str, schema: Schema, path: str) -> None:
        length = len(text)
        if "minLength" in schema and length < schema["minLength"]:
            self.add(path, f"invalid value {quote(text)}: must be at least {schema['minLength']} characters long")
        if "maxLength" in schema and length > schema["maxLength"]:
            self.add(path, f"invalid value {quote(text)}: must be at most {schema['maxLength']} characters long")

        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            compiled = compile_pattern(pattern)
            if compiled is not None and not compiled.search(text):
                self.add(path, f"invalid value {quote(text)}: must match the regular expression {quote(pattern)}")

        format_name = schema.get("format")
        problem = string_format_problem(text, format_name) if isinstance(format_name, str) else None
        if problem is not None:
            self.add(path, f"invalid value {quote(text)}: {problem}")

    def _check_number(self, value: int | float, schema: Schema, path: str) -> None:
        value_text = format_value(value)
        minimum, maximum = schema.get("minimum"), schema.get("maximum")
        exclusive_min, exclusive_max = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
        # OpenAPI 3.0 makes exclusiveMinimum a flag on minimum. JSON Schema 2019
        # makes it a bound of its own, so both forms are accepted.
        if is_number(exclusive_min) and value <= exclusive_min:
            self.add(path, f"invalid value {value_text}: must be greater than {format_value(exclusive_min)}")
        if is_number(minimum):
            if exclusive_min is True and value <= minimum:
                self.add(path, f"invalid value {value_text}: must be greater than {format_value(minimum)}")
            elif value < minimum:
                self.add(path, f"invalid value {value_text}: must be greater than or equal to {format_value(minimum)}")
        if is_number(exclusive_max) and value >= exclusive_max:
            self.add(path, f"invalid value {value_text}: must be less than {format_value(exclusive_max)}")
        if is_number(maximum):
            if exclusive_max is True and value >= maximum:
                self.add(path, f"invalid value {value_text}: must be less than {format_value(maximum)}")
            elif value > maximum:
                self.add(path, f"invalid value {value_text}: must be less than or equal to {format_value(maximum)}")

        multiple_of = schema.get("multipleOf")
        if is_number(multiple_of) and multiple_of > 0 and not is_multiple(value, multiple_of):
            self.add(path, f"invalid value {value_text}: must be a multiple of {format_value(multiple_of)}")

        # NOTE: for custom resources the API server accepts integers outside the
        # int32 range, but a Go controller that decodes them into int32 fails.
        bounds = INTEGER_RANGES.get(schema.get("format", ""))
        if bounds is not None and is_integer(value) and not bounds[0] <= value <= bounds[1]:
            self.add(path, f"invalid value {value_text}: out of range for {schema['format']}")

    def _check_size(self, size: int, schema: Schema, min_key: str, max_key: str, noun: str, path: str) -> None:
        if min_key in schema and size < schema[min_key]:
            self.add(path, f"must have at least {schema[min_key]} {noun}, but has {size}")
        if max_key in schema and size > schema[max_key]:
            self.add(path, f"must have at most {schema[max_key]} {noun}, but has {size}")

    def _check_combinations(self, value: Any, schema: Schema, path: str, mode: Mode) -> None:
        """Apply allOf, anyOf, oneOf and not."""
        branch_mode = Mode.BUILTIN if mode is Mode.BUILTIN else Mode.BRANCH
        for branch in schema.get("allOf") or []:
            self.check(value, branch, path, branch_mode)

        any_of = schema.get("anyOf") or []
        if any_of:
            results = [self._branch_violations(value, branch, path, branch_mode) for branch in any_of]
            if all(results):
                self.violations.append(any_of_violation(value, any_of, results, path))

        one_of = schema.get("oneOf") or []
        if one_of:
            results = [self._branch_violations(value, branch, path, branch_mode) for branch in one_of]
            matches = sum(1 for result in results if not result)
            if matches != 1:
                self.violations.append(one_of_violation(value, one_of, results, matches, path))

        excluded = schema.get("not")
        if isinstance(excluded, Mapping) and not self._branch_violations(value, excluded, path, branch_mode):
            self.add(path, not_message(excluded))

    def _branch_violations(self, value: Any, branch: Schema, path: str, mode: Mode) -> list[SchemaViolation]:
        branch_validator = Validator(self.components, self.name_rule)
        branch_validator.check(value, branch, path, mode)
        return branch_validator.violations


def _reports_unknown_fields(schema: Schema, mode: Mode) -> bool:
    if mode is Mode.BRANCH or schema.get("x-kubernetes-preserve-unknown-fields") is True:
        return False
    additional = schema.get("additionalProperties")
    if additional is True or isinstance(additional, Mapping):
        return False
    if schema.get("properties") or additional is False:
        return True
    return mode is Mode.CUSTOM and schema.get("type") == "object"
