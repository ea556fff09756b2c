"""The private base of the estimators that fine-tune a sentence-transformers body.

``SbertLearner`` and ``FineTuneClassifier`` share one loop of named steps: ``_check_input``,
``_prepare_data``, ``_init_head``, ``_batches`` and ``_batch_loss`` (hooks), ``_train_step``,
``_epoch_end`` (validation, early stopping) and ``_fit_end``. ``partial_fit`` initialises on
its first call only and makes one epoch, warming the rate up and decaying it over its own
steps. The saved state holds the model name and the tuned weights, never the optimiser
(rebuilt by the next ``partial_fit``) nor the pretrained weights the name loads.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from sklearn.base import BaseEstimator
from tqdm.auto import tqdm

from embkit._core.device import loadable_device, resolve_device
from embkit._core.models import downloads_allowed, load_error, quiet_loading, resolve_model
from embkit._core.seeding import draw_seed, make_rng
from embkit._core.validation import HALF_OPEN_UNIT, NON_NEGATIVE, POSITIVE, POSITIVE_INT
from embkit._training.nn import cpu_state
from embkit._training.optim import linear_schedule, make_adamw
from embkit._training.rollback import unchanged_on_error

if TYPE_CHECKING:  # pragma: no cover
    from sentence_transformers import SentenceTransformer

# the pickle key of the tuned weights; pickles of earlier releases use "_tuned_state"
_WEIGHTS_KEY = "_tuned_weights"
_LEGACY_WEIGHTS_KEY = "_tuned_state"


def load_body(model: Any, device: torch.device) -> SentenceTransformer:
    """A private copy of ``model`` (a name, a folder or a ``SentenceTransformer``) on ``device``."""
    with quiet_loading():
        from sentence_transformers import SentenceTransformer

    if isinstance(model, SentenceTransformer):
        return copy.deepcopy(model).to(device)
    if isinstance(model, os.PathLike):
        model = os.fspath(model)
    if not isinstance(model, str):
        raise TypeError(
            "model must be a model name, a folder path or a SentenceTransformer, "
            f"got {type(model).__name__}"
        )
    resolved = resolve_model(model)
    try:
        with quiet_loading():
            return SentenceTransformer(
                resolved, device=str(device), local_files_only=not downloads_allowed()
            )
    except (OSError, ValueError) as exc:
        raise load_error(model, resolved, exc) from exc


_body_source: ContextVar[Path | None] = ContextVar("_body_source", default=None)


@contextmanager
def body_source(folder: Path) -> Iterator[None]:
    """Within the block, the body of estimators being saved or loaded lives in ``folder``.

    A saved folder holds its body (``path/body``): saving leaves the body's weights out of
    the estimator's own file, and loading takes the body from the folder, needing neither
    the original ``model`` nor the network to fetch it; ``model`` itself stays as fitted.
    """
    token = _body_source.set(folder)
    try:
        yield
    finally:
        _body_source.reset(token)


def save_folder(path: Any) -> Path:
    """``path`` as a folder to save a body into, created; refused naming ``path`` otherwise."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a folder path (str or path-like), got {type(path).__name__}")
    folder = Path(path).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file in the way
        raise ValueError(f"path {folder} cannot be a folder to save into: {exc}") from exc
    return folder


