"""Opaque identifier handles: how a viewer pivots from an identifier it was shown, masked.

Looking accounts up by a raw identifier value is an analyst's power: a viewer allowed to ask
``accounts(identifier: {kind: IP, value: ...})`` can recover the address behind a masked
``/24`` in a few hundred guesses, and reverse masked domains and public TLS fingerprints with a
dictionary. Viewers instead get, beside each masked value, a *handle*: the kind and value
encrypted under a key derived from the server's masking key with AES-SIV (RFC 5297,
deterministic authenticated encryption). A handle names the same identifier whenever it is
shown, cannot be read without the key, and cannot be forged: a guessed value has no handle
until the server hands one out, so the only identifiers a viewer can pivot from are those it
was shown.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

__all__ = ["HANDLE_PREFIX", "HandleCodec"]

HANDLE_PREFIX = "idh1_"
_CONTEXT = b"sybilgraph identifier handle v1"


class HandleCodec:
    def __init__(self, mask_secret: bytes) -> None:
        # A key of its own (HMAC as the key-derivation step): handles and masks never share one.
        key = hmac.new(mask_secret, _CONTEXT, hashlib.sha512).digest()  # 64 bytes: AES-256-SIV
        self._siv = AESSIV(key)

    def encode(self, kind: str, value: str) -> str:
        sealed = self._siv.encrypt(f"{kind}\x00{value}".encode(), [_CONTEXT])
        return HANDLE_PREFIX + base64.urlsafe_b64encode(sealed).decode("ascii").rstrip("=")

    def decode(self, handle: str) -> tuple[str, str] | None:
        """(kind, value), or None for anything this server did not issue."""
        if not handle.startswith(HANDLE_PREFIX) or len(handle) > 1024:
            return None
        text = handle[len(HANDLE_PREFIX):]
        try:
            sealed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            plain = self._siv.decrypt(sealed, [_CONTEXT]).decode("utf-8")
        except (binascii.Error, ValueError, InvalidTag, UnicodeDecodeError):
            return None
        kind, sep, value = plain.partition("\x00")
        return (kind, value) if sep else None
