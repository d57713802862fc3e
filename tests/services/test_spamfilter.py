"""The spamfilter on the hop: every message labelled yes, no or unknown above the bytes that
came, a database replaced on disk (or trained in Redis) used for the next message without a
restart, and a database that cannot be read costing a label, never a message.

A spamfilter hop (inbound server with STARTTLS, spool, queue runner, outbound client) runs in
a thread of its own in front of a recording SMTP sink, all on 127.0.0.1 on ports the kernel
picked.  The word databases are trained through stack.spam's own training API on messages
composed with stack.mime.compose.  The reload interval is measured on the test's clock, so a
new look at the database is caused by moving it, never by sleeping; every wait is bounded.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import smtplib
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hop_testbed import HOST, InProcessHop, wait_until
from hypothesis import given, settings
from smtp_peers import Peer, Received, free_port

from harness.strategies import wire_messages
from harness.strategies.mime import Entity
from stack.mime.compose import assemble, body_part, complete_header
from stack.mime.decode import decode_field
from stack.mime.encode import encode
from stack.mime.fields import DateTime
from stack.mime.lossless import parse
from stack.mime.model import Header
from stack.services.spamfilter import Labelling, WordDatabase
from stack.smtp.received import Arrival, previous_queue_id
from stack.smtp.server import InboundConfig, Transaction, stamp_received
from stack.smtp.spool import State
from stack.smtp.tls import LocalAuthority, client_context
from stack.spam.counts import Training
from stack.spam.filter import learn
from stack.spam.stores import SqliteStore, StoreError, open_store
from stack.spam.stores.sqlite import apply_by_replacing

pytestmark = pytest.mark.timeout(120)

HOSTNAME = "spamfilter.castle.test"
SPAM_WORDS = "cheap pills casino winner prize claim urgent wire transfer bonus jackpot refund"
HAM_WORDS = "rehearsal agenda minutes players scene prologue costume lantern battlements ghost"


def compose(sender: str, subject: str, text: str, *, number: int = 0) -> bytes:
    """A valid message from stack.mime.compose, with a fixed date and Message-ID."""
    header = complete_header(
        [
            Header("From", decode_field("From", sender)),
            Header("To", decode_field("To", "alice@castle.test")),
            Header("Subject", subject),
        ],
        DateTime(2026, 12, 3, 12, 0, number % 60, 0),
        f"spamfilter-test-{number}",
    )
    body = body_part(f"{text}\n".encode(), "text/plain", None, "auto")
    return encode(assemble(header, body, []))


def _rotated(words: str, by: int) -> str:
    listed = words.split()
    return " ".join(listed[by:] + listed[:by])


def spam(number: int = 0) -> bytes:
    return compose(
        "Lucky Winner <winner@bulk.test>", "claim your prize", _rotated(SPAM_WORDS, number),
        number=number,
    )  # fmt: skip


def ham(number: int = 0) -> bytes:
    return compose(
        "Horatio <horatio@wittenberg.test>", "rehearsal tonight", _rotated(HAM_WORDS, number),
        number=number,
    )  # fmt: skip


#: Nothing in it was ever trained: no clue either way.
STRANGER = compose("Osric <osric@court.test>", "zqx", "vwxyzzy quuxplat florbnik")


def training(spam_messages: Sequence[bytes], ham_messages: Sequence[bytes]) -> Training:
    """A training of these messages, through stack.spam's own tokenizer and counting."""
    change = Training()
    learn(change, spam_messages, spam=True)
    learn(change, ham_messages, spam=False)
    return change


def mistaken() -> Training:
    """A user's mistake: the spam trained as ham and the ham as spam."""
    return training([ham(n) for n in range(6)], [spam(n) for n in range(6)])


def correction() -> Training:
    """The retraining that undoes :func:`mistaken`: each message forgotten as the class it
    was trained as, and learnt as the other."""
    change = training([spam(n) for n in range(6)], [ham(n) for n in range(6)])
    learn(change, [ham(n) for n in range(6)], spam=True, forget=True)
    learn(change, [spam(n) for n in range(6)], spam=False, forget=True)
    return change


