"""Card-number (PAN) detection and redaction.

The bundle must never carry raw card numbers (data contract, ``payment_methods.instrument_id``).
Two different questions are answered here:

* :func:`looks_like_pan` - is this *whole value* a raw card number?  12-19 digits, spaces or
  dashes allowed between them, passing the Luhn check.  Used to reject ``instrument_id`` values.
* :func:`redact_pans` - replace every card-like digit run *inside* a text with
  ``[REDACTED-PAN]``.  Used on everything a person may read (quarantine records, error and log
  messages).  It errs on the side of redacting: a run of digits (spaces/dashes allowed) is
  redacted when any 12-19 digit window of it passes the Luhn check, so a card number glued to
  other digits is caught too.  Over-redaction of an innocent long number in a quarantine record
  is acceptable; leaking a card number is not.

:func:`pan_mask` is the vectorised form of :func:`looks_like_pan` for an Arrow string array: a
cheap regex pre-filter in Arrow, then the Luhn check on the unique candidates only.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "PAN_MIN_DIGITS",
    "PAN_MAX_DIGITS",
    "REDACTED_PAN",
    "luhn_valid",
    "looks_like_pan",
    "redact_pans",
    "pan_mask",
]

PAN_MIN_DIGITS = 12
PAN_MAX_DIGITS = 19
REDACTED_PAN = "[REDACTED-PAN]"

# A digit run, separators (spaces, dashes) allowed between digits.
_RUN_RE = re.compile(r"\d(?:[ \-]*\d)+")
_SEP_RE = re.compile(r"[ \-]")
_WHOLE_RE = re.compile(r"\d(?:[ \-]*\d)*")
# Longer runs than this are redacted outright instead of checking every window.
_MAX_CHECKED_RUN = 64

# Arrow (RE2) pre-filter for pan_mask: only digits, spaces and dashes, starting and ending with a
# digit, at least PAN_MIN_DIGITS characters long.
_ARROW_CANDIDATE_RE = r"^[0-9][0-9 \-]{%d,}[0-9]$" % (PAN_MIN_DIGITS - 2)


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

    12-19 digits once spaces and dashes are removed, passing the Luhn check.  Surrounding
    whitespace is ignored.
    """
    text = value.strip()
    if not _WHOLE_RE.fullmatch(text):
        return False
    digits = _SEP_RE.sub("", text)
    return PAN_MIN_DIGITS <= len(digits) <= PAN_MAX_DIGITS and luhn_valid(digits)


def _run_is_card_like(digits: str) -> bool:
    n = len(digits)
    if n < PAN_MIN_DIGITS:
        return False
    if n > _MAX_CHECKED_RUN:
        return True
    for length in range(PAN_MIN_DIGITS, min(PAN_MAX_DIGITS, n) + 1):
        for start in range(0, n - length + 1):
            if luhn_valid(digits[start : start + length]):
                return True
    return False


def _redact_match(m: re.Match[str]) -> str:
    run = m.group(0)
    digits = _SEP_RE.sub("", run)
    return REDACTED_PAN if _run_is_card_like(digits) else run


def redact_pans(text: str) -> str:
    """Replace every card-like digit run in ``text`` with ``[REDACTED-PAN]``."""
    if not text:
        return text
    return _RUN_RE.sub(_redact_match, text)


def pan_mask(values: pa.Array) -> pa.BooleanArray:
    """Vectorised :func:`looks_like_pan` over a string array (already stripped).

    Returns a boolean array without nulls (null input -> False).  Arrow filters candidates with
    a regex; the Luhn check runs in Python on the unique candidates only.
    """
    n = len(values)
    if n == 0:
        return pa.array([], pa.bool_())
    no_hits = pa.array(np.zeros(n, dtype=bool))
    # Shorter than PAN_MIN_DIGITS bytes cannot be a card number: nearly free, and it spares
    # the regex for short columns (model names, categories, country codes).
    long_enough = pc.fill_null(pc.greater_equal(pc.binary_length(values), PAN_MIN_DIGITS), False)
    if not pc.any(long_enough).as_py():
        return no_hits
    long_values = values.filter(long_enough)
    cand = pc.fill_null(pc.match_substring_regex(long_values, _ARROW_CANDIDATE_RE), False)
    if not pc.any(cand).as_py():
        return no_hits
    uniq = pc.unique(long_values.filter(cand))
    hits = [v for v in uniq.to_pylist() if looks_like_pan(v)]
    if not hits:
        return no_hits
    return pc.fill_null(pc.is_in(values, value_set=pa.array(hits, pa.string())), False)
