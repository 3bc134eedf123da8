#pragma once
// ONNX models (protobuf ModelProto, read with libonnx's generated classes) imported into the graph IR.
//
// The importer checks everything a hostile file could get wrong before the engine sees it: protobuf that does
// not parse, tensors whose data is shorter or longer than their shape, absurd shapes, external-data paths that
// leave the model's folder (absolute, "..", or a symlink resolving outside), values used before or without a
// producer, and cycles. Each is an xfer::Error naming the file and the reason. Node order in the returned graph
// is topological; unnamed nodes get "<OpType>_<index>" names.
#include <cstddef>
#include <filesystem>
#include <string>

#include "nn/graph.h"

namespace xfer::nn {

// Loads FILE.onnx; external data is resolved relative to its folder.
Graph import_onnx(const std::filesystem::path& path);

// Parses a model from memory (for the fuzzer and tests). `name` is used in messages; external data is
// resolved relative to `base_dir` (empty: external data is rejected).
Graph import_onnx_bytes(const void* data, size_t size, const std::string& name,
                        const std::filesystem::path& base_dir = {});

// A serialized TensorProto file (ONNX test data: input_0.pb, output_0.pb); the tensor's name is returned too.
Tensor read_onnx_tensor_file(const std::filesystem::path& path, std::string* name = nullptr);

}  // namespace xfer::nn