def trained(path: Path, spam_messages: Sequence[bytes], ham_messages: Sequence[bytes]) -> Path:
    with SqliteStore(path) as store:
        store.apply(training(spam_messages, ham_messages))
    return path


class Clock:
    """The reload interval's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def sink() -> Iterator[Peer]:
    """The spamfilter's downstream (the relay, in a domain): records what it is handed."""
    server = Peer(HOST, free_port(), name="relay.castle.test")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def authority() -> LocalAuthority:
    return LocalAuthority()


class Spamfilter:
    """A spamfilter hop over ``database``, with STARTTLS, and a client for it."""

    def __init__(
        self, spool: Path, sink: Peer, authority: LocalAuthority, database: WordDatabase,
        *, patience: float = 5.0,
    ) -> None:  # fmt: skip
        self.sink = sink
        self.authority = authority
        self.clock = Clock()
        self.labelling = Labelling(database, clock=self.clock, patience=patience)
        config = InboundConfig(hostname=HOSTNAME, transforms=(stamp_received, self.labelling))
        credentials = authority.issue([HOSTNAME, HOST])
        self.hop = InProcessHop(
            spool, sink.port, config=config, tls_context=credentials.server_context()
        )

    def send(self, data: bytes) -> Received:
        """Submit ``data`` over STARTTLS; the message as the sink received it."""
        before = len(self.sink.messages)
        context = client_context(ca_pem=self.authority.certificate_pem)
        with smtplib.SMTP(HOST, self.hop.port, local_hostname="mx.castle.test", timeout=10) as c:
            c.starttls(context=context)
            refused = c.sendmail("horatio@wittenberg.test", ["alice@castle.test"], data)
        assert refused == {}
        wait_until(lambda: len(self.sink.messages) > before, 20, "the sink to get the message")
        return self.sink.messages[-1]

    def later(self) -> None:
        """Past the reload interval: the next message looks at the database again."""
        self.clock.now += self.labelling.check_interval

    def close(self) -> None:
        self.hop.close()
        self.labelling.database.close()


#: Starts a spamfilter hop over a database.
Start = Callable[[WordDatabase], Spamfilter]


@pytest.fixture
def spamfilter_at(tmp_path: Path, sink: Peer, authority: LocalAuthority) -> Iterator[Start]:
    running: list[Spamfilter] = []

    def start(database: WordDatabase) -> Spamfilter:
        hop = Spamfilter(tmp_path / "spool", sink, authority, database)
        running.append(hop)
        return hop

    yield start
    for hop in running:
        hop.close()


def labels(received: Received) -> tuple[str, str, bytes]:
    """The verdict and score our hop put on top, and every byte below them."""
    message = parse(received.data)
    verdict, score = message.fields[0], message.fields[1]
    assert (verdict.name, score.name) == ("X-Spamtacus", "X-Spamtacus-Score")
    rest = received.data[len(bytes(verdict)) + len(bytes(score)) :]
    return verdict.unfolded().strip(), score.unfolded().strip(), rest


def below_received(rest: bytes) -> bytes:
    """What follows this hop's own Received field: the bytes the client sent."""
    message = parse(rest)
    assert message.fields[0].name == "Received" and HOSTNAME in message.fields[0].unfolded()
    return rest[len(bytes(message.fields[0])) :]


# -- on the hop --------------------------------------------------------------------------------


def test_spam_ham_and_stranger_are_labelled_above_the_bytes_that_came(
    tmp_path: Path, spamfilter_at: Start
) -> None:
    words = trained(tmp_path / "words.db", [spam(n) for n in range(6)], [ham(n) for n in range(6)])
    hop = spamfilter_at(WordDatabase(words))
    for data, expected in ((spam(7), "yes"), (ham(7), "no"), (STRANGER, "unknown")):
        verdict, score, rest = labels(hop.send(data))
        assert verdict == expected, score
        assert re.fullmatch(r"[01]\.\d{4} \(fisher; \d+ words?\)", score), score
        assert below_received(rest) == data  # not a byte changed, DKIM's h= and bh= hold


