"""The world's spam database: trained on the sample or the corpus, cached, and fair to the
mail the world itself sends (Gmail's "send mail as" confirmation, which the seed's spamtacus
marked ``X-Spamtacus: yes``)."""

from __future__ import annotations

import email.policy
import email.utils
import os
import re
import shutil
from email.message import EmailMessage
from pathlib import Path

import pytest

from harness.world.spam import (
    CACHE_ENTRIES,
    SAMPLE,
    SpamDatabaseError,
    TrainingSummary,
    cache_key,
    corpus_set,
    default_cache,
    prepare_spam_database,
    sample_set,
    train,
)
from stack.services.spamfilter import WordDatabase
from stack.spam.calibration import MIN_PER_CLASS
from stack.spam.evaluation import SPAMASSASSIN_HAM, SPAMASSASSIN_SPAM, corpus_split
from stack.spam.filter import DEFAULT_CLASSIFIER
from stack.spam.stores import open_store
from stack.spam.verdict import Score, Verdict


def gmail_confirmation(account: str, identity: str, code: str) -> bytes:
    """Gmail's "Send Mail as" confirmation as it reaches our spamfilter: the verifier's
    fields on top.  The wording follows Gmail's as users quote it, link and all;
    harness.world.provider words its own without a link, in a method of a running provider,
    and the world's recap scenario checks that one end to end."""
    message = EmailMessage(policy=email.policy.SMTP)
    message["Received"] = (
        "from out.bigmail.test (out.bigmail.test [127.77.20.4]) by mx.castle.test "
        "with ESMTPS id 4QxR2b7Vz1; Thu, 03 Dec 2026 23:40:11 +0000"
    )
    message["Authentication-Results"] = (
        "castle.test; spf=pass smtp.mailfrom=forwarding-noreply@bigmail.test; "
        "dkim=pass header.d=bigmail.test; dmarc=pass header.from=bigmail.test"
    )
    message["From"] = email.utils.formataddr(("Gmail Team", "forwarding-noreply@bigmail.test"))
    message["To"] = identity
    message["Subject"] = f"Gmail Confirmation - Send Mail as {identity}"
    message["Date"] = "Thu, 03 Dec 2026 23:40:10 +0000"
    message["Message-ID"] = "<confirm.7c1f3e@mx.bigmail.test>"
    message.set_content(
        f"You have requested to add {identity} to your Gmail account.\n"
        f"Confirmation code: {code}\n\n"
        f"Before you can send mail from {identity} using your Gmail account\n"
        f"({account}), please click the link below to confirm your request:\n\n"
        f"https://mail-settings.bigmail.test/mail/vf-%5B{code}%5D-b2Zs9qT4\n\n"
        "If you click the link and it appears to be broken, please copy and paste it\n"
        "into a new browser window. If you aren't able to access the link, you can\n"
        f"enter the confirmation code {code} in the settings.\n\n"
        "Thanks for using Gmail!\n\nSincerely,\n\nThe Gmail Team\n\n"
        "If you did not make this request, or you don't want to add this email address\n"
        "to your Gmail account, no further action is required.\n",
        cte="7bit",
    )
    return message.as_bytes()


#: The issue's identity, and the one the world's scenario adds (harness.world.world).
IDENTITIES = ("user@castle.test", "hamlet@castle.test")


def confirmation(identity: str) -> bytes:
    return gmail_confirmation("hamlet@bigmail.test", identity, "482913706")


def classify(database: Path, data: bytes) -> Score:
    """As the spamfilter service classifies: a WordDatabase over the file."""
    words = WordDatabase(database)
    assert words.refresh() is None
    assert words.filter is not None
    return words.filter.classify(data)


def prepare_sample(tmp_path: Path, cache: Path | None = None) -> TrainingSummary:
    """The sample's database, whatever ELSINORE_CORPORA holds: a corpora folder without
    spamassassin/."""
    target = tmp_path / "spam.db"
    open_store(target).close()  # as `elsinore stack init` leaves it
    return prepare_spam_database(
        target, corpora=tmp_path / "no-corpora", cache=cache or tmp_path / "cache"
    )


def small_corpus(root: Path) -> Path:
    """A SpamAssassin-shaped folder (its five folders, numbered files) of sample messages;
    returns the corpora folder that holds it."""
    spam, ham = sample_set().spam, sample_set().ham
    for folders, messages in ((SPAMASSASSIN_SPAM, spam), (SPAMASSASSIN_HAM, ham)):
        for index, folder in enumerate(folders):
            (root / "spamassassin" / folder).mkdir(parents=True)
            for number, message in enumerate(messages[index::3][:6]):
                shutil.copyfile(message, root / "spamassassin" / folder / f"{number:05}.{index}")
    return root


