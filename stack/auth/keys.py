"""DKIM keys: generate, read and write them, and the public key record (RFC 6376 §3.6.1).

Private keys are PEM files: RSA in PKCS#1 (what ``opendkim-genkey`` writes, so OpenDKIM can
sign with our keys too), Ed25519 in PKCS#8.  The record is the ``v=DKIM1; k=...; p=...`` text
that goes at ``SELECTOR._domainkey.DOMAIN`` as a TXT record: ``p=`` is the DER
SubjectPublicKeyInfo for RSA and the raw 32-octet key for Ed25519 (RFC 8463 §4).

A key can also come from a seed, as the seed deployment's ``--key-seed`` makes its keys:
:func:`from_seed` gives the same key for the same 32 bytes every time, so a signer that
restarts, or a second one beside it, signs with the key already published.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from stack.auth import primes
from stack.auth.errors import SigningKeyError

Algorithm = Literal["rsa", "ed25519"]
ALGORITHMS: tuple[Algorithm, ...] = ("rsa", "ed25519")
#: RFC 8301 §3.2: signers MUST use at least 1024 bits, and SHOULD use at least 2048
#: (:data:`RECOMMENDED_RSA_BITS`; ``dkim keygen`` warns below it).
MIN_RSA_BITS = 1024
RECOMMENDED_RSA_BITS = 2048
#: RFC 8301 §3.2 asks verifiers to handle keys up to 4096 bits, so a longer key may verify
#: nowhere; and generating one of millions of bits never ends.
MAX_RSA_BITS = 4096
DEFAULT_RSA_BITS = 2048
#: A seed is 32 random bytes (256 bits): as much as an Ed25519 key holds, and more than the
#: 112 bits of strength of RSA-2048.
SEED_BYTES = 32


@dataclass(frozen=True)
class SigningKey:
    """A private key in the two forms we need: PEM for storage, and what dkimpy signs with."""

    algorithm: Algorithm
    pem: bytes
    #: dkimpy's ``privkey``: the PKCS#1 PEM for RSA, base64 of the raw seed for Ed25519.
    dkimpy_key: bytes
    #: The public key as the ``p=`` tag carries it (base64).
    public: str

    @property
    def signature_algorithm(self) -> bytes:
        """The ``a=`` tag: rsa-sha256 (RFC 8301 forbids rsa-sha1) or ed25519-sha256."""
        return b"rsa-sha256" if self.algorithm == "rsa" else b"ed25519-sha256"

    def record(self) -> str:
        """The key record (RFC 6376 §3.6.1): the TXT data published for the selector."""
        return f"v=DKIM1; k={self.algorithm}; p={self.public}"


def generate(algorithm: Algorithm = "rsa", bits: int = DEFAULT_RSA_BITS) -> SigningKey:
    """A new key; RSA keys have :data:`MIN_RSA_BITS` to :data:`MAX_RSA_BITS` bits."""
    if algorithm == "rsa":
        _check_bits(bits)
        return _from_rsa(rsa.generate_private_key(public_exponent=65537, key_size=bits))
    if algorithm == "ed25519":
        return _from_ed25519(ed25519.Ed25519PrivateKey.generate())
    raise SigningKeyError(f"unknown key algorithm {algorithm!r} (known: rsa, ed25519)")


def from_seed(seed: bytes, algorithm: Algorithm, bits: int = DEFAULT_RSA_BITS) -> SigningKey:
    """The key that ``seed`` (exactly :data:`SEED_BYTES` bytes) gives, the same every time.

    Each algorithm draws from its own HKDF-SHA256 expansion of the seed (the info string
    names the algorithm, and the size for RSA), so the RSA and the Ed25519 key of one seed
    tell nothing about each other.  Ed25519's private key is 32 such bytes (RFC 8032 §5.1.5);
    RSA's primes are drawn from a byte stream keyed by them (:mod:`stack.auth.primes`),
    since OpenSSL only generates from the system's random numbers.  The keys are not the
    seed deployment's own for the same seed: it draws from OCaml's Fortuna, which we do not
    reproduce; its seeds give keys here that are as deterministic, and published anew.
    """
    if len(seed) != SEED_BYTES:
        raise SigningKeyError(f"a key seed is {SEED_BYTES} bytes, not {len(seed)}")
    if algorithm == "rsa":
        _check_bits(bits)
        stream = primes.ByteStream(_expand(seed, f"elsinore dkim rsa-{bits}"))
        return _from_rsa(primes.private_numbers(bits, stream).private_key())
    if algorithm == "ed25519":
        raw = _expand(seed, "elsinore dkim ed25519")
        return _from_ed25519(ed25519.Ed25519PrivateKey.from_private_bytes(raw))
    raise SigningKeyError(f"unknown key algorithm {algorithm!r} (known: rsa, ed25519)")


def read_seed(text: str, source: str = "--seed") -> bytes:
    """A seed as the command line and configuration write it: base64 of 32 bytes."""
    try:
        seed = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SigningKeyError(f"{source}: a key seed is base64") from None
    if len(seed) != SEED_BYTES:
        raise SigningKeyError(f"{source}: a key seed is {SEED_BYTES} bytes, not {len(seed)}")
    return seed


def _expand(seed: bytes, info: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info.encode("ascii"))
    return hkdf.derive(seed)


def _check_bits(bits: int) -> None:
    if not MIN_RSA_BITS <= bits <= MAX_RSA_BITS:
        raise SigningKeyError(f"RSA keys have {MIN_RSA_BITS} to {MAX_RSA_BITS} bits, not {bits}")


def from_pem(data: bytes, source: str = "key") -> SigningKey:
    """Read a PEM private key (RSA PKCS#1 or PKCS#8, Ed25519 PKCS#8)."""
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise SigningKeyError(f"{source}: not an unencrypted PEM private key ({exc})") from None
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < MIN_RSA_BITS:
            raise SigningKeyError(f"{source}: RSA key of {key.key_size} bits, need {MIN_RSA_BITS}")
        return _from_rsa(key)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return _from_ed25519(key)
    raise SigningKeyError(f"{source}: {type(key).__name__} is not a DKIM key (RSA or Ed25519)")


def load(path: Path) -> SigningKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SigningKeyError(f"{path}: {exc.strerror or exc}") from None
    return from_pem(data, str(path))


def paths(prefix: Path) -> tuple[Path, Path]:
    """``PREFIX.key`` and ``PREFIX.txt``: where :func:`write` puts a key and its record."""
    return prefix.with_name(prefix.name + ".key"), prefix.with_name(prefix.name + ".txt")


def write(key: SigningKey, prefix: Path, record: str, *, replace: bool = False) -> None:
    """``PREFIX.key`` (the PEM, mode 0600) and ``PREFIX.txt`` (``record``, the text to
    publish); raises :class:`SigningKeyError` if either exists, unless ``replace``."""
    key_path, record_path = paths(prefix)
    if not replace:
        for path in (key_path, record_path):
            if path.exists():
                raise SigningKeyError(f"{path}: exists already; not overwritten")
    exclusive = 0 if replace else os.O_EXCL
    try:
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | exclusive, 0o600)
        with os.fdopen(fd, "wb") as out:
            # An existing file keeps its mode through O_TRUNC: a replaced key is made
            # private again.
            os.fchmod(out.fileno(), 0o600)
            out.write(key.pem)
        record_path.write_text(record, encoding="ascii")
    except OSError as exc:
        raise SigningKeyError(f"{exc.filename}: {exc.strerror or exc}") from None


def _from_rsa(key: rsa.RSAPrivateKey) -> SigningKey:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return SigningKey("rsa", pem, pem, base64.b64encode(spki).decode("ascii"))


def _from_ed25519(key: ed25519.Ed25519PrivateKey) -> SigningKey:
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    seed = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    raw_public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return SigningKey(
        "ed25519", pem, base64.b64encode(seed), base64.b64encode(raw_public).decode("ascii")
    )


__all__ = [
    "ALGORITHMS",
    "SEED_BYTES",
    "Algorithm",
    "SigningKey",
    "from_pem",
    "from_seed",
    "generate",
    "load",
    "paths",
    "read_seed",
    "write",
]
