"""Cross-validation of the spam filter on the training part of the issue's split.

Every setting of the filter was chosen this way, never on the test part: the training files
(4,836 on the SpamAssassin corpus) are dealt into ``--folds`` folds by index, and each fold is
scored by a database trained on the others.  The scores of every fold together give:

- the verdict rates at the classifier's own cutoffs (what ``spam test`` would print);
- the spam caught at 0, 2 and 5 misfiled ham: the best any spam cutoff could do on these
  scores, the measure a change to the tokenizer or the classifier has to move;
- with ``--show N``, the N spam that scored lowest and the N ham that scored highest.

Tokenizing runs once, on every core; training and scoring a fold take well under a second.

``--models`` compares Fisher, the regression and their combination at several weights
(:mod:`stack.spam.combined`) on the same folds, at the whole training part and at every
``--fraction``-th message of it: spam caught at 0 and at 0.1% misfiled ham, and 1 - ROC
area.  This is how the default classifier and ``LR_WEIGHT`` were chosen.

``--calibration`` runs ``fisher-lr`` as ``spam train`` sets it up, on every fold: the weight
and the cutoffs calibrated on the other folds' held-out scores decide the fold's verdicts
(the table ``spam test`` prints), at the whole training part and at a ``--fraction``.  This
is how :mod:`stack.spam.calibration` was chosen.

Run:  python bench/spam_cv.py [--classifier graham] [--show 10] [--json]
      python bench/spam_cv.py --models [--fraction 10]
      python bench/spam_cv.py --calibration [--fraction 10]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.shared import corpora_dir
from stack.spam.calibration import calibrate
from stack.spam.combined import LR_WEIGHT, CombinedClassifier, combine
from stack.spam.counts import Training, WordCounts
from stack.spam.evaluation import Evaluation, corpus_split
from stack.spam.filter import (
    CLASSIFIERS,
    ClassifierName,
    Features,
    default_jobs,
    learn_regression,
    make_classifier,
    map_messages,
    training_tokens,
)
from stack.spam.fisher import FisherClassifier, mean_log_odds
from stack.spam.regression import (
    OnlineTrainer,
    Regression,
    apply_change,
    features_and_digest,
    probability,
)
from stack.spam.tokenizer import tokenize
from stack.spam.verdict import Score, Verdict, verdict_for

#: The regression's weights in the combination that ``--models`` compares.
WEIGHTS = (0.1, 0.3, 1.0, 3.0)

#: The numbers of misfiled ham at which the spam caught is reported.
MISFILED = (0, 2, 5)


@dataclass(frozen=True)
class Scored:
    path: Path
    spam: bool
    score: Score


def tokens_with_repeats(data: bytes) -> list[str]:
    """What Graham scores: body words up to twice (module-level, so workers can run it)."""
    return tokenize(data, repeats=True)


def _tokens(paths: list[Path], repeats: bool, jobs: int) -> list[list[str]]:
    function = tokens_with_repeats if repeats else training_tokens
    return list(map_messages(function, (path.read_bytes() for path in paths), jobs=jobs))


def _split(
    spam: list[Path], ham: list[Path], folds: int
) -> tuple[list[Path], list[bool], list[int]]:
    """Every message, its class, and its fold (each class dealt round the folds in turn)."""
    paths = [*spam, *ham]
    labels = [True] * len(spam) + [False] * len(ham)
    folded = [index % folds for index in range(len(spam))]
    folded += [index % folds for index in range(len(ham))]
    return paths, labels, folded


def _features(paths: list[Path], jobs: int) -> list[Features]:
    """Each message's regression features and digest, read in ``jobs`` processes."""
    return list(map_messages(features_and_digest, (p.read_bytes() for p in paths), jobs=jobs))


def cross_validate(
    spam: list[Path], ham: list[Path], *, folds: int, classifier: ClassifierName, jobs: int
) -> list[Scored]:
    """Every message scored by a database trained on the folds it is not in."""
    paths, labels, folded = _split(spam, ham, folds)
    learned = _tokens(paths, repeats=False, jobs=jobs)
    repeats = make_classifier(WordCounts(), classifier).repeats
    scored = _tokens(paths, repeats=True, jobs=jobs) if repeats else learned
    results: list[Scored] = []
    for fold in range(folds):
        training = Training()
        for tokens, is_spam, where in zip(learned, labels, folded, strict=True):
            if where != fold:
                training.add(tokens, spam=is_spam)
        counts = WordCounts()
        counts.apply(training)
        model = make_classifier(counts, classifier)
        results.extend(
            Scored(path, is_spam, model.score(tokens))
            for path, tokens, is_spam, where in zip(paths, scored, labels, folded, strict=True)
            if where == fold
        )
    return results


