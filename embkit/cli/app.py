"""The ``embkit`` command: compare pipelines, train one, predict with it, encode texts.

Exit codes: 0 success, 1 bad input (a one-line reason on stderr, no traceback; set
``EMBKIT_DEBUG=1`` to see it), 2 usage errors (from argparse). Results go to stdout;
progress bars and news go to stderr (``--quiet`` silences them).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from embkit._core.seeding import MAX_RANDOM_STATE
from embkit.cli.common import (
    CLIError,
    add_data_options,
    add_split_options,
    check_labels,
    check_out,
    load_labelled,
    load_texts,
    news,
    positive_int,
    seed_int,
    train_test,
)

__all__ = ["main"]

SAVED_FORMAT = "embkit-pipeline"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``embkit`` command."""
    from embkit import __version__

    parser = argparse.ArgumentParser(
        prog="embkit",
        description="Find the embedding pipeline that serves your labelled texts best, "
        "then use it.",
        epilog="Data files: .jsonl (text/label fields), .csv/.tsv (text/label columns), "
        ".txt (text;label lines); .gz allowed. Exit codes: 0 ok, 1 bad input, 2 usage.",
    )
    parser.add_argument("--version", action="version", version=f"embkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "compare",
        help="fit every pipeline on the same embeddings and compare them",
        description="Encode DATA once, fit each pipeline on the same embeddings, print "
        "accuracy, macro F1 and fit time on a test split next to a most-frequent baseline, "
        "and write tables and pictures to --out.",
    )
    add_split_options(p)
    p.add_argument(
        "--pipelines", metavar="NAMES",
        help="comma-separated pipeline names (default: every available one but the slow, "
        "opt-in setfit, finetune and static; see 'embkit pipelines')",
    )  # fmt: skip
    p.add_argument("--setfit", action="store_true", help="add the SetFit pipeline (slow)")
    p.add_argument("--out", metavar="DIR", help="write tables and pictures here")
    p.add_argument("--seed", type=seed_int, default=0, help="seed of the split and every pipeline")
    p.add_argument(
        "--seeds", type=positive_int, default=3,
        help="runs of every stochastic pipeline, with seeds SEED, SEED+1, ...; the table "
        "shows mean ± std (default: 3)",
    )  # fmt: skip
    add_data_options(p)
    p.set_defaults(run=_compare)

    p = sub.add_parser(
        "train",
        help="fit one named pipeline on all of DATA and save it",
        description="Fit the pipeline called NAME (encoder included) on every row of DATA "
        "and save it to DIR for 'embkit predict'.",
    )
    p.add_argument("data", metavar="DATA", help="labelled texts")
    p.add_argument("--pipeline", required=True, metavar="NAME", help="see 'embkit pipelines'")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to save the pipeline in")
    p.add_argument("--seed", type=seed_int, default=0, help="seed of the pipeline")
    add_data_options(p)
    p.set_defaults(run=_train)

    p = sub.add_parser(
        "predict",
        help="label new texts with a saved pipeline (JSON lines out)",
        description="Load the pipeline saved by 'embkit train' in DIR and write one JSON "
        'line per text of TEXTS_FILE: {"text", "label", "score"} (score: the predicted '
        "label's probability, when the pipeline has one). The pipeline is read with "
        "embkit.load, which never unpickles; a pickle or joblib file is refused unless "
        "--allow-pickle is given.",
    )
    p.add_argument(
        "model_dir", metavar="DIR",
        help="folder written by 'embkit train', or its pipeline.embkit file",
    )  # fmt: skip
    p.add_argument(
        "texts", metavar="TEXTS_FILE", help=".jsonl/.csv (text field) or .txt (a text per line)"
    )
    p.add_argument("--out", metavar="FILE", help="write JSON lines here (default: stdout)")
    p.add_argument(
        "--allow-pickle", action="store_true",
        help="also load a pickle/joblib pipeline; unpickling runs code: only files you trust",
    )  # fmt: skip
    add_data_options(p, labels=False, model=False)
    p.set_defaults(run=_predict)

    p = sub.add_parser(
        "encode",
        help="embed texts into a .npy file",
        description="Embed the texts of DATA (labels, if any, are ignored; a .txt file holds "
        "one text per line) and save a float32 array of shape (n_texts, dim).",
    )
    p.add_argument("data", metavar="DATA", help="texts")
    p.add_argument("--out", required=True, metavar="FILE.npy", help="output array")
    p.add_argument("--batch-size", type=positive_int, default=64, help="texts per batch")
    add_data_options(p, labels=False)
    p.set_defaults(run=_encode)

    p = sub.add_parser("pipelines", help="list the named pipelines", description="List pipelines.")
    p.set_defaults(run=_pipelines)
    from embkit.cli import label, simulate  # commands in their own modules

    label.add_parser(sub)
    simulate.add_parser(sub)
    return parser


