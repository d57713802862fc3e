"""Running Debian's peers against our DNS server without touching the machine's resolver.

OpenDKIM and libspf2 find DNS only through /etc/resolv.conf, on port 53.  Each run gets a
private mount namespace (``unshare -m``) in which a temporary resolv.conf is bind-mounted
over /etc/resolv.conf; the machine's file is never written.  Our server listens on port 53 of
an address of its own in 127.53.0.0/16, so parallel test workers do not collide.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
from dns_testbed import ServerThread

from stack.dns.addresses import Endpoint
from stack.dns.server import Handler

#: The bind mount happens inside the new namespace; "$0" is the file, "$@" the command.
_MOUNT_AND_RUN = 'mount --bind "$0" /etc/resolv.conf && exec "$@"'


def require(tool: str) -> str:
    """The tool's path, or a skip that names the Debian package to install."""
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} not installed (see DEBIAN_PACKAGES in .ci/run)")
    return path


def require_namespaces() -> None:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("a private mount namespace needs unshare(1) and root")
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"unshare -m is not permitted here: {probe.stderr.decode().strip()}")


def serve_on_port_53(servers: ServerThread, handler: Handler) -> Endpoint:
    """``handler`` on port 53 of a free address in 127.53.0.0/16."""
    if os.geteuid() != 0:
        pytest.skip("the peers ask port 53 only, and binding it needs root")
    for _ in range(20):
        address = f"127.53.{random.randint(1, 254)}.{random.randint(1, 254)}"
        try:
            return servers.serve(handler, address, 53)
        except OSError:
            continue
    pytest.skip("no free loopback address for port 53")


def resolv_conf(directory: Path, server: Endpoint) -> Path:
    """A resolv.conf naming only ``server``; one try of one second, so TIMEOUT names cost
    little."""
    path = directory / f"resolv-{server.host}.conf"
    path.write_text(f"nameserver {server.host}\noptions timeout:1 attempts:1\n")
    return path


def run_with_resolver(
    conf: Path, argv: Sequence[str], stdin: bytes = b"", timeout: float = 30
) -> subprocess.CompletedProcess[bytes]:
    """``argv`` in a private mount namespace whose /etc/resolv.conf is ``conf``."""
    command = ["unshare", "-m", "sh", "-c", _MOUNT_AND_RUN, str(conf), *argv]
    return subprocess.run(command, input=stdin, capture_output=True, timeout=timeout, check=False)


#: Mail::DKIM's verifier: one line per signature, its result and the result's detail.
MAIL_DKIM = r"""
use strict; use warnings; use Mail::DKIM::Verifier;
binmode STDIN;
my $dkim = Mail::DKIM::Verifier->new();
while (<STDIN>) { s/\r?\n\z/\r\n/; $dkim->PRINT($_); }
$dkim->CLOSE;
printf "%s %s\n", $_->result, $_->result_detail foreach $dkim->signatures;
"""


def require_mail_dkim() -> str:
    """Perl with Mail::DKIM, or a skip naming the Debian package."""
    perl = require("perl")
    probe = subprocess.run([perl, "-MMail::DKIM", "-e1"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("Mail::DKIM not installed (libmail-dkim-perl, see .ci/run)")
    return perl


def mail_dkim(perl: str, server: Endpoint, message: bytes) -> list[tuple[str, str]]:
    """Mail::DKIM's (result, detail) for each signature of ``message``, asking ``server``."""
    done = subprocess.run(
        [perl, "-e", MAIL_DKIM],
        input=message,
        capture_output=True,
        env={**os.environ, "RES_NAMESERVERS": server.host},
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found = [line.partition(" ") for line in done.stdout.decode().splitlines()]
    return [(result, detail) for result, _, detail in found]
