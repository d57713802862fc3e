"""What stack.spam.counts promises beyond the main tests: a training applied to any counts
gives what counting message by message gives, and a change that would take any count below
zero is refused, whole, with a reason that says which count."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stack.spam.counts import NegativeCountError, Training, WordCounts

Message = tuple[bool, int, list[str]]  # spam?, sign, tokens

_messages = st.lists(
    st.tuples(
        st.booleans(),
        st.sampled_from([1, 1, -1]),
        st.lists(st.sampled_from(["a", "b", "c", "d", "é"]), max_size=4),
    ),
    max_size=8,
)


def _reference(
    base: WordCounts, messages: list[Message]
) -> tuple[int, int, dict[str, tuple[int, int]]] | list[str]:
    """The counts after ``messages``, counted one by one; or the reasons a count would go
    below zero, the messages' first."""
    spam_messages, ham_messages = base.spam_messages, base.ham_messages
    words = {word: list(pair) for word, pair in base.words.items()}
    for spam, sign, tokens in messages:
        if spam:
            spam_messages += sign
        else:
            ham_messages += sign
        for token in set(tokens):
            words.setdefault(token, [0, 0])[0 if spam else 1] += sign
    if spam_messages < 0:
        return ["more spam untrained than was trained"]
    if ham_messages < 0:
        return ["more ham untrained than was trained"]
    negative = [
        f"untraining would make the count of {word!r} negative"
        for word, (spam, ham) in words.items()
        if spam < 0 or ham < 0
    ]
    if negative:
        return negative
    return spam_messages, ham_messages, {w: (s, h) for w, (s, h) in words.items() if s or h}


def _training(messages: list[Message]) -> Training:
    training = Training()
    for spam, sign, tokens in messages:
        training.add(tokens, spam=spam, sign=sign)
    return training


_trained = st.lists(
    st.tuples(
        st.booleans(), st.just(1), st.lists(st.sampled_from(["a", "b", "c", "x"]), max_size=4)
    ),
    max_size=6,
)


@given(_trained, _messages)
def test_applying_a_training_counts_as_message_by_message_or_refuses(
    trained: list[Message], messages: list[Message]
) -> None:
    counts = WordCounts()
    counts.apply(_training(trained))
    before = WordCounts(counts.spam_messages, counts.ham_messages, dict(counts.words))
    expected = _reference(before, messages)
    training = _training(messages)
    if isinstance(expected, list):
        with pytest.raises(NegativeCountError) as refused:
            counts.apply(training)
        assert str(refused.value) in expected
        assert counts == before  # refused whole
    else:
        counts.apply(training)
        assert (counts.spam_messages, counts.ham_messages, counts.words) == expected


@pytest.mark.parametrize("kind", ["spam", "ham"])
def test_untraining_more_messages_than_were_trained_names_the_class(kind: str) -> None:
    counts = WordCounts(1, 1, {})
    training = Training()
    training.add([], spam=kind == "spam", sign=-1)
    training.add([], spam=kind == "spam", sign=-1)
    with pytest.raises(NegativeCountError, match=f"^more {kind} untrained than was trained$"):
        counts.apply(training)
    assert counts == WordCounts(1, 1, {})


@pytest.mark.parametrize("spam", [True, False])
def test_untraining_a_word_never_trained_names_the_word(spam: bool) -> None:
    counts = WordCounts(1, 1, {"known": (1, 1)})
    training = Training()
    training.add(["known", "stranger"], spam=spam, sign=-1)
    with pytest.raises(NegativeCountError, match="count of 'stranger' negative"):
        training.check_against(counts)


def test_untraining_down_to_zero_is_allowed_and_forgets_the_word() -> None:
    counts = WordCounts(1, 1, {"both": (1, 1), "spam-only": (1, 0)})
    training = Training()
    training.add(["both", "spam-only"], spam=True, sign=-1)
    counts.apply(training)
    assert counts == WordCounts(0, 1, {"both": (0, 1)})
    training = Training()
    training.add(["both"], spam=False, sign=-1)
    counts.apply(training)
    assert counts == WordCounts()


def test_a_sign_other_than_one_or_minus_one_is_refused() -> None:
    training = Training()
    for sign in (0, 2, -2):
        with pytest.raises(ValueError, match=r"^sign must be 1 or -1$"):
            training.add(["word"], spam=True, sign=sign)
    assert (training.spam_messages, list(training.items())) == (0, [])


def test_a_new_training_changes_nothing() -> None:
    training = Training()
    assert (training.spam_messages, training.ham_messages) == (0, 0)
    assert list(training.items()) == []
    assert not training.regression
    assert training.cutoffs == {} and training.lr_weight is None
    counts = WordCounts(3, 4, {"w": (1, 2)}, cutoffs={"fisher": (0.2, 0.9)}, lr_weight=0.5)
    counts.apply(training)
    assert counts == WordCounts(3, 4, {"w": (1, 2)}, cutoffs={"fisher": (0.2, 0.9)}, lr_weight=0.5)


def test_merged_counts_add_to_each_other_and_to_trained_messages() -> None:
    imported = WordCounts(3, 2, {"both": (2, 1), "spam-only": (3, 0), "ham-only": (0, 2)})
    training = Training()
    training.add(["both", "new"], spam=True)
    training.merge_counts(imported)
    training.merge_counts(imported)
    assert (training.spam_messages, training.ham_messages) == (7, 4)
    assert dict(training.items()) == {
        "both": (5, 2),
        "new": (1, 0),
        "spam-only": (6, 0),
        "ham-only": (0, 4),
    }
