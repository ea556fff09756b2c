"""Pictures of embedding spaces and classifier errors (matplotlib, optional).

The functions draw on an ``Axes`` you pass or on a standalone Figure, never touching
pyplot's state; save with ``ax.figure.savefig(path)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "plot_before_after",
    "plot_confusion_matrix",
    "plot_embedding_pca",
    "plot_embeddings",
    "sorted_labels",
]


def _require_matplotlib() -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "embkit.cli.plotting needs matplotlib: pip install 'embkit[plot]' (or matplotlib)"
        ) from exc
    return Figure


def _new_axes(ax: Any, figsize: tuple[float, float]) -> Any:
    Figure = _require_matplotlib()
    return ax if ax is not None else Figure(figsize=figsize, layout="constrained").add_subplot()


def _project_2d(X: Any, random_state: int | None) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.decomposition import PCA

    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 2:
        raise ValueError(f"X must be a 2-D array with at least 2 rows, got shape {X.shape}")
    n_components = min(2, X.shape[1])
    pca = PCA(n_components=n_components, random_state=random_state)
    Z = pca.fit_transform(X)
    if n_components == 1:
        Z = np.column_stack([Z[:, 0], np.zeros(len(Z))])
    ratio = np.zeros(2)
    ratio[:n_components] = pca.explained_variance_ratio_
    return Z, ratio


def plot_embedding_pca(
    X: Any,
    y: Sequence[Any] | None = None,
    *,
    ax: Any = None,
    title: str | None = "Embeddings (PCA)",
    max_points: int | None = 3000,
    random_state: int | None = 0,
    point_size: float | None = None,
) -> Any:
    """Scatter the first two principal components of ``X``, coloured by label.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Embeddings.
    y : sequence of labels or None, default=None
        One colour per label, with a legend. ``None`` draws one colour.
    ax : matplotlib Axes or None, default=None
        Where to draw; ``None`` makes a new standalone figure.
    title : str or None, default="Embeddings (PCA)"
        Axes title; the explained variance goes on the axis labels.
    max_points : int or None, default=3000
        Draw at most this many points (a seeded subset; the PCA uses all).
    random_state : int or None, default=0
        Seed of the PCA solver and of the subset.
    point_size : float or None, default=None
        Marker area; ``None`` picks one from the number of points (larger when few).

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 5))
    >>> ax = plot_embedding_pca(X, ["a", "b"] * 20, title="toy")
    >>> ax.get_title(), len(ax.get_legend().get_texts())
    ('toy', 2)
    >>> ax.figure.savefig(__import__("io").BytesIO(), format="png")
    """
    ax = _new_axes(ax, (5.5, 4.5))
    Z, ratio = _project_2d(X, random_state)
    labels = None if y is None else np.asarray(y, dtype=object)
    if labels is not None and len(labels) != len(Z):
        raise ValueError(f"X has {len(Z)} rows but y has {len(labels)} labels")
    shown = np.arange(len(Z))
    if max_points is not None and len(Z) > max_points:
        shown = np.sort(np.random.default_rng(random_state).choice(len(Z), max_points, False))
    if point_size is None:
        point_size = float(np.clip(4000 / max(len(shown), 1), 6, 30))
    if labels is None:
        ax.scatter(Z[shown, 0], Z[shown, 1], s=point_size, alpha=0.7, linewidths=0)
    else:
        classes = sorted_labels(labels.tolist())
        colours = _colours(len(classes))
        for colour, cls in zip(colours, classes, strict=True):
            idx = shown[labels[shown] == cls]
            ax.scatter(
                Z[idx, 0], Z[idx, 1], s=point_size, alpha=0.7, linewidths=0, color=colour,
                label=f"{cls} ({int((labels == cls).sum())})",
            )  # fmt: skip
        ax.legend(loc="best", fontsize="small", markerscale=2, frameon=False)
    ax.set_xlabel(f"PC1 ({ratio[0]:.0%} of variance)")
    ax.set_ylabel(f"PC2 ({ratio[1]:.0%} of variance)")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax


def plot_embeddings(
    embeddings: Mapping[str, Any],
    y: Sequence[Any] | None = None,
    *,
    ncols: int | None = None,
    panel_size: tuple[float, float] = (4.5, 4.0),
    suptitle: str | None = None,
    **kwargs: Any,
) -> Any:
    """Draw several embedding spaces of the same texts side by side (one PCA each).

    Parameters
    ----------
    embeddings : mapping of str to array-like
        Panel title -> embeddings, all with the same number of rows as ``y``.
    y : sequence or None
        Labels for the colours.
    ncols : int or None, default=None
        Panels per row; ``None`` puts up to 3 on a row.
    panel_size : (float, float), default=(4.5, 4.0)
        Size of one panel in inches.
    suptitle : str or None, default=None
        Figure title.
    **kwargs
        Passed on to :func:`plot_embedding_pca`.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(30, 6))
    >>> fig = plot_embeddings({"raw": X, "scaled": 2 * X[:, :3]}, [0, 1, 2] * 10)
    >>> [ax.get_title() for ax in fig.axes]
    ['raw', 'scaled']
    """
    Figure = _require_matplotlib()
    if not embeddings:
        raise ValueError("embeddings is empty: give at least one panel")
    n = len(embeddings)
    ncols = min(n, 3) if ncols is None else ncols
    nrows = -(-n // ncols)
    fig = Figure(figsize=(panel_size[0] * ncols, panel_size[1] * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, (title, X) in zip(axes, embeddings.items(), strict=False):
        plot_embedding_pca(X, y, ax=ax, title=title, **kwargs)
    for ax in axes[n:]:
        ax.remove()
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def plot_before_after(
    X_before: Any,
    X_after: Any,
    y: Sequence[Any] | None = None,
    *,
    titles: tuple[str, str] = ("before tuning", "after tuning"),
    **kwargs: Any,
) -> Any:
    """Two PCA panels: the embedding space before and after a tuner.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(30, 6))
    >>> fig = plot_before_after(X, X[:, :2] * 3, ["x", "y", "z"] * 10)
    >>> len(fig.axes)
    2
    """
    return plot_embeddings({titles[0]: X_before, titles[1]: X_after}, y, ncols=2, **kwargs)


def plot_confusion_matrix(
    y_true: Sequence[Any],
    y_pred: Sequence[Any],
    *,
    labels: Sequence[Any] | None = None,
    normalize: str | None = None,
    ax: Any = None,
    title: str | None = "Confusion matrix",
    cmap: str = "Blues",
) -> Any:
    """Draw the confusion matrix: true labels on rows, predictions on columns.

    Parameters
    ----------
    y_true, y_pred : sequences of labels
    labels : sequence or None, default=None
        Row/column order; ``None`` uses every label seen, sorted.
    normalize : {None, "true", "pred", "all"}, default=None
        As in :func:`sklearn.metrics.confusion_matrix`; ``None`` shows counts.
    ax : matplotlib Axes or None
        Where to draw; ``None`` makes a new standalone figure.
    title : str or None, default="Confusion matrix"
    cmap : str, default="Blues"

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> ax = plot_confusion_matrix(["a", "b", "b"], ["a", "b", "a"])
    >>> [t.get_text() for t in ax.texts]
    ['1', '0', '1', '1']
    """
    from sklearn.metrics import confusion_matrix

    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if labels is None:
        labels = sorted_labels([*y_true.tolist(), *y_pred.tolist()])
    cm = confusion_matrix(y_true, y_pred, labels=list(labels), normalize=normalize)
    size = max(3.5, 0.6 * len(labels) + 2.5)
    ax = _new_axes(ax, (size + 0.8, size))
    image = ax.imshow(cm, cmap=cmap, vmin=0)
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    high = cm.max() / 2 if cm.size else 0
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            text = f"{cm[i, j]:.2f}" if normalize else f"{int(cm[i, j])}"
            colour = "white" if cm[i, j] > high else "black"
            ax.text(j, i, text, ha="center", va="center", color=colour, fontsize="small")
    names = [str(label) for label in labels]
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted label")
    ax.set_ylabel("true label")
    if title:
        ax.set_title(title)
    return ax


def sorted_labels(values: Any) -> list[Any]:
    """The distinct labels in order: numbers by value (2 before 10, -2 before -1), also
    when they were read as text from a CSV file; else as text.

    Examples
    --------
    >>> sorted_labels([10, 2, 1, 2])
    [1, 2, 10]
    >>> sorted_labels(["10", "2", "-1", "0.5"])
    ['-1', '0.5', '2', '10']
    >>> sorted_labels(["b", "a"])
    ['a', 'b']
    """
    distinct = set(values)
    if all(isinstance(v, str) for v in distinct):
        try:  # the text itself breaks ties ("01" and "1"), so the order never varies
            return sorted(distinct, key=lambda v: (float(v), v))
        except ValueError:
            return sorted(distinct)
    try:
        return sorted(distinct)
    except TypeError:  # labels of several types
        return sorted(distinct, key=str)


def _colours(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]
