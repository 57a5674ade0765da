"""Sealed secrets at rest (OAuth tokens, PKCE verifiers): Fernet with keys derived from COACH_SECRET_KEY.

Each key is HKDF-SHA256(COACH_SECRET_KEY, info="vision-coach/sealed/v<N>") for a version N of
`KEY_VERSIONS` and each secret COACH_SECRET_KEY lists (`secret_keys`: "new,old" during a rotation); the
first secret's first version seals, all of them open (MultiFernet). Rotating either means putting the new
one first: old values still open, and every value written again moves to the new key (each token refresh
re-seals both tokens of the connection). A value no listed secret opens reads as "reconnect".

A sealed value carries the user id and a purpose, and `open` refuses a value that belongs to another user
or purpose, so a row copied from one user to another (or an access token offered as a verifier) is useless.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tools.channels.secret_keys import secret_keys

KEY_VERSIONS: tuple[int, ...] = (1,)


class SealError(Exception):
    """A sealed value that cannot be opened: wrong key, tampered, or bound to another user or purpose."""


def _derive(secret: str, version: int) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"vision-coach/sealed/v{version}".encode()).derive(
        secret.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


class TokenSealer:
    """Seal and open small secrets bound to a user id and a purpose."""

    def __init__(self, secret: str, versions: Sequence[int] = KEY_VERSIONS) -> None:
        """`secret`: COACH_SECRET_KEY, one secret or several (newest first, comma-separated)."""
        if not versions:
            raise ValueError("a sealer needs at least one key version")
        self._keys = MultiFernet([_derive(key, version) for key in secret_keys(secret) for version in versions])

    def seal(self, user_id: str, purpose: str, value: str) -> str:
        payload = json.dumps({"u": user_id, "p": purpose, "v": value}, separators=(",", ":")).encode()
        return self._keys.encrypt(payload).decode()

    def open(self, user_id: str, purpose: str, sealed: str) -> str:
        try:
            payload = json.loads(self._keys.decrypt(sealed.encode()))
        except (InvalidToken, ValueError):
            raise SealError("the sealed value cannot be opened with the current keys") from None
        if payload.get("u") != user_id or payload.get("p") != purpose:
            raise SealError("the sealed value belongs to another user or purpose")
        return str(payload["v"])


@lru_cache(maxsize=4)
def sealer_for(secret: str) -> TokenSealer:
    """The process's sealer for COACH_SECRET_KEY (HKDF runs once per secret)."""
    return TokenSealer(secret)