def test_the_fields_are_the_ones_spam_mark_writes(tmp_path: Path, spamfilter_at: Start) -> None:
    # One writer of X-Spamtacus: the service's two lines are `elsinore spam mark`'s two lines
    # for the same bytes (the message as the filter saw it, our Received on top).
    words = trained(tmp_path / "words.db", [spam(n) for n in range(6)], [ham(n) for n in range(6)])
    hop = spamfilter_at(WordDatabase(words))
    received = hop.send(spam(8))
    _, _, rest = labels(received)
    marked = subprocess.run(
        ["elsinore", "spam", "mark", "--db", str(words)],
        input=rest, capture_output=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    assert marked == received.data


def test_an_outside_x_spamtacus_stays_below_ours_and_sways_nothing(
    tmp_path: Path, spamfilter_at: Start
) -> None:
    words = trained(tmp_path / "words.db", [spam(n) for n in range(6)], [ham(n) for n in range(6)])
    forged = b"X-Spamtacus: no\r\nX-Spamtacus-Score: 0.0000 (fisher; 99 words)\r\n" + spam(9)
    hop = spamfilter_at(WordDatabase(words))
    honest_verdict, honest_score, _ = labels(hop.send(spam(9)))
    verdict, score, rest = labels(hop.send(forged))
    assert (verdict, score) == (honest_verdict, honest_score) == (verdict, score)
    assert verdict == "yes"
    assert below_received(rest) == forged  # the forged fields kept, ours on top


def test_a_database_renamed_into_place_classifies_the_next_message_without_a_restart(
    tmp_path: Path, spamfilter_at: Start
) -> None:
    # The database first knows the spam words as ham (a user's mistake); the retraining
    # that corrects it is written to a new file and renamed over the old one.
    path = tmp_path / "words.db"
    with SqliteStore(path) as store:
        store.apply(mistaken())
    hop = spamfilter_at(WordDatabase(path))
    assert labels(hop.send(spam(7)))[0] == "no"
    inode = path.stat().st_ino
    apply_by_replacing(path, correction())
    assert path.stat().st_ino != inode
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".words.db")]
    # Within the interval the filter has not looked yet: the old counts still answer.
    assert labels(hop.send(spam(8)))[0] == "no"
    hop.later()
    assert labels(hop.send(spam(9)))[0] == "yes"
    assert labels(hop.send(ham(9)))[0] == "no"


