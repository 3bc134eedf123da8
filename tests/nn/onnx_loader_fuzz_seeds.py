#!/usr/bin/python3
"""Writes the seed corpus of fuzz/onnx_loader_fuzz: small valid ONNX models built with onnx.helper (and checked
by onnx.checker), covering the importer's paths: initializers, attributes of every kind, Constant nodes, the
Shape/Gather/Concat/Reshape chain exporters emit, BatchNormalization after Conv, Concat, Gemm, a dynamic batch,
the patterns the fusion passes rewrite, and a transformer: a ViT block (class token expanded to the batch,
attention, LayerNorm written out at opset 13 and as the op at 17, the Erf GELU) and Swin's shape-computed mask
(Range, Equal, Where, ScatterND, Mod) with an Einsum.
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
    for opset in (13, 17):
        yield f"vit_block_op{opset}", vit_block(opset)
    yield "swin_mask_einsum_op13", swin_mask_einsum()


def vit_block(opset):
    """A one-block ViT on 8x8 inputs (patches of 4: 4 tokens + the class token, width 8, 2 heads), written as
    torchvision exports it: the passes fold its LayerNorms, GELU and matmul biases."""
    d, heads, n = 8, 2, 5
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])
    c = lambda name, v: helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.asarray(v), name))
    nodes, inits = [], [init("pw", d, 3, 4, 4), init("pb", d), init("cls", 1, 1, d), init("pos", 1, n, d),
                        init("qkv_w", d, 3 * d), init("qkv_b", 3 * d), init("proj_w", d, d), init("proj_b", d),
                        init("fc1_w", d, 2 * d), init("fc1_b", 2 * d), init("fc2_w", 2 * d, d), init("fc2_b", d),
                        init("head_w", 3, d), init("head_b", 3)]

    def layer_norm(src, out, tag):
        inits.extend([init(f"{tag}_g", d), init(f"{tag}_b", d)])
        if opset >= 17:
            nodes.append(helper.make_node("LayerNormalization", [src, f"{tag}_g", f"{tag}_b"], [out], axis=-1,
                                          epsilon=1e-6))
            return
        nodes.extend([
            helper.make_node("ReduceMean", [src], [f"{tag}_m"], axes=[-1]),
            helper.make_node("Sub", [src, f"{tag}_m"], [f"{tag}_c"]),
            c(f"{tag}_two", np.float32(2)),
            helper.make_node("Pow", [f"{tag}_c", f"{tag}_two"], [f"{tag}_sq"]),
            helper.make_node("ReduceMean", [f"{tag}_sq"], [f"{tag}_v"], axes=[-1]),
            c(f"{tag}_eps", np.float32(1e-6)),
            helper.make_node("Add", [f"{tag}_v", f"{tag}_eps"], [f"{tag}_ve"]),
            helper.make_node("Sqrt", [f"{tag}_ve"], [f"{tag}_sd"]),
            helper.make_node("Div", [f"{tag}_c", f"{tag}_sd"], [f"{tag}_n"]),
            helper.make_node("Mul", [f"{tag}_n", f"{tag}_g"], [f"{tag}_s"]),
            helper.make_node("Add", [f"{tag}_s", f"{tag}_b"], [out])])

    nodes += [
        helper.make_node("Conv", ["x", "pw", "pb"], ["patches"], kernel_shape=[4, 4], strides=[4, 4]),
        c("flat_shape", np.array([0, d, -1], np.int64)),
        helper.make_node("Reshape", ["patches", "flat_shape"], ["flat"]),
        helper.make_node("Transpose", ["flat"], ["tokens"], perm=[0, 2, 1]),
        # The class token expanded to the batch, as torchvision exports cls.expand(n, -1, -1).
        helper.make_node("Shape", ["x"], ["xs"]),
        c("zero", np.array(0, np.int64)),
        helper.make_node("Gather", ["xs", "zero"], ["batch"], axis=0),
        c("ax0", np.array([0], np.int64)),
        helper.make_node("Unsqueeze", ["batch", "ax0"], ["batch1"]),
        c("rest", np.array([-1, -1], np.int64)),
        helper.make_node("Concat", ["batch1", "rest"], ["cls_shape0"], axis=0),
        c("minus1", np.array(-1, np.int64)),
        helper.make_node("Equal", ["cls_shape0", "minus1"], ["is_minus1"]),
        c("ones3", np.array([1, 1, 1], np.int64)),
        helper.make_node("Where", ["is_minus1", "ones3", "cls_shape0"], ["cls_shape"]),
        helper.make_node("Expand", ["cls", "cls_shape"], ["cls_b"]),
        helper.make_node("Concat", ["cls_b", "tokens"], ["seq0"], axis=1),
        helper.make_node("Add", ["seq0", "pos"], ["seq"]),
    ]
    layer_norm("seq", "ln1", "ln1")
    hd = d // heads
    nodes += [
        helper.make_node("MatMul", ["ln1", "qkv_w"], ["qkv0"]),
        helper.make_node("Add", ["qkv0", "qkv_b"], ["qkv"]),
        c("qkv_shape", np.array([0, n, 3, heads, hd], np.int64)),
        helper.make_node("Reshape", ["qkv", "qkv_shape"], ["qkv5"]),
        helper.make_node("Transpose", ["qkv5"], ["qkvt"], perm=[2, 0, 3, 1, 4]),
        c("s0", np.array([0], np.int64)), c("s1", np.array([1], np.int64)), c("s2", np.array([2], np.int64)),
        c("s3", np.array([3], np.int64)),
        helper.make_node("Slice", ["qkvt", "s0", "s1", "s0"], ["q1"]),
        helper.make_node("Slice", ["qkvt", "s1", "s2", "s0"], ["k1"]),
        helper.make_node("Slice", ["qkvt", "s2", "s3", "s0"], ["v1"]),
        helper.make_node("Squeeze", ["q1", "s0"], ["q"]),
        helper.make_node("Squeeze", ["k1", "s0"], ["k"]),
        helper.make_node("Squeeze", ["v1", "s0"], ["v"]),
        helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]),
        helper.make_node("MatMul", ["q", "kt"], ["scores0"]),
        c("scale", np.float32(hd ** -0.5)),
        helper.make_node("Mul", ["scores0", "scale"], ["scores"]),
        helper.make_node("Softmax", ["scores"], ["attn"], axis=-1),
        helper.make_node("MatMul", ["attn", "v"], ["ctx"]),
        helper.make_node("Transpose", ["ctx"], ["ctxt"], perm=[0, 2, 1, 3]),
        c("seq_shape", np.array([0, n, d], np.int64)),
        helper.make_node("Reshape", ["ctxt", "seq_shape"], ["ctx2"]),
        helper.make_node("MatMul", ["ctx2", "proj_w"], ["proj0"]),
        helper.make_node("Add", ["proj0", "proj_b"], ["proj"]),
        helper.make_node("Add", ["seq", "proj"], ["res1"]),
    ]
    layer_norm("res1", "ln2", "ln2")
    nodes += [
        helper.make_node("MatMul", ["ln2", "fc1_w"], ["h0"]),
        helper.make_node("Add", ["h0", "fc1_b"], ["h"]),
        c("sqrt2", np.float32(np.sqrt(2))),
        helper.make_node("Div", ["h", "sqrt2"], ["hs"]),
        helper.make_node("Erf", ["hs"], ["he"]),
        c("one", np.float32(1)),
        helper.make_node("Add", ["he", "one"], ["he1"]),
        helper.make_node("Mul", ["h", "he1"], ["hm"]),
        c("half", np.float32(0.5)),
        helper.make_node("Mul", ["hm", "half"], ["gelu"]),
        helper.make_node("MatMul", ["gelu", "fc2_w"], ["o0"]),
        helper.make_node("Add", ["o0", "fc2_b"], ["o"]),
        helper.make_node("Add", ["res1", "o"], ["res2"]),
    ]
    layer_norm("res2", "lnf", "lnf")
    nodes += [
        helper.make_node("Gather", ["lnf", "zero"], ["cls_out"], axis=1),
        helper.make_node("Gemm", ["cls_out", "head_w", "head_b"], ["y"], transB=1),
    ]
    return model(nodes, [x], [y], inits, opset)


def swin_mask_einsum():
    """Swin's attention mask computed from static shapes (Range, Mod, Equal, Where, ScatterND), added to scores
    made by an Einsum, as torchvision's shifted windows and MaxViT's relative attention export them."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4, 4])
    c = lambda name, v: helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.asarray(v), name))
    nodes = [
        helper.make_node("Shape", ["x"], ["xs"]),
        c("one_i", np.array(1, np.int64)),
        helper.make_node("Gather", ["xs", "one_i"], ["len"], axis=0),
        c("zero_i", np.array(0, np.int64)),
        helper.make_node("Range", ["zero_i", "len", "one_i"], ["pos"]),
        c("two_i", np.array(2, np.int64)),
        helper.make_node("Mod", ["pos", "two_i"], ["region"]),
        c("ax1", np.array([1], np.int64)), c("ax0", np.array([0], np.int64)),
        helper.make_node("Unsqueeze", ["region", "ax1"], ["rcol"]),
        helper.make_node("Unsqueeze", ["region", "ax0"], ["rrow"]),
        helper.make_node("Equal", ["rcol", "rrow"], ["same"]),
        c("zero_f", np.float32(0)), c("minus100", np.float32(-100)),
        helper.make_node("Where", ["same", "zero_f", "minus100"], ["mask0"]),
        c("idx", np.array([[0, 3]], np.int64)), c("upd", np.array([-50], np.float32)),
        helper.make_node("ScatterND", ["mask0", "idx", "upd"], ["mask"]),
        helper.make_node("Einsum", ["x", "x"], ["scores"], equation="bij,bkj->bik"),
        helper.make_node("Add", ["scores", "mask"], ["masked"]),
        helper.make_node("Softmax", ["masked"], ["y"], axis=-1),
    ]
    return model(nodes, [x], [y], [], 13)


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
