"""swaks, a real SMTP client from Debian, through ``elsinore hop`` into ``elsinore srv``:
plain, pipelined, and with STARTTLS."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from hop_testbed import HOST, hop, srv, stored, wait_until

from stack.mime import parse
from stack.smtp.tls import LocalAuthority

pytestmark = pytest.mark.interop


@pytest.mark.parametrize(
    "options", [[], ["--pipeline"], ["--tls"]], ids=["plain", "pipelining", "starttls"]
)
def test_swaks_sends_through_the_hop(tmp_path: Path, options: list[str]) -> None:
    swaks = shutil.which("swaks")
    if swaks is None:
        pytest.skip("swaks is not installed (Debian package swaks)")
    cert, key = LocalAuthority().issue(["hop.castle.test"]).write(tmp_path, "hop")
    sink = srv(tmp_path / "sink", tmp_path / "srv.log").start()
    relay = hop(
        tmp_path / "spool", sink.port, tmp_path / "hop.log", "--tls-cert", str(cert),
        "--tls-key", str(key),
    )  # fmt: skip
    try:
        relay.start()
        done = subprocess.run(
            [swaks, "--server", HOST, "--port", str(relay.port), "--from", "h@castle.test",
             "--to", "o@castle.test", "--header", "Subject: from swaks", "--helo", "swaks.test",
             *options],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        wait_until(lambda: len(stored(tmp_path / "sink")) == 1, 20, "the message to arrive")
        assert relay.terminate() == 0
    finally:
        relay.close()
        sink.close()
    [message] = stored(tmp_path / "sink")
    received = parse(message).fields[0].unfolded().strip()
    assert received.startswith("from swaks.test (unknown [127.0.0.1])")
    assert ("with ESMTPS" in received) == (options == ["--tls"])
