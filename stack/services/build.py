"""Each service of ``stack.toml``, built: its listeners, transform, spool and next hop.

The hops between our own services talk STARTTLS, required, and verify each other's
certificate against the stack's own CA (each certificate names its service's address, since
the hops reach each other by address).  The relay alone talks to the world: opportunistic
STARTTLS by MX through our resolver, or to a smarthost.

Every builder reads its table through :class:`~stack.config.Table`, which checks each
value's type; :func:`stack.config.load` has refused unknown keys already.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import dns.name

from stack.auth.errors import SigningKeyError
from stack.auth.keys import read_seed
from stack.config import SMTP_PORT, ConfigError, ServiceConfig, StackConfig
from stack.dns.addresses import Endpoint
from stack.dns.blocking import BlockingResolver
from stack.dns.keys import load_keys
from stack.dns.primary import Primary
from stack.dns.resolver import Resolver
from stack.dns.service import ResolverService
from stack.dns.zones import ZoneDirectory
from stack.relay.aliases import Watcher
from stack.relay.srs import Srs, SrsError
from stack.services.base import Closer, DnsService, Service, SmtpService, Starter, smtp_service
from stack.services.relay import Routing, Sealer, relay_outbound
from stack.services.signer import DkimSigning, KeyPublisher, SigningKeys, signing_keys
from stack.services.spamfilter import Labelling, WordDatabase
from stack.services.submission import SESSION_OPTIONS, Logins, SubmissionInbound, Throttle
from stack.services.verifier import Recipients, Verification
from stack.smtp.client import Outbound
from stack.smtp.policy import Reply
from stack.smtp.server import Inbound, InboundConfig, Transform, stamp_received
from stack.smtp.tls import client_context, server_context
from stack.spam.stores import REDIS_SCHEMES

#: The internal hops take mail from their upstream services only: the signer signs whatever
#: reaches it, and the relay forwards anywhere.  The MX and submission take it from anyone.
UPSTREAMS = {
    "signer": ("submission",),
    "spamfilter": ("verifier",),
    "relay": ("signer", "spamfilter"),
}

#: Poll the users folder at most this often (seconds): a new user works within it.
USERS_POLL = 1.0


def resolver_endpoint(config: StackConfig) -> Endpoint:
    """Where our resolver service listens: what the MX and the relay ask."""
    return config.service("resolver").listen[0]


def stack_resolver(config: StackConfig) -> Resolver:
    """A client of our resolver service (a cache of its own in front of it)."""
    return Resolver(forwarders=[resolver_endpoint(config)])


def users_watcher(config: StackConfig) -> Watcher:
    return Watcher(config.users, config.domain, postmaster=config.postmaster)


def _hop(
    config: StackConfig,
    service: ServiceConfig,
    transforms: Sequence[Transform],
    *,
    outbound: Outbound | None = None,
    recipients: Callable[[str], Reply | None] | None = None,
    session_options: dict[str, object] | None = None,
    handler_class: Callable[..., Inbound] = Inbound,
    starters: Sequence[Starter] = (),
    closers: Sequence[Closer] = (),
) -> SmtpService:
    cert, key = config.certificate(service.name)
    if outbound is None:
        if service.forward is None:
            raise service.table.error("forward", "missing: where this hop forwards to")
        outbound = Outbound(
            helo=service.hostname,
            smarthost=(service.forward.host, service.forward.port),
            starttls="required",
            tls_context=client_context(config.ca_certificate),
            source_address=service.endpoints()[0].host,
        )
    upstream = UPSTREAMS.get(service.name)
    inbound = InboundConfig(
        hostname=service.hostname,
        transforms=(stamp_received, *transforms),
        recipients=recipients,
        session_options=dict(session_options or {}),
        clients=None
        if upstream is None
        else frozenset(e.host for name in upstream for e in config.service(name).endpoints()),
    )
    return smtp_service(
        service.name,
        inbound,
        config.spool / service.name,
        outbound,
        listen=service.listen,
        listen_tls=service.listen_tls,
        tls_context=server_context(cert, key),
        handler_class=handler_class,
        reverse_resolver=stack_resolver(config),
        starters=starters,
        closers=closers,
    )


def stack_signing_keys(config: StackConfig) -> SigningKeys:
    """The signer's two keys, from ``key_seed`` or from their files (the relay's ARC seal
    uses the RSA one too)."""
    table = config.service("signer").table
    try:
        if table.has("key_seed"):
            if table.has("rsa_key") or table.has("ed25519_key"):
                raise table.error("key_seed", "give key_seed or the key files, not both")
            return signing_keys(seed=read_seed(table.string("key_seed"), "key_seed"))
        return signing_keys(
            rsa_key=table.path_value("rsa_key"), ed25519_key=table.path_value("ed25519_key")
        )
    except SigningKeyError as exc:
        raise ConfigError(config.path, "signer", str(exc)) from None


# -- DNS -------------------------------------------------------------------------------------


def build_dns(config: StackConfig) -> Service:
    table = config.service("dns").table
    keys = table.path_value("keys", "keys/tsig.keys")
    primary = Primary.from_directory(
        ZoneDirectory(table.path_value("zones", "zones")), load_keys(keys)
    )
    return DnsService("dns", primary.respond, config.service("dns").listen)


def build_resolver(config: StackConfig) -> Service:
    table = config.service("resolver").table
    roots = table.strings("roots")
    forwarders = table.endpoints("forwarders", 53)
    port = table.integer("root_port", 53, minimum=1)
    if bool(roots) == bool(forwarders):
        raise table.error("forwarders", "give `forwarders` or `roots`, one of the two")
    resolver = Resolver(roots, forwarders, port=port)
    return DnsService("resolver", ResolverService(resolver), config.service("resolver").listen)


# -- the SMTP services -----------------------------------------------------------------------


def build_submission(config: StackConfig) -> Service:
    service = config.service("submission")
    table = service.table
    logins = Logins(users_watcher(config), reload_interval=USERS_POLL)
    throttle = Throttle(
        failures=table.integer("throttle_failures", 5, minimum=1),
        window=float(table.integer("throttle_window", 600, minimum=1)),
    )
    return _hop(
        config,
        service,
        (),
        session_options=dict(SESSION_OPTIONS),
        handler_class=functools.partial(SubmissionInbound, logins=logins, throttle=throttle),
    )


def build_signer(config: StackConfig) -> Service:
    service = config.service("signer")
    table = service.table
    selectors = stack_signing_keys(config).selectors(
        table.string("rsa_selector"), table.string("ed25519_selector")
    )
    dns_table = config.service("dns").table
    keyring = load_keys(dns_table.path_value("keys", "keys/tsig.keys"))
    name = table.string("tsig_key")
    tsig_key = keyring.get(dns.name.from_text(name))
    if tsig_key is None:
        raise table.error("tsig_key", f"no key {name} in the dns keys file")
    publisher = KeyPublisher(config.service("dns").listen[0], tsig_key, [config.domain], selectors)
    return _hop(config, service, (DkimSigning([config.domain], selectors),), starters=[publisher])


def resolver_lookup(config: StackConfig) -> BlockingResolver:
    """stack.auth's DNS (blocking calls) through our resolver service; close it on stop."""
    return BlockingResolver(stack_resolver(config))


