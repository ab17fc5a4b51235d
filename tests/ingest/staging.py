"""Stage bundles into a columnar store without Neo4j, for tests of the aggregation step alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from sybilgraph.ingest import pipeline
from sybilgraph.ingest.bundle import open_bundle
from sybilgraph.ingest.columnar import ColumnarStore
from sybilgraph.ingest.combine import combine
from sybilgraph.progress import NullReporter
from sybilgraph.settings import Settings
from tests.bundles import TINY, write_bundle

__all__ = ["UPDATE", "combined", "stage", "staged_store", "tiny_and_update"]

# A later bundle whose rows update earlier ones, several with NULLs where the earlier row had a
# value (the latest non-NULL value must win), plus a new account sharing a seed account's card,
# signup IP and email domain, and TINY's IP, device and template.
SEED_ACCOUNT = "acct_036d807bb2b20890"
SEED_CARD = "tok_bbd590eff4c6735d"
SEED_LABELLED = "acct_2e6e0222ce3f7fcc"
UPDATE: dict[str, list[dict[str, Any]]] = {
    "accounts": [
        {"account_id": SEED_ACCOUNT, "created_at": "2023-01-20T09:22:30.845Z", "email_domain": "", "country": "CA", "signup_ip": "", "status": "suspended"},
        {"account_id": "a6", "created_at": "2026-05-01T00:00:00Z", "email_domain": "gmx.de", "country": "", "signup_ip": "206.16.206.141", "status": "active"},
    ],
    "payment_methods": [
        {"account_id": "a6", "instrument_id": SEED_CARD, "bin": "", "last4": "9072", "issuer_country": "", "added_at": ""},
    ],
    "sessions": [
        {"account_id": "a6", "ts": "2026-05-02T23:59:59Z", "ip": "10.0.0.1", "device_id": "dev1", "user_agent": "UA", "tls_fingerprint": "tlsA"},
    ],
    "interactions": [
        {"account_id": "a6", "ts": "2026-05-03T00:30:00+01:00", "ip": "10.0.0.1", "device_id": "", "api_key_id": "k6", "model": "m1",
         "input_tokens": 1, "output_tokens": 2, "prompt_fingerprint": "00000000000000aa", "category": ""},
    ],
    "labels": [
        {"account_id": SEED_LABELLED, "operator_label": "OP-KESTREL", "source": ""},
        {"account_id": "a6", "operator_label": "OP-TEST", "source": "later"},
    ],
}


def stage(store: ColumnarStore, bundle: Path, settings: Settings) -> None:
    """Validate and commit one delivery into ``store`` with its partials: nothing written to Neo4j."""
    found = open_bundle(bundle)
    pipeline.stage_delivery(found, store, settings, NullReporter(), store.delivery(found.bundle_id), {})


def combined(store: ColumnarStore, settings: Settings) -> dict[str, pa.Table]:
    """The state tables of everything staged in ``store`` (ingest's aggregate phase)."""
    pipeline.refresh_partials(store, settings)
    con = store.connect()
    try:
        return combine(con, pipeline.combine_input(store, settings))
    finally:
        con.close()


def staged_store(home: Path, bundles: list[Path]) -> tuple[ColumnarStore, Settings]:
    settings = Settings(home=home)
    store = ColumnarStore(settings.columnar_dir)
    for bundle in bundles:
        stage(store, bundle, settings)
    return store, settings


def tiny_and_update(directory: Path) -> list[Path]:
    return [write_bundle(directory / "tiny", TINY), write_bundle(directory / "update", UPDATE)]
