"""The private base of every numeric torch estimator (tuners, learners, heads).

Subclasses fill in named steps: ``_prepare_data`` (validated input as tensors),
``_build_module`` (the network, on the ``meta`` device) and ``_batch_loss``. ``fit`` is
reset + initialise + ``n_epochs`` passes (fewer with early stopping, which holds rows out,
see :mod:`embkit._training.early_stopping`); ``partial_fit`` initialises on its first call
only and makes one pass, so ``n_epochs=n`` equals ``n`` ``partial_fit`` calls.
"""

from __future__ import annotations

import dataclasses
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import validate_data
from tqdm.auto import tqdm

from embkit._core.device import loadable_device, resolve_device
from embkit._core.seeding import draw_seed, make_rng, torch_generator
from embkit._core.validation import HALF_OPEN_UNIT, NON_NEGATIVE, POSITIVE, POSITIVE_INT
from embkit._training.early_stopping import (
    EARLY_STOPPING_CONSTRAINTS,
    EarlyStopping,
    holdout_indices,
)
from embkit._training.nn import ACTIVATIONS, DropoutNoise, build_module, config_in_use
from embkit._training.optim import make_adamw
from embkit._training.rollback import unchanged_on_error

_TORCH_ATTRIBUTES = ("module_", "optimizer_")
# early stopping is skipped when its hold-out has fewer rows than both of these (per class
# on average, and in all): on tiny data the best pass of 1-6 rows was near the start and
# the classifier predicted at chance (docs/tuners.md, "Early stopping on few-shot data")
_MIN_HELD_OUT_PER_CLASS = 2
_MIN_HELD_OUT = 10
_MODULE_CONFIG = "_module_config"  # the saved network's own description (see build_module)

LAYER_CONSTRAINTS: dict[str, list[Any]] = {
    "activation": [StrOptions(set(ACTIVATIONS))],
    "dropout": [HALF_OPEN_UNIT],
}
"""The ``_parameter_constraints`` of a network's ``activation`` and ``dropout``."""


ROW_FIELDS = ("X", "y", "sample_weight", "X2", "groups")
"""The fields of :class:`TrainData` that hold one value per row."""


@dataclass
class TrainData:
    """Validated training input on the training device; unused fields stay ``None``."""

    n: int
    X: torch.Tensor | None = None
    y: torch.Tensor | None = None
    sample_weight: torch.Tensor | None = None
    class_weight: torch.Tensor | None = None  # one loss weight per class (classifiers)
    X2: torch.Tensor | None = None  # the second side of every pair (ContrastiveLearner)
    groups: np.ndarray | None = None  # labels of points paired inside each batch
    n_neg: int = 0  # dissimilar partners per point when pairing inside batches
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # fixed (i1, i2, target)
    rows: torch.Tensor | None = None  # the rows passes draw from (default: all ``n``)

    def view(self, idx: np.ndarray) -> TrainData:
        """The rows ``idx`` without copying them: passes draw their batches from ``idx``."""
        rows = torch.as_tensor(np.asarray(idx, dtype=np.int64))
        return dataclasses.replace(self, n=len(idx), rows=rows)

    def take(self, idx: np.ndarray, **changes: Any) -> TrainData:
        """The rows ``idx`` of every field in ``ROW_FIELDS``; ``changes`` replace fields."""
        if self.rows is not None:
            raise ValueError("take() of a view: take the rows of the data it views instead")
        index = torch.as_tensor(np.asarray(idx, dtype=np.int64))

        def rows(value: Any) -> Any:
            if value is None:
                return None
            if isinstance(value, torch.Tensor):
                return value.index_select(0, index.to(value.device))
            return np.asarray(value)[idx]

        taken = {name: rows(getattr(self, name)) for name in ROW_FIELDS}
        return dataclasses.replace(self, n=len(idx), **{**taken, **changes})


