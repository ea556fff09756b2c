"""Pair sampling: counts, correctness of every pair, seeding, multi-label, cats records."""

from __future__ import annotations

import numpy as np
import pytest

from embkit.pairs import make_pairs, pairs_from_cats, sample_pairs


def test_every_row_gets_one_positive_and_n_neg_negatives():
    y = np.array(list("aaabbbbcc"))
    idx1, idx2, similar = make_pairs(y, n_neg=3, random_state=0)
    assert len(idx1) == len(y) * 4
    counts = np.bincount(idx1, minlength=len(y))
    assert np.all(counts == 4)
    positives = similar == 1
    assert np.all(y[idx1[positives]] == y[idx2[positives]])
    assert np.all(y[idx1[~positives]] != y[idx2[~positives]])
    # a positive partner is another member whenever the class has more than one
    assert np.all(idx1[positives] != idx2[positives])


def test_singleton_class_pairs_with_itself():
    y = np.array([0, 0, 1])
    idx1, idx2, similar = make_pairs(y, n_neg=1, random_state=0)
    singleton = (idx1 == 2) & (similar == 1)
    assert idx2[singleton].tolist() == [2]


def test_seeded_and_varied():
    y = np.repeat([0, 1, 2], 50)
    a = make_pairs(y, random_state=7)
    b = make_pairs(y, random_state=7)
    c = make_pairs(y, random_state=8)
    for left, right in zip(a, b, strict=True):
        np.testing.assert_array_equal(left, right)
    assert not np.array_equal(a[1], c[1])


def test_negatives_cover_all_other_classes_uniformly():
    y = np.repeat([0, 1, 2], 1000)
    idx1, idx2, similar = make_pairs(y, n_neg=3, random_state=0)
    neg = similar == 0
    from_class0 = y[idx1[neg]] == 0
    share_1 = np.mean(y[idx2[neg]][from_class0] == 1)
    assert 0.45 < share_1 < 0.55


def test_single_class_is_a_clear_error():
    with pytest.raises(ValueError, match="single class"):
        make_pairs(["a", "a", "a"])


@pytest.mark.parametrize(
    "y, error",
    [(None, TypeError), ([], ValueError), ([1.0, np.nan], ValueError), ([[[1]]], ValueError)],
)
def test_bad_labels(y, error):
    with pytest.raises(error):
        make_pairs(y)


def test_bad_n_neg():
    with pytest.raises(ValueError, match="n_neg"):
        make_pairs([0, 1], n_neg=-1)


def test_multilabel_pairs_share_or_split_the_label():
    Y = np.array([[1, 0], [1, 1], [0, 1], [0, 0], [1, 0]])
    idx1, idx2, similar = make_pairs(Y, n_neg=2, random_state=0)
    pos = similar == 1
    shared = (Y[idx1] & Y[idx2]).any(axis=1)
    assert shared[pos].all()
    # each negative pairs a member of some label with a non-member of that label
    assert len(idx1) == Y.sum() * 3


def test_sample_pairs_without_other_classes_gives_only_positives():
    i1, i2, s = sample_pairs(np.zeros(5, dtype=int), 3, np.random.default_rng(0))
    assert len(i1) == 5 and s.min() == 1


def test_pairs_from_cats_uses_only_annotated_records():
    records = [
        {"text": "new corpus", "cats": {"new-dataset": 1}},
        {"text": "we release data", "cats": {"new-dataset": 1, "data-quality": 0}},
        {"text": "a theorem", "cats": {"new-dataset": 0}},
        {"text": "label noise", "cats": {"data-quality": 1}},
        {"text": "unrelated", "cats": {}},
    ]
    pairs = pairs_from_cats(records, n_neg=2, random_state=0)
    texts1, texts2, similar = pairs["new-dataset"]
    assert set(texts1) <= {"new corpus", "we release data"}
    negatives = [t for t, s in zip(texts2, similar, strict=True) if s == 0]
    assert set(negatives) == {"a theorem"}
    assert "unrelated" not in texts1 + texts2
    texts1, texts2, similar = pairs["data-quality"]
    assert similar.tolist() == [1.0, 0.0, 0.0]
    assert texts2[1:] == ["we release data", "we release data"]


@pytest.mark.parametrize(
    "records, match",
    [
        ([{"cats": {}}], "text"),
        ([{"text": "x"}], "cats"),
        ([{"text": "x", "cats": {"a": 2}}], "0 or 1"),
        (["not a dict"], "dict"),
    ],
)
def test_pairs_from_cats_bad_records(records, match):
    with pytest.raises((ValueError, TypeError), match=match):
        pairs_from_cats(records)


@pytest.mark.data
def test_pairs_from_cats_on_embetter_data(shared_data):
    import srsly

    records = list(srsly.read_jsonl(shared_data / "embetter" / "new-dataset.jsonl"))
    pairs = pairs_from_cats(records, random_state=0)
    assert "new-dataset" in pairs
    texts1, texts2, similar = pairs["new-dataset"]
    assert len(texts1) == len(texts2) == len(similar)
    assert 0 < similar.mean() < 1