def cross_validate_models(
    spam: list[Path], ham: list[Path], *, folds: int, jobs: int
) -> dict[str, Evaluation]:
    """Fisher, the regression and their combinations, each message scored by models trained
    on the folds it is not in (the regression on-line, the classes dealt in proportion)."""
    from stack.spam.filter import interleave

    paths, labels, folded = _split(spam, ham, folds)
    tokens = _tokens(paths, repeats=False, jobs=jobs)
    features = _features(paths, jobs)
    # (fisher probability, mean log-odds, margin) per message.
    parts: list[tuple[float, float, float]] = [(0.0, 0.0, 0.0)] * len(paths)
    for fold in range(folds):
        training = Training()
        for message_tokens, is_spam, where in zip(tokens, labels, folded, strict=True):
            if where != fold:
                training.add(message_tokens, spam=is_spam)
        counts = WordCounts()
        counts.apply(training)
        fisher = FisherClassifier(counts)
        trainer = OnlineTrainer(None)
        indexes = [i for i in range(len(paths)) if folded[i] != fold]
        for index, is_spam in interleave(
            [i for i in indexes if labels[i]], [i for i in indexes if not labels[i]]
        ):
            trainer.train(*features[index], spam=is_spam)
        model = trainer.model
        for index in (i for i in range(len(paths)) if folded[i] == fold):
            clues = fisher.clues(tokens[index])
            parts[index] = (
                fisher.score(tokens[index]).probability,
                mean_log_odds(clues),
                model.margin(features[index][0]),
            )
    scorers: dict[str, Any] = {
        "fisher": lambda p, _o, _m: p,
        "fisher (mean log-odds)": lambda _p, o, _m: probability(o),
        "lr": lambda _p, _o, m: probability(m),
    }
    for weight in WEIGHTS:
        scorers[f"fisher-lr, weight {weight:g}"] = lambda _p, o, m, w=weight: probability(o + w * m)
    results: dict[str, Evaluation] = {}
    for name, scorer in scorers.items():
        scores = [Score(Verdict.UNKNOWN, scorer(*part)) for part in parts]
        results[name] = Evaluation(
            spam=[s for s, is_spam in zip(scores, labels, strict=True) if is_spam],
            ham=[s for s, is_spam in zip(scores, labels, strict=True) if not is_spam],
        )
    return results


def print_models(
    split_spam: list[Path], split_ham: list[Path], folds: int, jobs: int, fraction: int
) -> None:
    """The table of ``--models``, at the whole training part and at a fraction of it."""
    for every in (1, fraction):
        spam, ham = split_spam[::every], split_ham[::every]
        start = time.perf_counter()
        results = cross_validate_models(spam, ham, folds=folds, jobs=jobs)
        seconds = time.perf_counter() - start
        share = "the whole training part" if every == 1 else f"every {every}th message of it"
        print(
            f"\n{folds}-fold cross-validation on {share}: {len(spam):,} spam, "
            f"{len(ham):,} ham ({seconds:.0f} s)\n"
        )
        print("| scorer | spam caught at 0 ham misfiled | at 0.1% | 1 - ROC area |")
        print("|---|---|---|---|")
        for name, evaluation in results.items():
            print(
                f"| {name} | {evaluation.caught_at(0.0):.1%} | {evaluation.caught_at(0.001):.1%} "
                f"| {1 - evaluation.roc_area():.4%} |"
            )


def cross_validate_calibration(
    spam: list[Path], ham: list[Path], *, folds: int, jobs: int
) -> tuple[Evaluation, list[float]]:
    """``fisher-lr`` as ``spam train`` sets it up, on every fold: the counts and the
    regression trained on the other folds, the weight and cutoffs calibrated on their
    held-out scores (:func:`stack.spam.calibration.calibrate`), the fold classified with
    them.  Returns the verdicts of every fold together, and each fold's weight."""
    paths, labels, folded = _split(spam, ham, folds)
    tokens = _tokens(paths, repeats=False, jobs=jobs)
    features = _features(paths, jobs)
    verdicts: list[Score | None] = [None] * len(paths)
    weights = []
    for fold in range(folds):
        inside = [i for i in range(len(paths)) if folded[i] != fold]
        by_class = [[i for i in inside if labels[i]], [i for i in inside if not labels[i]]]
        training = Training()
        for index in inside:
            training.add(tokens[index], spam=labels[index])
        whole = WordCounts()
        whole.apply(training)
        spam_in, ham_in = by_class
        margins = learn_regression(
            training, whole, [features[i] for i in spam_in], [features[i] for i in ham_in]
        )
        calibration = calibrate(
            whole, [tokens[i] for i in spam_in], [tokens[i] for i in ham_in], *margins
        )
        weights.append(calibration.lr_weight or LR_WEIGHT)
        whole.regression = Regression()
        apply_change(whole.regression, {}, training.regression)
        whole.cutoffs, whole.lr_weight = calibration.cutoffs, calibration.lr_weight
        combined = CombinedClassifier(
            whole, whole.regression, whole.cutoffs["fisher-lr"], whole.lr_weight
        )
        fisher, model = combined.fisher, combined.model
        for index in (i for i in range(len(paths)) if folded[i] == fold):
            p = combine(
                mean_log_odds(fisher.clues(tokens[index])),
                model.margin(features[index][0]),
                combined.weight,
            )
            verdict = verdict_for(
                p, ham_cutoff=combined.ham_cutoff, spam_cutoff=combined.spam_cutoff
            )
            verdicts[index] = Score(verdict, p)
    scores = [score for score in verdicts if score is not None]
    return (
        Evaluation(
            spam=[s for s, is_spam in zip(scores, labels, strict=True) if is_spam],
            ham=[s for s, is_spam in zip(scores, labels, strict=True) if not is_spam],
        ),
        weights,
    )


