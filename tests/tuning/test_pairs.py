"""Pair sampling: counts, correctness of every pair, seeding, multi-label, cats records."""

from __future__ import annotations

import numpy as np
import pytest

from embkit.tuning.pairs import make_grouped_pairs, make_pairs, pairs_from_cats, sample_pairs


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


@pytest.mark.parametrize(
    ("n_neg", "error"), [(-1, ValueError), (1.5, TypeError), (True, TypeError)]
)
def test_bad_n_neg(n_neg, error):
    with pytest.raises(error, match="n_neg must be an integer >= 0"):
        make_pairs([0, 1], n_neg=n_neg)
    with pytest.raises(error, match="n_neg must be an integer >= 0"):
        pairs_from_cats([{"text": "a", "cats": {"x": 1}}], n_neg=n_neg)


def test_multilabel_pairs_share_or_split_the_label():
    Y = np.array([[1, 0], [1, 1], [0, 1], [0, 0], [1, 0]])
    idx1, idx2, similar = make_pairs(Y, n_neg=2, random_state=0)
    pos = similar == 1
    shared = (Y[idx1] & Y[idx2]).any(axis=1)
    assert shared[pos].all()
    # each negative pairs a member of some label with a non-member of that label
    assert ((Y[idx1] == 1) & (Y[idx2] == 0)).any(axis=1)[~pos].all()
    assert len(idx1) == Y.sum() * 3
    # label by label (in column order): one positive per member, then n_neg negatives each
    start = 0
    for column in Y.T:
        m = int(column.sum())
        block = slice(start + m, start + 3 * m)
        assert (similar[start : start + m] == 1).all() and (similar[block] == 0).all()
        assert (column[idx1[block]] == 1).all() and (column[idx2[block]] == 0).all()
        start += 3 * m


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


@pytest.mark.parametrize("n_neg", [0, 1, 3])
def test_grouped_pairs_stay_inside_their_group(n_neg):
    y = np.repeat(["a", "b", "c"], [30, 20, 13])  # 63 rows: the last group of a round is short
    group, rounds = 8, 3
    idx1, idx2, similar = make_grouped_pairs(
        y, group_size=group, n_rounds=rounds, n_neg=n_neg, random_state=0
    )
    per_group = group * (1 + n_neg)
    assert len(idx1) == len(y) * rounds * (1 + n_neg)
    for start in range(0, len(idx1), per_group):
        rows = set(idx1[start : start + per_group]) | set(idx2[start : start + per_group])
        assert len(rows) <= group
    positives = similar == 1
    assert np.all(y[idx1[positives]] == y[idx2[positives]])
    assert np.all(y[idx1[~positives]] != y[idx2[~positives]])
    # every row is an anchor 1 + n_neg times per round
    assert np.all(np.bincount(idx1, minlength=len(y)) == rounds * (1 + n_neg))


def test_grouped_pairs_give_every_row_a_class_mate_in_its_group():
    y = np.repeat(np.arange(6), 8)  # more classes than half a group: runs of two class-mates
    idx1, idx2, similar = make_grouped_pairs(y, group_size=8, n_rounds=5, random_state=0)
    positives = similar == 1
    assert not np.any(idx1[positives] == idx2[positives])  # never a row with itself
    groups = idx1.reshape(-1, 16)  # 8 rows a group, 16 pairs
    assert all(len(set(y[g])) >= 3 for g in groups)  # classes are spread over the groups


@pytest.mark.parametrize(
    ("n", "k"), [(4, 2), (6, 3), (8, 2), (12, 3), (15, 5), (20, 2), (21, 3), (30, 2)]
)
def test_grouped_pairs_of_few_rows_never_pair_a_row_with_itself(n, k):
    """SbertTuner's default groups of 16 texts: a group spanning two rounds held a row
    twice (up to 59% of similar pairs were a text with itself on 4 texts, 3% on 21)."""
    y = np.arange(n) % k
    idx1, idx2, similar = make_grouped_pairs(y, group_size=16, n_rounds=3, random_state=0)
    assert not np.any(idx1[similar == 1] == idx2[similar == 1])
    assert np.all(np.bincount(idx1, minlength=n) == 3 * 2)


def test_grouped_pairs_are_seeded_and_balanced():
    y = np.repeat([0, 1], [90, 10])
    idx1, _, similar = make_grouped_pairs(y, group_size=10, n_neg=1, random_state=3)
    assert np.mean(similar) > 0.5  # single-class groups trade negatives for positives
    # the minority class is spread, not bunched: its rows fall in 5 different groups
    groups_with_minority = {k // 20 for k in np.flatnonzero(y[idx1] == 1)}
    assert len(groups_with_minority) == 5
    again = make_grouped_pairs(y, group_size=10, n_neg=1, random_state=3)
    np.testing.assert_array_equal(again[0], idx1)
    other = make_grouped_pairs(y, group_size=10, n_neg=1, random_state=4)
    assert not np.array_equal(other[0], idx1)


def test_grouped_pairs_single_class_group_gets_positives_instead():
    y = np.array([0, 0, 0, 0, 1, 1])
    idx1, idx2, similar = make_grouped_pairs(y, group_size=2, n_rounds=4, random_state=0)
    assert len(idx1) == 6 * 4 * 2
    for start in range(0, len(idx1), 4):
        if len(set(y[idx1[start : start + 4]])) == 1:  # a group of one class: all positives
            assert np.all(similar[start : start + 4] == 1)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"group_size": 1}, ValueError, "group_size"),
        ({"group_size": 2.5}, TypeError, "group_size"),
        ({"group_size": 4, "n_rounds": 0}, ValueError, "n_rounds"),
        ({"group_size": 4, "n_rounds": 2.5}, TypeError, "n_rounds"),
        ({"group_size": 4, "n_neg": 0.5}, TypeError, "n_neg"),
        ({"group_size": 4, "n_neg": -1}, ValueError, "n_neg"),
    ],
)
def test_grouped_pairs_bad_params(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_grouped_pairs([0, 1, 0, 1], **kwargs)


def test_grouped_pairs_bad_labels():
    with pytest.raises(ValueError, match="single class"):
        make_grouped_pairs(["a"] * 4, group_size=2)
    with pytest.raises(ValueError, match="1-D labels"):
        make_grouped_pairs([[0, 1]], group_size=2)
