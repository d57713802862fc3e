"""TSIG keys from the seed deployment's ``--dns-key`` form: one ``name:algorithm:secret`` a line.

The secret is base64, as ``tsig-keygen`` and ``knsupdate -y`` print it.  The algorithm is
RFC 8945's name (``hmac-sha256``, as BIND and knot write it) or the seed's (``SHA256``, as
ocaml-dns writes it), in any case.  Blank lines and lines starting with ``#`` are skipped.
The result is a dnspython keyring, so verifying and signing stay in :mod:`dns.tsig`.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

import dns.exception
import dns.name
import dns.tsig

from stack.dns.errors import KeyFileError

Keyring = dict[dns.name.Name, dns.tsig.Key]

#: Algorithms we accept: the HMACs RFC 8945 requires or recommends.  hmac-md5 is left out.
ALGORITHMS = {
    "hmac-sha256": dns.tsig.HMAC_SHA256,
    "hmac-sha384": dns.tsig.HMAC_SHA384,
    "hmac-sha512": dns.tsig.HMAC_SHA512,
    "hmac-sha224": dns.tsig.HMAC_SHA224,
    "hmac-sha1": dns.tsig.HMAC_SHA1,
}
#: The seed's names for the same HMACs: ocaml-dns names a TSIG key's algorithm by its hash
#: alone (``personal._update.castle.test:SHA256:...``).
SEED_ALGORITHMS = {name.removeprefix("hmac-"): algorithm for name, algorithm in ALGORITHMS.items()}


def parse_key(text: str, where: str = "key") -> dns.tsig.Key:
    """One ``name:algorithm:secret``; ``where`` names the source in the error."""
    parts = text.strip().split(":")
    if len(parts) != 3:
        raise KeyFileError(f"{where}: expected name:algorithm:secret")
    name_text, algorithm_text, secret_text = parts
    lowered = algorithm_text.lower().rstrip(".")
    algorithm = ALGORITHMS.get(lowered) or SEED_ALGORITHMS.get(lowered)
    if algorithm is None:
        known = ", ".join([*ALGORITHMS, *(name.upper() for name in SEED_ALGORITHMS)])
        raise KeyFileError(f"{where}: unknown algorithm {algorithm_text!r} (known: {known})")
    try:
        name = dns.name.from_text(name_text)
        secret = base64.b64decode(secret_text, validate=True)
    except (dns.exception.DNSException, binascii.Error, ValueError) as exc:
        raise KeyFileError(f"{where}: {exc}") from None
    if not secret:
        raise KeyFileError(f"{where}: the secret is empty")
    return dns.tsig.Key(name, secret, algorithm)


def parse_keys(text: str, source: str = "<keys>") -> Keyring:
    """Every key of a keys file, by name; a repeated name is an error, not a silent override."""
    keyring: Keyring = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key = parse_key(line, f"{source}:{number}")
        if key.name in keyring:
            raise KeyFileError(f"{source}:{number}: key {key.name} is defined twice")
        keyring[key.name] = key
    return keyring


def load_keys(path: Path) -> Keyring:
    """Read a keys file; an unreadable one raises :class:`KeyFileError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"{path}: {exc}") from None
    return parse_keys(text, str(path))


def format_key(key: dns.tsig.Key) -> str:
    """The ``name:algorithm:secret`` line for ``key`` (what ``--dns-key`` takes)."""
    algorithm = key.algorithm.to_text(omit_final_dot=True)
    secret = base64.b64encode(key.secret).decode("ascii")
    return f"{key.name.to_text(omit_final_dot=True)}:{algorithm}:{secret}"


def read_key_option(text: str) -> dns.tsig.Key:
    """A ``--key`` option's value: a key line ``name:algorithm:secret``, or ``@FILE`` naming a
    keys file that holds exactly one key."""
    if not text.startswith("@"):
        return parse_key(text, "--key")
    keys = load_keys(Path(text[1:]))
    if len(keys) != 1:
        raise KeyFileError(f"{text[1:]}: expected exactly one key, found {len(keys)}")
    return next(iter(keys.values()))
