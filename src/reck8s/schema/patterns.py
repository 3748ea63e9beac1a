"""String checks: the Quantity grammar, the formats that kube-openapi validates and CRD patterns written for Go's RE2."""

from __future__ import annotations

import base64
import binascii
import datetime
import functools
import re

# The grammar in the description of the Quantity schema, and the pattern that
# controller-gen writes into CRDs for Quantity fields.
QUANTITY_PATTERN = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?(\d+(\.\d*)?|\.\d+))?")

# strfmt.IsDateTime in k8s.io/kube-openapi checks a full date, "t", then this clock part.
DATE_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")
DATE_TIME_CLOCK = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))")
# govalidator.IsBase64, used by kube-openapi for format "byte".
BASE64_PATTERN = re.compile(
    r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})"
)


def string_format_problem(text: str, format_name: str) -> str | None:
    """Check the string formats that kube-openapi validates and return a problem, or None.

    NOTE: kube-openapi also validates formats such as "uuid", "ipv4" and "hostname",
    which are not checked here.
    """
    if format_name == "date-time" and not _is_date_time(text):
        return 'must be an RFC 3339 date and time, such as "2024-05-01T12:00:00Z"'
    if format_name == "date" and not _is_date(text):
        return 'must be a date in the form "2024-05-01"'
    if format_name == "byte" and not _is_base64(text):
        return "must be base64-encoded"
    return None


def _is_date(text: str) -> bool:
    if not DATE_PATTERN.fullmatch(text):
        return False
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _is_date_time(text: str) -> bool:
    parts = text.lower().split("t")
    if len(text) < 4 or len(parts) < 2 or not _is_date(parts[0]):
        return False
    clock = DATE_TIME_CLOCK.fullmatch(parts[1])
    if clock is None:
        return False
    return clock[1] <= "23" and clock[2] <= "59" and clock[3] <= "59"


def _is_base64(text: str) -> bool:
    # Go's encoding/base64, which decodes built-in []byte fields such as Secret
    # data, ignores line breaks and accepts an empty string.
    # NOTE: kube-openapi's "byte" check for custom resources rejects both, and
    # this function accepts them there too.
    text = text.replace("\r", "").replace("\n", "")
    if not text:
        return True
    if not BASE64_PATTERN.fullmatch(text):
        return False
    try:
        base64.b64decode(text, validate=True)
    except binascii.Error:
        return False
    return True


# ---------------------------------------------------------------------------
# Regular expressions written for Go's RE2


_FLAG_GROUP = re.compile(r"\(\?([imsU]+(?:-[imsU]*)?|-[imsU]+)\)")
_MULTILINE_FLAG = re.compile(r"\(\?[imsU]*m")
_POSIX_CLASSES = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": r"\x00-\x7F",
    "blank": r"\t ",
    "cntrl": r"\x00-\x1F\x7F",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": r"!-/:-@\[-`{-~",
    "space": r"\t\n\v\f\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}


@functools.lru_cache(maxsize=None)
def compile_pattern(pattern: str) -> re.Pattern[str] | None:
    """Compile a CRD pattern, or return None if Python's re cannot express it.

    NOTE: RE2 features that Python lacks, such as Unicode classes like \\p{L},
    turn the pattern check off for that field.
    """
    try:
        return re.compile(_translate_go_regexp(pattern))
    except re.error:
        return None


def _translate_go_regexp(pattern: str) -> str:
    """Rewrite the RE2 syntax that Python's re reads differently or rejects.

    RE2's "$" and "\\z" match only at the end of the text, which is Python's
    "\\Z". Python's "$" also matches before a final newline. RE2 allows a flag
    group such as "(?i)" anywhere and applies it to the rest of the enclosing
    group. Python allows it only at the start, so it becomes a scoped "(?i:...)".
    POSIX classes such as [[:alpha:]] become explicit ranges.
    """
    multiline = bool(_MULTILINE_FLAG.search(pattern))
    output: list[str] = []
    # Per open group, the number of scoped flag groups to close with it.
    pending_closers = [0]
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            escape = pattern[index:index + 2]
            output.append(r"\Z" if escape == r"\z" else escape)
            index += 2
        elif char == "[":
            class_text, index = _translate_character_class(pattern, index)
            output.append(class_text)
        elif char == "(":
            flags = _FLAG_GROUP.match(pattern, index)
            if flags is not None:
                output.append(f"(?{flags[1]}:")
                pending_closers[-1] += 1
                index = flags.end()
            elif pattern.startswith("(?<", index) and not pattern.startswith(("(?<=", "(?<!"), index):
                output.append("(?P<")
                pending_closers.append(0)
                index += 3
            else:
                output.append("(")
                pending_closers.append(0)
                index += 1
        elif char == ")":
            if len(pending_closers) > 1:
                output.append(")" * pending_closers.pop())
            output.append(")")
            index += 1
        elif char == "$" and not multiline:
            output.append(r"\Z")
            index += 1
        else:
            output.append(char)
            index += 1
    output.append(")" * pending_closers[0])
    return "".join(output)


def _translate_character_class(pattern: str, start: int) -> tuple[str, int]:
    """Copy the bracket expression at ``start`` and return it with the index after it."""
    output = ["["]
    index = start + 1
    if pattern.startswith("^", index):
        output.append("^")
        index += 1
    if pattern.startswith("]", index):
        output.append(r"\]")
        index += 1
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            output.append(pattern[index:index + 2])
            index += 2
        elif char == "[":
            posix = re.match(r"\[:(\w+):\]", pattern[index:])
            if posix is not None and posix[1] in _POSIX_CLASSES:
                output.append(_POSIX_CLASSES[posix[1]])
                index += posix.end()
            else:
                output.append(r"\[")
                index += 1
        elif char == "]":
            output.append("]")
            return "".join(output), index + 1
        else:
            output.append(char)
            index += 1
    return "".join(output), index
