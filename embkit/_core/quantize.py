"""Dynamic int8 quantization of a model's linear layers for CPU inference (torchao).

torchao is imported on first use only; ``docs/encoders.md`` says what it logs once installed.
"""

from __future__ import annotations

from typing import Any

from sklearn.utils._param_validation import StrOptions

QUANTIZE_CONSTRAINT: list[Any] = [StrOptions({"int8"}), None]
"""The ``_parameter_constraints`` entry of an encoder's ``quantize``."""


def quantize_int8(module: Any) -> Any:
    """Quantize every ``nn.Linear`` of ``module`` in place to dynamic int8 and return it.

    Weights are int8 with one scale per output row, inputs are quantized per token on the
    fly; everything else stays float32.
    """
    try:
        from torchao.quantization import Int8DynamicActivationInt8WeightConfig, quantize_
    except ImportError as exc:
        raise ImportError('quantize="int8" needs torchao: pip install "embkit[int8]"') from exc
    # set_inductor_config=False: no compilation here, and no change to torch's globals.
    quantize_(module, Int8DynamicActivationInt8WeightConfig(set_inductor_config=False))
    return module