def srs_of(config: StackConfig) -> Srs:
    """The relay's SRS: one secret per line of its secrets file, the first one signing."""
    table = config.service("relay").table
    path = table.path_value("srs_secrets", "keys/srs.secrets")
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        raise table.error("srs_secrets", f"{path}: {exc.strerror or exc}") from None
    secrets = [line.strip() for line in lines if line.strip()]
    if not secrets:
        raise table.error("srs_secrets", f"{path}: holds no secret")
    return Srs(secrets, config.domain)


def authserv_id(config: StackConfig) -> str:
    """The name the verifier's Authentication-Results start with (the relay seals those)."""
    return config.service("verifier").table.string("authserv_id", config.domain)


def build_verifier(config: StackConfig) -> Service:
    service = config.service("verifier")
    lookup = resolver_lookup(config)
    srs = srs_of(config)

    def bounce_address(local_part: str) -> bool:
        # A bounce coming back to a sender the relay rewrote: the relay reverses it.
        try:
            srs.reverse(f"{local_part}@{config.domain}")
        except SrsError:
            return False
        return True

    recipients = Recipients([config.domain], users_watcher(config), also=bounce_address)
    return _hop(
        config,
        service,
        (Verification(authserv_id(config), lookup),),
        recipients=recipients,
        closers=[lookup.close],
    )


def build_spamfilter(config: StackConfig) -> Service:
    service = config.service("spamfilter")
    table = service.table
    location = table.string("database", "spam.db")
    if not location.startswith(REDIS_SCHEMES):
        location = str(table.path_value("database"))
    database = WordDatabase(location)
    return _hop(config, service, (Labelling(database),), closers=[database.close])


def build_relay(config: StackConfig) -> Service:
    service = config.service("relay")
    table = service.table
    smarthost = table.optional_endpoint("smarthost", SMTP_PORT)
    outbound = relay_outbound(
        service.hostname,
        resolvers=[resolver_endpoint(config)],
        smarthost=None if smarthost is None else (smarthost.host, smarthost.port),
        port=table.integer("mx_port", SMTP_PORT, minimum=1),
        # From the address our SPF record names, with Postfix's dead-host memory.
        source_address=service.endpoints()[0].host,
        dead_host_seconds=60.0,
    )
    sealer = None
    if table.boolean("arc", True):
        signer = config.service("signer").table
        sealer = Sealer(
            config.domain,
            signer.string("rsa_selector"),
            stack_signing_keys(config).rsa,
            authserv_id=authserv_id(config),
        )
    routing = Routing(users_watcher(config), srs_of(config), sealer=sealer)
    return _hop(
        config,
        service,
        (routing,),
        outbound=outbound,
        recipients=routing.check_recipient,
    )


BUILDERS: dict[str, Callable[[StackConfig], Service]] = {
    "dns": build_dns,
    "resolver": build_resolver,
    "relay": build_relay,
    "spamfilter": build_spamfilter,
    "verifier": build_verifier,
    "signer": build_signer,
    "submission": build_submission,
}


def build(config: StackConfig, names: Sequence[str]) -> list[Service]:
    """The services ``names``, in the order given."""
    return [BUILDERS[name](config) for name in names]


__all__ = [
    "BUILDERS",
    "build",
    "resolver_endpoint",
    "stack_resolver",
    "users_watcher",
]
