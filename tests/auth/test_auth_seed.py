"""Keys from a seed, as the seed deployment's ``--key-seed`` makes them: the same 32 bytes give
the same key, the RSA key is a real one of exactly the bits asked for, and it signs mail that
verifies."""

from __future__ import annotations

import base64
import math
from functools import cache
from pathlib import Path

import pytest
from auth_testbed import DOMAIN, MESSAGE
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from hypothesis import given
from hypothesis import strategies as st

from stack.auth import dkim, keys, primes
from stack.auth.errors import SigningKeyError
from stack.auth.lookup import StaticLookup
from stack.auth.publish import txt_rdata
from stack.cli import cli, run

pytestmark = pytest.mark.timeout(120)

SEED = bytes(range(32))
OTHER_SEED = bytes(range(1, 33))


@cache
def seeded(seed: bytes, algorithm: keys.Algorithm, bits: int = keys.DEFAULT_RSA_BITS) -> bytes:
    """The PEM of a seeded key; cached, since an RSA key costs a good part of a second."""
    return keys.from_seed(seed, algorithm, bits).pem


def rsa_key(pem: bytes) -> rsa.RSAPrivateKey:
    key = load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


@pytest.mark.parametrize("algorithm", keys.ALGORITHMS)
def test_the_same_seed_gives_the_same_key(algorithm: keys.Algorithm) -> None:
    first = seeded(SEED, algorithm)
    again = keys.from_seed(SEED, algorithm)  # not through the cache
    assert again.pem == first
    assert again.record() == keys.from_pem(first).record()


@pytest.mark.parametrize("algorithm", keys.ALGORITHMS)
def test_another_seed_gives_another_key(algorithm: keys.Algorithm) -> None:
    assert seeded(OTHER_SEED, algorithm) != seeded(SEED, algorithm)


def test_the_ed25519_key_is_derived_not_the_seed_itself() -> None:
    # The seed is shared by both algorithms: used raw as Ed25519's private key, it would also
    # be the RSA stream's input, and leaking one key's material would leak the other's.
    raw = ed25519.Ed25519PrivateKey.from_private_bytes(SEED).public_key().public_bytes_raw()
    assert keys.from_pem(seeded(SEED, "ed25519")).public != base64.b64encode(raw).decode()


@pytest.mark.parametrize("bits", [2048, 2049, 3072])
def test_a_seeded_rsa_key_is_valid_and_has_exactly_the_bits_asked(bits: int) -> None:
    key = rsa_key(seeded(SEED, "rsa", bits))
    numbers = key.private_numbers()
    p, q, n = numbers.p, numbers.q, numbers.public_numbers.n
    assert key.key_size == n.bit_length() == bits
    assert numbers.public_numbers.e == 65537
    assert p * q == n
    assert math.gcd(65537, (p - 1) * (q - 1)) == 1
    assert abs(p - q) > 1 << (bits // 2 - 100)  # Fermat's method cannot factor it
    stream = primes.ByteStream(b"a check of our own, not the key's stream")
    assert primes.is_probable_prime(p, stream)
    assert primes.is_probable_prime(q, stream)
    signature = key.sign(MESSAGE, padding.PKCS1v15(), hashes.SHA256())
    # Raises InvalidSignature unless the numbers make a real key pair.
    key.public_key().verify(signature, MESSAGE, padding.PKCS1v15(), hashes.SHA256())


@pytest.mark.parametrize("algorithm", keys.ALGORITHMS)
def test_a_dkim_signature_made_with_a_seeded_key_verifies(algorithm: keys.Algorithm) -> None:
    key = keys.from_pem(seeded(SEED, algorithm))
    lookup = StaticLookup(
        {(f"seed._domainkey.{DOMAIN}", "TXT"): [txt_rdata(key.record()).to_text()]}
    )
    signed = dkim.sign(MESSAGE, DOMAIN, "seed", key)
    (result,) = dkim.verify_all(signed, lookup)
    assert result.result == "pass", result.reason
    (changed,) = dkim.verify_all(signed.replace(b"rosemary,", b"rue,"), lookup)
    assert changed.result == "fail"


@pytest.mark.parametrize("size", [0, 16, 31, 33, 64])
def test_a_seed_of_other_than_32_bytes_is_refused(size: int) -> None:
    with pytest.raises(SigningKeyError, match=f"a key seed is 32 bytes, not {size}"):
        keys.from_seed(bytes(size), "ed25519")


@pytest.mark.parametrize("bits", [1023, 4097])
def test_a_seeded_rsa_key_out_of_bounds_is_refused(bits: int) -> None:
    with pytest.raises(SigningKeyError, match=f"not {bits}"):
        keys.from_seed(SEED, "rsa", bits)


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("not base64!", "--seed: a key seed is base64"),
        (base64.b64encode(bytes(31)).decode(), "--seed: a key seed is 32 bytes, not 31"),
        ("", "--seed: a key seed is 32 bytes, not 0"),
    ],
)
def test_a_seed_text_that_is_not_base64_of_32_bytes_is_refused(text: str, complaint: str) -> None:
    with pytest.raises(SigningKeyError, match=complaint):
        keys.read_seed(text)


