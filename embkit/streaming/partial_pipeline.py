"""`PartialPipeline`: a scikit-learn ``Pipeline`` that also learns batch by batch.

A fitted step that is neither incremental nor stateless (say a ``PCA`` fitted earlier) is
refused rather than silently frozen: wrap it in ``FrozenEstimator`` to keep it as it is.
"""

from __future__ import annotations

import inspect
from contextlib import ExitStack
from typing import Any

from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.utils import get_tags

from embkit._training.rollback import unchanged_on_error
from embkit.encoders._base import TextEncoderBase

__all__ = ["PartialPipeline", "make_partial_pipeline", "is_stateless"]

_PASSTHROUGH = (None, "passthrough")


def is_stateless(estimator: Any) -> bool:
    """Whether ``PartialPipeline`` may use ``estimator`` as a transform-only step: embkit
    text encoders, ``requires_fit=False`` estimators and ``FrozenEstimator``.

    Parameters
    ----------
    estimator : estimator instance

    Returns
    -------
    bool

    Examples
    --------
    >>> from sklearn.decomposition import PCA
    >>> from sklearn.preprocessing import Normalizer
    >>> from embkit import SentenceEncoder
    >>> is_stateless(SentenceEncoder()), is_stateless(Normalizer()), is_stateless(PCA())
    (True, True, False)
    """
    if isinstance(estimator, (TextEncoderBase, FrozenEstimator)):
        return True
    try:
        return not get_tags(estimator).requires_fit
    except Exception:  # not a scikit-learn estimator: no tags to read
        return False


def _is_fitted(estimator: Any) -> bool:
    """Whether a stateless step has been fitted (``check_is_fitted`` says yes for every
    ``requires_fit=False`` estimator, so look for fitted attributes)."""
    is_fitted = getattr(estimator, "__sklearn_is_fitted__", None)
    if is_fitted is not None:
        return bool(is_fitted())
    return any(k.endswith("_") and not k.startswith("__") for k in vars(estimator))