def test_spam_train_replace_is_picked_up_by_a_running_spamfilter(
    tmp_path: Path, spamfilter_at: Start
) -> None:
    # The command a user runs, in a process of its own, against the running hop.
    path = tmp_path / "words.db"
    hop = spamfilter_at(WordDatabase(path))
    assert labels(hop.send(spam(7)))[0] == "unknown"  # no database yet
    (tmp_path / "spam").mkdir()
    (tmp_path / "ham").mkdir()
    for n in range(6):
        (tmp_path / "spam" / f"{n}.eml").write_bytes(spam(n))
        (tmp_path / "ham" / f"{n}.eml").write_bytes(ham(n))
    subprocess.run(
        ["elsinore", "spam", "train", "--db", str(path), "--replace",
         "--spam", str(tmp_path / "spam"), "--ham", str(tmp_path / "ham")],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    hop.later()
    assert labels(hop.send(spam(8)))[0] == "yes"


def test_a_corrupt_database_labels_unknown_and_the_message_is_still_delivered(
    tmp_path: Path, spamfilter_at: Start, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="elsinore.services.spamfilter")
    path = tmp_path / "words.db"
    trained(path, [spam(n) for n in range(6)], [ham(n) for n in range(6)])
    data = path.read_bytes()
    path.write_bytes(data[:100] + b"\xff" * (len(data) - 100))  # the header kept, pages not
    hop = spamfilter_at(WordDatabase(path))
    received = hop.send(spam(7))
    verdict, score, rest = labels(received)
    assert (verdict, score) == ("unknown", "0.5000 (fisher-lr; 0 words)")
    assert below_received(rest) == spam(7)
    our_id = previous_queue_id(parse(rest).fields[0].unfolded())  # ID@HOST
    assert our_id is not None
    queue_id = our_id.partition("@")[0]
    wait_until(
        lambda: hop.hop.spool.states(queue_id) == {"alice@castle.test": State.DELIVERED},
        20,
        "the spool to record the delivery",
    )
    lines = [r.getMessage() for r in caplog.records if r.name == "elsinore.services.spamfilter"]
    assert any(f"{queue_id}: X-Spamtacus: unknown, not classified:" in line for line in lines)
    assert all("\n" not in line for line in lines)


def test_a_file_that_is_not_a_database_at_all_labels_unknown(
    tmp_path: Path, spamfilter_at: Start
) -> None:
    path = tmp_path / "words.db"
    path.write_bytes(b"this is not SQLite\n" * 200)
    hop = spamfilter_at(WordDatabase(path))
    assert labels(hop.send(ham(7)))[0] == "unknown"
    # ...and the good one renamed over it is read at the next look.
    good = trained(tmp_path / "good.db", [spam(n) for n in range(6)], [ham(n) for n in range(6)])
    os.replace(good, path)
    hop.later()
    assert labels(hop.send(ham(8)))[0] == "no"


# -- the transform, without the hop -----------------------------------------------------------


@pytest.fixture(scope="module")
def words_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("words")
    return trained(folder / "words.db", [spam(n) for n in range(6)], [ham(n) for n in range(6)])


def _arrival() -> Arrival:
    return Arrival(
        helo="mx.castle.test", address=HOST, rdns=None, hostname=HOSTNAME,
        queue_id="0661C30BA2BDA3FF", recipients=("alice@castle.test",),
        date=datetime(2026, 12, 3, 12, 0, tzinfo=UTC),
    )  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(entity=wire_messages())
def test_any_message_of_the_grammar_gets_two_lines_and_keeps_every_byte(
    words_db: Path, entity: Entity
) -> None:
    labelling = Labelling(WordDatabase(words_db))
    transaction = Transaction("horatio@wittenberg.test", ("alice@castle.test",), _arrival())
    labelled = asyncio.run(labelling(parse(entity.data), transaction))
    verdict, _, rest = labels(Received("", [], bytes(labelled), tls=False))
    assert verdict in ("yes", "no", "unknown")
    assert rest == entity.data, f"bytes changed below the fields: {entity.data!r}"


# -- the database, without the hop ------------------------------------------------------------


def test_a_corrupt_replacement_keeps_the_counts_read_before_and_is_reported_once(
    tmp_path: Path,
) -> None:
    path = trained(tmp_path / "words.db", [spam(n) for n in range(6)], [ham(n) for n in range(6)])
    database = WordDatabase(path)
    assert database.refresh() is None
    before = database.filter
    assert before is not None
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"\x00" * 4096)
    os.replace(broken, path)
    error = database.refresh()
    assert error is not None and str(path) in str(error)
    assert database.refresh() is None  # the same file: said once
    assert database.filter is before
    assert before.classify(spam(7)).verdict.value == "yes"


def test_a_filter_in_use_keeps_its_counts_when_the_database_is_replaced(tmp_path: Path) -> None:
    # What "messages in flight finish with the old database" rests on: a reload swaps the
    # reference; the filter a message took is never changed under it.
    path = trained(tmp_path / "words.db", [spam(n) for n in range(6)], [ham(n) for n in range(6)])
    database = WordDatabase(path)
    database.refresh()
    in_flight = database.filter
    assert in_flight is not None
    apply_by_replacing(path, training([ham(n) for n in range(30)], [spam(n) for n in range(30)]))
    database.refresh()
    assert database.filter is not in_flight
    assert in_flight.classify(spam(7)).verdict.value == "yes"
    assert database.filter is not None
    assert database.filter.classify(spam(7)).verdict.value == "no"