def test_the_sample_trains_every_message_it_ships(tmp_path: Path) -> None:
    summary = prepare_sample(tmp_path)
    spam = list((SAMPLE / "spam").glob("*.eml"))
    ham = list((SAMPLE / "ham").glob("*.eml"))
    assert (summary.source, summary.spam, summary.ham) == ("sample", len(spam), len(ham))
    assert min(len(spam), len(ham)) >= MIN_PER_CLASS  # enough for calibrated cutoffs
    assert not summary.cached
    with open_store(tmp_path / "spam.db", create=False) as store:
        counts = store.load()
    assert (counts.spam_messages, counts.ham_messages) == (len(spam), len(ham))
    assert summary.words == len(counts.words) > 1000
    assert counts.regression is not None  # as `spam train` makes it: `--classifier lr` works


def test_a_second_preparation_copies_the_cached_database(tmp_path: Path) -> None:
    first = prepare_sample(tmp_path)
    assert first.cache_file is not None
    trained = (tmp_path / "spam.db").read_bytes()
    kept = first.cache_file.stat()
    second = prepare_sample(tmp_path)
    assert second.cached
    assert second.cache_file == first.cache_file
    assert (second.spam, second.ham, second.words) == (first.spam, first.ham, first.words)
    # The cache was read, not written again, and the target is its copy.
    again = first.cache_file.stat()
    assert (again.st_ino, again.st_mtime_ns) == (kept.st_ino, kept.st_mtime_ns)
    assert (tmp_path / "spam.db").read_bytes() == trained == first.cache_file.read_bytes()


def test_the_cache_key_follows_the_corpus_listing(tmp_path: Path) -> None:
    corpora = small_corpus(tmp_path / "corpora")
    root = corpora / "spamassassin"
    key = cache_key(corpus_set(root))
    assert cache_key(corpus_set(root)) == key
    assert cache_key(sample_set()) != key

    added = root / "spam_2" / "00099.new"
    shutil.copyfile(SAMPLE / "spam" / "01-lottery-winner.eml", added)
    assert cache_key(corpus_set(root)) != key
    added.unlink()
    assert cache_key(corpus_set(root)) == key

    touched = next((root / "easy_ham").iterdir())
    status = touched.stat()
    os.utime(touched, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000_000))
    assert cache_key(corpus_set(root)) != key


def test_a_changed_corpus_is_trained_again(tmp_path: Path) -> None:
    corpora = small_corpus(tmp_path / "corpora")
    target = tmp_path / "spam.db"
    first = prepare_spam_database(target, corpora=corpora, cache=tmp_path / "cache")
    assert first.source == "spamassassin+sample" and not first.cached
    assert prepare_spam_database(target, corpora=corpora, cache=tmp_path / "cache").cached

    shutil.copyfile(
        SAMPLE / "ham" / "01-dinner-on-friday.eml",
        corpora / "spamassassin" / "hard_ham" / "00099.x",
    )
    changed = prepare_spam_database(target, corpora=corpora, cache=tmp_path / "cache")
    assert not changed.cached
    assert changed.cache_file != first.cache_file
    assert (changed.spam, changed.ham) == (first.spam, first.ham + 1)


