from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sybilgraph.ingest.luhn import REDACTED_PAN, contains_pan, looks_like_pan, luhn_valid, pan_mask, redact_pans

# Public test card numbers (Visa, Mastercard, Amex, Discover, JCB, Visa 13-digit, Diners 14).
TEST_PANS = [
    "4111111111111111",
    "4012888888881881",
    "5555555555554444",
    "5105105105105100",
    "378282246310005",
    "371449635398431",
    "6011111111111117",
    "3530111333300000",
    "4222222222222",
    "30569309025904",
]


def check_digit(payload: str) -> str:
    """The digit that makes ``payload + digit`` Luhn-valid (computed independently)."""
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:  # these get doubled once the check digit is appended
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return str((10 - total % 10) % 10)


@pytest.mark.parametrize("pan", TEST_PANS)
def test_known_test_numbers_pass_luhn(pan: str) -> None:
    assert luhn_valid(pan)
    assert looks_like_pan(pan)


@pytest.mark.parametrize("number", ["4111111111111112", "1234567812345678", "79927398710"])
def test_invalid_numbers_fail_luhn(number: str) -> None:
    assert not luhn_valid(number)
    assert not looks_like_pan(number)


def test_luhn_classic_example_and_bad_input() -> None:
    assert luhn_valid("79927398713")
    assert not luhn_valid("")
    assert not luhn_valid("0")  # too short to mean anything
    assert not luhn_valid("4111-1111")  # digits only
    assert not luhn_valid("٤١١١١١١١١١١١١١١١")  # non-ASCII digits


@pytest.mark.parametrize(
    "value",
    ["4111 1111 1111 1111", "4111-1111-1111-1111", " 4111111111111111 ", "3782 822463 10005", "4111 - 1111 1111 1111"],
)
def test_looks_like_pan_allows_spaces_and_dashes(value: str) -> None:
    assert looks_like_pan(value)


@pytest.mark.parametrize(
    "value",
    [
        "79927398713",  # Luhn-valid but 11 digits
        "41111111111111111111",  # 20 digits
        "tok_4111111111111111",  # a token, not a raw number (whole-value check)
        "4111.1111.1111.1111",
        "-4111111111111111",
        "",
        "abcdefabcdefabcd",
    ],
)
def test_looks_like_pan_rejects_non_card_values(value: str) -> None:
    assert not looks_like_pan(value)


def test_redact_replaces_card_runs_inside_text() -> None:
    text = "paid with 4111 1111 1111 1111 on 2026-04-22T03:15:09Z from 10.1.2.3, ref 12345"
    out = redact_pans(text)
    assert out == f"paid with {REDACTED_PAN} on 2026-04-22T03:15:09Z from 10.1.2.3, ref 12345"


def test_redact_catches_a_card_glued_to_other_digits() -> None:
    # 17 digits: the run as a whole fails Luhn, but a 16-digit window is a card number.
    glued = "9" + "4111111111111111"
    assert not luhn_valid(glued)
    assert redact_pans(f"x{glued}y") == f"x{REDACTED_PAN}y"


def test_redact_leaves_short_numbers_and_non_luhn_runs() -> None:
    assert redact_pans("acct-000123, 1745291709") == "acct-000123, 1745291709"
    assert redact_pans("") == ""


@given(st.text(alphabet="0123456789", min_size=11, max_size=18))
def test_property_appended_check_digit_is_valid(payload: str) -> None:
    pan = payload + check_digit(payload)
    assert luhn_valid(pan)
    assert looks_like_pan(pan)
    assert pan not in redact_pans(f"card:{pan};")
    assert redact_pans(f"card:{pan};") == f"card:{REDACTED_PAN};"


@given(st.text(alphabet="0123456789", min_size=11, max_size=18), st.data())
def test_property_single_digit_error_is_detected(payload: str, data: st.DataObject) -> None:
    pan = payload + check_digit(payload)
    pos = data.draw(st.integers(0, len(pan) - 1))
    new_digit = data.draw(st.sampled_from([d for d in "0123456789" if d != pan[pos]]))
    assert not luhn_valid(pan[:pos] + new_digit + pan[pos + 1 :])


