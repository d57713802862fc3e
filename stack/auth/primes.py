"""RSA key numbers drawn from a deterministic byte stream: what :func:`keys.from_seed` needs.

cryptography (OpenSSL) generates RSA keys only from the operating system's random numbers, so
a key that must come out the same from the same seed, as the seed deployment's
``--key-seed`` keys do, has its primes chosen here.  The method is FIPS 186-5 §A.1.3's
"probable primes" in outline:

- a candidate is the next ``bits`` bits of the stream, with its two top bits set (so the
  product of two such primes has exactly the bits asked for) and its low bit set;
- trial division by the odd primes below :data:`SIEVE_LIMIT` throws out most composites
  at the price of a few divisions;
- :data:`MILLER_RABIN_ROUNDS` Miller–Rabin rounds with bases from the same stream: each
  round lets a composite through with probability at most 1/4 (Rabin 1980), so 50 rounds
  bound the error by 2^-100 whatever the candidate, with no average-case table to trust;
- e = 65537 must be prime to p - 1, and |p - q| must exceed 2^(bits/2 - 100) (§A.1.3 step
  5.4) so that Fermat's method cannot factor the modulus.

The work is bounded: at most :data:`CANDIDATES_PER_BIT` times ``bits`` candidates per prime.
A random odd number of 1,024 bits is prime with probability about 1/355, so running out is
a chance below e^-180; it raises :class:`SigningKeyError` rather than looping for ever.
"""

from __future__ import annotations

import hashlib
import math

from cryptography.hazmat.primitives.asymmetric import rsa

from stack.auth.errors import SigningKeyError

PUBLIC_EXPONENT = 65537
MILLER_RABIN_ROUNDS = 50
SIEVE_LIMIT = 2000
CANDIDATES_PER_BIT = 64


def _odd_primes(limit: int) -> tuple[int, ...]:
    sieve = bytearray([1]) * limit
    sieve[0:2] = b"\x00\x00"
    for number in range(2, math.isqrt(limit) + 1):
        if sieve[number]:
            sieve[number * number :: number] = bytes(len(range(number * number, limit, number)))
    return tuple(number for number in range(3, limit) if sieve[number])


_SMALL_PRIMES = _odd_primes(SIEVE_LIMIT)


class ByteStream:
    """SHAKE-256 of ``key`` and a block counter, read in order: the same key, the same bytes.

    ``key`` should already be a derived key (HKDF output), so that streams for different
    purposes never share a prefix.
    """

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._counter = 0

    def read(self, size: int) -> bytes:
        block = hashlib.shake_256(self._key + self._counter.to_bytes(8, "big")).digest(size)
        self._counter += 1
        return block

    def below(self, bound: int) -> int:
        """A number in [0, bound), 64 bits more than ``bound`` drawn so the bias is < 2^-64."""
        size = (bound.bit_length() + 64 + 7) // 8
        return int.from_bytes(self.read(size), "big") % bound


def is_probable_prime(candidate: int, stream: ByteStream) -> bool:
    """Trial division, then :data:`MILLER_RABIN_ROUNDS` rounds with bases from ``stream``."""
    if candidate < 2:
        return False
    for prime in (2, *_SMALL_PRIMES):
        if candidate % prime == 0:
            return candidate == prime
    odd, twos = candidate - 1, 0
    while odd % 2 == 0:
        odd, twos = odd // 2, twos + 1
    for _ in range(MILLER_RABIN_ROUNDS):
        base = 2 + stream.below(candidate - 3)  # in [2, candidate - 2]
        value = pow(base, odd, candidate)
        if value in (1, candidate - 1):
            continue
        for _ in range(twos - 1):
            value = pow(value, 2, candidate)
            if value == candidate - 1:
                break
        else:
            return False
    return True


def prime(bits: int, stream: ByteStream) -> int:
    """A probable prime of exactly ``bits`` bits, its two top bits set, p - 1 prime to e."""
    top = 0b11 << (bits - 2)
    for _ in range(CANDIDATES_PER_BIT * bits):
        candidate = int.from_bytes(stream.read((bits + 7) // 8), "big")
        candidate = (candidate >> (-bits % 8)) | top | 1
        if (candidate - 1) % PUBLIC_EXPONENT == 0:
            continue  # e would divide p - 1: no private exponent
        if is_probable_prime(candidate, stream):
            return candidate
    # Unreachable for a stream that looks random (see the module's docstring).
    raise SigningKeyError(f"no {bits}-bit prime in {CANDIDATES_PER_BIT * bits} candidates")


def _factors(bits: int, stream: ByteStream) -> tuple[int, int]:
    p = prime(bits - bits // 2, stream)
    for _ in range(CANDIDATES_PER_BIT):
        q = prime(bits // 2, stream)
        if abs(p - q) > 1 << (bits // 2 - 100):  # so also p != q
            return p, q
    raise SigningKeyError(f"no second prime far enough from the first in {CANDIDATES_PER_BIT}")


def private_numbers(bits: int, stream: ByteStream) -> rsa.RSAPrivateNumbers:
    """An RSA key of exactly ``bits`` bits (an even number or not) with e = 65537."""
    p, q = _factors(bits, stream)
    # FIPS 186-5 §A.1.1: d = e^-1 mod lcm(p - 1, q - 1), the smallest working exponent.
    d = pow(PUBLIC_EXPONENT, -1, math.lcm(p - 1, q - 1))
    return rsa.RSAPrivateNumbers(
        p=p,
        q=q,
        d=d,
        dmp1=rsa.rsa_crt_dmp1(d, p),
        dmq1=rsa.rsa_crt_dmq1(d, q),
        iqmp=rsa.rsa_crt_iqmp(p, q),
        public_numbers=rsa.RSAPublicNumbers(PUBLIC_EXPONENT, p * q),
    )


__all__ = [
    "MILLER_RABIN_ROUNDS",
    "PUBLIC_EXPONENT",
    "ByteStream",
    "is_probable_prime",
    "prime",
    "private_numbers",
]
