#!/usr/bin/python3
"""Writes the seed corpus of fuzz/onnx_loader_fuzz: small valid ONNX models built with onnx.helper (and checked
by onnx.checker), covering the importer's paths: initializers, attributes of every kind, Constant nodes, the
Shape/Gather/Concat/Reshape chain exporters emit, BatchNormalization after Conv, Concat, Gemm, a dynamic batch,
the patterns the fusion passes rewrite.
Usage: onnx_loader_fuzz_seeds.py OUT_DIR"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(7)


def init(name, *shape):
    return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)


def model(nodes, inputs, outputs, inits, opset):
    g = helper.make_graph(nodes, "seed", inputs, outputs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="xfer-fuzz-seeds")
    onnx.checker.check_model(m)
    return m


def seeds():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])
    y = lambda shape: helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)
    for opset in (11, 13):
        yield f"conv_bn_relu_pool_op{opset}", model([
            helper.make_node("Conv", ["x", "w", "b"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=1),
            helper.make_node("BatchNormalization", ["c", "s", "bb", "m", "v"], ["n"], epsilon=1e-3),
            helper.make_node("Relu", ["n"], ["r"]),
            helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1),
            helper.make_node("GlobalAveragePool", ["p"], ["g"]),
            helper.make_node("Flatten", ["g"], ["y"], axis=1),
        ], [x], [y(["N", 4])], [init("w", 4, 3, 3, 3), init("b", 4), init("s", 4), init("bb", 4), init("m", 4),
                                numpy_helper.from_array(np.abs(rng.standard_normal(4)).astype(np.float32) + .5, "v")],
            opset)
        yield f"shape_chain_reshape_gemm_op{opset}", model([
            helper.make_node("Shape", ["x"], ["sh"]),
            helper.make_node("Constant", [], ["zero"], value=numpy_helper.from_array(np.array(0, np.int64))),
            helper.make_node("Gather", ["sh", "zero"], ["n"], axis=0),
            helper.make_node("Unsqueeze", ["n"] + (["ax"] if opset >= 13 else []), ["n1"],
                             **({} if opset >= 13 else {"axes": [0]})),
            helper.make_node("Constant", [], ["minus1"], value=numpy_helper.from_array(np.array([-1], np.int64))),
            helper.make_node("Concat", ["n1", "minus1"], ["target"], axis=0),
            helper.make_node("Reshape", ["x", "target"], ["flat"]),
            helper.make_node("Gemm", ["flat", "fw", "fb"], ["y"], transB=1, alpha=1.0, beta=1.0),
        ], [x], [y(["N", 5])], [init("fw", 5, 192), init("fb", 5)]
            + ([numpy_helper.from_array(np.array([0], np.int64), "ax")] if opset >= 13 else []), opset)
    yield "concat_depthwise_clip_softmax_op13", model([
        helper.make_node("Conv", ["x", "dw"], ["d"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=3),
        helper.make_node("Clip", ["d", "lo", "hi"], ["c"]),
        helper.make_node("AveragePool", ["x"], ["a"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1],
                         count_include_pad=0),
        helper.make_node("Concat", ["c", "a"], ["cat"], axis=1),
        helper.make_node("ReduceMean", ["cat"], ["m"], axes=[2, 3], keepdims=0),
        helper.make_node("Softmax", ["m"], ["y"], axis=1),
    ], [x], [y(["N", 6])], [init("dw", 3, 1, 3, 3), numpy_helper.from_array(np.array(0, np.float32), "lo"),
                            numpy_helper.from_array(np.array(6, np.float32), "hi")], 13)

    # InceptionV3's pool branch (AveragePool -> narrowing 1x1 Conv -> Relu, rewritten by the passes) beside a
    # ResNet residual (Conv -> Add(., x) -> Relu, fused into the conv) and DenseNet's standalone BN -> Relu.
    yield "pool_branch_residual_dense_bn_op13", model([
        helper.make_node("AveragePool", ["x"], ["a"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=1),
        helper.make_node("Conv", ["a", "pw", "pb"], ["p"], kernel_shape=[1, 1]),
        helper.make_node("Relu", ["p"], ["pr"]),
        helper.make_node("Conv", ["x", "rw"], ["r"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["r", "x"], ["s"]),
        helper.make_node("Relu", ["s"], ["sr"]),
        helper.make_node("Concat", ["pr", "sr"], ["cat"], axis=1),
        helper.make_node("BatchNormalization", ["cat", "s5", "b5", "m5", "v5"], ["n"], epsilon=1e-3),
        helper.make_node("Relu", ["n"], ["y"]),
    ], [x], [y(["N", 5, 8, 8])], [init("pw", 2, 3, 1, 1), init("pb", 2), init("rw", 3, 3, 3, 3), init("s5", 5),
                                  init("b5", 5), init("m5", 5),
                                  numpy_helper.from_array(np.abs(rng.standard_normal(5)).astype(np.float32) + .5, "v5")],
        13)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    n = 0
    for name, m in seeds():
        with open(os.path.join(out, name + ".onnx"), "wb") as f:
            f.write(m.SerializeToString())
        n += 1
    print(f"onnx_loader_fuzz_seeds: {n} models in {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
