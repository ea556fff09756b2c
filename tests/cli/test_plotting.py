"""embkit.cli.plotting: PCA scatter plots and confusion matrices, without pyplot state."""

from __future__ import annotations

import io

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib.figure import Figure  # noqa: E402
from sklearn.metrics import confusion_matrix  # noqa: E402

from embkit.cli.plotting import (  # noqa: E402
    plot_before_after,
    plot_confusion_matrix,
    plot_embedding_pca,
    plot_embeddings,
)


def png_bytes(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def n_points(ax) -> int:
    return sum(len(c.get_offsets()) for c in ax.collections)


def test_pca_scatter_one_colour_per_label(blobs):
    X, y = blobs
    ax = plot_embedding_pca(X, y, title="blobs")
    assert isinstance(ax.figure, Figure)
    assert ax.get_title() == "blobs"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["alpha (40)", "beta (40)", "gamma (40)"]
    assert n_points(ax) == len(X)
    colours = {tuple(np.round(c.get_facecolor()[0], 3)) for c in ax.collections}
    assert len(colours) == 3
    assert ax.get_xlabel().startswith("PC1 (") and "% of variance" in ax.get_xlabel()
    assert png_bytes(ax.figure)[:8] == b"\x89PNG\r\n\x1a\n"


def test_pca_points_are_the_principal_components(blobs):
    from sklearn.decomposition import PCA

    X, _ = blobs
    ax = plot_embedding_pca(X)
    expected = PCA(n_components=2, random_state=0).fit_transform(X.astype(np.float64))
    np.testing.assert_allclose(ax.collections[0].get_offsets(), expected, rtol=1e-5, atol=1e-6)
    assert ax.get_legend() is None


def test_pca_draws_on_a_given_axes_and_subsamples(blobs):
    X, y = blobs
    fig = Figure()
    ax = fig.add_subplot()
    assert plot_embedding_pca(X, y, ax=ax, max_points=30) is ax
    assert n_points(ax) == 30
    # the legend still counts every point of each label
    assert [t.get_text() for t in ax.get_legend().get_texts()][0] == "alpha (40)"


def test_pca_bad_input(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="120 rows but y has 3"):
        plot_embedding_pca(X, y[:3])
    with pytest.raises(ValueError, match="2-D array with at least 2 rows"):
        plot_embedding_pca(X[0])


def test_pca_of_one_dimension_works():
    ax = plot_embedding_pca(np.arange(10.0).reshape(-1, 1), [0, 1] * 5)
    assert n_points(ax) == 10


def test_before_after_and_panels(blobs):
    X, y = blobs
    fig = plot_before_after(X, X[:, :3] * 2, y)
    assert [ax.get_title() for ax in fig.axes] == ["before tuning", "after tuning"]
    fig = plot_embeddings({"a": X, "b": X, "c": X, "d": X}, y, suptitle="four")
    assert len(fig.axes) == 4 and fig.get_suptitle() == "four"
    w, h = fig.get_size_inches()
    assert w > h  # 3 on the first row, 1 on the second
    with pytest.raises(ValueError, match="empty"):
        plot_embeddings({}, y)


def test_confusion_matrix_counts_and_order():
    y_true = ["cat", "dog", "dog", "bird", "cat", "cat"]
    y_pred = ["cat", "cat", "dog", "bird", "dog", "cat"]
    labels = ["cat", "dog", "bird"]
    ax = plot_confusion_matrix(y_true, y_pred, labels=labels, title="pets")
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    assert [t.get_text() for t in ax.texts] == [str(v) for v in cm.ravel()]
    assert [t.get_text() for t in ax.get_xticklabels()] == labels
    assert [t.get_text() for t in ax.get_yticklabels()] == labels
    assert ax.get_title() == "pets" and ax.get_xlabel() == "predicted label"
    np.testing.assert_array_equal(ax.images[0].get_array(), cm)


def test_confusion_matrix_normalized_and_default_labels():
    ax = plot_confusion_matrix([1, 1, 2, 2], [1, 2, 2, 2], normalize="true")
    assert [t.get_text() for t in ax.texts] == ["0.50", "0.50", "0.00", "1.00"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2"]


def test_numeric_labels_are_drawn_in_numeric_order():
    """Sorted as text they came as 1, 10, 11, 2, ... on both axes."""
    y = [2, 10, 1, 11, 2]
    ax = plot_confusion_matrix(y, y)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "10", "11"]


def test_labels_read_as_text_sort_by_value_in_a_fixed_order():
    from embkit.cli.plotting import sorted_labels

    assert sorted_labels(["10", "1", "01", "-2", "2.5"]) == ["-2", "01", "1", "2.5", "10"]
    assert sorted_labels(["b", "10", "a"]) == ["10", "a", "b"]


def test_nothing_touches_pyplot(blobs):
    import matplotlib
    import matplotlib.pyplot as plt

    X, y = blobs
    backend = matplotlib.get_backend()
    before = plt.get_fignums()
    plot_embedding_pca(X, y)
    plot_before_after(X, X, y)
    plot_confusion_matrix(y, y)
    assert plt.get_fignums() == before
    assert matplotlib.get_backend() == backend