# --------------------------------------------------------------------------------------
# Entry point


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``embkit`` command and return its exit code.

    Examples
    --------
    >>> main(["pipelines"])  # doctest: +ELLIPSIS
    lr ...
    0
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors (2)
        return exc.code if isinstance(exc.code, int) else 2
    if getattr(args, "quiet", False):
        _quiet_libraries()
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            return args.run(args)
        except (CLIError, ValueError, TypeError, OSError, ImportError) as exc:
            if os.environ.get("EMBKIT_DEBUG"):
                raise
            print(f"embkit: error: {_one_line(exc)}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("embkit: interrupted", file=sys.stderr)
            return 130


def _quiet_libraries() -> None:
    """Silence the progress bars that Hugging Face libraries draw while loading a model."""
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # pragma: no cover - transformers comes with sentence-transformers
        return
    hf_logging.disable_progress_bar()


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, FileNotFoundError) and exc.filename and str(exc.filename) not in text:
        text = f"no such file: {exc.filename}"
    first = text.splitlines()[0]
    return first if len(first) <= 500 else first[:497] + "..."


def _show_warning(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
    print(f"embkit: warning: {_one_line(Warning(str(message)))}", file=sys.stderr)


def _compare_names(args: argparse.Namespace) -> list[str]:
    from embkit.cli.registry import available_pipelines, get_pipeline_spec

    if args.pipelines:
        names = list(dict.fromkeys(n.strip() for n in args.pipelines.split(",") if n.strip()))
        for name in names:
            get_pipeline_spec(name)
    else:
        names = [n for n, spec in available_pipelines().items() if spec.in_compare]
    if args.setfit and "setfit" not in names:
        get_pipeline_spec("setfit")
        names.append("setfit")
    if not names:
        raise CLIError("no pipeline to compare")
    return names


def _compare(args: argparse.Namespace) -> int:
    from embkit.cli.compare import compare_pipelines, write_report

    say = news(args)
    names = _compare_names(args)
    if args.seed + args.seeds - 1 > MAX_RANDOM_STATE:
        raise CLIError(
            f"--seed {args.seed} with --seeds {args.seeds} runs up to seed "
            f"{args.seed + args.seeds - 1}, above {MAX_RANDOM_STATE}: lower --seed"
        )
    check_out(args.out, folder=True)
    train_texts, test_texts, y_train, y_test = train_test(args, say)
    say(f"{args.data}: {len(train_texts)} train, {len(test_texts)} test texts; pipelines: "
        f"{', '.join(names)}")  # fmt: skip
    result = compare_pipelines(
        train_texts, y_train, test_texts, y_test, names=names, model=args.model,
        cache=args.cache, random_state=args.seed, seeds=args.seeds, verbose=not args.quiet,
        log=say,
    )  # fmt: skip
    print(result.table())
    print(
        f"\n{len(test_texts)} test texts; encoding {result.encode_time_s:.1f} s, shared by "
        f"every pipeline (not in the fit times). {result.verdict}"
    )
    if args.out:
        pictures = True
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            pictures = False
            say("matplotlib is not installed: no pictures (pip install 'embkit[plot]')")
        written = write_report(result, args.out, pictures=pictures)
        print(f"\nwrote {len(written)} files to {args.out}/:")
        for kind, path in written.items():
            print(f"  {kind:<18} {path}")
    return 0


def _train(args: argparse.Namespace) -> int:
    import time

    from embkit import __version__
    from embkit.cli.registry import get_pipeline_spec, make_named_pipeline
    from embkit.cli.saved import SAVED_FILE, check_savable, configure_loaded, save_trained

    say = news(args)
    get_pipeline_spec(args.pipeline)
    check_out(args.out, folder=True)
    texts, labels = load_labelled(args.data, args)
    check_labels(labels, args.data)
    pipe = make_named_pipeline(
        args.pipeline, model=args.model, cache=args.cache, random_state=args.seed,
        verbose=not args.quiet,
    )  # fmt: skip
    check_savable(pipe, args.pipeline)
    say(f"fitting {args.pipeline} on {len(texts)} texts from {args.data}")
    start = time.perf_counter()
    pipe.fit(texts, labels)
    fit_time = time.perf_counter() - start
    pipe, chosen = _keep_the_choice(pipe)
    out = Path(args.out)
    classes = [_plain(c) for c in getattr(pipe, "classes_", sorted(set(labels), key=str))]
    meta = {
        "format": SAVED_FORMAT,
        "format_version": 2,  # 2: pipeline.embkit (embkit.save); 1: pipeline.joblib
        "pipeline_name": args.pipeline,
        "model": args.model,
        "labels": classes,
        "n_train": len(texts),
        "trained_on": str(args.data),
        "fit_time_s": round(fit_time, 3),
        "embkit_version": __version__,
    }
    if chosen is not None:
        meta["chosen"] = chosen
        say(f"auto chose {chosen}")
    # The cache folder is a setting of this machine, not of the model: not saved.
    configure_loaded(pipe, verbose=False, cache=None)
    created = next((p for p in (*reversed(out.parents), out) if not p.exists()), None)
    try:
        save_trained(pipe, out, meta)
    except BaseException:
        if created is not None:  # leave no half-written folder (nor its new parents) behind
            shutil.rmtree(created, ignore_errors=True)
        raise
    print(f"trained {args.pipeline} on {len(texts)} texts ({len(classes)} labels) in "
          f"{fit_time:.1f} s; saved to {out / SAVED_FILE}")  # fmt: skip
    return 0


def _keep_the_choice(pipe: Any) -> tuple[Any, str | None]:
    """``auto``'s fitted search replaced by the pipeline it chose (refitted on every row),
    which is what ``predict`` needs and what ``embkit.save`` writes; and that choice."""
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline

    from embkit.cli.auto import describe_choice

    search = pipe.steps[-1][1]
    if not isinstance(search, GridSearchCV):
        return pipe, None
    best = search.best_estimator_
    steps = best.steps if isinstance(best, Pipeline) else [("model", best)]
    kept = pipe.steps[:-1] + [(name, step) for name, step in steps if step != "passthrough"]
    return Pipeline(kept), describe_choice(search)


def _predict(args: argparse.Namespace) -> int:
    from embkit.cli.saved import configure_loaded, load_trained

    check_out(args.out, folder=False)
    pipe = load_trained(args.model_dir, allow_pickle=args.allow_pickle)
    texts = load_texts(args.texts, args)
    configure_loaded(pipe, verbose=not args.quiet, cache=args.cache)
    labels = pipe.predict(texts)
    scores = None
    if hasattr(pipe, "predict_proba"):
        scores = pipe.predict_proba(texts).max(axis=1)
    lines = []
    for i, (text, label) in enumerate(zip(texts, labels, strict=True)):
        record = {"text": text, "label": _plain(label)}
        if scores is not None:
            record["score"] = round(float(scores[i]), 6)
        lines.append(json.dumps(record, ensure_ascii=False))
    output = "\n".join(lines) + "\n"
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(output, encoding="utf-8")
        news(args)(f"wrote {len(lines)} predictions to {args.out}")
    else:
        sys.stdout.write(output)
    return 0


def _encode(args: argparse.Namespace) -> int:
    import numpy as np

    from embkit.encoders.sentence import SentenceEncoder

    check_out(args.out, folder=False)  # a folder is refused before any work
    out = Path(args.out)
    if out.suffix.lower() != ".npy":
        out = out.with_name(out.name + ".npy")
        check_out(str(out), folder=False)
    texts = load_texts(args.data, args)
    encoder = SentenceEncoder(
        args.model, batch_size=args.batch_size, cache=args.cache,
        show_progress_bar=False if args.quiet else None,
    )  # fmt: skip
    X = encoder.fit_transform(texts)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as fh:  # np.save(path) would add ".npy" to "X.NPY"
        np.save(fh, X)
    print(f"encoded {X.shape[0]} texts into a {X.dtype} array of shape {X.shape}: {out}")
    return 0


def _pipelines(args: argparse.Namespace) -> int:
    from embkit.cli.registry import available_pipelines

    for name, spec in available_pipelines(include_unavailable=True).items():
        reason = spec.unavailable_reason()
        state = "" if reason is None else f" [unavailable: {reason}]"
        default = "" if spec.in_compare else " (compare: only when asked)"
        print(f"{name:<12} {spec.description}{default}{state}")
    return 0


def _plain(value: Any) -> Any:
    """Numpy scalars to Python values, so labels serialise to JSON."""
    item = getattr(value, "item", None)
    return item() if callable(item) and not isinstance(value, (str, bytes)) else value
