"""A tuner + SGDClassifier fed a stream learns at least as well as sklearn's MLP on it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import SGDClassifier
from sklearn.neural_network import MLPClassifier

from embkit import FeedForwardTuner, SentenceEncoder, make_partial_pipeline

ROOT = Path(__file__).resolve().parents[2]
WIDTH = 256


def read(path: Path, n: int) -> tuple[list[str], np.ndarray]:
    with open(path, encoding="utf-8") as fh:
        rows = [json.loads(line) for _, line in zip(range(n), fh, strict=False)]
    return [r["text"] for r in rows], np.asarray([r["label"] for r in rows])


@pytest.mark.data
def test_partial_pipeline_matches_mlp_partial_fit_on_a_stream(shared_data):
    """One pass over 4,000 emotion tweets in batches of 256, scored on 1,000 held-out ones."""
    train_texts, y_train = read(shared_data / "emotion" / "train.jsonl", 4000)
    val_texts, y_val = read(shared_data / "emotion" / "validation.jsonl", 1000)
    encoder = SentenceEncoder(cache=ROOT / ".cache" / "test-embeddings", show_progress_bar=False)
    X_train, X_val = encoder.fit_transform(train_texts), encoder.fit_transform(val_texts)
    classes = np.unique(y_train)

    pipe = make_partial_pipeline(
        FeedForwardTuner(WIDTH, random_state=0),
        SGDClassifier(loss="log_loss", random_state=0),
    )
    mlp = MLPClassifier(hidden_layer_sizes=(WIDTH,), random_state=0)
    for start in range(0, len(X_train), 256):
        batch = slice(start, start + 256)
        pipe.partial_fit(X_train[batch], y_train[batch], classes=classes)
        mlp.partial_fit(X_train[batch], y_train[batch], classes=classes)

    ours, theirs = pipe.score(X_val, y_val), mlp.score(X_val, y_val)
    assert pipe.named_steps["feedforwardtuner"].n_iter_ == 16  # one pass per batch, no hold-out
    assert ours >= theirs, f"PartialPipeline {ours:.3f} < MLPClassifier {theirs:.3f}"
    assert ours > 0.5  # most-frequent baseline on this split: about 0.35
