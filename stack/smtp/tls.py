"""TLS for the hop: a local certificate authority, and the contexts servers and clients use.

Tests, simulations and small deployments need certificates that a client can verify without
the public PKI: :class:`LocalAuthority` makes a CA with ``cryptography`` and issues server
certificates for names and loopback addresses.  Keys are ECDSA P-256, which is quick to make
and accepted by every TLS 1.2+ peer we talk to (swaks, Postfix, aiosmtplib).

Two client policies, as Postfix names them: *may* (opportunistic: encrypt, verify nothing,
because a mail server that refused unverifiable peers would refuse most of the internet) and
*verify* (a configured CA, the peer's name checked).  :func:`client_context` returns one or
the other depending on whether a CA is given.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from stack.errors import ElsinoreError

#: Older protocols are refused in both directions (RFC 8996 deprecates TLS 1.0 and 1.1).
MINIMUM_VERSION = ssl.TLSVersion.TLSv1_2
#: How far back a new certificate's validity starts, so a peer with a slow clock accepts it.
_BACKDATE = datetime.timedelta(hours=1)


class TlsConfigError(ElsinoreError):
    """A certificate, key or CA file that cannot be read or does not match."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """A certificate (PEM, the leaf first) and its private key (PEM, PKCS#8)."""

    certificate_pem: bytes
    key_pem: bytes

    def write(self, directory: Path, stem: str) -> tuple[Path, Path]:
        """Write ``STEM.crt`` and ``STEM.key`` (mode 0600) into ``directory``; return both."""
        directory.mkdir(parents=True, exist_ok=True)
        cert_file, key_file = directory / f"{stem}.crt", directory / f"{stem}.key"
        cert_file.write_bytes(self.certificate_pem)
        key_file.touch(mode=0o600)
        key_file.write_bytes(self.key_pem)
        return cert_file, key_file

    def server_context(self) -> ssl.SSLContext:
        """A server context holding these credentials.

        :mod:`ssl` loads a chain only from files, so the PEM goes through a private temporary
        directory that is gone when this returns.
        """
        with tempfile.TemporaryDirectory(prefix="elsinore-tls-") as scratch:
            return server_context(*self.write(Path(scratch), "server"))


class LocalAuthority:
    """A certificate authority of our own, for certificates that only our clients trust."""

    def __init__(self, name: str = "Elsinore local CA", *, days: int = 365) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.UTC)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_usage(signs_certificates=True), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False
            )
            .sign(self._key, hashes.SHA256())
        )

    @classmethod
    def load(cls, certificate_file: Path, key_file: Path) -> LocalAuthority:
        """The CA a stack directory keeps (``tls/ca.crt`` and ``tls/ca.key``), to issue more
        certificates from it; :class:`TlsConfigError` when the two cannot be read as a pair."""
        try:
            certificate = x509.load_pem_x509_certificate(certificate_file.read_bytes())
            key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise TlsConfigError(
                f"cannot load the CA {certificate_file} with the key {key_file}: {_reason(exc)}"
            ) from None
        public = serialization.PublicFormat.SubjectPublicKeyInfo
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key().public_bytes(
            serialization.Encoding.DER, public
        ) != certificate.public_key().public_bytes(serialization.Encoding.DER, public):
            raise TlsConfigError(f"{key_file} is not the key of the CA {certificate_file}")
        authority = cls.__new__(cls)
        authority._key = key
        authority.certificate = certificate
        return authority

    @property
    def certificate_pem(self) -> bytes:
        """The CA's certificate, what a client is given to verify servers with."""
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        """The CA's private key (PKCS #8, unencrypted): for a stack directory that issues
        certificates again later; keep it private."""
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def write(self, path: Path) -> Path:
        """Write the CA certificate (not its key) to ``path``, for ``--tls-ca`` options."""
        path.write_bytes(self.certificate_pem)
        return path

    def issue(self, names: Sequence[str], *, days: int = 30) -> Credentials:
        """A server certificate for ``names``: host names, or IP literals (IP SANs).

        The first name is also the subject's common name, for peers that still log it.
        """
        if not names:
            raise ValueError("a server certificate needs at least one name")
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_usage(signs_certificates=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(_alt_names(names)), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
            .sign(self._key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return Credentials(certificate.public_bytes(serialization.Encoding.PEM), key_pem)


def _usage(*, signs_certificates: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=signs_certificates,
        crl_sign=signs_certificates,
        encipher_only=False,
        decipher_only=False,
    )


def _alt_names(names: Sequence[str]) -> list[x509.GeneralName]:
    alt_names: list[x509.GeneralName] = []
    for name in names:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt_names.append(x509.DNSName(name))
    return alt_names


def server_context(cert_file: Path | str, key_file: Path | str) -> ssl.SSLContext:
    """The context a server offers STARTTLS or implicit TLS with (``--tls-cert/--tls-key``)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = MINIMUM_VERSION
    try:
        context.load_cert_chain(cert_file, key_file)
    except (OSError, ssl.SSLError) as exc:
        raise TlsConfigError(
            f"cannot load the certificate {cert_file} with the key {key_file}: {_reason(exc)}"
        ) from None
    return context


def client_context(
    ca_file: Path | str | None = None, *, ca_pem: bytes | None = None
) -> ssl.SSLContext:
    """The context a client starts TLS with.

    With a CA (a file, or PEM bytes) the server's certificate must chain to it and name the
    host we meant to reach; the system's trust store is not consulted, so a configured CA is
    the only one trusted.  Without one, the context encrypts and verifies nothing
    (opportunistic TLS, RFC 7435).
    """
    if ca_file is None and ca_pem is None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies and checks names
        try:
            if ca_file is not None:
                context.load_verify_locations(cafile=ca_file)
            if ca_pem is not None:
                context.load_verify_locations(cadata=ca_pem.decode("ascii"))
        except (OSError, ssl.SSLError, UnicodeDecodeError) as exc:
            where = ca_file or "(PEM)"
            raise TlsConfigError(f"cannot load the CA {where}: {_reason(exc)}") from None
    context.minimum_version = MINIMUM_VERSION
    return context


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason).lower().replace("_", " ")
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
