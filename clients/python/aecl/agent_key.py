"""An agent's own key (``aecl keys generate --agent NAME``): the client signs a short JWT
with it for every request (EdDSA, at most five minutes, a fresh ``jti``), so a session of
hours never meets an expiry, and revoking the key (``aecl token revoke --agent-key``)
stops the agent at its next request. Signing needs the ``cryptography`` package
(``pip install aecl[agent-key]``); nothing else of the client does.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import time
from pathlib import Path
from typing import Optional, Union

#: How long each token lives, in seconds (the server accepts at most 300).
TOKEN_SECONDS = 60


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class AgentKey:
    """The secret key of an agent, read from the text ``aecl keys generate --agent`` writes
    (``PRIVATE+KEY+NAME+HASH+BASE64``). Its ``repr`` never shows the key."""

    def __init__(self, text: str) -> None:
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
            raise ValueError("aecl: not an agent's secret key (`aecl keys generate --agent NAME`)")
        _, _, name, key_hash, encoded = parts
        raw = base64.b64decode(encoded, validate=True)
        if len(raw) != 33 or raw[0] != 1 or len(key_hash) != 8:
            raise ValueError("aecl: not an Ed25519 secret key of aecl's text form")
        try:
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("aecl: signing with an agent key needs `pip install cryptography`") from e
        self.name = name
        #: The key's id: the ``kid`` of its tokens, what ``aecl token revoke --agent-key`` takes.
        self.key_id = key_hash.lower()
        self._key = Ed25519PrivateKey.from_private_bytes(raw[1:])

    @classmethod
    def load(cls, source: Union[str, os.PathLike]) -> "AgentKey":
        """From a key file, or from the key's text itself."""
        text = str(source)
        if not text.startswith("PRIVATE+KEY+"):
            text = Path(source).read_text()
        return cls(text)

    def __repr__(self) -> str:
        return f"AgentKey({self.name!r}, key_id={self.key_id!r})"

    def token(self, agent: Optional[str] = None, now: Optional[float] = None) -> str:
        """A fresh token for ``agent`` (default: the key's name)."""
        agent = agent or self.name
        issued = int(now if now is not None else time.time())
        header = {"alg": "EdDSA", "typ": "JWT", "kid": self.key_id}
        claims = {
            "iss": agent,
            "sub": agent,
            "aud": "aecl",
            "iat": issued,
            "nbf": issued,
            "exp": issued + TOKEN_SECONDS,
            "jti": secrets.token_hex(16),
            "role": "agent",
        }
        signing_input = (
            _b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        signature = self._key.sign(signing_input.encode("ascii"))
        return signing_input + "." + _b64url(signature)
