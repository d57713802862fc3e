"""stack.auth: message authentication — SPF, DKIM, DMARC, ARC and the fields that report them.

Each protocol is a sans-IO evaluation over message bytes and a :class:`~.lookup.DnsLookup`
(the only way this package reaches DNS); the libraries that do the cryptography and the
record grammars (pyspf, dkimpy, authres) sit behind small typed interfaces of our own.

RFCs: 7208 (SPF), 6376 and 8463 (DKIM), 7489 (DMARC), 8617 (ARC), 8601
(Authentication-Results).
"""
