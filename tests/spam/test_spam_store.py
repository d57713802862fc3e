"""Every word store backend keeps the same promises: training adds, untraining restores
exactly, and a change is applied whole or not at all."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stack.spam.counts import Training, WordCounts
from stack.spam.stores import StoreError, WordStore


def _training(messages: list[tuple[bool, list[str]]], *, sign: int = 1) -> Training:
    training = Training()
    for spam, tokens in messages:
        training.add(tokens, spam=spam, sign=sign)
    return training


MESSAGES = [
    (True, ["cheap", "viagra", "cheap", "subject:offer"]),
    (True, ["cheap", "money", "url:example.biz"]),
    (False, ["meeting", "tomorrow", "cheap"]),
    (False, ["lunch", "tomorrow"]),
]


def test_training_counts_each_token_once_per_message(store: WordStore) -> None:
    store.apply(_training(MESSAGES))
    counts = store.load()
    assert (counts.spam_messages, counts.ham_messages) == (2, 2)
    assert counts.words["cheap"] == (2, 1)
    assert counts.words["tomorrow"] == (0, 2)
    assert counts.words["viagra"] == (1, 0)


def test_untraining_restores_the_counts_exactly(store: WordStore) -> None:
    store.apply(_training(MESSAGES[:2]))
    before = store.load()
    store.apply(_training(MESSAGES[2:]))
    store.apply(_training(MESSAGES[2:], sign=-1))
    assert store.load() == before
    store.apply(_training(MESSAGES[:2], sign=-1))
    assert store.load() == WordCounts()


def test_untraining_what_was_never_trained_fails_and_changes_nothing(store: WordStore) -> None:
    store.apply(_training(MESSAGES))
    before = store.load()
    # Valid for most tokens, impossible for "lunch": the whole change must be refused.
    bogus = _training([(False, ["tomorrow", "lunch", "lunch2"])], sign=-1)
    with pytest.raises(StoreError, match="nothing was changed"):
        store.apply(bogus)
    assert store.load() == before


def test_more_messages_untrained_than_trained_is_refused(store: WordStore) -> None:
    store.apply(_training(MESSAGES[:1]))
    before = store.load()
    with pytest.raises(StoreError):
        store.apply(_training([(False, [])], sign=-1))
    assert store.load() == before


def test_training_accumulates_across_runs(store: WordStore) -> None:
    store.apply(_training(MESSAGES[:1]))
    store.apply(_training(MESSAGES[:1]))
    counts = store.load()
    assert counts.spam_messages == 2
    assert counts.words["cheap"] == (2, 0)


_tokens = st.lists(st.sampled_from(["a1", "b2", "c3", "d4", "héllo", "subject:x"]), max_size=5)


@settings(max_examples=25, deadline=None)
@given(
    first=st.lists(st.tuples(st.booleans(), _tokens), max_size=6),
    second=st.lists(st.tuples(st.booleans(), _tokens), max_size=6),
)
def test_untrain_is_the_inverse_of_train_for_any_messages(
    first: list[tuple[bool, list[str]]], second: list[tuple[bool, list[str]]]
) -> None:
    counts = WordCounts()
    counts.apply(_training(first))
    before = WordCounts(counts.spam_messages, counts.ham_messages, dict(counts.words))
    counts.apply(_training(second))
    counts.apply(_training(second, sign=-1))
    assert counts == before


_CHANGES = st.lists(
    st.tuples(
        st.booleans(),
        st.sampled_from([1, -1]),
        st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), max_size=6),
    ),
    max_size=12,
)


@settings(max_examples=200, deadline=None)
@given(_CHANGES)
def test_a_training_holds_the_net_change_of_its_messages(
    changes: list[tuple[bool, int, list[str]]],
) -> None:
    training = Training()
    expected: dict[str, list[int]] = {}
    for spam, sign, tokens in changes:
        training.add(tokens, spam=spam, sign=sign)
        for token in set(tokens):
            expected.setdefault(token, [0, 0])[0 if spam else 1] += sign
    net = {token: (spam, ham) for token, (spam, ham) in expected.items() if spam or ham}
    items = list(training.items())
    assert dict(items) == net
    assert len(items) == len(net)  # each token once
    assert training.spam_messages == sum(sign for spam, sign, _ in changes if spam)
    assert training.ham_messages == sum(sign for spam, sign, _ in changes if not spam)