def test_a_seed_text_is_base64_of_the_seed() -> None:
    assert keys.read_seed(base64.b64encode(SEED).decode() + "\n") == SEED


# Miller–Rabin itself: what passes must be prime, whatever trial division leaves to it.

#: Strong pseudoprime to every base from 2 to 23, with no factor below the sieve's limit.
STRONG_PSEUDOPRIME = 3825123056546413051  # 149491 * 747451 * 34233211
MERSENNE_PRIME = 2**521 - 1


def test_miller_rabin_sees_through_a_strong_pseudoprime_and_finds_a_mersenne_prime() -> None:
    stream = primes.ByteStream(b"test")
    assert not primes.is_probable_prime(STRONG_PSEUDOPRIME, stream)
    assert primes.is_probable_prime(MERSENNE_PRIME, stream)
    assert not primes.is_probable_prime(2**523 - 1, stream)  # 523 is no Mersenne exponent


def _is_prime(number: int) -> bool:
    return number >= 2 and all(number % d for d in range(2, math.isqrt(number) + 1))


@given(st.integers(min_value=0, max_value=10**6), st.binary(min_size=1, max_size=8))
def test_miller_rabin_agrees_with_trial_division(number: int, key: bytes) -> None:
    assert primes.is_probable_prime(number, primes.ByteStream(key)) == _is_prime(number)


@given(
    st.sampled_from([2003, 2011, 7919, 104729, 1299709]),
    st.sampled_from([2017, 3001, 65537, 611953, 15485863]),
)
def test_a_product_of_primes_above_the_sieve_is_composite(a: int, b: int) -> None:
    assert not primes.is_probable_prime(a * b, primes.ByteStream(b"products"))


# elsinore dkim keygen --seed


def keygen(prefix: Path, *options: str) -> int:
    argv = ["dkim", "keygen", "--domain", DOMAIN, "--selector", "s1", "--out", str(prefix)]
    return run(cli(), [*argv, *options])


@pytest.mark.parametrize("algorithm", keys.ALGORITHMS)
def test_keygen_with_a_seed_writes_the_seeded_key(algorithm: str, tmp_path: Path) -> None:
    seed = base64.b64encode(SEED).decode()
    assert keygen(tmp_path / "a", "--algorithm", algorithm, "--seed", seed) == 0
    seed_file = tmp_path / "seed"
    seed_file.write_text(seed + "\n")
    assert keygen(tmp_path / "b", "--algorithm", algorithm, "--seed", f"@{seed_file}") == 0
    written = (tmp_path / "a.key").read_bytes()
    assert written == (tmp_path / "b.key").read_bytes() == seeded(SEED, algorithm)
    assert (tmp_path / "a.txt").read_text() == (tmp_path / "b.txt").read_text()


def test_keygen_with_a_bad_seed_is_one_line_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert keygen(tmp_path / "s1", "--seed", "c2hvcnQ=") == 1
    assert capsys.readouterr().err == "elsinore: error: --seed: a key seed is 32 bytes, not 5\n"
    assert list(tmp_path.iterdir()) == []