@contextmanager
def seeded_torch(rng: np.random.Generator, device: torch.device) -> Iterator[None]:
    """Seed torch for one pass (dropout inside the body); the global RNG is restored after."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices, device_type=device.type):
        torch.manual_seed(draw_seed(rng))
        yield


class BodyEstimatorBase(BaseEstimator):
    """Shared training loop and saved state of the body estimators.

    Subclasses list their trained modules in ``_weight_names`` and fill in the hooks; their
    data object has ``n``, the training rows of the call.
    """

    _weight_names: tuple[str, ...] = ("model_",)
    _atomic_partial_fit = True  # a failed partial_fit rolls itself back (PartialPipeline)
    _progress_label: str | None = None  # the progress bar's name (a tuner sets its own)
    _parameter_constraints: dict = {
        "n_epochs": [POSITIVE_INT],
        "batch_size": [POSITIVE_INT],
        "learning_rate": [POSITIVE],
        "weight_decay": [NON_NEGATIVE],
        "warmup_ratio": [HALF_OPEN_UNIT],
        "random_state": ["random_state"],
        "show_progress_bar": ["boolean", None],
    }

    def _check_input(self, *args: Any, reset: bool, partial: bool, **kwargs: Any) -> Any:
        """Validate the input of a call (``reset``: the first call, ``partial``: partial_fit)."""
        raise NotImplementedError

    def _prepare_data(
        self, checked: Any, body: Any, device: torch.device, rng: np.random.Generator, *, fit: bool
    ) -> Any:
        """Tokens and targets for training; refuses settings the body or labels cannot take.

        With ``fit=False`` (``partial_fit``) it must change neither the estimator nor
        ``rng``: it runs before a later call copies the weights for an undo.
        """
        raise NotImplementedError

    def _init_head(self, data: Any, rng: np.random.Generator) -> None:
        """Build what is trained beside the body (nothing by default)."""

    def _build_head(self) -> None:
        """Rebuild the head, untrained, for weights being restored (nothing by default)."""

    def _trainable_parameters(self) -> Any:
        return self.model_.parameters()

    def _batches(self, data: Any) -> list[np.ndarray]:
        raise NotImplementedError

    def _batch_loss(self, data: Any, batch: np.ndarray) -> tuple[torch.Tensor, int]:
        """The mean loss of one batch and the number of rows it averages."""
        raise NotImplementedError

    def _epoch_end(self, data: Any) -> bool:
        """Called after every epoch of ``fit``; returning True stops training."""
        return False

    def _fit_end(self, data: Any) -> None:
        """Called once after the last epoch of ``fit``."""

    def _fit(self, *args: Any) -> Any:
        """``fit``: validate everything, then a fresh copy of the body and ``n_epochs`` epochs.

        All or nothing: the training works on a new body, so a failure or an interruption
        anywhere puts back the attributes of before the call (a fitted model stays fitted).
        """
        with unchanged_on_error(self):
            self._validate_params()
            checked = self._check_input(*args, reset=True, partial=False)
            body, device, rng = self._new_body()
            data = self._prepare_data(checked, body, device, rng, fit=True)
            self._initialize(body, device, rng, data)
            scheduler = self._scheduler(self.n_epochs * self._n_steps(data))
            for _ in range(self.n_epochs):
                self._run_epoch(data, scheduler)
                if self._epoch_end(data):
                    break
            self._fit_end(data)
        return self

    def _partial_fit(self, *args: Any, **kwargs: Any) -> Any:
        """``partial_fit``: initialise on the first call only, then one epoch.

        All or nothing: a later call trains the body in place, so once its input and the
        settings are checked (the data prepared) it copies the weights, the optimiser state
        and the random state (a second copy of the body's weights and twice as much for
        AdamW's moments, for the length of the call), and a failure or an interruption puts
        them back. What the checks refuse costs no copy and touches no weight.
        """
        first = not hasattr(self, "model_")
        with unchanged_on_error(self):
            self._validate_params()  # every call: set_params may have changed them
            checked = self._check_input(*args, reset=first, partial=True, **kwargs)
            if first:
                body, device, rng = self._new_body()
            else:
                self._check_same_model()
                body, device, rng = self.model_, self.device_, self._rng
            # refuses a max_length or class_weight the body or the labels cannot take;
            # with fit=False it changes neither the estimator nor the generator
            data = self._prepare_data(checked, body, device, rng, fit=False)
            with unchanged_on_error(self, deep=not first):
                if first:
                    self._initialize(body, device, rng, data)
                elif not hasattr(self, "optimizer_"):  # restored from a saved state
                    self.optimizer_ = self._make_optimizer()
                self._run_epoch(data, self._scheduler(self._n_steps(data)))
        return self

    def _model_name(self) -> str:
        """The model's name for messages: the name or folder the body was loaded from (in
        ``fit``, the one being loaded), else the model object passed in, by class and id."""
        named = getattr(self, "_fitted_model", None)
        if named is not None:
            return named
        source = self.model if isinstance(self.model, torch.nn.Module) else self.model_
        return f"{type(source).__name__} at {id(source):#x}"

    def _check_same_model(self) -> None:
        """``set_params(model=...)`` since the first ``partial_fit`` is refused, not ignored."""
        fitted = getattr(self, "_fitted_model", None)
        if fitted is not None and isinstance(self.model, (str, os.PathLike)):
            if os.fspath(self.model) != fitted:
                raise ValueError(
                    f"model={os.fspath(self.model)!r}, but partial_fit continues the body "
                    f"loaded from {fitted!r}; call fit to load the new model"
                )

    def _new_body(self) -> tuple[SentenceTransformer, torch.device, np.random.Generator]:
        device = resolve_device(self.device)
        rng = make_rng(self.random_state)
        body = load_body(self.model, device)
        # what the body was loaded from: a saved state rebuilds it from this, not ``model``
        # (which set_params may change later); set here, so the call's messages name it
        named = isinstance(self.model, (str, os.PathLike))
        self._fitted_model = os.fspath(self.model) if named else None
        return body, device, rng

    def _initialize(
        self, body: Any, device: torch.device, rng: np.random.Generator, data: Any
    ) -> None:
        self.model_ = body
        self.device_ = device
        self._rng = rng
        self._init_head(data, rng)
        self.optimizer_ = self._make_optimizer()
        self.loss_curve_: list[float] = []
        self.n_iter_ = 0
        self.t_ = 0

    def _make_optimizer(self) -> torch.optim.Optimizer:
        return make_adamw(
            self._trainable_parameters(),
            lr=float(self.learning_rate),
            weight_decay=float(self.weight_decay),
            device=self.device_,
        )

    def _n_steps(self, data: Any) -> int:
        return math.ceil(data.n / self.batch_size)

    def _scheduler(self, n_steps: int) -> torch.optim.lr_scheduler.LRScheduler:
        """Warm-up and decay over ``n_steps``, from the current ``learning_rate``."""
        for group in self.optimizer_.param_groups:
            group["lr"] = group["initial_lr"] = float(self.learning_rate)
        return linear_schedule(self.optimizer_, n_steps, self.warmup_ratio)

    def _modules(self) -> list[torch.nn.Module]:
        return [getattr(self, name) for name in self._weight_names]

    def _run_epoch(self, data: Any, scheduler: torch.optim.lr_scheduler.LRScheduler) -> None:
        """One pass over the call's data; dropout is seeded from ``_rng``."""
        batches = self._batches(data)
        show = self.show_progress_bar
        for module in self._modules():
            module.train()
        total = 0.0
        with seeded_torch(self._rng, self.device_):
            for batch in tqdm(
                batches,
                desc=self._progress_label or type(self).__name__,
                disable=None if show is None else not show,
                leave=False,
            ):
                total += self._train_step(data, batch, scheduler)
        for module in self._modules():
            module.eval()
        self.n_iter_ += 1
        self.loss_curve_.append(total / data.n)

    def _train_step(
        self, data: Any, batch: np.ndarray, scheduler: torch.optim.lr_scheduler.LRScheduler
    ) -> float:
        """One optimiser step; returns the batch's summed loss (mean loss times rows)."""
        loss, n_rows = self._batch_loss(data, batch)
        self.optimizer_.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer_.step()
        scheduler.step()
        self.t_ += 1
        return float(loss.detach()) * n_rows

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True  # texts in
        tags.input_tags.two_d_array = False
        return tags

    def _get_saved_state(self) -> tuple[dict[str, Any], dict[str, dict[str, torch.Tensor]]]:
        """``(values, weights)``: plain attributes, and each trained module's CPU state dict.

        Not the optimiser. A ``model`` object (not a name or folder) is a ``TypeError``
        (pickling keeps the object).
        """
        if not isinstance(self.model, (str, os.PathLike)):
            raise TypeError(
                f"its model parameter is a {type(self.model).__name__} object; pass the "
                "model's name or folder as model= to save it safely"
            )
        return self._state_parts()

    def _state_parts(self) -> tuple[dict[str, Any], dict[str, dict[str, torch.Tensor]]]:
        values = dict(super().__getstate__())
        values.pop("optimizer_", None)
        apart = _body_source.get() is not None  # the body is being written to its folder
        weights = {}
        for name in self._weight_names:
            module = values.pop(name, None)
            if module is not None and not (apart and name == "model_"):
                weights[name] = cpu_state(module)
        if "device_" in values:
            values["device_"] = str(values["device_"])
        return values, weights

    def _set_saved_state(
        self, values: dict[str, Any], weights: dict[str, dict[str, torch.Tensor]]
    ) -> None:
        """Restore :meth:`_get_saved_state`'s output onto a bare instance: the body is
        loaded from ``model`` and given the weights (a ``ValueError`` if they do not fit)."""
        values = dict(values)
        if "device_" in values:
            values["device_"] = loadable_device(values["device_"])
        super().__setstate__(values)
        if not weights:
            return
        name = type(self).__name__
        source = _body_source.get()
        needed = set(self._weight_names) - ({"model_"} if source is not None else set())
        if not needed <= set(weights) <= set(self._weight_names):
            if "model_" in needed - set(weights):
                raise ValueError(
                    f"this {name}'s body was saved apart, in the body/ folder beside its file: "
                    f"load the folder with {name}.load(folder)"
                )
            raise ValueError(
                f"the saved weights do not fit a {name}: expected weights for "
                f"{list(self._weight_names)}, got {sorted(weights)}"
            )
        if source is None:
            source = getattr(self, "_fitted_model", None) or self.model
        self.model_ = load_body(source, self.device_)
        self._build_head()
        for attr, module in zip(self._weight_names, self._modules(), strict=True):
            if attr not in weights:  # the body of a saved folder: loaded from it above
                continue
            try:
                module.load_state_dict(weights[attr])
            except RuntimeError as exc:  # missing, unexpected or mis-shaped tensors
                raise ValueError(
                    f"the saved weights do not fit the {name}'s {attr} built from "
                    f"model={source!r}: {exc}"
                ) from exc
            module.eval()

    def __getstate__(self) -> dict[str, Any]:
        values, weights = self._state_parts()
        if weights:
            values[_WEIGHTS_KEY] = weights
        return values

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        weights = state.pop(_WEIGHTS_KEY, None)
        legacy = state.pop(_LEGACY_WEIGHTS_KEY, None)
        if legacy is not None:  # one state dict, or a tuple in the order of _weight_names
            parts = legacy if isinstance(legacy, tuple) else (legacy,)
            weights = dict(zip(self._weight_names, parts, strict=False))
        self._set_saved_state(state, weights or {})
