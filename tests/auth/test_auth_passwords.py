"""Stored passwords: scrypt round trips, the seed's BLAKE2b hashes move over, hostile records
are refused before any work, and every refusal costs the same scrypt."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.strategies import hostile_text, unstructured_values
from stack.auth import passwords
from stack.auth.passwords import Cost, Passwords, StoredHashError, Verdict
from stack.errors import ElsinoreError

#: Cheap enough for a property test; the real cost is exercised once below.
CHEAP = Cost(log_n=4, r=8, p=1)
OLDER = Cost(log_n=3, r=8, p=1)


@dataclass
class CountingKdf:
    """scrypt itself, with a note of every cost it was asked for."""

    costs: list[Cost] = field(default_factory=list)

    def __call__(self, password: bytes, salt: bytes, cost: Cost, length: int) -> bytes:
        self.costs.append(cost)
        return passwords.scrypt(password, salt, cost, length)


def seed_hash(password: str) -> str:
    """What the seed stored: BLAKE2b-512 of the password, in hex, unsalted."""
    return hashlib.blake2b(password.encode()).hexdigest()


@given(st.one_of(hostile_text(), unstructured_values(), st.binary(max_size=200)))
def test_a_hashed_password_verifies_and_needs_no_rehash(password: str | bytes) -> None:
    checker = Passwords(CHEAP)
    stored = checker.hash(password)
    assert checker.verify(password, stored) == Verdict(ok=True, rehash=False)


@given(unstructured_values(), unstructured_values())
def test_another_password_is_wrong(password: str, other: str) -> None:
    checker = Passwords(CHEAP)
    stored = checker.hash(password)
    assert checker.verify(other, stored).ok == (password.encode() == other.encode())


def test_each_hash_has_its_own_salt() -> None:
    checker = Passwords(CHEAP)
    first, second = checker.hash("hunter2"), checker.hash("hunter2")
    assert first != second
    assert checker.verify("hunter2", first).ok and checker.verify("hunter2", second).ok


def test_the_default_cost_is_written_into_the_hash_and_read_back() -> None:
    stored = passwords.hash_password("correct horse")
    assert stored.startswith("$scrypt$ln=15,r=8,p=1$")
    assert passwords.verify("correct horse", stored) == Verdict(ok=True, rehash=False)
    assert passwords.verify("correct horsf", stored) == Verdict(ok=False)


def test_rfc_7914_test_vector_reads_as_a_stored_hash() -> None:
    # RFC 7914 12: scrypt("pleaseletmein", "SodiumChloride", N=16384, r=8, p=1, dkLen=64).
    derived = bytes.fromhex(
        "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2"
        "d5432955613f0fcf62d49705242a9af9e61e85dc0d651e40dfcf017b45575887"
    )
    salt = base64.b64encode(b"SodiumChloride").decode().rstrip("=")
    stored = f"$scrypt$ln=14,r=8,p=1${salt}${base64.b64encode(derived).decode().rstrip('=')}"
    checker = Passwords(Cost(log_n=14, r=8, p=1))
    assert checker.verify("pleaseletmein", stored) == Verdict(ok=True, rehash=False)
    assert checker.verify("pleaseletmeout", stored) == Verdict(ok=False)


@pytest.mark.parametrize(
    ("stored", "cost", "rehash"),
    [
        # Hashes of "password" from passlib's documentation of passlib.hash.scrypt.
        (
            "$scrypt$ln=8,r=8,p=1$WKs1xljLudd6z9kbY0wpJQ$yCR4iDZYDKv+iEJj6yHY0lv/epnfB6f/w1EbXrsJOuQ",
            Cost(8, 8, 1),
            False,
        ),
        (
            "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E",
            passwords.CURRENT,
            True,
        ),
    ],
)
def test_a_passlib_scrypt_hash_reads_as_ours(stored: str, cost: Cost, rehash: bool) -> None:
    checker = Passwords(cost)
    assert checker.verify("password", stored) == Verdict(ok=True, rehash=rehash)
    assert checker.verify("Password", stored) == Verdict(ok=False)


def test_a_seed_blake2b_hash_is_accepted_and_flagged_for_rehash() -> None:
    checker = Passwords(CHEAP)
    assert checker.verify("hunter2", seed_hash("hunter2")) == Verdict(ok=True, rehash=True)
    assert checker.verify("hunter2", seed_hash("hunter2").upper()).ok


def test_a_wrong_password_against_a_seed_hash_asks_for_nothing() -> None:
    checker = Passwords(CHEAP)
    assert checker.verify("hunter3", seed_hash("hunter2")) == Verdict(ok=False, rehash=False)


def test_an_older_scrypt_cost_is_flagged_for_rehash_only_when_right() -> None:
    stored = Passwords(OLDER).hash("hunter2")
    checker = Passwords(CHEAP)
    assert checker.verify("hunter2", stored) == Verdict(ok=True, rehash=True)
    assert checker.verify("hunter3", stored) == Verdict(ok=False, rehash=False)
    rehashed = checker.hash("hunter2")
    assert checker.verify("hunter2", rehashed) == Verdict(ok=True, rehash=False)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


# A valid hash with a fixed salt: parametrised test ids built from it must be the same in
# every pytest-xdist worker, so it cannot come from hash(), which draws a random salt.
_FIXED_SALT = bytes(range(16))
GOOD = f"$scrypt${CHEAP}${_b64(_FIXED_SALT)}${_b64(passwords.scrypt(b'x', _FIXED_SALT, CHEAP, 32))}"
SALT, DIGEST = GOOD.split("$")[3:]


@pytest.mark.parametrize(
    ("stored", "position", "reason"),
    [
        ("", 0, "empty"),
        ("abc", 0, "3 hex digits, not the 128 of a BLAKE2b hash"),
        ("0" * 127, 0, "127 hex digits, not the 128 of a BLAKE2b hash"),
        ("0" * 127 + "g", 0, "neither $scrypt$... nor a hex BLAKE2b hash"),
        ("$bcrypt$ln=4,r=8,p=1$x$y", 1, "the scheme is malformed"),
        ("$scrypt", 7, "the cost (ln=N,r=N,p=N) is missing"),
        ("$scrypt$ln=04,r=8,p=1$" + SALT + "$" + DIGEST, 8, "the cost (ln=N,r=N,p=N) is malformed"),
        ("$scrypt$ln=4,r=8,p=1$" + "A" * 10 + "$" + DIGEST, 21, "the salt (11 to 86 base64 "),
        ("$scrypt$ln=4,r=8,p=1$" + SALT, 43, "the hash (22 to 86 base64 characters) is missing"),
        ("$scrypt$ln=4,r=8,p=1$" + SALT + "$" + DIGEST + "$", 87, "more parts than"),
        ("$scrypt$ln=4,r=8,p=1$" + "A" * 13 + "$" + DIGEST, 21, "the salt is not base64"),
        ("$" * 300, 256, "longer than 256 characters"),
    ],
)
def test_a_malformed_stored_hash_is_a_typed_error_with_its_position(
    stored: str, position: int, reason: str
) -> None:
    kdf = CountingKdf()
    with pytest.raises(StoredHashError) as raised:
        Passwords(CHEAP, kdf).verify("x", stored)
    assert isinstance(raised.value, ElsinoreError)
    assert raised.value.position == position
    assert raised.value.reason.startswith(reason)
    assert str(raised.value).startswith(f"stored password hash, character {position}: ")
    assert kdf.costs == []


def test_an_error_never_quotes_the_stored_hash() -> None:
    stored = "$scrypt$ln=4,r=8,p=1$" + SALT + "$" + DIGEST + "$extra"
    with pytest.raises(StoredHashError) as raised:
        passwords.verify("x", stored)
    assert SALT not in str(raised.value) and DIGEST not in str(raised.value)


@pytest.mark.parametrize(
    ("cost", "reason"),
    [
        ("ln=21,r=8,p=1", "ln must be 1 to 20, not 21"),
        ("ln=99,r=1,p=1", "ln must be 1 to 20, not 99"),
        ("ln=15,r=33,p=1", "r must be 1 to 32, not 33"),
        ("ln=15,r=8,p=17", "p must be 1 to 16, not 17"),
        ("ln=20,r=8,p=1", "ln=20,r=8,p=1 needs 1024 MiB, over 256 MiB"),
        ("ln=17,r=9,p=16", "ln=17,r=9,p=16 is over 16,777,216 block mixes"),
        ("ln=16,r=1,p=1", "ln=16 is too large for r=1"),
    ],
)
def test_an_absurd_cost_is_refused_before_any_hashing(cost: str, reason: str) -> None:
    kdf = CountingKdf()
    with pytest.raises(StoredHashError) as raised:
        Passwords(CHEAP, kdf).verify("x", f"$scrypt${cost}${SALT}${DIGEST}")
    assert raised.value.reason == reason
    assert raised.value.position == len("$scrypt$")
    assert kdf.costs == []


def test_check_stored_refuses_what_verify_would_refuse() -> None:
    passwords.check_stored(GOOD)
    passwords.check_stored(seed_hash("x"))
    with pytest.raises(StoredHashError):
        passwords.check_stored(f"$scrypt$ln=21,r=8,p=1${SALT}${DIGEST}")


def test_an_unknown_user_costs_the_scrypt_a_wrong_password_costs() -> None:
    known, unknown = CountingKdf(), CountingKdf()
    stored = Passwords(CHEAP).hash("hunter2")
    assert Passwords(CHEAP, known).verify("guess", stored) == Verdict(ok=False)
    assert Passwords(CHEAP, unknown).verify_unknown_user("guess") == Verdict(ok=False)
    assert known.costs == unknown.costs == [CHEAP]


def test_a_seed_hash_costs_the_scrypt_a_current_one_costs() -> None:
    current, seed = CountingKdf(), CountingKdf()
    Passwords(CHEAP, current).verify("guess", Passwords(CHEAP).hash("hunter2"))
    Passwords(CHEAP, seed).verify("guess", seed_hash("hunter2"))
    assert current.costs == seed.costs == [CHEAP]


def test_the_unknown_user_check_is_never_right() -> None:
    checker = Passwords(CHEAP)
    for password in ("", "hunter2", b"\x00" * 32):
        assert checker.verify_unknown_user(password) == Verdict(ok=False, rehash=False)


def test_a_policy_cost_out_of_bounds_is_refused_at_construction() -> None:
    with pytest.raises(StoredHashError, match="ln must be 1 to 20"):
        Passwords(Cost(log_n=25, r=8, p=1))


@given(
    stored=st.one_of(
        hostile_text(),
        st.builds(
            lambda cost, salt, digest: f"$scrypt${cost}${salt}${digest}",
            hostile_text(),
            hostile_text(),
            hostile_text(),
        ),
    )
)
def test_any_stored_text_is_a_verdict_or_a_typed_error(stored: str) -> None:
    kdf = CountingKdf()
    try:
        verdict = Passwords(CHEAP, kdf).verify("x", stored)
    except StoredHashError as error:
        assert "\n" not in str(error) and kdf.costs == []
    else:
        assert not verdict.ok
