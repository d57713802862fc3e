"""Elsinore's DNS: an authoritative primary and a caching resolver, built on dnspython.

dnspython owns the wire format, zones, TSIG and update messages; the modules here are policy:
what to answer (:mod:`.authority`), how to apply a dynamic update (:mod:`.update`), when a zone
may be transferred (:mod:`.transfer`), and how to walk the hierarchy from the root
(:mod:`.resolver`).  Each of those is sans-IO; :mod:`.server` is the asyncio shell that moves
bytes between sockets and a :class:`~.responder.Responder`.

Like :mod:`stack.mime`, this package is the floor of the stack: it imports nothing else of ours
except :mod:`stack.errors`.
"""
