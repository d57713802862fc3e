"""Publish a TXT record (a DKIM key at ``SELECTOR._domainkey.DOMAIN``) by a TSIG-signed update.

This is how the seed deployment's signer put its key into the primary: one update that
replaces whatever TXT the selector had, signed with a key the primary's keys file lists.
The record is cut into 255-octet character-strings (RFC 1035 §3.3.14), which a 2048-bit RSA
key needs; verifiers join them (RFC 6376 §3.6.2.2).
"""

from __future__ import annotations

import dns.exception
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.tsig
import dns.update

from stack.auth.errors import PublishError
from stack.dns.addresses import Endpoint

_STRING_LIMIT = 255


def selector_name(selector: str, domain: str) -> dns.name.Name:
    """RFC 6376 §3.6.2.1: where a selector's key record lives."""
    return dns.name.from_text(f"{selector}._domainkey.{domain.rstrip('.')}.")


def txt_rdata(record: str) -> dns.rdtypes.ANY.TXT.TXT:
    data = record.encode("ascii")
    strings = tuple(data[i : i + _STRING_LIMIT] for i in range(0, len(data), _STRING_LIMIT))
    return dns.rdtypes.ANY.TXT.TXT(dns.rdataclass.IN, dns.rdatatype.TXT, strings or (b"",))


def update_message(
    zone: str, name: dns.name.Name, record: str, key: dns.tsig.Key, ttl: int = 300
) -> dns.update.UpdateMessage:
    """The update that replaces the TXT records at ``name`` with ``record`` (sans-IO)."""
    message = dns.update.UpdateMessage(zone, keyring=key)
    message.replace(name, ttl, txt_rdata(record))
    return message


def publish_txt(
    server: Endpoint,
    zone: str,
    name: dns.name.Name,
    record: str,
    key: dns.tsig.Key,
    *,
    ttl: int = 300,
    timeout: float = 5.0,
) -> None:
    """Send the update over TCP; raises :class:`PublishError` unless the primary says NOERROR.

    DMARC policies (``_dmarc.DOMAIN``) are published the same way as keys."""
    message = update_message(zone, name, record, key, ttl)
    try:
        response = dns.query.tcp(message, server.host, timeout=timeout, port=server.port)
    except (dns.exception.DNSException, OSError) as exc:
        raise PublishError(f"publishing {name} via {server}: {exc}") from None
    if response.rcode() != dns.rcode.NOERROR:
        rcode = dns.rcode.to_text(response.rcode())
        raise PublishError(f"{server} refused the update of {zone}: {rcode}")


def publish(
    server: Endpoint,
    zone: str,
    selector: str,
    domain: str,
    record: str,
    key: dns.tsig.Key,
    *,
    ttl: int = 300,
    timeout: float = 5.0,
) -> None:
    """Publish a DKIM key record for ``selector`` of ``domain``."""
    name = selector_name(selector, domain)
    publish_txt(server, zone, name, record, key, ttl=ttl, timeout=timeout)


__all__ = ["publish", "publish_txt", "selector_name", "txt_rdata", "update_message"]
