"""The local CA and the TLS contexts, over real sockets on loopback."""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path

import pytest
from cryptography import x509

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