def test_a_retraining_that_fails_leaves_the_database_and_no_copy_behind(tmp_path: Path) -> None:
    path = trained(tmp_path / "words.db", [spam(n) for n in range(6)], [ham(n) for n in range(6)])
    before = (path.read_bytes(), path.stat().st_ino)
    impossible = Training()
    learn(impossible, [STRANGER], spam=True, forget=True)  # never trained: a count below 0
    with pytest.raises(StoreError, match="negative"):
        apply_by_replacing(path, impossible)
    assert (path.read_bytes(), path.stat().st_ino) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["words.db"]


def test_reading_the_database_does_not_make_it_look_changed(tmp_path: Path) -> None:
    # SQLite makes and removes its -wal and -shm files around every read in WAL mode; a
    # filter that took its own read for a change would read the counts again every second.
    path = trained(tmp_path / "words.db", [spam(n) for n in range(6)], [ham(n) for n in range(6)])
    database = WordDatabase(path)
    database.refresh()
    first = database.filter
    for _ in range(3):
        database.refresh()
    assert database.filter is first


# -- Redis -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server of our own on 127.0.0.1, no persistence; stopped at the end."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    pytest.importorskip("redis", reason="the redis extra is not installed")
    port = free_port()
    process = subprocess.Popen(
        [server, "--bind", HOST, "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path_factory.mktemp("redis"))],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection((HOST, port), timeout=0.2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.skip("redis-server did not start")
                time.sleep(0.05)
        yield f"redis://{HOST}:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_training_in_redis_is_seen_by_a_running_spamfilter(
    redis_url: str, spamfilter_at: Start
) -> None:
    location = f"{redis_url}#spamfilter-test:"
    with open_store(location) as store:
        store.apply(mistaken())
    hop = spamfilter_at(WordDatabase(location))
    assert labels(hop.send(spam(7)))[0] == "no"
    with open_store(location) as store:  # another filter's training, shared by the store
        store.apply(correction())
    hop.later()
    assert labels(hop.send(spam(8)))[0] == "yes"


def test_an_unreachable_redis_labels_unknown(spamfilter_at: Start) -> None:
    pytest.importorskip("redis", reason="the redis extra is not installed")
    hop = spamfilter_at(WordDatabase(f"redis://{HOST}:{free_port()}/0"))
    verdict, _, rest = labels(hop.send(ham(7)))
    assert verdict == "unknown"
    assert below_received(rest) == ham(7)


def test_a_redis_that_never_answers_costs_labels_not_messages(
    tmp_path: Path, sink: Peer, authority: LocalAuthority
) -> None:
    pytest.importorskip("redis", reason="the redis extra is not installed")
    # A listening socket nobody accepts on: the kernel completes the handshake, and the
    # store's first command waits for an answer that never comes.
    with socket.socket() as blackhole:
        blackhole.bind((HOST, 0))
        blackhole.listen(8)
        location = f"redis://{HOST}:{blackhole.getsockname()[1]}/0"
        database = WordDatabase(location, redis_timeout=1.0)
        hop = Spamfilter(tmp_path / "spool", sink, authority, database, patience=0.1)
        try:
            for data in (ham(7), ham(8)):
                verdict, _, rest = labels(hop.send(data))
                assert verdict == "unknown"
                assert below_received(rest) == data
            # The read gave up after the timeout (redis-py alone would wait for ever), so
            # the next look can try again.
            wait_until(lambda: database.error is not None, 10, "the read to time out")
            assert "cannot reach Redis" in str(database.error)
        finally:
            hop.close()
