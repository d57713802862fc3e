"""castle.test, the example zone that ``--help``, the tests, the fuzz target and the benchmark
serve: every record type the primary answers, a delegation with glue, a CNAME chain, a TXT
record of several strings, and a TXT RRset too large for one UDP reply.

    python -c "from stack.dns.example import example_zone_text; print(example_zone_text())" \\
        > zones/castle.test.zone
"""

from __future__ import annotations

EXAMPLE_ORIGIN = "castle.test."

_TEMPLATE = """\
$TTL 300
@        SOA   ns1 hostmaster 2026112501 3600 600 86400 60
@        NS    ns1
ns1      A     127.0.0.13
@        MX    10 mail
@        TXT   "v=spf1 mx -all"
mail     A     127.0.0.25
mail     AAAA  ::1
www      CNAME mail
alias    CNAME www
away     CNAME host.glueless.test.
a.deep   A     127.0.0.26
long     TXT   "{long_a}" "{long_b}"
sub      NS    ns.sub
ns.sub   A     127.0.0.14
{big}
"""


def example_zone_text() -> str:
    """The master file of castle.test (names relative to :data:`EXAMPLE_ORIGIN`)."""
    big = "\n".join(f'big TXT "{index:03d}{"x" * 190}"' for index in range(12))
    return _TEMPLATE.format(long_a="a" * 255, long_b="b" * 100, big=big)
