"""The 250 comes after the fsync, seen from the kernel: ``elsinore hop`` under strace.

A test of the spool alone cannot show the order the hop does things in, and a crash test can
miss the moment between a 250 and a commit.  strace can: every ``250 ... queued as`` the hop
writes to a client must follow an fdatasync of the spool's write-ahead log made after that
transaction's ``354``, and the spool directory must be fsync'd once the log exists.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import smtplib
import subprocess
import sys
from pathlib import Path

import pytest
from hop_testbed import HOST, listening, wait_until
from smtp_peers import free_port

_LINE = re.compile(r"(\d+)\s+(\d+\.\d+) (\w+)\((.*)")  # strace pads short pids


def strace() -> str:
    tool = shutil.which("strace")
    if tool is None:
        pytest.skip("strace is not installed (Debian package strace)")
    probe = subprocess.run([tool, "-o", "/dev/null", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"strace cannot trace here: {probe.stderr.decode().strip()}")
    return tool


def test_every_250_follows_an_fsync_of_the_spool(tmp_path: Path) -> None:
    tool = strace()
    port = free_port()
    trace = tmp_path / "trace"
    spool = tmp_path / "spool"
    calls = "trace=fsync,fdatasync,sendto,openat"
    command = [tool, "-f", "-ttt", "-e", calls, "-o", str(trace), sys.executable, "-m", "stack"]
    command += ["hop", "--listen", f"{HOST}:{port}", "--forward", f"{HOST}:{free_port()}"]
    command += ["--spool", str(spool), "--hostname", "hop.castle.test"]
    with (tmp_path / "hop.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=log)
    try:
        wait_until(lambda: listening(port), 60, "the traced hop to listen")
        with smtplib.SMTP(HOST, port, timeout=30) as client:
            for n in range(3):
                client.sendmail("a@client.test", ["o@castle.test"], b"Subject: %d\r\n\r\nx\r\n" % n)
    finally:
        # SIGTERM to the hop itself (strace's only child): strace ends when it does.
        try:
            children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        except FileNotFoundError:  # strace is gone already, and the hop with it
            children = []
        for child in children:
            os.kill(int(child), signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            for child in children:
                os.kill(int(child), signal.SIGKILL)
            process.kill()
            process.wait(10)

    events = []
    for line in trace.read_text().splitlines():
        match = _LINE.match(line)
        if match is not None:
            events.append((float(match.group(2)), match.group(3), match.group(4)))
    events.sort()
    wal = [
        int(args.rsplit("= ", 1)[1])
        for _, name, args in events
        if name == "openat" and "spool.sqlite-wal" in args and "= " in args
    ]
    assert wal, "the spool's write-ahead log was never opened"
    # The calls that made the log durable, by time; the fd is the argument's leading digits
    # (a call strace saw interrupted by another thread reads "7 <unfinished ...>").
    synced = [
        when
        for when, name, args in events
        if name in ("fsync", "fdatasync")
        and (fd := re.match(r"\d+", args)) is not None
        and int(fd.group()) in wal
    ]

    directory = [
        (when, int(args.rsplit("= ", 1)[1]))
        for when, name, args in events
        if name == "openat" and f'"{spool}"' in args and "O_DIRECTORY" in args
    ]
    wal_opened = min(when for when, name, args in events if "spool.sqlite-wal" in args)
    assert any(
        name == "fsync" and re.match(rf"{fd}\b", args) is not None and when > wal_opened
        for opened, fd in directory
        for when, name, args in events
        if when > opened
    ), "the spool directory was not fsync'd after the log was created"

    data_started: float | None = None
    queued = 0
    for when, name, args in events:
        if name == "sendto" and '"354 ' in args:
            data_started = when
        if name == "sendto" and '"250 2.0.0 OK queued as ' in args:
            assert data_started is not None
            assert any(data_started < sync < when for sync in synced), (
                f"250 at {when} without an fsync of the spool since the 354 at {data_started}"
            )
            queued += 1
    assert queued == 3
