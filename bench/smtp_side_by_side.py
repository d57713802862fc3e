"""Messages per second through ``elsinore hop`` and through Postfix, side by side, in one run.

    python bench/smtp_side_by_side.py [--messages 3000] [--sessions 10] [--size 2048]
                                      [--rounds 3] [--json]

Every subject is a real program on 127.0.0.1, on ports picked at run time, fed by the same
load generator: Postfix's ``smtp-source`` (``--sessions`` parallel clients, each sending
messages of ``--size`` octets of body one after another, a new connection for each, as mail
from many clients arrives), or an aiosmtplib client doing the same when Postfix is not
installed.  Two rates per subject:

- **accepted**: messages over the time until the generator had a 250 for the last one;
- **relayed**: messages over the time until the last one was stored by the sink behind the
  relay, end to end (counted as files in the sink's directory, polled every 20 ms).

The rows:

- ``elsinore srv`` and ``smtp-sink`` alone: the sinks, for scale (srv with ``--no-fsync``:
  smtp-sink does not fsync either);
- ``elsinore hop -> elsinore srv`` and ``elsinore hop -> smtp-sink``: the hop (spool fsync'd
  before every 250, then forwarded over reused sessions), and the second once more with its
  spool on tmpfs, where fsync costs nothing: the difference is what durability costs;
- ``Postfix -> smtp-sink``: Postfix 3.7 as a relay with its own durable queue in a temporary
  directory (``relayhost = [127.0.0.1]:PORT``), when the Debian ``postfix`` package is there.
  It needs root (Postfix's master drops to the ``postfix`` user); otherwise it is skipped with
  the reason.

The hop's CPU time per message (user + system, from /proc) is printed too, to say where its
time goes.  Nothing here is part of CI: it takes a minute and wants a quiet machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

ELSINORE = [sys.executable, "-m", "stack"]
POLL = 0.02
#: A memory file system, where fsync returns at once.
TMPFS = Path("/dev/shm")
SENDER = "bench@castle.test"
RECIPIENT = "sink@elsewhere.test"


@dataclass
class Row:
    subject: str
    accepted: float  # messages per second, to the last 250
    relayed: float | None  # messages per second, to the last message in the sink
    cpu_ms: float | None = None  # the hop's CPU milliseconds per message


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_listening(
    port: int, process: subprocess.Popen[bytes] | None, timeout: float = 30.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited {process.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            time.sleep(0.05)
            continue
        return
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


@contextmanager
def running(command: Sequence[str], port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``command`` started, listening on ``port``; SIGTERM and a wait at the end."""
    with open(log, "wb") as out:
        process = subprocess.Popen(list(command), stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_listening(port, process)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def cpu_seconds(pid: int) -> float:
    """User + system time of ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def count_files(directory: Path) -> int:
    return sum(1 for entry in os.scandir(directory) if entry.is_file() and entry.name[0] != ".")


# -- load ------------------------------------------------------------------------------------


def _message(size: int, number: int) -> bytes:
    header = (
        f"From: <{SENDER}>\r\nTo: <{RECIPIENT}>\r\nSubject: bench {number}\r\n"
        f"Message-ID: <{number}.{os.getpid()}@bench.castle.test>\r\n\r\n"
    ).encode()
    line = b"X" * 76 + b"\r\n"
    body = (line * (size // len(line) + 1))[:size]
    return header + body[: size - 2] + b"\r\n"


async def _python_load(port: int, count: int, sessions: int, size: int) -> None:
    import aiosmtplib

    async def session(numbers: range) -> None:
        for number in numbers:  # a connection per message, as smtp-source makes them
            await aiosmtplib.send(
                _message(size, number),
                sender=SENDER,
                recipients=[RECIPIENT],
                hostname="127.0.0.1",
                port=port,
                start_tls=False,
                timeout=60,
            )

    share = -(-count // sessions)
    await asyncio.gather(
        *(session(range(i, min(i + share, count))) for i in range(0, count, share))
    )


def load(port: int, count: int, sessions: int, size: int) -> float:
    """Send ``count`` messages in ``sessions`` parallel sessions; the seconds it took."""
    source = shutil.which("smtp-source") or (
        "/usr/sbin/smtp-source" if Path("/usr/sbin/smtp-source").exists() else None
    )
    started = time.perf_counter()
    if source is not None:
        command = [source, "-l", str(size), "-m", str(count), "-s", str(sessions),
                   "-f", SENDER, "-t", RECIPIENT, f"127.0.0.1:{port}"]  # fmt: skip
        done = subprocess.run(command, capture_output=True, timeout=600, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"smtp-source: {done.stderr.decode(errors='replace').strip()}")
    else:
        asyncio.run(_python_load(port, count, sessions, size))
    return time.perf_counter() - started


def generator_name() -> str:
    found = shutil.which("smtp-source") or Path("/usr/sbin/smtp-source").exists()
    return "Postfix smtp-source" if found else "aiosmtplib (smtp-source not installed)"


def measure(
    subject: str,
    port: int,
    sink_dir: Path | None,
    count: int,
    sessions: int,
    size: int,
    hop_pid: int | None = None,
) -> Row:
    """Run the load against ``port``; wait for ``count`` files in ``sink_dir`` (if relayed)."""
    before = count_files(sink_dir) if sink_dir is not None else 0
    cpu_before = cpu_seconds(hop_pid) if hop_pid is not None else 0.0
    started = time.perf_counter()
    accepted_seconds = load(port, count, sessions, size)
    relayed: float | None = None
    if sink_dir is not None:
        deadline = time.monotonic() + 300
        while count_files(sink_dir) - before < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{subject}: {count_files(sink_dir) - before}/{count} arrived")
            time.sleep(POLL)
        relayed = count / (time.perf_counter() - started)
    cpu_ms = None
    if hop_pid is not None:
        cpu_ms = (cpu_seconds(hop_pid) - cpu_before) * 1000 / count
    return Row(subject, count / accepted_seconds, relayed, cpu_ms)


# -- subjects --------------------------------------------------------------------------------


@contextmanager
def elsinore_srv(work: Path, name: str) -> Iterator[tuple[int, Path]]:
    port, out = free_port(), work / name
    out.mkdir()
    command = [*ELSINORE, "srv", "--listen", f"127.0.0.1:{port}", "-o", str(out), "--no-fsync"]
    with running(command, port, work / f"{name}.log"):
        yield port, out


def smtp_sink_available() -> str | None:
    """Why smtp-sink cannot run here, or None."""
    if not Path("/usr/sbin/smtp-sink").exists():
        return "smtp-sink not installed (Debian package postfix)"
    if os.geteuid() != 0:
        return "smtp-sink -u postfix needs root"
    return None


@contextmanager
def smtp_sink(work: Path, name: str) -> Iterator[tuple[int, Path]]:
    port, out = free_port(), work / name
    out.mkdir()
    out.chmod(0o777)  # smtp-sink writes as the postfix user
    command = ["/usr/sbin/smtp-sink", "-u", "postfix", "-d", f"{out}/%H%M%S.",
               f"127.0.0.1:{port}", "256"]  # fmt: skip
    with running(command, port, work / f"{name}.log"):
        yield port, out


@contextmanager
def elsinore_hop(
    work: Path, name: str, forward: int, spool_root: Path | None = None
) -> Iterator[tuple[int, int]]:
    port = free_port()
    spool = (spool_root or work) / f"{name}.spool"
    command = [*ELSINORE, "hop", "--listen", f"127.0.0.1:{port}",
               "--forward", f"127.0.0.1:{forward}", "--spool", str(spool),
               "--hostname", "hop.castle.test"]  # fmt: skip
    with running(command, port, work / f"{name}.log") as process:
        yield port, process.pid


def postfix_available() -> str | None:
    if not Path("/usr/sbin/postfix").exists():
        return "Postfix not installed (Debian package postfix)"
    if os.geteuid() != 0:
        return "Postfix's master needs root"
    return None


def _postfix(config: Path, *arguments: str) -> None:
    # Postfix reports start-up errors only to a terminal or its log; the log is ours.
    subprocess.run(["/usr/sbin/postfix", "-c", str(config), *arguments],
                   check=True, capture_output=True, timeout=60)  # fmt: skip


@contextmanager
def postfix_relay(work: Path, relayhost: int) -> Iterator[int]:
    """Postfix in ``work/postfix``: its own config, queue and log, smtpd on a free port of
    127.0.0.1, everything relayed to ``[127.0.0.1]:relayhost``; no DNS, no chroot."""
    root = work / "postfix"
    config, queue, data = root / "conf", root / "queue", root / "data"
    for directory in (config, queue, data):
        directory.mkdir(parents=True)
    for directory in (work, root):
        directory.chmod(0o755)
    shutil.chown(data, "postfix")
    port = free_port()
    (config / "main.cf").write_text(
        "\n".join([
            "compatibility_level = 3.6",
            f"queue_directory = {queue}",
            f"data_directory = {data}",
            "mail_owner = postfix",
            "myhostname = relay.castle.test",
            "mydomain = castle.test",
            "mydestination =",
            "inet_interfaces = 127.0.0.1",
            "inet_protocols = ipv4",
            "mynetworks = 127.0.0.0/8",
            f"relayhost = [127.0.0.1]:{relayhost}",
            "smtpd_relay_restrictions = permit_mynetworks, reject",
            "smtpd_peername_lookup = no",
            "smtp_dns_support_level = disabled",
            "smtp_tls_security_level = none",
            "smtpd_tls_security_level = none",
            f"maillog_file = {root}/maillog",
            f"maillog_file_prefixes = {root}",
            "alias_maps =",
            "alias_database =",
            "local_recipient_maps =",
            "biff = no",
            "",
        ])
    )  # fmt: skip
    master = []
    for line in Path("/etc/postfix/master.cf").read_text().splitlines():
        fields = line.split()
        if line[:1] in ("#", " ", "\t") or len(fields) < 8:
            master.append(line)
        elif fields[0] == "smtp" and fields[1] == "inet":
            master.append(f"127.0.0.1:{port} inet n - n - - smtpd")
        else:
            fields[4] = "n"  # no chroot: the queue is not under /var/spool/postfix
            master.append(" ".join(fields))
    if not any(line.startswith("postlog") for line in master):
        master.append("postlog unix-dgram n - n - 1 postlogd")
    (config / "master.cf").write_text("\n".join(master) + "\n")
    _postfix(config, "start")
    try:
        wait_listening(port, None)
        yield port
    finally:
        _postfix(config, "stop")


# -- the run ---------------------------------------------------------------------------------


def run(count: int, sessions: int, size: int) -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    skipped: list[str] = []
    sink_missing = smtp_sink_available()
    postfix_missing = postfix_available()
    with tempfile.TemporaryDirectory(prefix="elsinore-bench-smtp-") as scratch:
        work = Path(scratch)
        work.chmod(0o755)  # smtp-sink and Postfix work as the postfix user in there
        with elsinore_srv(work, "srv-alone") as (port, out):
            rows.append(measure("elsinore srv (sink alone)", port, out, count, sessions, size))
        if sink_missing is None:
            with smtp_sink(work, "sink-alone") as (port, out):
                rows.append(measure("smtp-sink (sink alone)", port, out, count, sessions, size))
        else:
            skipped.append(f"smtp-sink rows: {sink_missing}")
        with (
            elsinore_srv(work, "srv-behind-hop") as (sink, out),
            elsinore_hop(work, "hop-srv", sink) as (port, pid),
        ):
            rows.append(
                measure("elsinore hop -> elsinore srv", port, out, count, sessions, size, pid)
            )
        if sink_missing is None:
            with (
                smtp_sink(work, "sink-behind-hop") as (sink, out),
                elsinore_hop(work, "hop-sink", sink) as (port, pid),
            ):
                rows.append(
                    measure("elsinore hop -> smtp-sink", port, out, count, sessions, size, pid)
                )
            if TMPFS.is_dir():
                # The same hop with its spool where fsync costs nothing: the difference from
                # the row above is what durability costs.
                with (
                    tempfile.TemporaryDirectory(dir=TMPFS) as memory,
                    smtp_sink(work, "sink-behind-tmpfs-hop") as (sink, out),
                    elsinore_hop(work, "hop-tmpfs", sink, Path(memory)) as (
                        port,
                        pid,
                    ),
                ):
                    rows.append(
                        measure("  same, spool on tmpfs", port, out, count, sessions, size, pid)
                    )
        if sink_missing is None and postfix_missing is None:
            with (
                smtp_sink(work, "sink-behind-postfix") as (sink, out),
                postfix_relay(work, sink) as port,
            ):
                rows.append(measure("Postfix 3.7 -> smtp-sink", port, out, count, sessions, size))
        else:
            skipped.append(f"Postfix row: {postfix_missing or sink_missing}")
    return rows, skipped


def best_of(rounds: list[list[Row]]) -> list[Row]:
    """Per subject, the round that relayed fastest (accepted, for the sinks alone): the other
    engineers' jobs on this machine only ever slow a round down."""
    best: dict[str, Row] = {}
    for rows in rounds:
        for row in rows:
            kept = best.get(row.subject)
            if kept is None or (row.relayed or row.accepted) > (kept.relayed or kept.accepted):
                best[row.subject] = row
    return list(best.values())


def report(
    rows: list[Row], skipped: list[str], count: int, sessions: int, size: int, rounds: int
) -> str:
    postfix = next((row for row in rows if row.subject.startswith("Postfix")), None)
    lines = [
        f"{count} messages of {size} octets of body, {sessions} sessions, "
        f"load from {generator_name()}; best of {rounds} rounds",
        "",
        f"{'subject':<32} {'accepted/s':>11} {'relayed/s':>10} {'vs Postfix':>11}"
        f" {'hop CPU/msg':>12}",
    ]
    for row in rows:
        relayed = f"{row.relayed:10.0f}" if row.relayed is not None else f"{'-':>10}"
        ratio = (
            f"{row.relayed / postfix.relayed:10.2f}x"
            if postfix and postfix.relayed and row.relayed and row.cpu_ms is not None
            else f"{'':>11}"
        )
        cpu = f"{row.cpu_ms:9.2f} ms" if row.cpu_ms is not None else ""
        lines.append(f"{row.subject:<32} {row.accepted:11.0f} {relayed} {ratio} {cpu:>12}")
    lines += [f"skipped: {reason}" for reason in skipped]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--size", type=int, default=2048, help="octets of body per message")
    parser.add_argument("--rounds", type=int, default=3, help="runs of every subject; best kept")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    options = parser.parse_args(argv)
    results = [run(options.messages, options.sessions, options.size) for _ in range(options.rounds)]
    rows, skipped = best_of([rows for rows, _ in results]), results[0][1]
    if options.json:
        print(json.dumps({"rows": [asdict(row) for row in rows], "skipped": skipped}, indent=2))
    else:
        print(
            report(rows, skipped, options.messages, options.sessions, options.size, options.rounds)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
