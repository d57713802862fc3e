"""The bounce a hop sends when one attempt ends in both a 5xx and expiry: every recipient it
gives up is reported failed, none of them delayed."""

from __future__ import annotations

from pathlib import Path

import pytest
from hop_testbed import HOST, InProcessHop, wait_until
from smtp_peers import Peer, free_port
from test_smtp_forward import MESSAGE, Clock, submit

from stack.mime import decode
from stack.mime.model import Data, Parts
from stack.smtp.forward import RetryPolicy
from stack.smtp.spool import State

pytestmark = pytest.mark.timeout(60)
EXPIRE = 3600.0


def report_actions(data: bytes) -> dict[str, str]:
    """Final-Recipient -> Action, from a DSN's message/delivery-status part."""
    mail = decode(data, strict=True)
    assert isinstance(mail.body, Parts)
    report = mail.body.parts[1].body
    assert isinstance(report, Data)
    actions = {}
    for block in report.data.decode("ascii").split("\r\n\r\n")[1:]:
        fields = dict(line.split(": ", 1) for line in block.strip().split("\r\n"))
        actions[fields["Final-Recipient"]] = fields["Action"]
    return actions


def test_a_5xx_and_an_expiry_in_one_attempt_are_both_reported_failed(tmp_path: Path) -> None:
    clock = Clock()
    peer = Peer(HOST, free_port(), name="sink.castle.test")
    peer.recorder.refuse["ghost@castle.test"] = "550 5.1.1 no such user here"
    peer.recorder.refuse["slow@castle.test"] = "451 4.2.0 mailbox busy"

    def expire_during_the_attempt(address: str) -> None:
        # The attempt began before expiry and ends after it.
        if address == "slow@castle.test":
            clock.now += EXPIRE + 1

    peer.recorder.on_rcpt = expire_during_the_attempt
    peer.start()
    running = InProcessHop(
        tmp_path, peer.port, policy=RetryPolicy(first=60.0, expire=EXPIRE), clock=clock
    )
    try:
        queue_id = submit(
            running.port, "polonius@castle.test", ["ghost@castle.test", "slow@castle.test"], MESSAGE
        )
        wait_until(
            lambda: (
                running.spool.states(queue_id)
                == {"ghost@castle.test": State.BOUNCED, "slow@castle.test": State.BOUNCED}
            ),
            20,
            "both recipients to be given up",
        )
        wait_until(lambda: len(peer.messages) == 1, 20, "the DSN")
    finally:
        running.close()
        peer.stop()
    [notice] = peer.messages
    assert notice.recipients == ["polonius@castle.test"]
    assert report_actions(notice.data) == {
        "rfc822; ghost@castle.test": "failed",
        "rfc822; slow@castle.test": "failed",
    }
