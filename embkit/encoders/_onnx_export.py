"""Exporting models to ONNX and keeping the exports: the machinery behind ``backend="onnx"``.

:func:`export_folder` returns an intact export folder, building it when absent or damaged:
one folder per hash of the source weights, kind, int8 and versions, built in a temporary
folder renamed into place under a lock file, with a manifest of every file's size and hash
written last.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

from embkit._core.models import (
    embedding_dimension,
    load_hf_model,
    load_sentence_transformer,
    model_identity,
    resolve_model,
)
from embkit.encoders._artifacts import building, keyed_folder, locked

_FORMAT = 2  # 2: the manifest records the position table ("positions")
_OPSET = 17
_MANIFEST = "embkit-onnx.json"
_GRAPH = "model.onnx"
_TOKENIZER = "tokenizer"
_EXAMPLE = ["embkit exports this model once", "and a second, longer example text for it"]


class ExportDamagedWarning(UserWarning):
    """A cached ONNX export failed its check (missing or changed files); it is exported again."""


# -- exporting ------------------------------------------------------------------------------
def _export_graph(
    module: Any, forward: Any, example: Any, folder: Path, output_axes: dict
) -> list[str]:
    """Trace ``forward(module, features)`` to ONNX with dynamic batch and sequence axes.

    Returns the input names (those of ``example`` a BERT-like model takes).
    """
    import torch

    names = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in example]

    class Graph(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = module

        def forward(self, *tensors: Any) -> Any:
            return forward(self.inner, dict(zip(names, tensors, strict=True)))

    axes = {name: {0: "batch", 1: "sequence"} for name in names}
    with warnings.catch_warnings(), torch.no_grad():
        # the TorchScript exporter is deprecated (torch >= 2.9) and the tracer warns about
        # transformers' shape checks, constant for this graph: both expected
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Graph().eval(),
            tuple(example[n] for n in names),
            str(folder / _GRAPH),
            dynamo=False,
            input_names=names,
            output_names=["output"],
            dynamic_axes={**axes, "output": output_axes},
            opset_version=_OPSET,
        )
    return names


def _export_sentence(model: Any, folder: Path) -> dict[str, Any]:
    st = load_sentence_transformer(model, "cpu")
    first = st[0]
    if type(first).__name__ != "Transformer" or "text" not in getattr(
        first, "modality_config", {"text": None}
    ):
        raise ValueError(
            f"backend='onnx' exports sentence-transformers models whose first module is a "
            f"text Transformer; {model!r} starts with {type(first).__name__}"
        )
    names = _export_graph(
        st, lambda m, f: m(f)["sentence_embedding"], st.preprocess(_EXAMPLE), folder, {0: "batch"}
    )
    st.tokenizer.save_pretrained(str(folder / _TOKENIZER))
    dim = int(embedding_dimension(st))
    positions = _positions(getattr(first, "auto_model", None))
    return {"inputs": names, "dim": dim, "max_seq_length": st.max_seq_length, **positions}


def _export_hidden(model: Any, folder: Path) -> dict[str, Any]:
    tokenizer, net = load_hf_model(model, "cpu")
    example = tokenizer(_EXAMPLE, padding=True, return_tensors="pt")
    names = _export_graph(
        net, lambda m, f: m(**f).last_hidden_state, example, folder, {0: "batch", 1: "sequence"}
    )
    tokenizer.save_pretrained(str(folder / _TOKENIZER))
    info = {"inputs": names, "dim": int(net.config.hidden_size), "max_seq_length": None}
    return {**info, **_positions(net)}


def _positions(net: Any) -> dict[str, int]:
    """``{"positions": n}``: the longest input the graph can take (its position table)."""
    n = getattr(getattr(net, "config", None), "max_position_embeddings", None)
    return {"positions": int(n)} if isinstance(n, int) and n > 0 else {}


_EXPORTERS = {"sentence-transformers": _export_sentence, "transformers": _export_hidden}


def _quantize(source: Path, target: Path) -> None:
    """Dynamic int8 quantisation of the matrix products, one scale per output channel."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    # onnxruntime's recommended pre-processing (graph optimisation, shape inference);
    # its symbolic shape inference does not complete on these graphs and is skipped.
    prepared = target.with_name("prepared.onnx")
    quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
    quantize_dynamic(
        str(prepared),
        str(target),
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=["MatMul"],
    )
    prepared.unlink()


