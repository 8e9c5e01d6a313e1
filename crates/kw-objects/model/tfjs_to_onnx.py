"""Converts a TensorFlow.js graph model (model.json + weight shards) into an ONNX file.

Run by scripts/convert-nanodet.sh (which pins the tool versions); not needed to build or test keepwatch.

Steps:
1. model.json's `modelTopology` is a TensorFlow GraphDef written as protobuf JSON; its weights are the
   `Const` nodes named in `weightsManifest`, stored in the shards without values in the graph. They are
   read back (float16-quantised floats widened to float32, int64 tensors stored as int32 widened back) and
   put into the GraphDef as constant values.
2. tf2onnx turns the frozen GraphDef into ONNX (constant folding included).
3. Input and outputs get names that say what they are (NanoDet: `image`, `cls_s8`.. `dist_s32`).
4. tf2onnx's generated names (`pad_const__43`) carry a process-wide counter that differs from run to run;
   they are renumbered in graph order, so the same input gives the same bytes.
5. Float initializers whose values are exactly representable in float16 (all of NanoDet's weights: the
   TF.js files hold them as float16) are stored as float16 plus a Cast, which halves the file and loses
   nothing; every other initializer stays as it is.
"""

import argparse
import json
import os
import re
import sys

import numpy as np
import onnx
import tensorflow as tf
import tf2onnx
from google.protobuf import json_format
from onnx import helper, numpy_helper, TensorProto

TF_DTYPES = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}


def read_weights(model_dir, manifest):
    """Name -> numpy array for every weight in the manifest, in the dtype the manifest declares."""
    out = {}
    for group in manifest:
        blob = b"".join(open(os.path.join(model_dir, p), "rb").read() for p in group["paths"])
        at = 0
        for w in group["weights"]:
            shape = w["shape"]
            count = int(np.prod(shape)) if shape else 1
            q = w.get("quantization")
            if q is None:
                dt = np.dtype(TF_DTYPES[w["dtype"]])
                arr = np.frombuffer(blob, dtype=dt, count=count, offset=at)
                at += count * dt.itemsize
            elif q["dtype"] == "float16":
                arr = np.frombuffer(blob, dtype=np.float16, count=count, offset=at).astype(np.float32)
                at += count * 2
            else:
                sys.exit(f"{w['name']}: quantisation {q['dtype']} is not handled")
            out[w["name"]] = arr.reshape(shape)
        if at != len(blob):
            sys.exit(f"weights: read {at} of {len(blob)} bytes")
    return out


def graph_def(model_json):
    model_dir = os.path.dirname(os.path.abspath(model_json))
    spec = json.load(open(model_json))
    g = json_format.ParseDict(spec["modelTopology"], tf.compat.v1.GraphDef())
    weights = read_weights(model_dir, spec["weightsManifest"])
    by_name = {n.name: n for n in g.node}
    for name, arr in weights.items():
        node = by_name[name]
        dtype = tf.dtypes.as_dtype(node.attr["dtype"].type)
        value = arr.astype(dtype.as_numpy_dtype)
        node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value, dtype=dtype, shape=arr.shape))
    return g, spec["signature"]


def rename(model, old, new):
    for n in model.graph.node:
        n.input[:] = [new if i == old else i for i in n.input]
        n.output[:] = [new if o == old else o for o in n.output]
    for v in list(model.graph.input) + list(model.graph.output):
        if v.name == old:
            v.name = new


def nanodet_names(model):
    """image, and per output cls_s{stride} (class scores) / dist_s{stride} (box distance bins)."""
    rename(model, model.graph.input[0].name, "image")
    size = model.graph.input[0].type.tensor_type.shape.dim[2].dim_value
    for o in list(model.graph.output):
        dims = [d.dim_value for d in o.type.tensor_type.shape.dim]
        cells, width = dims[1], dims[2]
        stride = size // int(round(cells ** 0.5))
        rename(model, o.name, f"{'cls' if width == 80 else 'dist'}_s{stride}")
    order = sorted(model.graph.output, key=lambda o: (o.name.split("_")[0], int(o.name.split("_s")[1])))
    kept = [onnx.ValueInfoProto.FromString(o.SerializeToString()) for o in order]
    del model.graph.output[:]
    model.graph.output.extend(kept)


def stable_names(model):
    """Renumbers tf2onnx's generated names (`<stem>__<counter>`) by first use in node order."""
    mapping = {}

    def name(old):
        m = re.fullmatch(r"(.*)__\d+(:\d+)?", old)
        if not m:
            return old
        if old not in mapping:
            mapping[old] = f"{m.group(1)}__k{len(mapping)}{m.group(2) or ''}"
        return mapping[old]

    for n in model.graph.node:
        n.input[:] = [name(i) for i in n.input]
        n.output[:] = [name(o) for o in n.output]
        n.name = name(n.name)
    for i in model.graph.initializer:
        i.name = name(i.name)
    for v in model.graph.value_info:
        v.name = name(v.name)
    inits = sorted(model.graph.initializer, key=lambda i: i.name)
    kept = [onnx.TensorProto.FromString(i.SerializeToString()) for i in inits]
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)


def half_initializers(model):
    """Stores float32 initializers that are exactly float16 values as float16 + Cast (lossless)."""
    kept, casts, halved = [], [], 0
    for init in model.graph.initializer:
        arr = numpy_helper.to_array(init)
        if arr.dtype == np.float32 and arr.size >= 16 and np.array_equal(arr.astype(np.float16).astype(np.float32), arr):
            half = numpy_helper.from_array(arr.astype(np.float16), init.name + "_f16")
            kept.append(half)
            casts.append(helper.make_node("Cast", [half.name], [init.name], to=TensorProto.FLOAT, name=init.name + "_cast"))
            halved += 1
        else:
            kept.append(init)
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    nodes = casts + list(model.graph.node)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return halved


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_json", help="the TF.js model.json (its weight shards beside it)")
    ap.add_argument("out", help="the ONNX file to write")
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--nanodet", action="store_true", help="name NanoDet's input and outputs")
    a = ap.parse_args()

    g, sig = graph_def(a.model_json)
    inputs = list(sig["inputs"].keys())
    outputs = sorted(sig["outputs"].keys())
    model, _ = tf2onnx.convert.from_graph_def(g, input_names=inputs, output_names=outputs, opset=a.opset)
    if a.nanodet:
        nanodet_names(model)
    stable_names(model)
    halved = half_initializers(model)
    model.producer_name = "keepwatch tfjs_to_onnx.py"
    model.doc_string = "Converted from TensorFlow.js with tensorflow %s and tf2onnx %s" % (tf.__version__, tf2onnx.__version__)
    onnx.checker.check_model(model)
    onnx.save(model, a.out)
    print(f"{a.out}: {os.path.getsize(a.out)} bytes, {halved} initializers stored as float16")
    for v in list(model.graph.input) + list(model.graph.output):
        print(" ", v.name, [d.dim_value for d in v.type.tensor_type.shape.dim])


if __name__ == "__main__":
    main()
