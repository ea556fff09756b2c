"""Fine-tuning benchmark: ``FineTuneClassifier`` on the full emotion data set (issue 4).

Trains all-MiniLM-L6-v2 with a mean-pooled linear head on the 16,000 training texts and
scores the 2,000 test texts: accuracy, macro F1, a confusion matrix picture and the time.

Run from the project root (needs ../shared/data)::

    flock /tmp/embkit-bench.lock python -m benchmarks.bench_finetune
"""

from __future__ import annotations

import argparse
import json
import time

from benchmarks._common import DATA, ROOT, environment, read_split, save_json


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--max-train", type=int, default=None, help="subsample the train split")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    import numpy as np
    import torch
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    from embkit import FineTuneClassifier

    torch.set_num_threads(args.threads)
    X_train, y_train = read_split("emotion", "train")
    X_test, y_test = read_split("emotion", "test")
    if args.max_train:
        keep = np.random.default_rng(args.seed).permutation(len(X_train))[: args.max_train]
        X_train = [X_train[i] for i in keep]
        y_train = [y_train[i] for i in keep]
    labels = json.loads((DATA / "emotion" / "labels.json").read_text())["names"]

    clf = FineTuneClassifier(
        n_epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        max_length=args.max_length,
        random_state=args.seed,
        device="cpu",
        show_progress_bar=True,
    )
    start = time.perf_counter()
    clf.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    pred = clf.predict(X_test)
    predict_seconds = time.perf_counter() - start

    values, counts = np.unique(y_train, return_counts=True)
    majority = values[np.argmax(counts)]
    result = {
        "benchmark": "finetune-emotion",
        "model": "all-MiniLM-L6-v2",
        "n_train": len(X_train),
        "n_test": len(X_test),
        "params": {k: v for k, v in clf.get_params().items() if k != "model"},
        "accuracy": float(accuracy_score(y_test, pred)),
        "macro_f1": float(f1_score(y_test, pred, average="macro")),
        "most_frequent_accuracy": float(np.mean(np.asarray(y_test) == majority)),
        "fit_seconds": fit_seconds,
        "predict_seconds": predict_seconds,
        "loss_curve": clf.loss_curve_,
        "labels": labels,
        "confusion_matrix": confusion_matrix(y_test, pred, labels=labels).tolist(),
        "environment": environment(),
    }
    save_json(result, "finetune_emotion")
    try:
        import matplotlib

        matplotlib.use("Agg")
        from sklearn.metrics import ConfusionMatrixDisplay

        disp = ConfusionMatrixDisplay.from_predictions(
            y_test, pred, labels=labels, normalize="true", values_format=".2f", colorbar=False
        )
        disp.ax_.set_title(
            f"FineTuneClassifier, emotion test: acc {result['accuracy']:.3f}, "
            f"macro F1 {result['macro_f1']:.3f}"
        )
        disp.figure_.set_size_inches(7, 6)
        disp.figure_.tight_layout()
        img = ROOT / "docs" / "img"
        img.mkdir(parents=True, exist_ok=True)
        disp.figure_.savefig(img / "finetune_emotion_confusion.png", dpi=100)
    except ImportError:  # pragma: no cover - matplotlib is optional
        pass
    print(json.dumps({k: v for k, v in result.items() if k != "confusion_matrix"}, indent=1))
    return result


if __name__ == "__main__":
    main()