def weighted_mean(per_row: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    """The mean of ``per_row``, weighted: a weight of 2 counts as the row twice."""
    if weight is None:
        return per_row.mean()
    return (per_row * weight).sum() / weight.sum().clamp_min(torch.finfo(weight.dtype).tiny)


def check_sample_weight(sample_weight: Any, n_samples: int) -> np.ndarray | None:
    """Validate ``sample_weight``: ``None`` or ``n_samples`` finite, non-negative numbers."""
    if sample_weight is None:
        return None
    try:
        w = np.asarray(sample_weight, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"sample_weight must be an array of numbers, got {sample_weight!r}"
        ) from exc
    if w.ndim == 0:
        w = np.full(n_samples, float(w), dtype=np.float32)
    if w.shape != (n_samples,):
        raise ValueError(f"sample_weight must have shape ({n_samples},), got {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("sample_weight must contain only finite, non-negative numbers")
    if n_samples and not np.any(w > 0):
        raise ValueError("sample_weight must not be all zero: at least one weight must be positive")
    return w


def check_X(estimator: Any, X: Any, *, reset: bool, name: str = "X") -> np.ndarray:
    """``validate_data`` for float32 embeddings, with errors that name the argument."""
    if X is None or isinstance(X, (str, bytes)):
        got = "None" if X is None else f"a single {type(X).__name__}"
        raise TypeError(f"{name} must be an array-like of shape (n_samples, n_features), got {got}")
    if type(X).__module__.startswith("torch") and hasattr(X, "detach"):
        X = X.detach().cpu()  # a tensor that requires grad, or on a GPU: its values
    try:
        return validate_data(estimator, X, reset=reset, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        message = str(exc)
        if "could not convert" in message or "argument must be a string" in message:
            raise TypeError(f"{name} must contain only numbers (embeddings): {message}") from exc
        if re.search(rf"\b{re.escape(name)}\b", message):
            raise
        raise type(exc)(f"{name}: {message}") from exc


class TorchEstimatorBase(BaseEstimator):
    """Shared training loop; subclasses define the steps named in the module docstring."""

    _atomic_partial_fit = True  # a failed partial_fit rolls itself back (PartialPipeline)
    _progress_label: str | None = None  # the progress bar's name (a tuner sets its own)

    _parameter_constraints: dict = {
        "n_epochs": [POSITIVE_INT],
        "batch_size": [POSITIVE_INT],
        "learning_rate": [POSITIVE],
        "weight_decay": [NON_NEGATIVE],
        **EARLY_STOPPING_CONSTRAINTS,
        "random_state": ["random_state"],
        "device": [str, torch.device],
        "verbose": ["verbose"],
    }

    def _prepare_data(self, *args: Any, reset: bool, **kwargs: Any) -> TrainData:
        raise NotImplementedError

    def _build_module(self, data: TrainData) -> torch.nn.Module:
        raise NotImplementedError

    def _batch_loss(
        self, data: TrainData, idx: torch.Tensor, noise: DropoutNoise
    ) -> torch.Tensor | None:
        """The mean loss of the rows ``idx``; ``None`` when they give nothing to learn."""
        raise NotImplementedError

    def _make_optimizer(self) -> torch.optim.Optimizer:
        return make_adamw(
            self.module_.parameters(),
            lr=float(self.learning_rate),
            weight_decay=float(self.weight_decay),
            device=self.device_,
        )

    def _fit(self, *args: Any, **kwargs: Any):
        """``fit``: validate, start afresh, make ``n_epochs`` passes; all or nothing."""
        with unchanged_on_error(self):
            self._validate_params()
            device = resolve_device(self.device)
            data = self._full_batch(self._prepare_data(*args, reset=True, device=device, **kwargs))
            self._reset()
            self._initialize(data, device)
            data, stopping = self._start_validation(data)
            epochs = range(self.n_epochs)
            if self.verbose:
                # leave=False: a bar that early stopping ends at 20/50 would look aborted
                epochs = tqdm(
                    epochs,
                    desc=self._progress_label or type(self).__name__,
                    unit="epoch",
                    leave=False,
                )
            for _ in epochs:
                self._run_pass(data)
                if stopping is not None and self._validation_step(stopping):
                    break
            if stopping is not None:
                self._end_validation(stopping)
        return self

    def _partial_fit(self, *args: Any, **kwargs: Any):
        """``partial_fit``: initialise on the first call only, then one pass; all or nothing."""
        first = not hasattr(self, "module_")
        with unchanged_on_error(self, deep=not first):
            self._validate_params()  # every call, as set_params may have changed any
            device = resolve_device(self.device) if first else self.device_
            data = self._full_batch(self._prepare_data(*args, reset=first, device=device, **kwargs))
            if first:
                self._initialize(data, device)
            else:
                self._check_network_unchanged(data)
            self._run_pass(data)
        return self

    def _check_network_unchanged(self, data: TrainData) -> None:
        """``set_params`` since the first ``partial_fit`` must not ask for another network:
        a call continues the one it built (a clear error, not a setting silently ignored)."""
        built = getattr(self.module_, "config", None)  # None: pickled before configs
        if built is None:
            return
        built = config_in_use(built)
        wanted = config_in_use(self._build_module(data).config)  # on the meta device
        names = {"n_out": "shape_out (a ContrastiveTuner's hidden_dim)", "residual": "output"}
        changed = [
            f"{names.get(k, k)} {built[k]!r} -> {v!r}"
            for k, v in wanted.items()
            if k in built and built[k] != v
        ]
        if changed:
            raise ValueError(
                f"the settings ask for another network than partial_fit built "
                f"({', '.join(changed)}); partial_fit continues the network it has, so call "
                "fit to build one with the new settings"
            )

    def _start_validation(self, data: TrainData) -> tuple[TrainData, Any]:
        """With ``early_stopping``: the training rows and an :class:`EarlyStopping` holding
        the validation rows; else ``(data, None)``."""
        if not self.early_stopping:
            return data, None
        labels = self._stratify_labels(data)
        train, val = holdout_indices(data.n, float(self.validation_fraction), self._rng, labels)
        if labels is not None:  # so few rows cannot rank the passes: train on all of them
            floor = min(_MIN_HELD_OUT, _MIN_HELD_OUT_PER_CLASS * len(np.unique(labels)))
            if len(val) < floor:
                return data, None
        stopping = EarlyStopping(n_iter_no_change=self.n_iter_no_change, tol=float(self.tol))
        stopping.data = self._prepare_validation(data.take(val))
        self.validation_scores_: list[float] = stopping.scores
        return data.view(train), stopping  # no copy of the training rows

    def _stratify_labels(self, data: TrainData) -> np.ndarray | None:
        """Labels the hold-out is stratified by (1-D class codes), or ``None``."""
        if data.y is not None and data.y.dim() == 1 and not data.y.is_floating_point():
            return data.y.cpu().numpy()
        return None

    def _prepare_validation(self, val: TrainData) -> TrainData:
        """Hook: fix anything random in the validation loss once (e.g. sampled pairs)."""
        return val

    def _validation_score(self, val: TrainData) -> float:
        """The negated mean loss on the validation rows, in eval mode (no dropout)."""
        self.module_.eval()
        with torch.no_grad():
            loss = self._batch_loss(val, torch.arange(val.n, device=self.device_), None)
        return -float(loss)

    def _validation_step(self, stopping: EarlyStopping) -> bool:
        """Score the pass just made; returns whether training should stop."""
        return stopping.update(
            self._validation_score(stopping.data), self.module_, iteration=self.n_iter_
        )

    def _end_validation(self, stopping: EarlyStopping) -> None:
        """Put back the best pass's weights and record where it was."""
        stopping.restore_best(self.module_)
        self.best_validation_score_ = stopping.best_score
        self.best_iteration_ = stopping.best_iteration

    def _full_batch(self, data: TrainData) -> TrainData:
        """Canonical rows when a pass is one batch: a weight then equals a repetition."""
        from embkit._training.full_batch import effective_rows, merge_rows

        return merge_rows(data) if effective_rows(data) <= self.batch_size else data

    def _reset(self) -> None:
        for name in (
            "module_", "optimizer_", "_rng", "n_iter_", "t_", "loss_curve_",
            "validation_scores_", "best_validation_score_", "best_iteration_",
        ):  # fmt: skip
            self.__dict__.pop(name, None)

    def _initialize(self, data: TrainData, device: torch.device) -> None:
        self.device_ = device
        self._rng = make_rng(self.random_state)
        module = self._build_module(data)
        self.module_ = module.materialize_(device, torch_generator(self._rng, device))
        self.optimizer_ = self._make_optimizer()
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_: list[float] = []

    def _batches(self, data: TrainData) -> Iterator[torch.Tensor]:
        """Shuffled batches of row indices into ``data``'s fields (of its view's rows)."""
        order = torch.from_numpy(self._rng.permutation(data.n))
        if data.rows is not None:
            order = data.rows.index_select(0, order)
        for start in range(0, data.n, self.batch_size):
            yield order[start : start + self.batch_size].to(self.device_)

    def _run_pass(self, data: TrainData) -> None:
        """One pass over ``data`` in shuffled mini-batches."""
        noise = DropoutNoise(draw_seed(self._rng), self.device_)
        self.module_.train()
        total = torch.zeros((), dtype=torch.float64, device=self.device_)
        seen = 0
        for idx in self._batches(data):
            loss = self._train_step(data, idx, noise)
            if loss is None:  # nothing to learn from this batch: no step, not counted
                continue
            total += loss * len(idx)  # stays on the device: no synchronisation per step
            seen += len(idx)
        self.n_iter_ += 1
        self.loss_curve_.append(float(total) / seen if seen else float("nan"))

    def _train_step(
        self, data: TrainData, idx: torch.Tensor, noise: DropoutNoise
    ) -> torch.Tensor | None:
        """One optimisation step on the rows ``idx``; returns the detached batch loss, or
        ``None`` (and makes no step) when ``_batch_loss`` finds nothing to learn there."""
        self.optimizer_.zero_grad(set_to_none=True)
        loss = self._batch_loss(data, idx, noise)
        if loss is None:
            return None
        loss.backward()
        self.optimizer_.step()
        self.t_ += 1
        return loss.detach()

    def _to_tensor(self, X: np.ndarray, device: torch.device) -> torch.Tensor:
        X = np.ascontiguousarray(X, dtype=np.float32)
        if not X.flags.writeable:  # e.g. a read-only view from pandas or a memory map
            X = X.copy()  # torch would warn: it cannot share memory with read-only arrays
        return torch.as_tensor(X, device=device)

    def _infer(
        self, X: np.ndarray, fn: Callable[[torch.Tensor], torch.Tensor], batch_size: int = 8192
    ) -> np.ndarray:
        """Apply ``fn`` to ``X`` in batches, in eval mode without gradients; float32 numpy out."""
        self.module_.eval()
        outs = []
        with torch.inference_mode():
            for start in range(0, len(X), batch_size):
                xb = self._to_tensor(X[start : start + batch_size], self.device_)
                outs.append(fn(xb).float().cpu().numpy())
        return np.concatenate(outs) if len(outs) > 1 else outs[0]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        torch_objects = {k: state.pop(k) for k in _TORCH_ATTRIBUTES if k in state}
        if torch_objects:
            buffer = io.BytesIO()
            # saved together, so that the optimiser keeps pointing at the module's parameters
            torch.save(torch_objects, buffer)
            state["_torch_state"] = buffer.getvalue()
        if "device_" in state:
            state["device_"] = str(state["device_"])
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        blob = state.pop("_torch_state", None)
        if "device_" in state:
            state["device_"] = loadable_device(state["device_"])
        super().__setstate__(state)
        if blob is not None:
            device = self.device_
            objects = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=False)
            module = objects["module_"].to(device)
            self.module_ = module
            if "optimizer_" in objects:
                optimizer = objects["optimizer_"]
                for param_state in optimizer.state.values():
                    for key, value in param_state.items():
                        if torch.is_tensor(value) and value.dim() > 0:
                            param_state[key] = value.to(device)
                self.optimizer_ = optimizer

    def _get_saved_state(self) -> tuple[dict[str, Any], dict[str, dict[str, torch.Tensor]]]:
        """``(values, weights)`` for :func:`embkit.save`; the optimiser's state dict goes
        with the values, so ``partial_fit`` continues exactly after loading."""
        values = {k: v for k, v in vars(self).items() if k not in _TORCH_ATTRIBUTES}
        weights = {}
        if "module_" in vars(self):
            weights["module_"] = self.module_.state_dict()
            config = getattr(self.module_, "config", None)  # None: unpickled from an old file
            if config is not None:
                values[_MODULE_CONFIG] = dict(config)
            if "optimizer_" in vars(self):
                values["optimizer_"] = self.optimizer_.state_dict()
        return values, weights

    def _set_saved_state(
        self, values: dict[str, Any], weights: dict[str, dict[str, torch.Tensor]]
    ) -> None:
        """Restore what :meth:`_get_saved_state` gave onto a bare instance (``cls.__new__``)."""
        values = dict(values)
        optimizer_state = values.pop("optimizer_", None)
        config = values.pop(_MODULE_CONFIG, None)  # absent in files of earlier releases
        if set(weights) - {"module_"}:
            raise ValueError(f"unexpected weights {sorted(set(weights) - {'module_'})}")
        self.__dict__.update(values)
        if "module_" not in weights:
            if optimizer_state is not None:
                raise ValueError("an optimiser state without network weights")
            return
        module = build_module(config) if config else self._build_module(TrainData(n=0))
        module.to_empty(device=self.device_)
        module.load_state_dict(weights["module_"], strict=True)
        self.module_ = module
        if optimizer_state is not None:
            self.optimizer_ = self._make_optimizer()
            self.optimizer_.load_state_dict(optimizer_state)
