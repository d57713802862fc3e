"""pytest-benchmark: DKIM signatures and verifications per second, RSA-2048 and Ed25519.

Each benchmark records its rate in ``extra_info``; the peer is dkimpy called directly on the
same message, so the ratio is the price of our layer (choosing the signed fields, prepending
through the lossless tree, one verifier per signature).  Keys come from a table lookup, not
DNS, so the figures are canonicalization plus cryptography.
"""

from __future__ import annotations

import dkim as dkimpy
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from stack.auth import dkim, keys
from stack.auth.lookup import StaticLookup
from stack.auth.publish import txt_rdata

DOMAIN = "castle.test"
ROUNDS = 50
#: A typical short letter: six signed fields and a 4 KB body.
MESSAGE = b"".join(
    [
        b"From: Polonius <polonius@castle.test>\r\nTo: laertes@castle.test\r\n",
        b"Cc: ophelia@castle.test\r\nSubject: precepts\r\n",
        b"Date: Wed, 25 Nov 2026 09:00:00 +0000\r\nMessage-ID: <precepts@castle.test>\r\n\r\n",
        b"Neither a borrower nor a lender be; to thine own self be true.\r\n" * 64,
    ]
)
KEYS = {algorithm: keys.generate(algorithm) for algorithm in keys.ALGORITHMS}
LOOKUP = StaticLookup(
    {
        (f"{algorithm}._domainkey.{DOMAIN}", "TXT"): [txt_rdata(key.record()).to_text()]
        for algorithm, key in KEYS.items()
    }
)


def _rate(benchmark: BenchmarkFixture, name: str) -> None:
    if benchmark.stats is None:  # --benchmark-disable: the function ran once, untimed
        return
    benchmark.extra_info[name] = round(ROUNDS / benchmark.stats.stats.mean)


@pytest.mark.benchmark(group="dkim sign")
@pytest.mark.parametrize("algorithm", keys.ALGORITHMS)
def test_elsinore_signs(benchmark: BenchmarkFixture, algorithm: keys.Algorithm) -> None:
    key = KEYS[algorithm]
    benchmark(lambda: [dkim.sign(MESSAGE, DOMAIN, algorithm, key) for _ in range(ROUNDS)])
    _rate(benchmark, "signatures_per_second")


@pytest.mark.benchmark(group="dkim sign")
@pytest.mark.parametrize("algorithm", keys.ALGORITHMS)
def test_dkimpy_signs(benchmark: BenchmarkFixture, algorithm: keys.Algorithm) -> None:
    key = KEYS[algorithm]

    def sign() -> bytes:
        return bytes(
            dkimpy.sign(
                MESSAGE,
                algorithm.encode(),
                DOMAIN.encode(),
                key.dkimpy_key,
                canonicalize=(b"relaxed", b"relaxed"),
                signature_algorithm=key.signature_algorithm,
            )
        )

    benchmark(lambda: [sign() for _ in range(ROUNDS)])
    _rate(benchmark, "signatures_per_second")


@pytest.mark.benchmark(group="dkim verify")
@pytest.mark.parametrize("algorithm", keys.ALGORITHMS)
def test_elsinore_verifies(benchmark: BenchmarkFixture, algorithm: keys.Algorithm) -> None:
    signed = dkim.sign(MESSAGE, DOMAIN, algorithm, KEYS[algorithm])
    assert [r.result for r in dkim.verify_all(signed, LOOKUP)] == ["pass"]
    benchmark(lambda: [dkim.verify_all(signed, LOOKUP) for _ in range(ROUNDS)])
    _rate(benchmark, "verifications_per_second")


@pytest.mark.benchmark(group="dkim verify")
@pytest.mark.parametrize("algorithm", keys.ALGORITHMS)
def test_dkimpy_verifies(benchmark: BenchmarkFixture, algorithm: keys.Algorithm) -> None:
    signed = dkim.sign(MESSAGE, DOMAIN, algorithm, KEYS[algorithm])
    record = KEYS[algorithm].record().encode()

    def verify() -> bool:
        return bool(dkimpy.verify(signed, dnsfunc=lambda name, timeout=5: record))

    assert verify()
    benchmark(lambda: [verify() for _ in range(ROUNDS)])
    _rate(benchmark, "verifications_per_second")
