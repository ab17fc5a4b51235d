"""Card-number (PAN) detection and redaction.

The bundle must never carry raw card numbers (data contract, ``payment_methods.instrument_id``).
A card number hides in many spellings: ``4111 1111 1111 1111``, ``4111.1111.1111.1111``,
``card 4111-1111-1111-1111 exp 12/27``, ``4111111111111111/12``. PCI DSS data-discovery
scanners treat any Luhn-valid run of 13-19 digits as a card number whatever separates the digits,
and so does this module:

* a *digit run* is a maximal stretch of ASCII digits in which consecutive digits are separated by
  at most :data:`MAX_SEPARATOR` characters that are neither letters nor digits (spaces, dashes,
  dots, slashes, colons, commas, ...); a letter ends a run. Its *groups* are the digit
  sequences between separators;
* :func:`contains_pan`: some stretch of consecutive whole groups of some run, 13-19 digits long,
  passes the Luhn check (so ``4111111111111111/12`` is caught by its first group alone), or the
  whole value is a 12-19 digit Luhn-valid number (the contract's own wording). Rows whose
  checked columns contain one are rejected, never stored (``validate.pan_checked_columns``);
* :func:`redact_pans` replaces every run holding such a stretch of 12-19 digits, or a single
  group with a Luhn-valid window of 13-19 digits (a number glued to other digits), with
  ``[REDACTED-PAN]``. Used on everything a person may read (quarantine records, error and log
  messages); it redacts a superset of what :func:`contains_pan` finds, so a rejected row's
  record never echoes the number. Over-redaction of an innocent long number is acceptable;
  leaking a card number is not;
* :func:`looks_like_pan`: is the *whole value* a card number (spaces or dashes allowed). Kept for
  callers that ask exactly that (evaluation baselines).

:func:`pan_mask` is the vectorised form of :func:`contains_pan` for an Arrow string array: an
RE2 pre-filter in Arrow (a run of at least 12 digits), then the Luhn windows on the unique
candidates only.

Reference: PCI DSS v4.0 requirement 3.5 (PAN unreadable wherever stored); ISO/IEC 7812-1
(12-19 digit PANs, Luhn check digit).
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "PAN_MIN_DIGITS",
    "PAN_RUN_MIN_DIGITS",
    "PAN_MAX_DIGITS",
    "MAX_SEPARATOR",
    "REDACTED_PAN",
    "luhn_valid",
    "looks_like_pan",
    "contains_pan",
    "redact_pans",
    "pan_mask",
]

PAN_MIN_DIGITS = 12  # the shortest PAN (ISO/IEC 7812); a whole value this long is checked
PAN_RUN_MIN_DIGITS = 13  # the shortest window looked for inside a longer value
PAN_MAX_DIGITS = 19
MAX_SEPARATOR = 3  # characters between two digits of one run
REDACTED_PAN = "[REDACTED-PAN]"

# A digit run: digits separated by at most MAX_SEPARATOR characters that are not letters or digits.
_RUN_RE = re.compile(r"[0-9](?:[^0-9A-Za-z]{0,%d}[0-9])*" % MAX_SEPARATOR)
_GROUP_RE = re.compile(r"[0-9]+")
_SEP_RE = re.compile(r"[ \-]")
_WHOLE_RE = re.compile(r"\d(?:[ \-]{0,%d}\d)*" % MAX_SEPARATOR)
# Runs longer than this are taken as card-like outright instead of checking every window
# (bounds the work a hostile value can cause).
_MAX_CHECKED_RUN = 256

# Arrow (RE2) pre-filter for pan_mask: a run of at least PAN_MIN_DIGITS digits.
_ARROW_CANDIDATE_RE = r"[0-9](?:[^0-9A-Za-z]{0,%d}[0-9]){%d}" % (MAX_SEPARATOR, PAN_MIN_DIGITS - 1)


def luhn_valid(digits: str) -> bool:
    """True when ``digits`` (ASCII digits only, at least 2 of them) passes the Luhn check."""
    if len(digits) < 2 or not digits.isascii() or not digits.isdigit():
        return False
    total = 0
    # Double every second digit counting from the right (the check digit is not doubled).
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def looks_like_pan(value: str) -> bool:
    """True when the whole ``value`` is a raw card number.

    12-19 digits once spaces and dashes (at most MAX_SEPARATOR between two digits) are removed,
    passing the Luhn check.  Surrounding whitespace is ignored.
    """
    text = value.strip()
    if not _WHOLE_RE.fullmatch(text):
        return False
    digits = _SEP_RE.sub("", text)
    return PAN_MIN_DIGITS <= len(digits) <= PAN_MAX_DIGITS and luhn_valid(digits)


def _has_luhn_window(digits: str, shortest: int) -> bool:
    """Some window of ``shortest``-19 consecutive digits passes the Luhn check."""
    n = len(digits)
    if n < shortest:
        return False
    if n > _MAX_CHECKED_RUN:
        return True
    for length in range(shortest, min(PAN_MAX_DIGITS, n) + 1):
        for start in range(0, n - length + 1):
            if luhn_valid(digits[start : start + length]):
                return True
    return False


def _has_luhn_span(groups: list[str], shortest: int) -> bool:
    """Some stretch of consecutive whole digit groups, ``shortest``-19 digits long, passes Luhn.

    A card number written with separators is a stretch of whole groups (``4111 1111 ...``,
    ``4111111111111111/12``): the number itself never starts or ends inside a group.
    """
    for i in range(len(groups)):
        digits = ""
        for group in groups[i:]:
            digits += group
            if len(digits) > PAN_MAX_DIGITS:
                break
            if len(digits) >= shortest and luhn_valid(digits):
                return True
    return False


def contains_pan(value: str) -> bool:
    """True when ``value`` holds a card number anywhere (see the module note for the rule)."""
    if looks_like_pan(value):
        return True
    return any(_has_luhn_span(_GROUP_RE.findall(m.group(0)), PAN_RUN_MIN_DIGITS) for m in _RUN_RE.finditer(value))


def _run_is_card_like(run: str) -> bool:
    # A superset of what contains_pan rejects (spans from 12 digits), plus a card number glued
    # to other digits inside one group: redaction errs on the side of hiding.
    groups = _GROUP_RE.findall(run)
    if _has_luhn_span(groups, PAN_MIN_DIGITS):
        return True
    return any(len(g) > PAN_RUN_MIN_DIGITS and _has_luhn_window(g, PAN_RUN_MIN_DIGITS) for g in groups)


def _redact_match(m: re.Match[str]) -> str:
    run = m.group(0)
    return REDACTED_PAN if _run_is_card_like(run) else run


def redact_pans(text: str) -> str:
    """Replace every card-like digit run in ``text`` with ``[REDACTED-PAN]``."""
    if not text:
        return text
    return _RUN_RE.sub(_redact_match, text)


def pan_mask(values: pa.Array) -> pa.BooleanArray:
    """Vectorised :func:`contains_pan` over a string array.

    Returns a boolean array without nulls (null input -> False).  Arrow filters candidates with
    a regex; the Luhn windows run in Python on the unique candidates only.
    """
    n = len(values)
    if n == 0:
        return pa.array([], pa.bool_())
    no_hits = pa.array(np.zeros(n, dtype=bool))
    # Shorter than PAN_MIN_DIGITS bytes cannot hold a card number: nearly free, and it spares
    # the regex for short columns (model names, categories, country codes).
    long_enough = pc.fill_null(pc.greater_equal(pc.binary_length(values), PAN_MIN_DIGITS), False)
    if not pc.any(long_enough).as_py():
        return no_hits
    long_values = values.filter(long_enough)
    cand = pc.fill_null(pc.match_substring_regex(long_values, _ARROW_CANDIDATE_RE), False)
    if not pc.any(cand).as_py():
        return no_hits
    uniq = pc.unique(long_values.filter(cand))
    hits = [v for v in uniq.to_pylist() if contains_pan(v)]
    if not hits:
        return no_hits
    return pc.fill_null(pc.is_in(values, value_set=pa.array(hits, pa.string())), False)
