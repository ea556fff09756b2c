"""``embkit simulate``: replay active learning with the gold labels answering.

For each strategy and seed, a logistic regression is refitted after every round and
scored on a test split; prints the curves and their areas, writes ``learning_curves.png``
and ``curves.json`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from embkit.cli.common import (
    CLIError,
    add_data_options,
    add_split_options,
    check_out,
    news,
    positive_int,
    seed_int,
    train_test,
)

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    """Register ``embkit simulate`` on the sub-command parsers."""
    from embkit.active.strategies import STRATEGY_NAMES

    p = sub.add_parser(
        "simulate",
        help="compare query strategies with the gold labels answering (learning curves)",
        description="Run the labelling loop on DATA with its own labels answering, for each "
        "strategy and seed; print test accuracy against the number of labels and the area "
        "under each curve; write a picture and the curves to --out.",
    )
    add_split_options(p)
    p.add_argument(
        "--strategy",
        nargs="+",
        default=["random", "margin"],
        metavar="NAME",
        help=f"one or more of: {', '.join(STRATEGY_NAMES)} (default: random margin)",
    )
    p.add_argument(
        "--budget",
        type=positive_int,
        required=True,
        metavar="N",
        help="labels per run, seed set included",
    )
    p.add_argument(
        "--seeds",
        type=positive_int,
        default=3,
        metavar="K",
        help="runs per strategy, seeds 0..K-1 (default: 3)",
    )
    p.add_argument(
        "--initial",
        type=positive_int,
        default=10,
        metavar="N",
        help="random seed labels before the strategy takes over (default: 10)",
    )
    p.add_argument(
        "--batch", type=positive_int, default=10, metavar="N", help="labels per round (default: 10)"
    )
    p.add_argument(
        "--out",
        default="embkit-simulate",
        metavar="DIR",
        help="folder for learning_curves.png and curves.json (default: embkit-simulate)",
    )
    p.add_argument("--seed", type=seed_int, default=0, help="seed of the train/test split")
    add_data_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """The ``embkit simulate`` command."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from embkit.active import curve_table, make_strategy, plot_learning_curves, simulate
    from embkit.encoders.sentence import SentenceEncoder

    say = news(args)
    args.strategy = list(dict.fromkeys(args.strategy))
    for name in args.strategy:
        make_strategy(name)  # an unknown name fails before any encoding
    check_out(args.out, folder=True)
    train_texts, test_texts, y_train, y_test = train_test(args, say)
    if args.budget > len(train_texts):
        raise CLIError(
            f"--budget {args.budget} is larger than the {len(train_texts)} training texts"
        )
    if args.initial >= args.budget:  # a curve needs a point after the seed set
        raise CLIError(f"--budget {args.budget} must be larger than --initial {args.initial}")
    encoder = SentenceEncoder(
        args.model, cache=args.cache, show_progress_bar=False if args.quiet else None
    )
    say(f"encoding {len(train_texts)} training and {len(test_texts)} test texts")
    X, X_test = encoder.fit_transform(train_texts), encoder.transform(test_texts)
    y, y_test = np.asarray(y_train), np.asarray(y_test)
    curves = []
    for name in args.strategy:
        for seed in range(args.seeds):
            curve = simulate(
                LogisticRegression(max_iter=1000),
                name,
                X,
                y,
                X_test,
                y_test,
                budget=args.budget,
                n_initial=args.initial,
                batch_size=args.batch,
                random_state=seed,
                name=name,
            )
            curves.append(curve)
            say(
                f"{name} seed {seed}: area {curve.area:.4f}, accuracy {curve.accuracy[-1]:.4f} "
                f"at {curve.n_labels[-1]} labels"
            )
    _print_curves(curves, args.strategy)
    print()
    for row in curve_table(curves):
        print("  ".join(f"{k}: {v}" for k, v in row.items()))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "curves.json").write_text(
        json.dumps([c.to_dict() for c in curves], indent=1) + "\n", encoding="utf-8"
    )
    written = [out / "curves.json"]
    try:
        fig = plot_learning_curves(
            curves, title=f"{Path(args.data).name}: {args.seeds} seeds (min-max shaded)"
        )
    except ImportError:
        say("matplotlib is not installed: no picture (pip install 'embkit[plot]')")
    else:
        fig.savefig(out / "learning_curves.png", dpi=90)
        written.append(out / "learning_curves.png")
    print(f"\nwrote {', '.join(str(p) for p in written)}")
    return 0


def _print_curves(curves: list[Any], names: list[str]) -> None:
    """Mean test accuracy over the seeds, one row per label count, one column per strategy."""
    import numpy as np

    n_labels = curves[0].n_labels
    means = {
        name: np.nanmean([c.accuracy for c in curves if c.strategy == name], axis=0)
        for name in names
    }
    width = max(8, *(len(n) for n in names))
    print("labels  " + "  ".join(f"{n:>{width}}" for n in names))
    for i, n in enumerate(n_labels):
        print(f"{n:>6}  " + "  ".join(f"{means[name][i]:>{width}.4f}" for name in names))
