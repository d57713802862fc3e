"""stack.logs: a command's log goes to stderr while it runs and leaves nothing behind."""

from __future__ import annotations

import logging

import pytest

from stack.logs import service_log


def test_a_command_logs_one_line_per_event_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    with service_log("elsinore test", timestamps=False):
        logging.getLogger("elsinore.smtp").info("1A2B: status=sent")
    assert capsys.readouterr().err == "elsinore test: 1A2B: status=sent\n"


def test_logging_is_put_back_as_it_was() -> None:
    # A command run in-process (click's runner, stack up --one-process) once left its handler
    # on a closed stream and INFO on the root logger: every later record failed to print,
    # and aiosmtpd's raw per-command lines (lone surrogates and all) reached pytest's log
    # capture, which xdist could not send between processes.
    root = logging.getLogger()
    before = (list(root.handlers), root.level, logging.getLogger("mail.log").level)
    with service_log("elsinore test"):
        assert root.level == logging.INFO
        assert logging.getLogger("mail.log").getEffectiveLevel() == logging.WARNING
    assert (list(root.handlers), root.level, logging.getLogger("mail.log").level) == before
