"""The codec against stdlib ``email`` on the SpamAssassin corpus, in one process, one run.

    python bench/mime_side_by_side.py [--repeat N] [--json]

Rows: ``parse`` (lossless split of every field and part) against
``BytesParser(policy=compat32)``, and ``decode`` (every field typed, every body decoded)
against ``policy.default`` reading every field of every part.  Prints MB/s, messages/s and the
ratio; the best of ``--repeat`` runs counts, to damp noise from the other core.
"""

from __future__ import annotations

import argparse
import email.policy
import json
import sys
import time
from collections.abc import Callable
from email.parser import BytesParser
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import spamassassin_messages, stdlib_read_everything
from stack.mime import decode, parse


def _ours_parse(data: bytes) -> None:
    for _ in parse(data).walk():
        pass


def _ours_decode(data: bytes) -> None:
    decode(data)


_COMPAT32 = BytesParser(policy=email.policy.compat32)
_DEFAULT = BytesParser(policy=email.policy.default)


def _stdlib_compat32(data: bytes) -> None:
    _COMPAT32.parsebytes(data)


def _stdlib_default(data: bytes) -> None:
    stdlib_read_everything(_DEFAULT.parsebytes(data))


def _time(
    function: Callable[[bytes], None], messages: list[bytes], repeat: int
) -> tuple[float, int]:
    best = float("inf")
    errors = 0
    for _ in range(repeat):
        errors = 0
        started = time.perf_counter()
        for data in messages:
            try:
                function(data)
            except Exception:
                errors += 1
        best = min(best, time.perf_counter() - started)
    return best, errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    messages = spamassassin_messages()
    if messages is None:
        print("mime side-by-side: SpamAssassin corpus not found (set ELSINORE_CORPORA); skipped")
        return 0
    megabytes = sum(map(len, messages)) / 1e6
    rows = []
    for task, ours, peer_name, peer in (
        ("parse", _ours_parse, "stdlib compat32", _stdlib_compat32),
        ("decode", _ours_decode, "stdlib policy.default", _stdlib_default),
    ):
        ours_s, ours_errors = _time(ours, messages, args.repeat)
        peer_s, peer_errors = _time(peer, messages, args.repeat)
        rows.append(
            {
                "task": task,
                "peer": peer_name,
                "elsinore_mb_s": round(megabytes / ours_s, 1),
                "elsinore_msg_s": round(len(messages) / ours_s),
                "elsinore_errors": ours_errors,
                "peer_mb_s": round(megabytes / peer_s, 1),
                "peer_msg_s": round(len(messages) / peer_s),
                "peer_errors": peer_errors,
                "ratio": round(peer_s / ours_s, 2),
            }
        )
    if args.json:
        print(json.dumps({"messages": len(messages), "megabytes": megabytes, "rows": rows}))
        return 0
    print(f"SpamAssassin: {len(messages)} messages, {megabytes:.1f} MB, best of {args.repeat}")
    print(f"{'task':<8} {'elsinore':<28} {'peer':<48} ratio")
    for row in rows:
        ours_rate = f"{row['elsinore_mb_s']} MB/s, {row['elsinore_msg_s']} msg/s"
        peer_rate = f"{row['peer']}: {row['peer_mb_s']} MB/s, {row['peer_msg_s']} msg/s"
        print(f"{row['task']:<8} {ours_rate:<28} {peer_rate:<48} {row['ratio']}x")
        if row["elsinore_errors"] or row["peer_errors"]:
            print(f"{'':8} raised: elsinore {row['elsinore_errors']}, peer {row['peer_errors']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
