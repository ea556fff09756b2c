"""Dynamic int8 quantization of a model's linear layers for CPU inference (torchao).

``torch.ao.quantization.quantize_dynamic`` is deprecated in recent torch releases in
favour of torchao's ``quantize_`` API, which is what this module uses: every
``nn.Linear`` gets int8 weights (one scale per output row) and quantizes its input per
token on the fly, so the rest of the model (embeddings, layer norms, pooling) stays
float32. The sentence vectors stay close to the float32 ones, not equal to them; speed and
closeness are measured in ``docs/benchmarks.md``.

torchao is imported here, on first use, never at embkit's import. Once torchao is
installed, though, transformers itself imports it whenever a model module loads, and
torchao 0.18 then logs that its CUDA kernels (``.so`` files) did not load and torch 2.13
logs two deprecation lines. Those records come from the ``torchao`` and
``torch.utils._pytree`` loggers, before any embkit code runs; embkit leaves other
libraries' logging alone, so an application that wants them quiet raises those loggers'
levels itself.
"""

from __future__ import annotations

from typing import Any

from sklearn.utils._param_validation import StrOptions

QUANTIZE_CONSTRAINT: list[Any] = [StrOptions({"int8"}), None]
"""The ``_parameter_constraints`` entry of an encoder's ``quantize``."""


def quantize_int8(module: Any) -> Any:
    """Quantize every ``nn.Linear`` of ``module`` in place to dynamic int8 and return it.

    Parameters
    ----------
    module : torch.nn.Module
        A float32 model on the CPU.

    Returns
    -------
    torch.nn.Module
        The same module.

    Examples
    --------
    >>> import torch
    >>> net = quantize_int8(torch.nn.Sequential(torch.nn.Linear(32, 4)))
    >>> net(torch.ones(2, 32)).shape
    torch.Size([2, 4])
    """
    try:
        from torchao.quantization import Int8DynamicActivationInt8WeightConfig, quantize_
    except ImportError as exc:
        raise ImportError('quantize="int8" needs torchao: pip install "embkit[int8]"') from exc
    # set_inductor_config=False: no compilation here, and no change to torch's globals.
    quantize_(module, Int8DynamicActivationInt8WeightConfig(set_inductor_config=False))
    return module
