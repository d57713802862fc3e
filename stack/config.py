"""The topology of one mail domain: ``stack.toml``, which services run where, and what with.

``elsinore stack init`` writes the file; ``stack up`` and ``stack status`` read it.  It has
one table per service, named as :data:`SERVICES` names them, and a few keys for the domain
as a whole.  Every path in it is relative to the file's folder, so a stack directory can be
moved or copied whole.

Reading is strict: an unknown key (:data:`KEYS` lists them all), a value of the wrong type
or an address that does not parse is a :class:`ConfigError` naming the file, the key and the
reason, at start-up, never a service that runs with a setting silently ignored.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from stack.dns.addresses import Endpoint, parse_endpoint
from stack.errors import ElsinoreError, excerpt

#: The file ``stack init`` writes in a stack directory.
CONFIG_NAME: Final = "stack.toml"

#: Every service of a domain, in the order ``stack up`` starts them: DNS first (the signer
#: publishes its keys through the primary, the MX asks the resolver), then each SMTP hop
#: before the hop that forwards to it.
SERVICES: Final = ("dns", "resolver", "relay", "spamfilter", "verifier", "signer", "submission")

#: The services that speak SMTP (the others are DNS).
SMTP_SERVICES: Final = ("relay", "spamfilter", "verifier", "signer", "submission")

#: The keys of the top level and of each table; anything else is a misspelling.
_HOP = frozenset({"hostname", "listen", "listen_tls", "forward"})
KEYS: Final[Mapping[str, frozenset[str]]] = {
    "": frozenset({"domain", "postmaster", "users", "spool", "ca", "tls", *SERVICES}),
    "dns": frozenset({"listen", "zones", "keys"}),
    "resolver": frozenset({"listen", "forwarders", "roots", "root_port"}),
    "submission": _HOP | {"throttle_failures", "throttle_window"},
    "signer": _HOP
    | {"rsa_selector", "rsa_key", "ed25519_selector", "ed25519_key", "key_seed", "tsig_key"},
    "verifier": _HOP | {"authserv_id"},
    "spamfilter": _HOP | {"database"},
    "relay": _HOP | {"smarthost", "srs_secrets", "arc", "mx_port"},
}

SMTP_PORT: Final = 25
SUBMISSION_PORT: Final = 587
SUBMISSIONS_PORT: Final = 465
DNS_PORT: Final = 53


class ConfigError(ElsinoreError):
    """``stack.toml`` cannot be used: which file, which key, and why."""

    def __init__(self, where: Path | str, key: str, reason: str) -> None:
        self.where = str(where)
        self.key = key
        self.reason = reason
        super().__init__(str(self))

    def __str__(self) -> str:
        at = f": {self.key}" if self.key else ""
        return f"{self.where}{at}: {self.reason}"


class Table:
    """One table of ``stack.toml``, read key by key with a type check for each.

    ``path`` is the table's dotted name, for errors; ``base`` the folder paths are relative to.
    """

    def __init__(self, values: Mapping[str, Any], source: Path, path: str, base: Path) -> None:
        self.values = values
        self.source = source
        self.path = path
        self.base = base

    def _key(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str, reason: str) -> ConfigError:
        return ConfigError(self.source, self._key(key), reason)

    def _get(self, key: str, kind: type | tuple[type, ...], what: str) -> Any:
        value = self.values.get(key)
        # bool is an int in Python, and never what an int setting means.
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            raise self.error(key, f"must be {what}, not {excerpt(repr(value))}")
        return value

    def has(self, key: str) -> bool:
        return key in self.values

    def string(self, key: str, default: str | None = None) -> str:
        value = self._get(key, str, "a string")
        if value is None:
            if default is None:
                raise self.error(key, "missing")
            return default
        if not value or any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
            raise self.error(key, "must be a non-empty string without control characters")
        return str(value)

    def optional_string(self, key: str) -> str | None:
        return self.string(key) if self.has(key) else None

    def integer(self, key: str, default: int, *, minimum: int = 0) -> int:
        value = self._get(key, int, "an integer")
        if value is None:
            return default
        if value < minimum:
            raise self.error(key, f"must be at least {minimum}, not {value}")
        return int(value)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.values.get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, not {excerpt(repr(value))}")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self._get(key, list, "a list of strings")
        if value is None:
            return ()
        if not all(isinstance(item, str) and item for item in value):
            raise self.error(key, "must be a list of non-empty strings")
        return tuple(value)

    def path_value(self, key: str, default: str | None = None) -> Path:
        """A path, relative to the stack directory unless absolute."""
        return self.base / self.string(key, default)

    def endpoint(self, key: str, default_port: int) -> Endpoint:
        return self._endpoint(key, self.string(key), default_port)

    def optional_endpoint(self, key: str, default_port: int) -> Endpoint | None:
        return self.endpoint(key, default_port) if self.has(key) else None

    def endpoints(self, key: str, default_port: int) -> tuple[Endpoint, ...]:
        return tuple(self._endpoint(key, text, default_port) for text in self.strings(key))

    def _endpoint(self, key: str, text: str, default_port: int) -> Endpoint:
        try:
            return parse_endpoint(text, default_port)
        except ValueError as exc:
            raise self.error(key, str(exc)) from None

    def table(self, key: str) -> Table:
        value = self._get(key, dict, "a table")
        return Table(value or {}, self.source, self._key(key), self.base)

    def check_keys(self, known: frozenset[str]) -> None:
        """Refuse a key that is not in ``known``: a misspelt setting, never ignored."""
        for key in self.values:
            if key not in known:
                raise self.error(key, "unknown setting (misspelt?)")


@dataclass(frozen=True)
class ServiceConfig:
    """What every service has: a name, the addresses it listens on, and its own table.

    ``listen_tls`` are implicit-TLS listeners (submission's 465); ``listen`` speak in clear
    and offer STARTTLS when the service has a certificate.  ``forward`` is the next hop, for
    the hops that have one.  The service-specific keys are read from ``table`` by the code
    that builds the service (:mod:`stack.services.build`).
    """

    name: str
    hostname: str
    listen: tuple[Endpoint, ...]
    listen_tls: tuple[Endpoint, ...]
    forward: Endpoint | None
    table: Table

    def endpoints(self) -> tuple[Endpoint, ...]:
        return (*self.listen, *self.listen_tls)


@dataclass(frozen=True)
class StackConfig:
    """A stack directory's ``stack.toml``, read and checked."""

    path: Path
    domain: str
    postmaster: str | None
    users: Path
    spool: Path
    ca_certificate: Path
    tls: Path
    services: Mapping[str, ServiceConfig]
    root: Table

    @property
    def directory(self) -> Path:
        return self.path.parent

    def service(self, name: str) -> ServiceConfig:
        return self.services[name]

    def certificate(self, name: str) -> tuple[Path, Path]:
        """The certificate and key files of service ``name``."""
        return self.tls / f"{name}.crt", self.tls / f"{name}.key"

    def __iter__(self) -> Iterator[ServiceConfig]:
        return iter(self.services.values())


def config_path(directory: Path) -> Path:
    """``DIR/stack.toml``, or ``DIR`` itself when it is the file."""
    return directory if directory.suffix == ".toml" else directory / CONFIG_NAME


def load(directory: Path) -> StackConfig:
    """Read and check ``DIR/stack.toml``; raises :class:`ConfigError`."""
    path = config_path(directory)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            path, "", "no such file (make one with `elsinore stack init DIR --domain NAME`)"
        ) from None
    except OSError as exc:
        raise ConfigError(path, "", exc.strerror or str(exc)) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(path, "", f"not TOML: {exc}") from None
    root = Table(data, path, "", path.parent)
    root.check_keys(KEYS[""])
    domain = root.string("domain").rstrip(".").lower()
    services: dict[str, ServiceConfig] = {}
    for name in SERVICES:
        if not root.has(name):
            raise root.error(name, "missing: every service has a table")
        table = root.table(name)
        table.check_keys(KEYS[name])
        default_port = DNS_PORT if name in ("dns", "resolver") else SMTP_PORT
        services[name] = ServiceConfig(
            name=name,
            hostname=table.string("hostname", f"{name}.{domain}"),
            listen=table.endpoints("listen", default_port),
            listen_tls=table.endpoints("listen_tls", SUBMISSIONS_PORT),
            forward=table.optional_endpoint("forward", SMTP_PORT),
            table=table,
        )
        if not services[name].endpoints():
            raise table.error("listen", "a service needs at least one address to listen on")
    return StackConfig(
        path=path,
        domain=domain,
        postmaster=root.optional_string("postmaster"),
        users=root.path_value("users", "users"),
        spool=root.path_value("spool", "spool"),
        ca_certificate=root.path_value("ca", "tls/ca.crt"),
        tls=root.path_value("tls", "tls"),
        services=services,
        root=root,
    )


# -- writing ---------------------------------------------------------------------------------


def toml_value(value: object) -> str:
    """``value`` written as TOML: the strings, integers, booleans and lists stack.toml holds."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        if any(ord(char) < 0x20 or ord(char) == 0x7F for char in escaped):
            raise ValueError(f"a control character in a configuration value: {excerpt(value)}")
        return f'"{escaped}"'
    if isinstance(value, Sequence):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def toml_table(name: str, values: Mapping[str, object], comments: Mapping[str, str]) -> str:
    """One ``[name]`` table; ``comments`` are written above their keys."""
    lines = [f"[{name}]"] if name else []
    for key, value in values.items():
        if value is None:
            continue
        if key in comments:
            lines.append(f"# {comments[key]}")
        lines.append(f"{key} = {toml_value(value)}")
    return "\n".join(lines) + "\n"


__all__ = [
    "CONFIG_NAME",
    "KEYS",
    "SERVICES",
    "SMTP_SERVICES",
    "ConfigError",
    "ServiceConfig",
    "StackConfig",
    "Table",
    "config_path",
    "load",
    "toml_table",
    "toml_value",
]
