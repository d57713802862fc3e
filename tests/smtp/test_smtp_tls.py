"""The local CA and the TLS contexts, over real sockets on loopback."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from stack.smtp.tls import LocalAuthority, TlsConfigError, client_context, server_context

pytestmark = pytest.mark.timeout(30)


def handshake(server: ssl.SSLContext, client: ssl.SSLContext, name: str) -> str:
    """Connect ``client`` to ``server`` over 127.0.0.1; the TLS version, or the error."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def serve() -> None:
            connection, _ = listener.accept()
            try:
                with server.wrap_socket(connection, server_side=True) as tls:
                    tls.recv(1)
            except (ssl.SSLError, OSError):
                connection.close()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            with (
                socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
                client.wrap_socket(raw, server_hostname=name) as tls,
            ):
                return tls.version() or ""
        except ssl.SSLError as exc:
            return f"error: {exc.reason}"
        finally:
            thread.join(5)


def test_a_certificate_issued_by_the_local_ca_verifies_for_its_names() -> None:
    ca = LocalAuthority()
    server = ca.issue(["mx.castle.test", "127.0.0.25"]).server_context()
    verified = client_context(ca_pem=ca.certificate_pem)
    assert handshake(server, verified, "mx.castle.test") == "TLSv1.3"
    assert handshake(server, verified, "127.0.0.25") == "TLSv1.3"
    assert handshake(server, verified, "other.castle.test") == "error: CERTIFICATE_VERIFY_FAILED"


def test_a_ca_file_is_the_only_trust_anchor(tmp_path: Path) -> None:
    ours, theirs = LocalAuthority(), LocalAuthority("theirs")
    server = theirs.issue(["mx.castle.test"]).server_context()
    verified = client_context(ours.write(tmp_path / "ca.pem"))
    assert handshake(server, verified, "mx.castle.test") == "error: CERTIFICATE_VERIFY_FAILED"
    assert handshake(server, client_context(), "mx.castle.test") == "TLSv1.3"


def test_credentials_written_to_files_load_and_the_key_is_private(tmp_path: Path) -> None:
    cert, key = LocalAuthority().issue(["mx.castle.test"]).write(tmp_path, "mx")
    assert key.stat().st_mode & 0o077 == 0
    server_context(cert, key)


def test_a_key_that_does_not_match_is_a_typed_error(tmp_path: Path) -> None:
    ca = LocalAuthority()
    cert, _ = ca.issue(["a.test"]).write(tmp_path, "a")
    _, other_key = ca.issue(["b.test"]).write(tmp_path, "b")
    with pytest.raises(TlsConfigError, match=r"cannot load the certificate .*a\.crt"):
        server_context(cert, other_key)
    with pytest.raises(TlsConfigError, match="cannot load the CA"):
        client_context(tmp_path / "missing.pem")


def test_a_stack_directory_ca_is_loaded_and_issues_again(tmp_path: Path) -> None:
    # The world issues its providers' certificates from our stack's CA: one CA for all.
    authority = LocalAuthority("castle CA")
    authority.write(tmp_path / "ca.crt")
    (tmp_path / "ca.key").write_bytes(authority.key_pem)
    loaded = LocalAuthority.load(tmp_path / "ca.crt", tmp_path / "ca.key")
    issued = x509.load_pem_x509_certificate(loaded.issue(["mx.bigmail.test"]).certificate_pem)
    issued.verify_directly_issued_by(authority.certificate)
    (tmp_path / "other.key").write_bytes(LocalAuthority().key_pem)
    with pytest.raises(TlsConfigError, match="is not the key of the CA"):
        LocalAuthority.load(tmp_path / "ca.crt", tmp_path / "other.key")


def test_files_that_cannot_be_read_are_typed_errors_naming_the_file_and_why(
    tmp_path: Path,
) -> None:
    # One line a user can act on: which file, and the reason as the OS or OpenSSL gave it.
    ca = LocalAuthority()
    cert, key = ca.issue(["a.test"]).write(tmp_path, "a")
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"not a certificate\n")
    missing = tmp_path / "missing.pem"
    with pytest.raises(TlsConfigError) as raised:
        client_context(missing)
    assert str(raised.value) == f"cannot load the CA {missing}: No such file or directory"
    with pytest.raises(TlsConfigError) as raised:
        client_context(junk)
    assert str(raised.value) == f"cannot load the CA {junk}: no certificate or crl found"
    with pytest.raises(TlsConfigError) as raised:
        client_context(ca_pem=b"\xff" + ca.certificate_pem)
    assert str(raised.value).startswith(
        "cannot load the CA (PEM): 'ascii' codec can't decode byte 0xff in position 0"
    )
    with pytest.raises(TlsConfigError) as raised:
        server_context(missing, key)
    assert str(raised.value) == (
        f"cannot load the certificate {missing} with the key {key}: No such file or directory"
    )
    with pytest.raises(TlsConfigError) as raised:
        LocalAuthority.load(junk, key)
    assert str(raised.value).startswith(
        f"cannot load the CA {junk} with the key {key}: Unable to load PEM file"
    )
    with pytest.raises(TlsConfigError) as raised:
        LocalAuthority.load(cert, missing)
    assert str(raised.value) == (
        f"cannot load the CA {cert} with the key {missing}: No such file or directory"
    )


