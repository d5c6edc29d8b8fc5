"""The checkpoint signing key (settings LEDGER_SIGNING_KEY / LEDGER_SIGNING_KEY_FILE)."""

import base64
import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def _parse(text: str) -> Ed25519PrivateKey:
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode(), password=None)
    else:
        key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(text, validate=True))
    if not isinstance(key, Ed25519PrivateKey):
        raise ImproperlyConfigured("LEDGER_SIGNING_KEY is not an Ed25519 private key.")
    return key


def _dev_key(path: Path) -> str:
    """A key for development, made once: a fresh one on every start would orphan the
    checkpoints already signed."""
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(base64.b64encode(raw).decode() + "\n")
    return path.read_text()


def signing_key() -> Ed25519PrivateKey:
    if settings.LEDGER_SIGNING_KEY:
        return _parse(settings.LEDGER_SIGNING_KEY)
    if settings.LEDGER_SIGNING_KEY_FILE:
        path = Path(settings.LEDGER_SIGNING_KEY_FILE)
        if path.exists():
            return _parse(path.read_text())
        if settings.DEBUG:
            try:
                return _parse(_dev_key(path))
            except FileExistsError:  # another process made it first
                return _parse(path.read_text())
    raise ImproperlyConfigured(
        "The ledger signing key is missing: set LEDGER_SIGNING_KEY or LEDGER_SIGNING_KEY_FILE."
    )


def public_key_text(key: Ed25519PrivateKey | None = None) -> str:
    """The public key as published: base64 of its 32 raw bytes."""
    raw = (
        (key or signing_key())
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    return base64.b64encode(raw).decode()


def public_key_pem(key: Ed25519PrivateKey | None = None) -> str:
    return (
        (key or signing_key())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def key_id(public_text: str) -> str:
    return hashlib.sha256(base64.b64decode(public_text)).hexdigest()