def test_the_cache_keeps_the_databases_written_last(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    for age in range(1, CACHE_ENTRIES + 3):  # older trainings, an hour apart
        stale = cache / f"spam-{age:032}.db"
        stale.write_bytes(b"an older training")
        os.utime(stale, (1_700_000_000 - 3600 * age,) * 2)
    unrelated = cache / "notes.txt"
    unrelated.write_text("not ours")

    summary = prepare_sample(tmp_path, cache)

    kept = sorted(cache.glob("spam-*.db"))
    assert summary.cache_file is not None
    assert summary.cache_file in kept
    assert len(kept) == CACHE_ENTRIES
    assert {path.name for path in kept} - {summary.cache_file.name} == {
        f"spam-{age:032}.db" for age in range(1, CACHE_ENTRIES)
    }
    assert unrelated.exists()


@pytest.mark.parametrize("spoil", ["garbage", "empty", "truncated", "other counts", "a folder"])
def test_a_cache_that_cannot_be_used_is_trained_again(tmp_path: Path, spoil: str) -> None:
    first = prepare_sample(tmp_path)
    cache_file = first.cache_file
    assert cache_file is not None
    good = cache_file.read_bytes()
    if spoil == "garbage":
        cache_file.write_bytes(b"this is not a SQLite database\n" * 100)
    elif spoil == "empty":
        cache_file.write_bytes(b"")
    elif spoil == "truncated":
        cache_file.write_bytes(good[: len(good) // 3])
    elif spoil == "other counts":  # a word database, but not of this training
        cache_file.unlink()
        open_store(cache_file).close()
    else:  # cannot be read as a file, even by root
        cache_file.unlink()
        cache_file.mkdir()

    again = prepare_sample(tmp_path)

    assert not again.cached
    assert (again.spam, again.ham, again.words) == (first.spam, first.ham, first.words)
    with open_store(tmp_path / "spam.db", create=False) as store:
        assert store.load().ham_messages == first.ham
    if spoil == "a folder":
        assert again.cache_file is None  # trained without a cache, and said so
    else:
        assert again.cache_file == cache_file
        assert prepare_sample(tmp_path).cached  # the cache was mended


@pytest.mark.parametrize("identity", IDENTITIES)
def test_gmails_confirmation_is_not_spam_to_the_sample(tmp_path: Path, identity: str) -> None:
    prepare_sample(tmp_path)
    score = classify(tmp_path / "spam.db", confirmation(identity))
    assert score.verdict is not Verdict.YES, score


@pytest.mark.slow
def test_gmails_confirmation_is_not_spam_to_the_corpus(tmp_path: Path, spamassassin: Path) -> None:
    """Trained on the corpus alone, the confirmation scored 0.9989: ``yes``, the seed's
    false positive (``click``, ``below``, ``please``, ``sincerely,`` are spam words in the
    corpus's ham of 2002 mailing lists).  With the user's own mail, the sample, it is not."""
    target = tmp_path / "spam.db"
    summary = prepare_spam_database(target, corpora=spamassassin.parent, cache=tmp_path)
    split = corpus_split(spamassassin)
    sample = sample_set()
    assert summary.source == "spamassassin+sample"
    assert summary.spam == len(split.spam_train) + len(sample.spam)
    assert summary.ham == len(split.ham_train) + len(sample.ham)
    with open_store(target, create=False) as store:
        assert DEFAULT_CLASSIFIER in store.load().cutoffs  # calibrated, as `spam train` does
    trained = set(corpus_set(spamassassin).spam + corpus_set(spamassassin).ham)
    assert trained.isdisjoint(split.spam_test + split.ham_test)  # the test part stays unseen
    for identity in IDENTITIES:
        score = classify(target, confirmation(identity))
        assert score.verdict is not Verdict.YES, (identity, score)


#: Obvious spam of five kinds, and ham of four, each with siblings left in the sample.
HELD_OUT_SPAM = (
    "01-lottery-winner.eml",
    "02-cheap-meds-online.eml",
    "03-bitcoin-doubler.eml",
    "05-inheritance-barrister.eml",
    "17-bad-credit-loan.eml",
)
HELD_OUT_HAM = (
    "01-dinner-on-friday.eml",
    "09-meeting-notes.eml",
    "20-train-booking.eml",
    "31-forge-email-change.eml",
)


def test_obvious_spam_held_out_of_the_sample_is_marked_yes(tmp_path: Path) -> None:
    sample = sample_set()
    counts = train(
        tmp_path / "spam.db",
        [path for path in sample.spam if path.name not in HELD_OUT_SPAM],
        [path for path in sample.ham if path.name not in HELD_OUT_HAM],
    )
    assert DEFAULT_CLASSIFIER in counts.cutoffs  # as the world's database is: calibrated
    for name in HELD_OUT_SPAM:
        score = classify(tmp_path / "spam.db", (SAMPLE / "spam" / name).read_bytes())
        assert score.verdict is Verdict.YES, (name, score)
    for name in HELD_OUT_HAM:
        score = classify(tmp_path / "spam.db", (SAMPLE / "ham" / name).read_bytes())
        assert score.verdict is Verdict.NO, (name, score)


def test_a_missing_target_folder_is_an_error_with_the_path(tmp_path: Path) -> None:
    target = tmp_path / "nowhere" / "spam.db"
    with pytest.raises(SpamDatabaseError, match=re.escape("nowhere/spam.db: no such folder")):
        prepare_spam_database(target, corpora=tmp_path, cache=tmp_path / "cache")


def test_a_corpus_without_one_of_its_folders_is_an_error_with_the_path(tmp_path: Path) -> None:
    corpora = small_corpus(tmp_path / "corpora")
    shutil.rmtree(corpora / "spamassassin" / "easy_ham_2")
    with pytest.raises(SpamDatabaseError, match="easy_ham_2"):
        prepare_spam_database(tmp_path / "spam.db", corpora=corpora, cache=tmp_path / "cache")


def test_elsinore_corpora_and_xdg_cache_home_are_where_it_looks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpora = small_corpus(tmp_path / "corpora")
    monkeypatch.setenv("ELSINORE_CORPORA", str(corpora))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache() == tmp_path / "xdg" / "elsinore"
    summary = prepare_spam_database(tmp_path / "spam.db")
    assert summary.source == "spamassassin+sample"
    assert summary.cache_file is not None
    assert summary.cache_file.parent == tmp_path / "xdg" / "elsinore"

    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # invalid: the spec says ignore it
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache() == tmp_path / "home" / ".cache" / "elsinore"
