"""Elsinore's DNS: an authoritative primary and a caching resolver, built on dnspython.

dnspython owns the wire format, zones, TSIG and update messages; the modules here are policy
and plumbing, one concern each:

primary side
    :mod:`.zones` (zone sets, the zone directory, atomic write-back), :mod:`.keys` (TSIG keys
    in ``name:algorithm:secret`` form), :mod:`.authority` (what to answer a query),
    :mod:`.update` (RFC 2136), :mod:`.transfer` (AXFR, TSIG only), :mod:`.primary` (bytes in,
    bytes out: dispatch, TSIG errors, truncation), :mod:`.replies` (rendered replies by
    question).
resolver side
    :mod:`.hints` (root hints), :mod:`.cache` (answers and RFC 2308 negative answers),
    :mod:`.resolver` (iterative from the root, or forwarding), :mod:`.service` (the resolver
    on a socket), :mod:`.blocking` (for pyspf and dkimpy).
shared
    :mod:`.addresses` (``ADDR:PORT``), :mod:`.rendering` (what fits a transport),
    :mod:`.server` (the asyncio UDP/TCP shell), :mod:`.cli` (``elsinore dns``),
    :mod:`.example` (the castle.test zone).

Everything except :mod:`.server`, :mod:`.resolver`, :mod:`.service`, :mod:`.blocking` and
:mod:`.cli` is sans-IO.  Like :mod:`stack.mime`, this package is the floor of the stack: it
imports nothing else of ours except :mod:`stack.errors`.
"""
