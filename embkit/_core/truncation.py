"""The warning for texts longer than a model's window, shared by encoders and fine-tuning."""

from __future__ import annotations

import sys
import threading
import warnings
from collections.abc import Callable, Hashable


class TextTruncatedWarning(UserWarning):
    """Some texts are longer than the model's window and were truncated."""


def warn_once(
    warned: set, key: Hashable, count: Callable[[], tuple[int, int]], window: int, model: str
) -> None:
    """Warn the first time ``count()`` finds texts longer than ``window`` under ``key``.

    ``count`` returns how many texts are longer and the longest one's tokens. The warning
    names the first caller outside embkit, scikit-learn and joblib. ``key`` goes into
    ``warned`` once the warning is shown (a warning turned into an error raises each time);
    one thread at a time, so two threads never both show it.
    """
    with _lock:
        if key in warned:
            return
        n_long, longest = count()
        if n_long:
            warnings.warn(
                TextTruncatedWarning(
                    f"{n_long} of the texts are longer than the {window}-token window of "
                    f"{model!r} (the longest has {longest} tokens); the model sees only their "
                    "first tokens. This warning is shown once per model and window."
                ),
                stacklevel=_outside_level(),
            )
            warned.add(key)


_lock = threading.Lock()


def _outside_level() -> int:
    """The ``stacklevel`` of the first caller outside embkit, scikit-learn and joblib (which
    runs a pipeline's fit_transform): a warning then names the user's line."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] in _LIBRARIES:
        frame, level = frame.f_back, level + 1
    return level


_LIBRARIES = ("embkit", "sklearn", "joblib")
