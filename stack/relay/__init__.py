"""stack.relay: where mail for our domain goes next.

The relay maps each local address to the user's real mailboxes elsewhere
(:mod:`~stack.relay.aliases`, a folder of per-user records, reread when it changes), rewrites
the envelope sender of forwarded mail with SRS so that SPF passes at the final receiver, and
delivers by MX.
"""