def test_certificates_are_valid_now_whatever_the_local_time_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Validity is in UTC (RFC 5280 4.1.2.5): a host whose zone is ahead of UTC must not make
    # certificates that start to be valid hours from now.
    monkeypatch.setenv("TZ", "UTC-14")
    time.tzset()
    try:
        ca = LocalAuthority()
        credentials = ca.issue(["mx.castle.test"])
    finally:
        monkeypatch.undo()
        time.tzset()
    leaf = x509.load_pem_x509_certificate(credentials.certificate_pem)
    now = datetime.datetime.now(datetime.UTC)
    for certificate in (ca.certificate, leaf):
        assert certificate.not_valid_before_utc < now < certificate.not_valid_after_utc
    verified = client_context(ca_pem=ca.certificate_pem)
    assert handshake(credentials.server_context(), verified, "mx.castle.test") == "TLSv1.3"


def key_usages(certificate: x509.Certificate) -> tuple[bool, set[str]]:
    """Whether the key usage extension is critical, and the usages it asserts."""
    extension = certificate.extensions.get_extension_for_class(x509.KeyUsage)
    usage = extension.value
    names = [
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
    ]
    asserted = {name for name in names if getattr(usage, name)}
    if usage.key_agreement:  # encipher_only and decipher_only mean nothing without it
        asserted |= {name for name in ("encipher_only", "decipher_only") if getattr(usage, name)}
    return extension.critical, asserted


def test_certificates_follow_rfc_5280_and_each_key_may_do_only_its_job() -> None:
    ca = LocalAuthority()
    issued = ca.issue(["mx.castle.test", "127.0.0.25"])
    leaf = x509.load_pem_x509_certificate(issued.certificate_pem)
    # RFC 5280 4.2.1.9: a CA's basicConstraints is critical and says cA; 4.2.1.3: its key
    # signs certificates (keyCertSign) and CRLs.  RFC 5480 3: an EC key never enciphers.
    constraints = ca.certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca
    assert key_usages(ca.certificate) == (True, {"digital_signature", "key_cert_sign", "crl_sign"})
    # The server's key signs the TLS handshake and nothing else; it is no CA.
    constraints = leaf.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and not constraints.value.ca
    assert key_usages(leaf) == (True, {"digital_signature"})
    usage = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]
    # RFC 5280 4.2.1.6: beside a subject name, subjectAltName SHOULD be non-critical.
    alt_names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert not alt_names.critical
    names = alt_names.value
    assert names.get_values_for_type(x509.DNSName) == ["mx.castle.test"]
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.25")]
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "mx.castle.test"
    # RFC 5280 4.2.1.1: the issuer's key identifier, so a client finds the CA that signed it.
    authority_key = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    subject_key = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert authority_key.key_identifier == subject_key.value.key_identifier


def test_a_ca_certificate_signed_by_the_local_ca_cannot_issue_in_its_name(
    tmp_path: Path,
) -> None:
    # The local CA issues server certificates only (pathLenConstraint 0, RFC 5280 4.2.1.9):
    # whoever got a CA certificate from it could not make certificates our clients trust.
    ca = LocalAuthority()
    ca_key = serialization.load_pem_private_key(ca.key_pem, password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    now = datetime.datetime.now(datetime.UTC)
    hour = datetime.timedelta(hours=1)

    def certificate(
        subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name, signer: Any, is_ca: bool
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - hour)
            .not_valid_after(now + hour)
            .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        )
        if not is_ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False
            )
        return builder.sign(signer, hashes.SHA256())

    middle_key, leaf_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    middle = certificate("middle CA", middle_key, ca.certificate.subject, ca_key, True)
    leaf = certificate("mx.castle.test", leaf_key, middle.subject, middle_key, False)
    chain = tmp_path / "chain.pem"
    chain.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (leaf, middle)))
    key = tmp_path / "leaf.key"
    key.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    verified = client_context(ca_pem=ca.certificate_pem)
    answer = handshake(server_context(chain, key), verified, "mx.castle.test")
    assert answer == "error: CERTIFICATE_VERIFY_FAILED"


def test_credentials_are_written_into_a_directory_made_for_them(tmp_path: Path) -> None:
    # A stack directory's tls/ folder, its parents too, made on the first write.
    where = tmp_path / "stack" / "tls"
    cert, key = LocalAuthority().issue(["mx.castle.test"]).write(where, "mx")
    assert (cert, key) == (where / "mx.crt", where / "mx.key")
    server_context(cert, key)


def test_a_certificate_for_no_name_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one name"):
        LocalAuthority().issue([])