class PartialPipeline(Pipeline):
    """A :class:`~sklearn.pipeline.Pipeline` that can also learn one batch at a time.

    Everything a ``Pipeline`` does works unchanged. :meth:`partial_fit` streams one batch
    through the steps: stateless steps (:func:`is_stateless`; fitted on first use)
    transform it, incremental steps call their own ``partial_fit`` on it and pass on
    their transform.

    Parameters
    ----------
    steps : list of (str, estimator) tuples
        As in :class:`~sklearn.pipeline.Pipeline`.
    transform_input : list of str, default=None
        As in :class:`~sklearn.pipeline.Pipeline` (used by ``fit`` with metadata
        routing; ``partial_fit`` ignores it).
    memory : str or object with the joblib.Memory interface, default=None
        As in :class:`~sklearn.pipeline.Pipeline` (``partial_fit`` never caches).
    verbose : bool, default=False
        As in :class:`~sklearn.pipeline.Pipeline`.

    See Also
    --------
    make_partial_pipeline : Build one without naming the steps.
    embkit.io.datasets.iter_batches : Read a file lazily in batches to stream through it.

    Notes
    -----
    ``partial_fit`` checks every step before touching any, so a step that cannot learn
    incrementally fails the first call; and a step that refuses the batch puts back every
    step the batch already changed, so a failed call leaves the pipeline as it was.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import SGDClassifier
    >>> from sklearn.preprocessing import Normalizer
    >>> from embkit import FeedForwardTuner, make_partial_pipeline
    >>> rng = np.random.default_rng(0)
    >>> pipe = make_partial_pipeline(
    ...     Normalizer(),
    ...     FeedForwardTuner(hidden_dim=4, batch_size=16, random_state=0, device="cpu"),
    ...     SGDClassifier(random_state=0),
    ... )
    >>> for _ in range(5):
    ...     X = rng.normal(size=(32, 6)).astype("float32")
    ...     y = np.where(X[:, 0] > 0, "pos", "neg")
    ...     pipe = pipe.partial_fit(X, y, classes=["neg", "pos"])
    >>> pipe.predict(X[:3]).shape
    (3,)
    >>> pipe.named_steps["feedforwardtuner"].n_iter_
    5
    """

    def partial_fit(
        self, X: Any, y: Any = None, classes: Any = None, **params: Any
    ) -> PartialPipeline:
        """Make one incremental pass over the batch ``(X, y)`` through every step.

        Parameters
        ----------
        X : iterable
            One batch of input for the first step (a list of texts for an encoder).
        y : iterable, default=None
            Targets of the batch, passed to every incremental step.
        classes : array-like, default=None
            Every label the stream can contain, passed to each step whose
            ``partial_fit`` has a ``classes`` argument; classifiers and label-aware tuners
            need it on the first call.
        **params : dict of str -> object
            ``<step name>__<argument>`` pairs passed to that step's ``partial_fit`` (or
            ``fit``, for a stateless step fitted on first use), e.g.
            ``sgdclassifier__sample_weight=w``.

        Returns
        -------
        self : PartialPipeline

        Raises
        ------
        TypeError
            If a step has neither ``partial_fit`` nor a stateless ``transform``, or an
            intermediate step cannot ``transform``.
        ValueError
            If a key of ``params`` does not name a step.
        """
        step_params = self._split_params(params)
        plan = self._plan()  # every check before any step changes
        # no step runs after the last learning one: if its own partial_fit is all or nothing
        # (embkit's tuners and heads), the pipeline need not copy its weights as well
        last_learner = max((i for i, _, _, action in plan if action != "skip"), default=-1)
        with ExitStack() as undo:  # a step that fails puts every step back as it was
            for idx, _, step, action in plan:
                if action != "skip":
                    atomic = idx == last_learner and getattr(step, "_atomic_partial_fit", False)
                    deep = action == "partial_fit" and not atomic
                    undo.enter_context(unchanged_on_error(step, deep=deep))
            self._stream(X, y, classes, plan, step_params)
        return self

    def _stream(self, X: Any, y: Any, classes: Any, plan: list, step_params: dict) -> None:
        Xt = X
        # no step after the last active one reads the output: a skipped last step
        # ("passthrough", None) or a frozen one leaves nothing to transform for
        last = max((i for i, _, _, action in plan if action != "skip"), default=-1)
        for idx, name, step, action in plan:
            kwargs = step_params[name]
            if action == "skip":
                continue
            if action == "partial_fit":
                takes_classes = "classes" in inspect.signature(step.partial_fit).parameters
                if classes is not None and takes_classes:
                    kwargs = {**kwargs, "classes": classes}
                step.partial_fit(Xt, y, **kwargs)
            elif not _is_fitted(step):  # stateless, first use
                step.fit(Xt, y, **kwargs)
            if idx < last:
                Xt = step.transform(Xt)

    def _split_params(self, params: dict[str, Any]) -> dict[str, dict[str, Any]]:
        names = [name for name, _ in self.steps]
        out: dict[str, dict[str, Any]] = {name: {} for name in names}
        for key, value in params.items():
            step, sep, arg = key.partition("__")
            if not sep or step not in out:
                raise ValueError(
                    f"partial_fit parameters must be named '<step>__<argument>' with a step "
                    f"among {names}, got {key!r}"
                )
            out[step][arg] = value
        return out

    def _plan(self) -> list[tuple[int, str, Any, str]]:
        """What each step does with a batch: skip, partial_fit or transform; checked."""
        if not isinstance(self.steps, list) or not self.steps:
            raise TypeError(
                f"steps must be a non-empty list of (name, estimator), got {self.steps!r}"
            )
        plan = []
        last = len(self.steps) - 1
        for idx, (name, step) in enumerate(self.steps):
            if step is None or (isinstance(step, str) and step in _PASSTHROUGH):
                plan.append((idx, name, step, "skip"))
                continue
            if isinstance(step, FrozenEstimator):  # before partial_fit, which it passes on
                plan.append((idx, name, step, "transform" if idx < last else "skip"))
                if idx < last and not hasattr(step, "transform"):
                    raise TypeError(
                        f"step {name!r} (FrozenEstimator) is not the last step, so the "
                        "estimator it wraps must have a transform method"
                    )
                continue
            if hasattr(step, "partial_fit"):
                action = "partial_fit"
            elif is_stateless(step) and hasattr(step, "transform"):
                action = "transform"
            else:
                raise TypeError(
                    f"step {name!r} ({type(step).__name__}) cannot learn incrementally: it has "
                    "no partial_fit and is not stateless (an embkit encoder, an estimator "
                    "tagged requires_fit=False, or a FrozenEstimator). Replace it with an "
                    "incremental estimator, or wrap an already fitted one in "
                    "sklearn.frozen.FrozenEstimator."
                )
            if idx < last and not hasattr(step, "transform"):
                raise TypeError(
                    f"step {name!r} ({type(step).__name__}) is not the last step, so it must "
                    "have a transform method"
                )
            plan.append((idx, name, step, action))
        return plan


def make_partial_pipeline(
    *steps: Any, memory: Any = None, transform_input: Any = None, verbose: bool = False
) -> PartialPipeline:
    """Build a :class:`PartialPipeline`, naming each step after its class (lower case).

    Parameters
    ----------
    *steps : estimators
        The steps, as for :func:`sklearn.pipeline.make_pipeline`.
    memory, transform_input, verbose
        As for :func:`sklearn.pipeline.make_pipeline`.

    Returns
    -------
    PartialPipeline

    Examples
    --------
    >>> from sklearn.linear_model import SGDClassifier
    >>> from embkit import SentenceEncoder, make_partial_pipeline
    >>> pipe = make_partial_pipeline(SentenceEncoder(), SGDClassifier())
    >>> [name for name, _ in pipe.steps]
    ['sentenceencoder', 'sgdclassifier']
    """
    plain = make_pipeline(*steps, memory=memory, transform_input=transform_input, verbose=verbose)
    return PartialPipeline(**plain.get_params(deep=False))