def print_calibration(
    split_spam: list[Path], split_ham: list[Path], folds: int, jobs: int, fraction: int
) -> None:
    """The table of ``--calibration``, at the whole training part and at a fraction of it."""
    for every in (1, fraction):
        spam, ham = split_spam[::every], split_ham[::every]
        evaluation, weights = cross_validate_calibration(spam, ham, folds=folds, jobs=jobs)
        share = "the whole training part" if every == 1 else f"every {every}th message of it"
        chosen = ", ".join(f"{weight:g}" for weight in weights)
        print(
            f"\nfisher-lr calibrated as spam train does, {folds}-fold on {share}: "
            f"{len(spam):,} spam, {len(ham):,} ham (weights chosen: {chosen})\n"
        )
        print(evaluation.table())


def caught_at_misfiled(results: list[Scored], misfiled: int) -> float:
    """The share of spam scored above the ham in place ``misfiled`` (from the top): the spam
    a cutoff just above that ham catches, with ``misfiled`` ham above it."""
    ham = sorted((r.score.probability for r in results if not r.spam), reverse=True)
    spam = [r.score.probability for r in results if r.spam]
    if not spam:
        return 0.0
    if misfiled >= len(ham):
        return 1.0
    return sum(p > ham[misfiled] for p in spam) / len(spam)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=corpora_dir() / "spamassassin")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--classifier", choices=CLASSIFIERS, default="fisher")
    parser.add_argument("--jobs", type=int, default=default_jobs())
    parser.add_argument("--show", type=int, default=0, metavar="N")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--models", action="store_true", help="compare fisher, lr, fisher-lr")
    parser.add_argument(
        "--calibration", action="store_true", help="fisher-lr with calibrated cutoffs, per fold"
    )
    parser.add_argument("--fraction", type=int, default=10, metavar="N")
    args = parser.parse_args(argv)
    if not args.corpus.is_dir():
        print(f"skipped: SpamAssassin corpus not found at {args.corpus}")
        return 0
    if args.folds < 2:
        parser.error("--folds must be at least 2")
    split = corpus_split(args.corpus)
    if args.calibration:
        print_calibration(split.spam_train, split.ham_train, args.folds, args.jobs, args.fraction)
        return 0
    if args.models:
        print_models(split.spam_train, split.ham_train, args.folds, args.jobs, args.fraction)
        return 0
    start = time.perf_counter()
    results = cross_validate(
        split.spam_train, split.ham_train,
        folds=args.folds, classifier=args.classifier, jobs=args.jobs,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    evaluation = Evaluation(
        spam=[r.score for r in results if r.spam], ham=[r.score for r in results if not r.spam]
    )
    caught = {str(k): round(caught_at_misfiled(results, k), 6) for k in MISFILED}
    lowest_spam = sorted((r for r in results if r.spam), key=lambda r: r.score.probability)
    highest_ham = sorted(
        (r for r in results if not r.spam), key=lambda r: r.score.probability, reverse=True
    )
    if args.json:
        extra: dict[str, Any] = {
            "classifier": args.classifier,
            "folds": args.folds,
            "caught_at_misfiled": caught,
            "seconds": round(seconds, 3),
        }
        if args.show:
            extra["lowest_spam"] = [
                [str(r.path), r.score.probability] for r in lowest_spam[: args.show]
            ]
            extra["highest_ham"] = [
                [str(r.path), r.score.probability] for r in highest_ham[: args.show]
            ]
        print(json.dumps(evaluation.as_json(**extra)))
        return 0
    print(
        f"{args.folds}-fold cross-validation of {args.classifier} on the training part: "
        f"{len(evaluation.spam):,} spam, {len(evaluation.ham):,} ham ({seconds:.1f} s)\n"
    )
    print(evaluation.table())
    print("\nspam caught by the best cutoff that misfiles at most")
    for k in MISFILED:
        print(f"  {k} ham: {caught[str(k)]:.2%}")
    for title, rows in (("lowest spam", lowest_spam), ("highest ham", highest_ham)):
        if args.show:
            print(f"\n{title}:")
            for r in rows[: args.show]:
                print(f"  {r.score.probability:.4f}  {r.path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
