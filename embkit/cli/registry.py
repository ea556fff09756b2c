"""A small registry of named pipelines, shared by ``embkit compare`` and ``embkit train``.

Most pipelines are steps after a shared :class:`~embkit.SentenceEncoder` (``compare``
encodes once); one registered with ``on_text=True`` takes raw texts. Estimators are
imported only when built, so an entry whose module is missing is listed as unavailable.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "PipelineSpec",
    "available_pipelines",
    "get_pipeline_spec",
    "make_named_pipeline",
    "register_pipeline",
]


@dataclass(frozen=True)
class PipelineSpec:
    """A named recipe for a pipeline.

    Attributes
    ----------
    name : str
        The name used on the command line (``--pipeline NAME``).
    build : callable
        ``build(random_state=..., verbose=..., model=...)`` returning ``(name, estimator)``
        steps: those after the encoder, or the whole pipeline when ``on_text``.
    description : str
        One line for ``embkit pipelines``.
    on_text : bool
        Whether the steps take raw texts (they bring their own encoder).
    requires : tuple of str
        Modules that must import for the pipeline to be available.
    in_compare : bool
        Whether ``embkit compare`` runs it by default (SetFit only with ``--setfit``).
    tunes : bool
        Whether the steps before the classifier reshape the embedding space (drawn).
    stochastic : bool
        Whether the result depends on ``random_state`` (``compare`` fits it once per seed).
    """

    name: str
    build: Callable[..., list[tuple[str, Any]]]
    description: str = ""
    on_text: bool = False
    requires: tuple[str, ...] = ()
    in_compare: bool = True
    tunes: bool = True
    stochastic: bool = True

    def is_available(self) -> bool:
        """Whether every module in ``requires`` imports."""
        return self.unavailable_reason() is None

    def unavailable_reason(self) -> str | None:
        """Why the pipeline cannot be built here, or ``None`` when it can."""
        for module in self.requires:
            try:
                importlib.import_module(module)
            except ImportError as exc:
                return f"{module} cannot be imported ({exc})"
        return None


_REGISTRY: dict[str, PipelineSpec] = {}


def register_pipeline(
    name: str,
    build: Callable[..., list[tuple[str, Any]]],
    *,
    description: str = "",
    on_text: bool = False,
    requires: tuple[str, ...] = (),
    in_compare: bool = True,
    tunes: bool = True,
    stochastic: bool = True,
) -> PipelineSpec:
    """Add (or replace) a named pipeline.

    Examples
    --------
    >>> from sklearn.svm import LinearSVC
    >>> spec = register_pipeline(
    ...     "svm", lambda **kw: [("linearsvc", LinearSVC())],
    ...     description="linear SVM on the embeddings", tunes=False, in_compare=False)
    >>> make_named_pipeline("svm", embeddings=True)
    Pipeline(steps=[('linearsvc', LinearSVC())])
    >>> _ = _REGISTRY.pop("svm")
    """
    spec = PipelineSpec(
        name, build, description, on_text, tuple(requires), in_compare, tunes, stochastic
    )
    _REGISTRY[name] = spec
    return spec


def available_pipelines(*, include_unavailable: bool = False) -> dict[str, PipelineSpec]:
    """The registered pipelines, by name (only the importable ones unless asked).

    Examples
    --------
    >>> "lr" in available_pipelines()
    True
    """
    return {
        name: spec for name, spec in _REGISTRY.items() if include_unavailable or spec.is_available()
    }


def get_pipeline_spec(name: str) -> PipelineSpec:
    """Return the spec called ``name``; unknown or unavailable names are a clear error.

    Examples
    --------
    >>> get_pipeline_spec("lr").on_text
    False
    """
    spec = _REGISTRY.get(name)
    if spec is None:
        raise ValueError(f"unknown pipeline {name!r}; choose from {', '.join(sorted(_REGISTRY))}")
    reason = spec.unavailable_reason()
    if reason is not None:
        raise ImportError(f"pipeline {name!r} is not available: {reason}")
    return spec


def make_named_pipeline(
    name: str,
    *,
    model: str = "all-MiniLM-L6-v2",
    cache: Any = None,
    random_state: int | None = 0,
    verbose: bool = False,
    embeddings: bool = False,
) -> Any:
    """Build the pipeline called ``name``.

    Parameters
    ----------
    name : str
        A registered name, see :func:`available_pipelines`.
    model : str, default="all-MiniLM-L6-v2"
        The sentence-transformers model of the encoder (or the body SetFit tunes).
    cache : None, str or path-like, default=None
        Embedding cache of the encoder.
    random_state : int or None, default=0
        Seed of every step that draws random numbers.
    verbose : bool, default=False
        Progress bars while encoding and training.
    embeddings : bool, default=False
        Return only the steps after the encoder (refused for raw-text pipelines).

    Returns
    -------
    sklearn.pipeline.Pipeline

    Examples
    --------
    >>> make_named_pipeline("lr", embeddings=True)
    Pipeline(steps=[('logisticregression', LogisticRegression(max_iter=3000))])
    >>> [step for step, _ in make_named_pipeline("lr").steps]
    ['sentenceencoder', 'logisticregression']
    """
    from sklearn.pipeline import Pipeline

    spec = get_pipeline_spec(name)
    from embkit.encoders._base import interactive

    # training bars only where someone watches: in a log each refresh would be a line
    steps = spec.build(random_state=random_state, verbose=verbose and interactive(), model=model)
    if spec.on_text and embeddings:
        raise ValueError(f"pipeline {name!r} works on raw texts, not on embeddings")
    if spec.on_text or embeddings:
        return Pipeline(steps)
    from embkit.encoders.sentence import SentenceEncoder

    encoder = SentenceEncoder(model, cache=cache, show_progress_bar=None if verbose else False)
    return Pipeline([("sentenceencoder", encoder), *steps])


# --------------------------------------------------------------------------------------
# The built-in entries


def _with_lr(*estimators: Any) -> list[tuple[str, Any]]:
    """Steps named as ``make_pipeline`` names them, a logistic regression last."""
    from sklearn.linear_model import LogisticRegression

    steps = [*estimators, LogisticRegression(max_iter=3000)]
    return [(type(est).__name__.lower(), est) for est in steps]


def _build_lr(**_: Any) -> list[tuple[str, Any]]:
    return _with_lr()


def _build_feedforward(*, random_state: Any, verbose: bool, **_: Any) -> list[tuple[str, Any]]:
    from embkit.tuning.feedforward import FeedForwardTuner

    return _with_lr(FeedForwardTuner(random_state=random_state, verbose=verbose))


def _build_contrastive(*, random_state: Any, verbose: bool, **_: Any) -> list[tuple[str, Any]]:
    from embkit.tuning.contrastive_tuner import ContrastiveTuner

    return _with_lr(ContrastiveTuner(random_state=random_state, verbose=verbose))


def _build_kneighbors(**_: Any) -> list[tuple[str, Any]]:
    from embkit.tuning.neighbors import KNeighborsTuner

    return _with_lr(KNeighborsTuner())


def _build_setfit(*, random_state: Any, verbose: bool, model: str, **_: Any) -> list:
    from embkit.tuning.sbert_tuner import SbertTuner

    return _with_lr(
        SbertTuner(
            model, n_pairs_per_example=4, random_state=random_state, show_progress_bar=verbose
        )
    )


def _build_auto(*, random_state: Any, verbose: bool, **_: Any) -> list[tuple[str, Any]]:
    from embkit.cli.auto import auto_search

    return [("autosearch", auto_search(random_state=random_state))]


def _build_finetune(*, random_state: Any, verbose: bool, model: str, **_: Any) -> list:
    from embkit.heads.finetune import FineTuneClassifier

    clf = FineTuneClassifier(model, random_state=random_state, show_progress_bar=verbose)
    return [("finetuneclassifier", clf)]


def _build_static(*, random_state: Any, verbose: bool, model: str, **_: Any) -> list:
    from embkit.encoders.static import StaticEncoder
    from embkit.tuning.feedforward import FeedForwardTuner

    return _with_lr(
        StaticEncoder(model, show_progress_bar=verbose),
        FeedForwardTuner(random_state=random_state, verbose=verbose),
    )


register_pipeline(
    "lr",
    _build_lr,
    description="logistic regression on the embeddings",
    tunes=False,
    stochastic=False,
)
register_pipeline(
    "feedforward",
    _build_feedforward,
    description="FeedForwardTuner (hidden layer trained on the labels) + logistic regression",
    requires=("embkit.tuning.feedforward",),
)
register_pipeline(
    "contrastive",
    _build_contrastive,
    description="ContrastiveTuner (pairs of same/different labels) + logistic regression",
    requires=("embkit.tuning.contrastive_tuner",),
)
register_pipeline(
    "kneighbors",
    _build_kneighbors,
    description="KNeighborsTuner (label shares of the nearest training texts) + logistic "
    "regression",
    requires=("embkit.tuning.neighbors",),
    stochastic=False,
)
register_pipeline(
    "auto",
    _build_auto,
    description="picks lr, kneighbors, feedforward or contrastive and a few settings of each "
    "by 3-fold cross-validation (macro F1) on the training split",
    tunes=False,
    requires=("embkit.cli.auto",),
)
register_pipeline(
    "setfit",
    _build_setfit,
    description="SetFit: SbertTuner fine-tunes the encoder on pairs + logistic regression (slow)",
    on_text=True,
    requires=("embkit.tuning.sbert_tuner",),
    in_compare=False,
)
register_pipeline(
    "finetune",
    _build_finetune,
    description="FineTuneClassifier: fine-tunes the whole encoder with a linear head (slow)",
    on_text=True,
    requires=("embkit.heads.finetune",),
    in_compare=False,
)
register_pipeline(
    "static",
    _build_static,
    description="StaticEncoder (the model distilled into static token vectors) + "
    "FeedForwardTuner + logistic regression (distils the model on first use)",
    on_text=True,
    requires=("embkit.encoders.static", "model2vec"),
    in_compare=False,
)
