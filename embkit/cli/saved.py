"""Pipelines saved by ``embkit train`` and read by ``embkit predict``.

``train`` writes ``DIR/pipeline.embkit`` (:func:`embkit.save`, no pickle) and ``DIR/meta.json``.
A pickle or joblib file (an older ``pipeline.joblib``) is refused, since unpickling can run
any code, unless ``allow_pickle=True`` (``--allow-pickle``).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

__all__ = [
    "PICKLED_FILE", "SAVED_FILE", "check_savable", "configure_loaded", "load_trained",
    "save_trained",
]  # fmt: skip

SAVED_FILE = "pipeline.embkit"
PICKLED_FILE = "pipeline.joblib"
_PICKLE_REFUSED = (
    "{file} is a pickle/joblib file: loading it could run any code, so embkit refuses it. "
    "Train again with 'embkit train' (it writes pipeline.embkit, which loads without "
    "pickle), or give --allow-pickle if you trust where the file comes from"
)


def save_trained(pipe: Any, out: Path, meta: dict[str, Any]) -> Path:
    """Write ``pipe`` to ``out/pipeline.embkit`` and ``meta`` to ``out/meta.json``.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn.preprocessing import Normalizer
    >>> folder = Path(tempfile.mkdtemp())
    >>> save_trained(Normalizer(), folder, {"labels": []}).name
    'pipeline.embkit'
    >>> load_trained(str(folder))
    Normalizer()
    """
    from embkit import save

    out.mkdir(parents=True, exist_ok=True)
    path = save(pipe, out / SAVED_FILE)
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return path


def check_savable(pipe: Any, name: str) -> None:
    """Refuse, before the fit, a pipeline that :func:`save_trained` could not write after it.

    A dry run of :func:`embkit.save` on the unfitted pipeline. A grid search as the last
    step (``auto``) counts as the pipeline it searches and the estimators of its grid, as
    ``train`` keeps the one it chooses; any other step must be savable as it is.

    Examples
    --------
    >>> from sklearn.svm import LinearSVC
    >>> check_savable(LinearSVC(), "svm")
    Traceback (most recent call last):
    ...
    embkit.cli.common.CLIError: --pipeline svm cannot be saved by train: obj must be ...
    """
    import tempfile

    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV

    from embkit import save
    from embkit.cli.common import CLIError

    probe, candidates = clone(pipe), []
    if hasattr(probe, "steps") and isinstance(probe.steps[-1][1], GridSearchCV):
        step, search = probe.steps[-1]
        grids = search.param_grid if isinstance(search.param_grid, list) else [search.param_grid]
        candidates = [v for g in grids for vs in g.values() for v in vs if hasattr(v, "fit")]
        probe.steps[-1] = (step, search.estimator)
    with tempfile.TemporaryDirectory() as folder:
        try:
            for part in (probe, *candidates):
                save(part, Path(folder) / SAVED_FILE)
        except TypeError as exc:
            reason = str(exc).split("; use pickle", 1)[0]
            raise CLIError(
                f"--pipeline {name} cannot be saved by train: {reason}; register a pipeline "
                "of those types for train, or fit and save yours from Python"
            ) from exc


def load_trained(path: str, *, allow_pickle: bool = False) -> Any:
    """The pipeline at ``path``: a folder written by ``embkit train``, or its file.

    Raises
    ------
    ValueError
        No saved pipeline there, a damaged or foreign file, or a pickle without
        ``allow_pickle=True``.
    """
    location = Path(path)
    file = location
    if location.is_dir():
        file = location / SAVED_FILE
        if not file.is_file() and (location / PICKLED_FILE).is_file():
            file = location / PICKLED_FILE
    if not file.is_file():
        raise ValueError(f"no saved pipeline at {file} (run 'embkit train ... --out {path}')")
    if zipfile.is_zipfile(file):
        from embkit import load

        try:
            return load(file)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{file}: not a readable saved pipeline ({exc})") from exc
    pickled = _starts_like_a_pickle(file)
    if not allow_pickle:
        if pickled:
            raise ValueError(_PICKLE_REFUSED.format(file=file))
        raise ValueError(
            f"{file}: not a readable saved pipeline (not a file written by embkit.save)"
        )
    return _unpickle(file)


def _starts_like_a_pickle(file: Path) -> bool:
    with open(file, "rb") as fh:
        return fh.read(1) == b"\x80"  # the PROTO opcode of pickle protocols 2 and later


def _unpickle(file: Path) -> Any:
    import joblib

    try:
        saved = joblib.load(file)
    except Exception as exc:  # any unpickling failure means a broken or foreign file
        raise ValueError(f"{file}: not a readable saved pipeline ({exc})") from exc
    if isinstance(saved, dict) and "pipeline" in saved:
        saved = saved["pipeline"]  # the layout of the pipeline.joblib that train wrote
    if not hasattr(saved, "predict"):
        raise ValueError(f"{file}: the pickle holds no pipeline with a predict method")
    return saved


def configure_loaded(pipe: Any, *, verbose: bool, cache: str | None) -> None:
    """Set the progress bars (auto or off) and the embedding cache of a pipeline's steps."""
    for _, step in getattr(pipe, "steps", []):
        params = step.get_params(deep=False) if hasattr(step, "get_params") else {}
        if "show_progress_bar" in params:
            step.set_params(show_progress_bar=None if verbose else False)
        if "cache" in params:
            step.set_params(cache=cache)
