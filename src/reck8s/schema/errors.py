"""The result and error types of schema loading and validation."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SchemaViolation:
    """One way in which an object does not match its schema.

    ``path`` joins field names with "." and list indexes as "[i]". A map key that
    contains characters other than letters, digits, "_" and "-" is written in
    brackets, as in ``metadata.labels[app.kubernetes.io/name]``. The path is ""
    for the object as a whole.
    """

    path: str
    message: str


class SchemaLoadError(Exception):
    """Error raised when an OpenAPI document or a CRD file cannot be read or parsed."""
