"""Errors about the input or the machine, which the CLI reports with exit code 2."""
from __future__ import annotations


class UsageError(Exception):
    """Bad input or a missing tool: one message that names the file and the fix."""

    exit_code = 2
