"""The verifying hop's transform: SPF, every DKIM signature, DMARC and ARC, in fields.

One call per message arriving from outside.  It removes any Authentication-Results field
that claims our authserv-id (RFC 8601 §5: it can only be forged), then prepends
``Received-SPF`` (RFC 7208 §9.1) and one ``Authentication-Results`` carrying our id and every
result (RFC 8601 §2).  Other bytes are left as they came, so the signatures that were valid
on arrival stay valid for the next hop.  :func:`stamp` works on bytes (the CLI, the fuzz
targets); :func:`stamp_tree` is the same edit on the lossless tree a hop already holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from stack.auth import arc, dkim, dmarc, results, spf
from stack.auth.lookup import DnsLookup
from stack.auth.spf import SpfResult
from stack.mime import Message, parse


@dataclass(frozen=True)
class Verdict:
    """Everything the hop learnt about one message."""

    spf: spf.SpfResult
    dkim: tuple[dkim.DkimResult, ...]
    dmarc: dmarc.DmarcOutcome
    arc: arc.ArcChain = arc.NO_CHAIN
    #: The HELO identity checked on its own (RFC 7208 §2.3), when the hop checks it beside a
    #: MAIL FROM that is not null; reported as a second ``spf=`` entry with ``smtp.helo``.
    helo: SpfResult | None = None

    def authentication_results(self, authserv_id: str) -> str:
        entries = [results.spf_result(self.spf)]
        if self.helo is not None:
            entries.append(results.spf_result(self.helo))
        entries += [results.dkim_result(result) for result in self.dkim]
        if self.dmarc.result != "none" or self.dmarc.from_domain:
            verdict = results.DmarcVerdict(
                self.dmarc.result,
                self.dmarc.from_domain,
                self.dmarc.policy or "",
                self.dmarc.reason,
            )
            entries.append(results.dmarc_result(verdict))
        # Always stated, ``arc=none`` included: a forwarder's seal takes its cv= from it.
        entries.append(results.arc_result(self.arc.result))
        return results.authentication_results(authserv_id, entries)


def authenticate(
    message: bytes,
    ip: str,
    sender: str,
    helo: str,
    lookup: DnsLookup,
    *,
    sample: float | None = None,
) -> Verdict:
    """Check SPF (MAIL FROM, or HELO for a null sender), DKIM, DMARC and the ARC chain."""
    spf_result = spf.check_host(ip, sender, helo, lookup)
    dkim_results = tuple(dkim.verify_all(message, lookup))
    outcome = dmarc.evaluate(message, spf_result, dkim_results, lookup, sample=sample)
    return Verdict(spf_result, dkim_results, outcome, arc.verify_chain(message, lookup))


def stamp(message: bytes, verdict: Verdict, authserv_id: str) -> bytes:
    """``message`` without forged fields of ours, with Received-SPF and our A-R on top."""
    return bytes(stamp_tree(parse(message), verdict, authserv_id))


def stamp_tree(tree: Message, verdict: Verdict, authserv_id: str) -> Message:
    """:func:`stamp` in place on a parsed message, which it returns: no byte is written
    again but the fields removed and the two prepended."""
    results.remove_forged(tree, authserv_id)
    tree.prepend(results.RECEIVED_SPF, results.received_spf(verdict.spf, authserv_id))
    tree.prepend(results.AUTHENTICATION_RESULTS, verdict.authentication_results(authserv_id))
    return tree


__all__ = ["Verdict", "authenticate", "stamp", "stamp_tree"]