@given(st.text(alphabet="0123456789", min_size=11, max_size=18), st.sampled_from([" ", "-"]), st.integers(1, 6))
def test_property_separators_are_ignored(payload: str, sep: str, every: int) -> None:
    pan = payload + check_digit(payload)
    spaced = sep.join(pan[i : i + every] for i in range(0, len(pan), every))
    assert looks_like_pan(spaced)
    assert REDACTED_PAN in redact_pans(spaced)
    assert pan not in redact_pans(spaced).replace(sep, "")


@given(st.lists(st.one_of(st.none(), st.text(alphabet="0123456789 -ab", max_size=22)), max_size=30))
def test_property_pan_mask_matches_scalar_check(values: list[str | None]) -> None:
    stripped = [None if v is None else v.strip() for v in values]
    mask = pan_mask(pa.array(stripped, pa.string())).to_pylist()
    assert mask == [v is not None and contains_pan(v) for v in stripped]
    assert all(contains_pan(v) for v in stripped if v is not None and looks_like_pan(v))


def test_pan_mask_finds_known_numbers() -> None:
    arr = pa.array(["tok_1", "4111 1111 1111 1111", None, "4111111111111112", "5555555555554444"])
    assert pan_mask(arr).to_pylist() == [False, True, False, False, True]
    assert pan_mask(pa.array([], pa.string())).to_pylist() == []


# --------------------------------------------------------------------------- card numbers inside values

# Separators: 1-3 characters that are neither letters nor digits (what a person or a system puts
# between digit groups: spaces, dashes, dots, slashes, colons, tabs, non-breaking spaces, ...).
SEPARATORS = st.text(alphabet=" -./:_,;|*#\t\u00a0()+", min_size=1, max_size=3)


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch in "0123456789")


@st.composite
def hidden_pans(draw: st.DrawFn) -> tuple[str, str]:
    """(a Luhn-valid 13-19 digit number, a value holding it split by separators inside text)."""
    payload = draw(st.text(alphabet="0123456789", min_size=12, max_size=18))
    pan = payload + check_digit(payload)
    cuts = sorted(draw(st.sets(st.integers(1, len(pan) - 1), max_size=len(pan) - 1)))
    groups = [pan[a:b] for a, b in zip([0, *cuts], [*cuts, len(pan)], strict=True)]
    written = groups[0]
    for group in groups[1:]:
        written += draw(SEPARATORS) + group
    # Surrounding text may hold anything, digits too, as long as no digit is glued to the number.
    prefix = draw(st.text(max_size=20).filter(lambda t: not t or not t[-1].isdigit()))
    suffix = draw(st.text(max_size=20).filter(lambda t: not t or not t[0].isdigit()))
    return pan, prefix + written + suffix


@given(hidden_pans())
def test_property_a_card_number_inside_any_value_is_found(case: tuple[str, str]) -> None:
    pan, value = case
    assert contains_pan(value)
    assert pan_mask(pa.array([value, "tok_abc"])).to_pylist() == [True, False]
    assert pan not in _digits(redact_pans(value))


@given(hidden_pans())
def test_property_a_row_holding_one_is_quarantined_without_its_digits(case: tuple[str, str]) -> None:
    from sybilgraph.ingest.quarantine import record_json
    from sybilgraph.ingest.validate import validate_batch

    pan, value = case
    raw = {"account_id": ["a1", "a2"], "instrument_id": [value, "tok_1"], "bin": [None, None]}
    checked = validate_batch("payment_methods", pa.RecordBatch.from_pydict(raw))
    idx, columns, reasons = checked.bad_rows()
    assert idx.tolist() == [0] and columns == ["instrument_id"]
    assert pan not in reasons[0]
    assert pan not in _digits(record_json({"account_id": "a1", "instrument_id": value}))
    assert checked.good().column("instrument_id").to_pylist() == ["tok_1"]


@given(st.text(alphabet=st.characters(blacklist_categories=("Nd",)), max_size=60))
def test_property_text_without_digits_is_never_a_card(text: str) -> None:
    assert not contains_pan(text)
    assert redact_pans(text) == text


@pytest.mark.parametrize(
    "value",
    [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:150.0) Gecko/20100101 Firefox/150.0",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/147.0.0.0 Safari/537.36",
        "ticket 2026-04-22 10:00:00",
        "acct-000123, 1745291709",
        "4111111111111112",  # 16 digits failing Luhn: not a card, whatever its windows do
    ],
)
def test_ordinary_values_are_not_cards(value: str) -> None:
    assert not contains_pan(value)
