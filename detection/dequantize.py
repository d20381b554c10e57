"""Turn a dynamically quantised ONNX detector (ConvInteger) back into an FP32 one (Conv).

Measured here (docs/benchmarks.md): dynamic INT8 is *slower* than FP32 on a desktop CPU in both runtimes,
because every layer re-quantises its input at run time. The weights stay what the INT8 file holds (the
dequantised values), so accuracy is that of the INT8 model. Used by ``station model export --fp32``.

The pattern rewritten, per convolution, as onnxruntime's dynamic quantiser writes it::

    x ─ DynamicQuantizeLinear ─ ConvInteger(w_q, w_zp) ─ Cast ─ Mul(x_scale · w_scale) ─ y
    →   x ─ Conv(w = (w_q - w_zp) · w_scale) ─ y
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from detection.error import ModelError


def dequantize_onnx(source: Path, target: Path) -> int:
    """Write ``target``: ``source`` with every ConvInteger replaced by an FP32 Conv. Returns how many were
    replaced (0 when the model had none: it is written unchanged)."""
    import onnx
    from onnx import helper, numpy_helper

    try:
        model = onnx.load(str(source))
    except Exception as exc:
        raise ModelError(f"{source}: not an ONNX model: {exc}") from exc
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    def array(name: str) -> np.ndarray:
        if name not in inits:
            raise ModelError(f"{source}: {name} is not a constant; cannot dequantise this model")
        return numpy_helper.to_array(inits[name])

    replaced = 0
    drop: set[int] = set()
    new_nodes: dict[int, onnx.NodeProto] = {}
    for node in graph.node:
        if node.op_type != "ConvInteger":
            continue
        dql = producer.get(node.input[0])
        cast = _only(consumers.get(node.output[0], []), "Cast")
        mul = _only(consumers.get(cast.output[0], []), "Mul") if cast is not None else None
        if dql is None or dql.op_type != "DynamicQuantizeLinear" or cast is None or mul is None:
            raise ModelError(f"{source}: {node.name}: unexpected quantisation pattern")
        scale_name = mul.input[1] if mul.input[0] == cast.output[0] else mul.input[0]
        scale_node = producer.get(scale_name)
        if scale_node is None or scale_node.op_type != "Mul":
            raise ModelError(f"{source}: {node.name}: weight scale not found")
        w_scale_name = next(name for name in scale_node.input if name in inits)
        w_q = array(node.input[1]).astype(np.float32)
        w_zp = array(node.input[3]).astype(np.float32) if len(node.input) > 3 and node.input[3] else 0.0
        w_scale = array(w_scale_name).astype(np.float32)
        if np.ndim(w_zp) == 1:
            w_zp = np.reshape(w_zp, (-1, 1, 1, 1))
        if w_scale.ndim == 1:
            w_scale = w_scale.reshape(-1, 1, 1, 1)
        weight = ((w_q - w_zp) * w_scale).astype(np.float32)
        weight_name = f"{node.name}_fp32_weight"
        graph.initializer.append(numpy_helper.from_array(weight, weight_name))
        conv = helper.make_node(
            "Conv", [dql.input[0], weight_name], [mul.output[0]], name=f"{node.name}_fp32"
        )
        conv.attribute.extend(node.attribute)
        index = list(graph.node).index(node)
        new_nodes[index] = conv
        drop.update({id(cast), id(mul)})
        replaced += 1
    if replaced:
        kept = [new_nodes.get(i, n) for i, n in enumerate(graph.node) if id(n) not in drop]
        del graph.node[:]
        graph.node.extend(_prune(kept, [o.name for o in graph.output]))
        used = {name for n in graph.node for name in n.input}
        unused = [t for t in graph.initializer if t.name not in used]
        for tensor in unused:
            graph.initializer.remove(tensor)
        model.metadata_props.add(key="station.dequantized", value=f"{replaced} ConvInteger → Conv")
    onnx.checker.check_model(model)
    onnx.save(model, str(target))
    return replaced


def _only(nodes: list, op_type: str):  # type: ignore[no-untyped-def,type-arg]
    return nodes[0] if len(nodes) == 1 and nodes[0].op_type == op_type else None


def _prune(nodes: list, outputs: list[str]) -> list:  # type: ignore[type-arg]
    """Drop nodes whose outputs nothing uses (the now unused DynamicQuantizeLinear and scale Muls)."""
    needed = set(outputs)
    kept_reversed = []
    for node in reversed(nodes):
        if any(out in needed for out in node.output):
            kept_reversed.append(node)
            needed.update(node.input)
    return list(reversed(kept_reversed))


def is_dynamic_int8(path: Path) -> bool:
    """Does the ONNX file hold ConvInteger layers (a dynamically quantised model)?"""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # noqa: BLE001  not an ONNX file: the backend will say so with its own message
        return False
    return any(node.op_type == "ConvInteger" for node in model.graph.node)


def fp32_copy(path: Path, cache_dir: Path) -> Path:
    """An FP32 copy of a dynamic-INT8 ``path`` in ``cache_dir`` (made once, named by the source's hash and
    kept beside the others), or ``path`` itself when it is not such a model."""
    if path.suffix.lower() != ".onnx" or not is_dynamic_int8(path):
        return path
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    target = cache_dir / f"{path.stem}-{digest}-fp32.onnx"
    if target.is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    dequantize_onnx(path, partial)
    partial.replace(target)
    return target
