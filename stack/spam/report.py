"""``spam report``: one PNG (score histograms per class, ROC curve) and an HTML page.

matplotlib is an extra (``pip install 'elsinore[report]'``), imported by :func:`pyplot` with
the non-interactive Agg backend, so the other commands never pay for it and a headless server
needs no display.  The command calls :func:`check_can_write` before it classifies anything,
so that a missing package or folder is said at once, not after minutes of work.
"""

from __future__ import annotations

import html
from pathlib import Path
from types import ModuleType

from stack.errors import ElsinoreError
from stack.spam.evaluation import Evaluation


class ReportError(ElsinoreError):
    """The report cannot be written: its folder or the plotting library is missing."""


def pyplot() -> ModuleType:
    """``matplotlib.pyplot`` on the Agg backend, or a :class:`ReportError` saying how to
    install it."""
    try:
        import matplotlib  # noqa: PLC0415 - heavy, and only this command draws

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.partition(".")[0] != "matplotlib":
            raise
        raise ReportError(
            "spam report draws with matplotlib, which is not installed: "
            "pip install 'elsinore[report]'"
        ) from exc
    return plt


def check_can_write(out_dir: Path) -> None:
    """Raise :class:`ReportError` unless a report can be written into ``out_dir``: the
    folder may be new, but not its parent (a mistyped path must not grow a tree of
    folders), and matplotlib must be there."""
    if not out_dir.is_dir() and not out_dir.parent.is_dir():
        raise ReportError(
            f"cannot write the report into {out_dir}: {out_dir.parent} does not exist"
        )
    pyplot()


def write_report(
    evaluation: Evaluation, out_dir: Path, *, title: str, cutoffs: tuple[float, float] | None = None
) -> tuple[Path, Path]:
    """Write ``scores.png`` and ``report.html`` into ``out_dir`` (made if its parent is
    there); return both paths.  ``cutoffs`` (ham, spam) are drawn on the histogram."""
    plt = pyplot()
    out_dir.mkdir(exist_ok=True)
    png_path = out_dir / "scores.png"
    figure, (histogram, roc) = plt.subplots(1, 2, figsize=(12, 4.5))
    bins = [i / 50 for i in range(51)]
    histogram.hist([s.probability for s in evaluation.ham], bins=bins, alpha=0.6, label="ham")
    histogram.hist([s.probability for s in evaluation.spam], bins=bins, alpha=0.6, label="spam")
    if cutoffs is not None:
        kinds = (("ham cutoff", ":"), ("spam cutoff", "--"))
        for value, (label, style) in zip(cutoffs, kinds, strict=True):
            histogram.axvline(value, color="black", linestyle=style, label=f"{label} {value:.4f}")
    histogram.set_yscale("log")
    histogram.set_xlabel("spam score")
    histogram.set_ylabel("messages")
    histogram.set_title("Scores per class")
    histogram.legend()
    points = evaluation.roc()
    roc.plot([x for x, _ in points], [y for _, y in points])
    roc.set_xscale("symlog", linthresh=0.001)
    roc.set_xlabel("ham misfiled as spam (rate)")
    roc.set_ylabel("spam caught (rate)")
    area = evaluation.roc_area()
    roc.set_title(f"ROC (area {area:.6f}; 1 - area {1 - area:.4%})")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(png_path, dpi=100)
    plt.close(figure)

    html_path = out_dir / "report.html"
    marked = ""
    if cutoffs is not None:
        marked = f"<p>Cutoffs: ham at or below {cutoffs[0]:.4f}, spam at or above {cutoffs[1]:.4f}."
    html_path.write_text(
        "<!doctype html>\n<meta charset='utf-8'>\n"
        f"<title>Spam report: {html.escape(title)}</title>\n"
        f"<h1>Spam report: {html.escape(title)}</h1>\n"
        f"<pre>{html.escape(evaluation.table())}</pre>\n"
        f"{marked}<p>ROC area {area:.6f} (1 - area {1 - area:.4%}).</p>\n"
        f"<img src='{png_path.name}' alt='score histograms and ROC curve'>\n",
        encoding="utf-8",
    )
    return html_path, png_path
