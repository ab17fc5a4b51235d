from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sybilgraph.contract import TABLES
from sybilgraph.ingest.validate import (
    NORMALIZED_SCHEMAS,
    PAN_REASON,
    AccountSet,
    TIMESTAMP_TYPE,
    CheckedBatch,
    _parse_ts_python,
    pan_checked_columns,
    parse_timestamp_text,
    subnet_column,
    unsupported_type_reason,
    validate_batch,
)

UTC = dt.timezone.utc


def run(table: str, columns: dict[str, list[Any]], **kw: Any) -> CheckedBatch:
    return validate_batch(table, pa.RecordBatch.from_pydict(columns), **kw)


def verdicts(checked: CheckedBatch) -> dict[int, tuple[str | None, str]]:
    idx, cols, reasons = checked.bad_rows()
    return {int(i): (c, r) for i, c, r in zip(idx, cols, reasons, strict=True)}


def ms(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def test_normalized_schemas_follow_the_contract() -> None:
    for name, table in TABLES.items():
        schema = NORMALIZED_SCHEMAS[name]
        expected: list[str] = []
        for col in table.columns:
            expected.append(col.name)
            if col.type.value == "ip":
                expected.append(subnet_column(col.name))
        assert schema.names == expected
    acc = NORMALIZED_SCHEMAS["accounts"]
    assert acc.field("created_at").type == pa.timestamp("ms", tz="UTC")
    assert acc.names[4:6] == ["signup_ip", "signup_subnet"]
    inter = NORMALIZED_SCHEMAS["interactions"]
    assert inter.names[3:5] == ["ip", "subnet"]
    assert inter.field("input_tokens").type == pa.int64()
    assert NORMALIZED_SCHEMAS["truth"].field("is_distillation").type == pa.bool_()


def test_subnet_column_names() -> None:
    assert subnet_column("ip") == "subnet"
    assert subnet_column("signup_ip") == "signup_subnet"


def test_pan_checked_columns() -> None:
    assert pan_checked_columns(TABLES["payment_methods"]) == ("instrument_id", "bin", "last4")
    assert "account_id" not in pan_checked_columns(TABLES["accounts"])
    assert "user_agent" in pan_checked_columns(TABLES["sessions"])
    assert "tls_fingerprint" not in pan_checked_columns(TABLES["sessions"])
    assert "prompt_fingerprint" not in pan_checked_columns(TABLES["interactions"])
    assert pan_checked_columns(TABLES["labels"]) == ("operator_label", "organisation", "source")
    assert pan_checked_columns(TABLES["organisations"]) == ("name", "domains", "kind")
    assert pan_checked_columns(TABLES["ip_owners"]) == ("owner", "kind")


def test_organisations_and_ip_owners() -> None:
    orgs = run(
        "organisations",
        {
            "org_id": ["org-1", "org-2", "org-3", ""],
            "name": ["Acme AI", "Uni", "X", "Y"],
            "country": ["us", "GB", None, "DE"],
            "domains": ["acme.ai;acme.com", None, None, None],
            "kind": ["AI_Lab", "university", "bakery", "other"],
        },
    )
    assert verdicts(orgs) == {
        2: ("kind", "kind: not one of ai_lab, enterprise, university, reseller, cloud_provider, other"),
        3: ("org_id", "org_id: missing required value"),
    }
    assert orgs.good().column("kind").to_pylist() == ["ai_lab", "university"]
    assert orgs.good().column("country").to_pylist() == ["US", "GB"]
    owners = run(
        "ip_owners",
        {
            "cidr": ["203.0.113.7/24", "2001:DB8::/32", "10.0.0.0/33", "1.2.3.4", "::ffff:10.0.0.0/104", "x"],
            "owner": ["org-1", "Big Cloud", "o", "o", "o", "o"],
            "asn": ["64500", None, "1", "-5", "3", "4"],
            "kind": ["datacenter", "VPN", "vpn", "vpn", "mobile", "mobile"],
        },
    )
    assert verdicts(owners) == {
        2: ("cidr", "cidr: not an IPv4 or IPv6 network (CIDR like 203.0.113.0/24)"),
        3: ("asn", "asn: negative value (must be an integer >= 0)"),
        5: ("cidr", "cidr: not an IPv4 or IPv6 network (CIDR like 203.0.113.0/24)"),
    }
    good = owners.good().to_pydict()
    assert good["cidr"] == ["203.0.113.0/24", "2001:db8::/32", "10.0.0.0/8"]
    assert good["asn"] == [64500, None, 3]
    assert good["kind"] == ["datacenter", "vpn", "mobile"]


# --------------------------------------------------------------------------- identifiers, strings


def test_identifiers_strings_and_empty_values() -> None:
    checked = run(
        "labels",
        {
            "account_id": [" a-1 ", "", "a\tb", "x" * 129, "x" * 128, "ünïcødé", None],
            "operator_label": ["OP-KESTREL", "OP", "OP", "OP", "OP", "  OP-RAVEN  ", "OP"],
            "source": ["", "   ", None, "s", "s", "analyst notes", "s"],
        },
    )
    assert verdicts(checked) == {
        1: ("account_id", "account_id: missing required value"),
        2: ("account_id", "account_id: identifier contains non-printable characters"),
        3: ("account_id", "account_id: identifier longer than 128 characters"),
        6: ("account_id", "account_id: missing required value"),
    }
    good = checked.good().to_pydict()
    assert good == {
        "account_id": ["a-1", "x" * 128, "ünïcødé"],
        "operator_label": ["OP-KESTREL", "OP", "OP-RAVEN"],
        "organisation": [None, None, None],
        "source": [None, "s", "analyst notes"],
    }


def test_identifier_checks_on_ascii_only_batches() -> None:
    ids = ["ok", "a\x01b", "x\x7f", "y" * 129, "with space"]
    checked = run("labels", {"account_id": ids, "operator_label": ["OP"] * 5})
    assert verdicts(checked) == {
        1: ("account_id", "account_id: identifier contains non-printable characters"),
        2: ("account_id", "account_id: identifier contains non-printable characters"),
        3: ("account_id", "account_id: identifier longer than 128 characters"),
    }
    # 128 characters but more than 128 bytes is still fine
    wide = run("labels", {"account_id": ["é" * 128, "é" * 129], "operator_label": ["OP", "OP"]})
    assert verdicts(wide) == {1: ("account_id", "account_id: identifier longer than 128 characters")}


def test_accounts_country_status_email_domain(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="sybilgraph.ingest")
    checked = run(
        "accounts",
        {
            "account_id": ["a", "b", "c", "d", "e", "f"],
            "created_at": ["2026-04-01T00:00:00Z"] * 6,
            "email_domain": ["Example.COM", "bob.smith@corp.example", None, "x.io", "y.io", "z.io"],
            "country": ["us", "DE", "USA", "1A", None, " fr "],
            "status": ["Active", "closed", "active", "active", "banned", ""],
        },
    )
    assert verdicts(checked) == {
        2: ("country", "country: not an ISO-3166-1 alpha-2 country code (2 letters)"),
        3: ("country", "country: not an ISO-3166-1 alpha-2 country code (2 letters)"),
        4: ("status", "status: not one of active, suspended, closed"),
    }
    good = checked.good().to_pydict()
    assert good["email_domain"] == ["example.com", "corp.example", "z.io"]
    assert good["country"] == ["US", "DE", "FR"]
    assert good["status"] == ["active", "closed", None]
    # The warning counts, it never quotes the address.
    assert any("email_domain: 1 value(s) held a full address" in r.getMessage() for r in caplog.records)
    assert not any("bob.smith" in r.getMessage() for r in caplog.records)


def test_missing_optional_columns_are_null() -> None:
    checked = run("accounts", {"account_id": ["a"], "created_at": ["2026-04-01T00:00:00Z"]})
    assert checked.good().schema.equals(NORMALIZED_SCHEMAS["accounts"])
    assert checked.good().to_pylist()[0] == {
        "account_id": "a",
        "created_at": ms(2026, 4, 1),
        "email_domain": None,
        "country": None,
        "signup_ip": None,
        "signup_subnet": None,
        "status": None,
    }


def test_first_failing_check_in_column_order_wins() -> None:
    checked = run(
        "accounts",
        {
            "account_id": ["a", "b"],
            "created_at": ["not a time", "2026-04-01T00:00:00Z"],
            "country": ["USA", "USA"],
            "status": ["banned", "banned"],
        },
    )
    assert verdicts(checked) == {
        0: ("created_at", "created_at: not an ISO-8601 timestamp"),
        1: ("country", "country: not an ISO-3166-1 alpha-2 country code (2 letters)"),
    }


# --------------------------------------------------------------------------- card numbers


def test_card_numbers_are_rejected_with_their_column() -> None:
    checked = run(
        "payment_methods",
        {
            "account_id": ["a", "b", "c", "d", "e", "f", "g", "h"],
            "instrument_id": ["tok_9f8e7d", "4111 1111 1111 1111", "4111111111111112", "tok", "tok",
                              "card 4111 1111 1111 1111", "4111111111111111/12", "4111.1111.1111.1111"],
            "bin": ["411111", "411111", "411111", "4111111111111111", None, None, None, None],
            "last4": ["1111", None, "1111", None, "5555-5555-5555-4444", None, None, None],
        },
    )
    assert verdicts(checked) == {
        1: ("instrument_id", PAN_REASON.format(column="instrument_id")),
        3: ("bin", PAN_REASON.format(column="bin")),
        4: ("last4", PAN_REASON.format(column="last4")),
        5: ("instrument_id", PAN_REASON.format(column="instrument_id")),
        6: ("instrument_id", PAN_REASON.format(column="instrument_id")),
        7: ("instrument_id", PAN_REASON.format(column="instrument_id")),
    }
    assert "4111" not in PAN_REASON
    assert checked.good().column("instrument_id").to_pylist() == ["tok_9f8e7d", "4111111111111112"]


def test_card_numbers_hidden_in_free_text_columns() -> None:
    checked = run(
        "labels",
        {
            "account_id": ["a", "b", "c", "d"],
            "operator_label": ["OP-1", "OP-2", "OP-3 card 5555-5555-5555-4444", "OP-4"],
            "organisation": [None, "org 4111 1111 1111 1111", None, None],
            "source": ["ticket 2026-04-22 10:00:00", None, None, "paid with 4111111111111111 exp 12/27"],
        },
    )
    assert verdicts(checked) == {
        1: ("organisation", PAN_REASON.format(column="organisation")),
        2: ("operator_label", PAN_REASON.format(column="operator_label")),
        3: ("source", PAN_REASON.format(column="source")),
    }


def test_numeric_account_ids_are_not_mistaken_for_cards() -> None:
    checked = run("labels", {"account_id": ["4111111111111111"], "operator_label": ["OP"]})
    assert verdicts(checked) == {}


# --------------------------------------------------------------------------- ips


def test_ip_columns_and_subnets() -> None:
    checked = run(
        "sessions",
        {
            "account_id": ["a", "a", "a", "a", "a"],
            "ts": ["2026-04-01T00:00:00Z"] * 5,
            "ip": ["10.1.2.3", "2001:DB8:0:1::1", "10.1.2.256", "", "::ffff:10.0.0.1"],
        },
    )
    assert verdicts(checked) == {
        2: ("ip", "ip: not an IPv4 or IPv6 address"),
        3: ("ip", "ip: missing required value"),
    }
    good = checked.good()
    assert good.column("ip").to_pylist() == ["10.1.2.3", "2001:db8:0:1::1", "10.0.0.1"]
    assert good.column("subnet").to_pylist() == ["10.1.2.0/24", "2001:db8::/48", "10.0.0.0/24"]


# --------------------------------------------------------------------------- timestamps


def test_text_timestamps() -> None:
    values = [
        "2026-04-22T03:15:09Z",
        "2026-04-22T03:15:09+02:00",
        "2026-04-22 03:15:09.5-01:30",
        "2026-04-22T03:15:09.123456789Z",
        "2026-04-22T03:15:09",
        "2026-04-22",
        "yesterday",
        "2026-02-30T00:00:00Z",
        "2026-04-22T03:15:09.1234567890Z",
        None,
    ]
    checked = run("sessions", {"account_id": ["a"] * len(values), "ts": values, "ip": ["1.2.3.4"] * len(values)})
    zone = "ts: timestamp has no zone (ISO-8601 with Z or ±HH:MM required)"
    bad = "ts: not an ISO-8601 timestamp"
    assert verdicts(checked) == {
        4: ("ts", zone),
        5: ("ts", zone),
        6: ("ts", bad),
        7: ("ts", bad),
        8: ("ts", bad),
        9: ("ts", "ts: missing required value"),
    }
    assert checked.good().column("ts").to_pylist() == [
        ms(2026, 4, 22, 3, 15, 9),
        ms(2026, 4, 22, 1, 15, 9),
        ms(2026, 4, 22, 4, 45, 9, 500000),
        ms(2026, 4, 22, 3, 15, 9, 123000),  # sub-millisecond digits dropped
    ]


def test_typed_timestamps_from_parquet() -> None:
    naive = pa.array([dt.datetime(2026, 4, 22, 3, 15, 9, 123456)], pa.timestamp("us"))
    tokyo = pa.array([ms(2026, 4, 22, 3, 15, 9)], pa.timestamp("s", tz="Asia/Tokyo"))
    epoch = pa.array([1_776_827_709_000], pa.int64())
    small = pa.array([5], pa.int32())
    for arr, expected in [
        (naive, ms(2026, 4, 22, 3, 15, 9, 123000)),
        (tokyo, ms(2026, 4, 22, 3, 15, 9)),
        (epoch, ms(2026, 4, 22, 3, 15, 9)),
        (small, dt.datetime(1970, 1, 1, 0, 0, 0, 5000, tzinfo=UTC)),
    ]:
        checked = validate_batch(
            "sessions",
            pa.RecordBatch.from_arrays([pa.array(["a"]), arr, pa.array(["1.2.3.4"])], names=["account_id", "ts", "ip"]),
        )
        assert checked.good().column("ts").type == TIMESTAMP_TYPE
        assert checked.good().column("ts").to_pylist() == [expected]


_two = st.integers(0, 99).map(lambda v: f"{v:02d}")


@st.composite
def timestampish(draw: st.DrawFn) -> str:
    """Strings at the edges of the ISO-8601 grammar Arrow accepts."""
    year = f"{draw(st.integers(0, 9999)):04d}"
    month = f"{draw(st.integers(0, 13)):02d}"
    day = f"{draw(st.integers(0, 32)):02d}"
    sep = draw(st.sampled_from(["T", " ", "t"]))
    hour = f"{draw(st.integers(0, 25)):02d}"
    minute = f"{draw(st.integers(0, 61)):02d}"
    second = f"{draw(st.integers(0, 61)):02d}"
    frac = draw(st.one_of(st.just(""), st.text(alphabet="0123456789", min_size=1, max_size=10).map(lambda f: "." + f)))
    time_part = draw(
        st.sampled_from(["h", "hm", "hms", "hmsf", "hmsf"]).map(
            lambda form: hour
            + (":" + minute if "m" in form else "")
            + (":" + second if "s" in form else "")
            + (frac if "f" in form else "")
        )
    )
    zh = f"{draw(st.integers(0, 25)):02d}"
    zm = f"{draw(st.integers(0, 61)):02d}"
    zone = draw(st.sampled_from(["Z", "", "+h", "-hm", "+h:m", "-h:m", "z"])).replace("h", zh).replace("m", zm)
    return f"{year}-{month}-{day}{sep}{time_part}{zone}"


def _arrow_reference(text: str) -> int | None:
    """Arrow's own parser on the text with sub-millisecond digits cut: epoch ms or None."""
    cut = re.sub(r"(\.\d{3})\d{1,6}(?=[Zz+-]|$)", r"\1", text)
    if re.search(r"\.\d{10,}", text):
        return None
    try:
        return pc.cast(pa.array([cut]), TIMESTAMP_TYPE).cast(pa.int64())[0].as_py()
    except pa.ArrowInvalid:
        return None


@given(timestampish())
def test_property_python_fallback_agrees_with_arrow(text: str) -> None:
    assert _parse_ts_python(text) == _arrow_reference(text)


@given(st.lists(st.one_of(timestampish(), st.none()), max_size=12))
def test_property_timestamp_parsing_does_not_depend_on_the_batch(texts: list[str | None]) -> None:
    # A value Arrow rejects sends the whole batch down the slow paths; results must not change.
    def millis(values: list[str | None]) -> list[int | None]:
        return parse_timestamp_text(pa.array(values, pa.string())).cast(pa.int64()).to_pylist()

    together = millis([*texts, "2026-02-30T00:00:00Z"])
    assert together[-1] is None
    assert together[:-1] == [millis([t])[0] for t in texts]
    assert together[:-1] == [None if t is None else _arrow_reference(t) for t in texts]


# --------------------------------------------------------------------------- ints, bools


def test_token_counts_from_text() -> None:
    checked = run(
        "interactions",
        {
            "account_id": ["a"] * 8,
            "ts": ["2026-04-01T00:00:00Z"] * 8,
            "ip": ["1.2.3.4"] * 8,
            "input_tokens": ["12", " 7 ", "12.0", "", "-5", "1.5", "abc", "99999999999999999999"],
            "output_tokens": ["0"] * 8,
        },
    )
    assert verdicts(checked) == {
        4: ("input_tokens", "input_tokens: negative value (must be an integer >= 0)"),
        5: ("input_tokens", "input_tokens: not an integer"),
        6: ("input_tokens", "input_tokens: not an integer"),
        7: ("input_tokens", "input_tokens: not an integer"),
    }
    assert checked.good().column("input_tokens").to_pylist() == [12, 7, 12, None]


def test_token_counts_from_numbers() -> None:
    base = {"account_id": ["a"] * 4, "ts": ["2026-04-01T00:00:00Z"] * 4, "ip": ["1.2.3.4"] * 4}
    ints = run("interactions", {**base, "input_tokens": pa.array([1, -1, None, 3], pa.int32())})
    assert verdicts(ints) == {1: ("input_tokens", "input_tokens: negative value (must be an integer >= 0)")}
    floats = run("interactions", {**base, "input_tokens": [2.0, -1.0, 2.5, float("nan")]})
    assert verdicts(floats) == {
        1: ("input_tokens", "input_tokens: negative value (must be an integer >= 0)"),
        2: ("input_tokens", "input_tokens: not an integer"),
        3: ("input_tokens", "input_tokens: not an integer"),
    }
    assert floats.good().column("input_tokens").to_pylist() == [2]
    big = run("interactions", {**base, "input_tokens": pa.array([2**64 - 1, 5, 0, 1], pa.uint64())})
    assert verdicts(big) == {0: ("input_tokens", "input_tokens: integer out of range")}


def test_bools() -> None:
    values = ["true", "FALSE", " Yes ", "no", "1", "0", "maybe", "", "t"]
    checked = run("truth", {"account_id": ["a"] * len(values), "is_distillation": values})
    reason = "is_distillation: not a boolean (true/false/1/0/yes/no)"
    assert verdicts(checked) == {
        6: ("is_distillation", reason),
        7: ("is_distillation", "is_distillation: missing required value"),
        8: ("is_distillation", reason),
    }
    assert checked.good().column("is_distillation").to_pylist() == [True, False, True, False, True, False]
    ints = run("truth", {"account_id": ["a", "b", "c"], "is_distillation": pa.array([1, 0, 2], pa.int8())})
    assert verdicts(ints) == {2: ("is_distillation", reason)}
    native = run("truth", {"account_id": ["a", "b"], "is_distillation": [True, None]})
    assert verdicts(native) == {1: ("is_distillation", "is_distillation: missing required value")}


# --------------------------------------------------------------------------- referential


def test_unknown_accounts_only_when_known_accounts_given() -> None:
    cols = {"account_id": ["a", "zz", "b"], "operator_label": ["OP"] * 3}
    assert verdicts(run("labels", cols)) == {}
    checked = run("labels", cols, known_accounts=pa.array(["a", "b"]))
    assert verdicts(checked) == {1: ("account_id", "account_id not in accounts")}
    # accounts itself does not reference accounts
    acc = run("accounts", {"account_id": ["q"], "created_at": ["2026-04-01T00:00:00Z"]}, known_accounts=pa.array(["a"]))
    assert verdicts(acc) == {}


def test_account_set_matches_is_in() -> None:
    known = pa.chunked_array([["a", "b"], ["c", None]])
    accounts = AccountSet(known)
    assert len(accounts) == 3
    values = pa.array(["a", "x", None, "c", "a", "zz"])
    assert accounts.contains(values).to_pylist() == [True, False, None, True, True, False]
    cols = {"account_id": ["a", "x", "c"], "operator_label": ["OP"] * 3}
    assert verdicts(run("labels", cols, known_accounts=accounts)) == verdicts(
        run("labels", cols, known_accounts=pa.array(["a", "b", "c"]))
    ) == {1: ("account_id", "account_id not in accounts")}


def test_unsupported_types() -> None:
    t = TABLES["interactions"]
    assert unsupported_type_reason(t.column("ts"), pa.float64()) == (
        "column 'ts' has type double; expected a timestamp type, int64 epoch milliseconds or ISO-8601 text with a zone"
    )
    assert unsupported_type_reason(t.column("ts"), pa.timestamp("ns")) is None
    assert unsupported_type_reason(t.column("ts"), pa.dictionary(pa.int32(), pa.string())) is None
    assert unsupported_type_reason(t.column("input_tokens"), pa.bool_()) == (
        "column 'input_tokens' has type bool; expected an integer"
    )
    assert unsupported_type_reason(t.column("account_id"), pa.int64()) is None
    assert unsupported_type_reason(t.column("account_id"), pa.float32()) == (
        "column 'account_id' has type float; expected text"
    )
    assert unsupported_type_reason(TABLES["truth"].column("is_distillation"), pa.date32()) == (
        "column 'is_distillation' has type date32[day]; expected a boolean"
    )