# -- the cache folder -----------------------------------------------------------------------
def _file_digest(path: Path) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _listing(folder: Path) -> dict[str, Path]:
    """The files of an export folder but the manifest, by relative name."""
    return {
        p.relative_to(folder).as_posix(): p
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != _MANIFEST
    }


def _files(folder: Path) -> dict[str, dict[str, Any]]:
    return {
        name: {"size": p.stat().st_size, "blake2b": _file_digest(p)}
        for name, p in _listing(folder).items()
    }


def read_manifest(folder: Path, provenance: dict[str, Any]) -> dict[str, Any] | None:
    """The manifest of an intact export folder made for ``provenance``, else ``None``.

    Intact means: the manifest parses, names the same provenance, and every file it lists
    is there with its size and hash, and no other file is.
    """
    try:
        manifest = json.loads((folder / _MANIFEST).read_text(encoding="utf-8"))
        if manifest.get("provenance") != provenance:
            return None
        listed = manifest["files"]
        sizes = {name: p.stat().st_size for name, p in _listing(folder).items()}
        if sizes != {name: meta["size"] for name, meta in listed.items()}:
            return None
        if any(_file_digest(folder / name) != meta["blake2b"] for name, meta in listed.items()):
            return None
        return manifest
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def provenance(kind: str, model: Any, quantize: str | None) -> dict[str, Any]:
    """Everything that decides an export's files: source weights, kind, int8, versions."""
    from importlib.metadata import version

    return {
        "format": _FORMAT,
        "kind": kind,
        "source": model_identity(model),
        "quantize": quantize,
        "opset": _OPSET,
        "torch": version("torch"),
        "onnxruntime": version("onnxruntime"),
    }


def export_folder(
    kind: str, model: Any, quantize: str | None, root: Path, announce: bool = True
) -> tuple[Path, dict[str, Any]]:
    """The intact export folder of ``model`` for ``kind`` and ``quantize``, built if needed.

    Returns the folder and its manifest. An int8 export is quantised from the float32
    export, which is made (and kept) first.
    """
    resolved = resolve_model(model)
    prov = provenance(kind, resolved, quantize)
    folder = keyed_folder(root, model, resolved, prov)
    manifest = read_manifest(folder, prov)
    if manifest is not None:
        return folder, manifest
    source = export_folder(kind, model, None, root, announce) if quantize else None
    root.mkdir(parents=True, exist_ok=True)
    with locked(root / f".{folder.name}.lock"):
        manifest = read_manifest(folder, prov)  # another process may have built it meanwhile
        if manifest is not None:
            return folder, manifest
        if folder.exists():
            warnings.warn(
                ExportDamagedWarning(f"the ONNX export in {folder} is damaged; exporting again"),
                stacklevel=2,
            )
            shutil.rmtree(folder, ignore_errors=True)
        said = f"exporting {model} to {'int8 ONNX' if quantize else 'ONNX'}" if announce else None
        # under the lock file, the rename can lose a race only where there is none (Windows)
        with building(folder, lambda f: read_manifest(f, prov) is not None, said) as tmp:
            if source is None:
                info = _EXPORTERS[kind](model, tmp)
            else:
                keys = ("inputs", "dim", "max_seq_length", "positions")
                info = {k: source[1][k] for k in keys if k in source[1]}
                shutil.copytree(source[0] / _TOKENIZER, tmp / _TOKENIZER)
                _quantize(source[0] / _GRAPH, tmp / _GRAPH)
            manifest = {"provenance": prov, "model": os.fspath(model), **info, "files": _files(tmp)}
            (tmp / _MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return folder, manifest
