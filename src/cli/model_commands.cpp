// xfer model info | run | bench: look inside a model, run it on a raw tensor, and measure its throughput.
#include <map>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <numeric>
#include <random>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "nn/errors.h"
#include "nn/model.h"
#include "nn/model_file.h"
#include "nn/passes.h"
#include "nn/reference_ops.h"
#include "util/error.h"
#include "util/log.h"
#include "util/npy.h"

namespace xfer::cli {
namespace {

struct ModelInfoOptions {
  std::string model;
  bool json = false;
};

struct ModelRunOptions {
  std::string model;
  std::string input;
  std::string out;
  std::string output;  // a tensor or layer name; empty: the model's first output
  std::string precision = "fp32";
  std::string calibration;  // int8: calibration images (.npy); default: the input itself
  std::string calibration_method = "percentile";
  bool no_winograd = false;
  bool reference_kernels = false;
  int threads = 0;
};

struct ModelBenchOptions {
  std::string model;
  int batch = 1;
  int threads = 0;
  std::string precision = "fp32";
  std::string calibration;  // int8: calibration images (.npy); default: the benchmark's input
  std::string calibration_method = "percentile";
  bool no_winograd = false;
  std::string layer;
  double seconds = 3.0;
  bool json = false;
  bool profile = false;  // time every plan step of the measured runs, by kind and by op
};

double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::vector<std::string> dims;
  for (auto d : shape) dims.push_back(d < 0 ? "N" : std::to_string(d));
  return "[" + fmt::format("{}", fmt::join(dims, ",")) + "]";
}

// A model with operators the engine lacks: what the file holds, every missing operator at once, then the error.
[[noreturn]] void describe_unsupported(const ModelInfoOptions& o, const nn::Graph& g,
                                       const std::vector<nn::UnsupportedOp>& missing) {
  std::map<std::string, int> ops;
  for (const auto& n : g.nodes) ++ops[n.op_type];
  if (o.json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& u : missing) list.push_back({{"op", u.op_type}, {"nodes", u.nodes}, {"first_node", u.first_node}});
    nlohmann::json j = {{"file", o.model}, {"format", g.source.format}, {"producer", g.source.producer},
                        {"opset", g.source.opset}, {"layer_count", g.nodes.size()}, {"ops", ops},
                        {"unsupported_ops", list}};
    std::cout << j.dump(1) << "\n";
  } else {
    fmt::print("model        {}\n", o.model);
    fmt::print("format       {} (opset {}, producer {})\n", g.source.format, g.source.opset,
               g.source.producer.empty() ? "?" : g.source.producer);
    fmt::print("layers       {}\n", g.nodes.size());
    for (const auto& u : missing)
      fmt::print("unsupported  {} ({} node{}, e.g. '{}')\n", u.op_type, u.nodes, u.nodes == 1 ? "" : "s", u.first_node);
  }
  std::vector<std::string> names;
  for (const auto& u : missing) names.push_back(u.op_type);
  throw nn::UnsupportedError(fmt::format("{}: {} operator(s) not supported by this build: {}", o.model,
                                         missing.size(), fmt::join(names, ", ")));
}

// int8 models need their activation ranges: from the calibration file's images when given, else from `fallback`.
void calibrate_if_int8(nn::CompileOptions& opt, const nn::Graph& graph, const std::string& file,
                       const std::string& method, const nn::Tensor& fallback) {
  if (opt.precision != nn::Precision::int8) return;
  nn::Tensor images = fallback;
  if (!file.empty()) {
    NpyArray a = read_npy(file);
    const auto& declared = graph.inputs.at(0).shape;
    bool fits = a.shape.size() == declared.size();
    for (size_t i = 0; fits && i < declared.size(); ++i) fits = declared[i] < 0 || a.shape[i] == declared[i];
    if (!fits)
      fail("{}: calibration images of shape {} for a model input of shape {}", file, shape_string(a.shape), shape_string(declared));
    std::vector<float> values = a.to_float32();
    images = nn::make_float_tensor(a.shape, values.data());
  }
  auto start = std::chrono::steady_clock::now();
  opt.calibration = std::make_shared<nn::Calibration>(
      nn::calibrate(graph, opt.outputs, {images}, nn::calibration_method_from_string(method)));
  spdlog::info("int8 calibration ({}) on {} image(s): {} value ranges in {:.1f} s", method, opt.calibration->images,
               opt.calibration->values.size(),
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

void run_info(const ModelInfoOptions& o) {
  nn::Graph graph = nn::load_model_graph(o.model);
  if (auto missing = nn::unsupported_ops(graph); !missing.empty()) describe_unsupported(o, graph, missing);
  std::string feature = nn::default_feature_layer(graph);
  nn::CompileOptions opt;
  opt.optimize = false;  // describe the model as written, not as fused
  auto model = nn::Model::compile(graph, opt);
  auto stats = nn::model_stats(model);
  const auto& g = model->graph();
  auto io = [&](const std::vector<nn::ValueInfo>& values) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& v : values) {
      auto it = stats.shapes.find(v.name);
      list.push_back({{"name", v.name}, {"type", nn::to_string(v.type)}, {"shape", v.shape},
                      {"shape_batch1", it == stats.shapes.end() ? std::vector<int64_t>{} : it->second}});
    }
    return list;
  };
  if (o.json) {
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& n : g.nodes) {
      auto it = stats.shapes.find(n.outputs.empty() ? "" : n.outputs[0]);
      layers.push_back({{"name", n.name}, {"op", n.op_type}, {"outputs", n.outputs},
                        {"shape_batch1", it == stats.shapes.end() ? std::vector<int64_t>{} : it->second}});
    }
    nlohmann::json j = {{"file", o.model}, {"format", g.source.format}, {"producer", g.source.producer},
                        {"opset", g.source.opset}, {"inputs", io(g.inputs)}, {"outputs", io(g.outputs)},
                        {"layers", layers}, {"layer_count", g.nodes.size()}, {"parameters", stats.parameters},
                        {"flops_per_image", stats.flops_per_image}, {"default_feature_layer", feature},
                        {"default_feature_shape", stats.shapes.count(feature) ? stats.shapes[feature] : std::vector<int64_t>{}}};
    std::cout << j.dump(1) << "\n";
    return;
  }
  fmt::print("model        {}\n", o.model);
  fmt::print("format       {} (opset {}, producer {})\n", g.source.format, g.source.opset,
             g.source.producer.empty() ? "?" : g.source.producer);
  for (const auto& v : g.inputs) fmt::print("input        {} {} {}\n", v.name, nn::to_string(v.type), shape_string(v.shape));
  for (const auto& v : g.outputs)
    fmt::print("output       {} {} {}\n", v.name, nn::to_string(v.type),
               stats.shapes.count(v.name) ? shape_string(stats.shapes[v.name]) : shape_string(v.shape));
  fmt::print("layers       {}\n", g.nodes.size());
  fmt::print("parameters   {} ({:.1f} M)\n", stats.parameters, static_cast<double>(stats.parameters) / 1e6);
  fmt::print("flops/image  {:.3f} G\n", stats.flops_per_image / 1e9);
  fmt::print("feature      {} {}\n", feature, stats.shapes.count(feature) ? shape_string(stats.shapes[feature]) : "");
  fmt::print("\n{:<48} {:<20} {}\n", "layer (node)", "op", "output shape (batch 1)");
  for (const auto& n : g.nodes) {
    auto it = stats.shapes.find(n.outputs.empty() ? "" : n.outputs[0]);
    fmt::print("{:<48} {:<20} {}\n", n.name, n.op_type, it == stats.shapes.end() ? "" : shape_string(it->second));
  }
}

void run_model(const ModelRunOptions& o) {
  nn::set_threads(o.threads);
  NpyArray in = read_npy(o.input);
  nn::Graph graph = nn::load_model_graph(o.model);
  if (graph.inputs.size() != 1) fail("{}: the model has {} inputs; model run takes one", o.model, graph.inputs.size());
  nn::CompileOptions opt;
  opt.precision = nn::precision_from_string(o.precision);
  opt.winograd = !o.no_winograd;
  opt.reference_only = o.reference_kernels;
  if (!o.output.empty()) opt.outputs = {o.output};
  else opt.outputs = {graph.outputs.at(0).name};
  if (graph.inputs[0].type != nn::DataType::float32)
    fail("{}: input '{}' is {}; model run feeds float32", o.model, graph.inputs[0].name, nn::to_string(graph.inputs[0].type));
  std::vector<float> values = in.to_float32();
  nn::Tensor input = nn::make_float_tensor(in.shape, values.data());
  calibrate_if_int8(opt, graph, o.calibration, o.calibration_method, input);
  auto model = nn::Model::compile(std::move(graph), opt);
  const auto& declared = model->inputs().at(0);
  nn::Run run(model);
  auto start = std::chrono::steady_clock::now();
  auto outputs = run.forward({{declared.name, input}});
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  const nn::Tensor& out = outputs.at(0);
  std::vector<float> data = nn::to_float_vector(out);
  write_npy(o.out, data.data(), out.shape);
  spdlog::info("{}: {} {} -> {} {} in {:.1f} ms", o.model, declared.name, shape_string(in.shape),
               model->outputs().at(0).name, shape_string(out.shape), ms);
}

// Per run, largest first: {name, ms per run, executions per run}.
std::vector<std::tuple<std::string, double, double>> per_run(const std::map<std::string, nn::StepTimes>& times,
                                                             int64_t runs) {
  std::vector<std::tuple<std::string, double, double>> rows;
  const double n = static_cast<double>(std::max<int64_t>(runs, 1));
  for (const auto& [name, t] : times) rows.emplace_back(name, t.ms / n, static_cast<double>(t.steps) / n);
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return std::get<1>(a) > std::get<1>(b); });
  return rows;
}

nlohmann::json profile_json(const nn::StepProfile& p, double wall_ms) {
  auto table = [&](const std::map<std::string, nn::StepTimes>& times) {
    nlohmann::json t = nlohmann::json::object();
    for (const auto& [name, ms, steps] : per_run(times, p.runs))
      t[name] = {{"ms_per_run", ms}, {"steps_per_run", steps}};
    return t;
  };
  return {{"runs", p.runs}, {"wall_ms", wall_ms}, {"steps_ms", p.total_ms()}, {"by_kind", table(p.by_kind)},
          {"by_op", table(p.by_op)}};
}

void print_profile(const nn::StepProfile& p, double wall_ms) {
  const double n = static_cast<double>(std::max<int64_t>(p.runs, 1));
  fmt::print("profile      {} runs: {:.2f} ms/run in steps of {:.2f} ms/run wall\n", p.runs, p.total_ms() / n, wall_ms / n);
  for (const auto* table : {&p.by_kind, &p.by_op}) {
    fmt::print("  {:<24} {:>10} {:>6} {:>8}\n", table == &p.by_kind ? "step kind" : "graph op", "ms/run", "share",
               "steps/run");
    for (const auto& [name, ms, steps] : per_run(*table, p.runs))
      fmt::print("  {:<24} {:>10.2f} {:>5.1f}% {:>8.0f}\n", name, ms, 100.0 * ms * n / std::max(wall_ms, 1e-9), steps);
  }
}

void run_bench(const ModelBenchOptions& o) {
  if (o.batch < 1) usage_fail("--batch must be at least 1");
  nn::set_threads(o.threads);
  nn::Graph graph = nn::load_model_graph(o.model);
  if (graph.inputs.size() != 1) fail("{}: the model has {} inputs; model bench takes one", o.model, graph.inputs.size());
  nn::CompileOptions opt;
  opt.precision = nn::precision_from_string(o.precision);
  opt.winograd = !o.no_winograd;
  opt.outputs = {o.layer.empty() ? graph.outputs.at(0).name : o.layer};
  const nn::ValueInfo declared = graph.inputs.at(0);
  std::vector<int64_t> shape = declared.shape;
  if (shape.empty()) fail("{}: input '{}' has no declared shape", o.model, declared.name);
  shape[0] = o.batch;
  for (size_t i = 1; i < shape.size(); ++i)
    if (shape[i] < 1) fail("{}: input '{}' has an unknown dimension {}", o.model, declared.name, i);
  nn::Tensor input = nn::Tensor::zeros(nn::DataType::float32, shape);
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (int64_t i = 0; i < input.element_count(); ++i) input.mutable_data<float>()[i] = dist(rng);
  calibrate_if_int8(opt, graph, o.calibration, o.calibration_method, input);
  auto load_start = std::chrono::steady_clock::now();
  auto model = nn::Model::compile(std::move(graph), opt);
  nn::Run run(model);
  run.forward({{declared.name, input}});  // builds the plan (primitives, weights), first touch of the buffers
  run.forward({{declared.name, input}});  // warm-up
  double first_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - load_start).count();
  std::vector<double> times;
  nn::StepProfile profile;
  if (o.profile) run.set_profile(&profile);
  auto bench_start = std::chrono::steady_clock::now();
  while (times.size() < 3 || (std::chrono::duration<double>(std::chrono::steady_clock::now() - bench_start).count() < o.seconds && times.size() < 1000)) {
    auto t0 = std::chrono::steady_clock::now();
    run.forward({{declared.name, input}});
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  run.set_profile(nullptr);
  const double wall_ms = std::accumulate(times.begin(), times.end(), 0.0);
  std::sort(times.begin(), times.end());
  double median = times[times.size() / 2];
  double mean = 0;
  for (double t : times) mean += t;
  mean /= static_cast<double>(times.size());
  double images_per_s = o.batch * 1000.0 / median;
  std::string isa = nn::effective_isa();
  const std::string precision = nn::to_string(model->options().precision);  // fp32 where bf16 has no native kernels
  std::map<std::string, int> kernel_counts;  // oneDNN implementation -> how many nodes it ran
  for (const auto& [node, impl] : run.onednn_kernels()) ++kernel_counts[impl];
  // Which ops ran in which arithmetic: op type -> precision -> nodes (int8 plans run some ops in fp32).
  std::map<std::string, std::map<std::string, int>> precisions;
  std::map<std::string, std::string> op_of;
  for (const auto& n : model->graph().nodes) op_of[n.name] = n.op_type;
  for (const auto& [node, precision] : run.node_precisions()) ++precisions[op_of[node]][precision];
  // A primitive on one of oneDNN's naive reference kernels is correct but tens of times slower than the rest.
  const std::vector<std::string> slow = run.reference_primitives();
  if (!slow.empty())
    spdlog::warn("{}: {} primitive(s) run on oneDNN's slow reference implementation: {}", o.model, slow.size(),
                 fmt::join(slow, "; "));
  if (o.json) {
    nlohmann::json j = {{"model", o.model}, {"batch", o.batch}, {"threads", o.threads}, {"precision", precision},
                        {"requested_precision", o.precision},
                        {"winograd", !o.no_winograd}, {"isa", isa}, {"images_per_s", images_per_s}, {"ms_per_batch", median},
                        {"ms_per_batch_mean", mean}, {"ms_per_batch_min", times.front()}, {"iterations", times.size()},
                        {"load_and_first_runs_ms", first_ms}, {"peak_rss_mb", peak_rss_mb()},
                        {"kernels", kernel_counts}, {"ref_primitives", slow}, {"op_precisions", precisions}};
    if (o.profile) j["profile"] = profile_json(profile, wall_ms);
    if (opt.calibration) j["calibration"] = {{"method", opt.calibration->method}, {"images", opt.calibration->images}};
    std::cout << j.dump() << "\n";
  } else {
    fmt::print("model        {}\n", o.model);
    fmt::print("batch        {} (threads {}, precision {}, oneDNN ISA {})\n", o.batch,
               o.threads > 0 ? std::to_string(o.threads) : "default", precision, isa);
    fmt::print("images/s     {:.2f}\n", images_per_s);
    fmt::print("ms/batch     {:.2f} median, {:.2f} min, {:.2f} mean over {} runs\n", median, times.front(), mean, times.size());
    fmt::print("peak RSS     {:.0f} MB\n", peak_rss_mb());
    for (const auto& [impl, count] : kernel_counts) fmt::print("kernel       {:>4} x {}\n", count, impl);
    for (const auto& p : slow) fmt::print("ref kernel   {}\n", p);
    for (const auto& [op, counts] : precisions)
      for (const auto& [precision, count] : counts) fmt::print("precision    {:>4} x {} in {}\n", count, op, precision);
    if (o.profile) print_profile(profile, wall_ms);
  }
}

}  // namespace

void add_model_commands(CLI::App& app) {
  auto* model = app.add_subcommand("model", "Inspect, run and benchmark a model (ONNX, Keras)");
  model->require_subcommand(1);

  auto info = std::make_shared<ModelInfoOptions>();
  auto* info_cmd = model->add_subcommand("info", "Inputs, outputs, layers, parameters, FLOPs and the default feature layer");
  info_cmd->add_option("model", info->model, "Model file (.onnx, .h5, model.json) or built-in name")->required();
  info_cmd->add_flag("--json", info->json, "JSON on stdout");
  info_cmd->callback([info] { run_info(*info); });

  auto runo = std::make_shared<ModelRunOptions>();
  auto* run_cmd = model->add_subcommand("run", "Run a model on a raw tensor (.npy, the model's layout: NCHW for ONNX)");
  run_cmd->add_option("model", runo->model, "Model file or built-in name")->required();
  run_cmd->add_option("--input", runo->input, "Input tensor (.npy)")->required();
  run_cmd->add_option("--out", runo->out, "Output tensor (.npy)")->required();
  run_cmd->add_option("--output,--layer", runo->output, "Tensor or layer to output; the graph is cut after it (default: first output)");
  run_cmd->add_option("--precision", runo->precision, "fp32 | bf16 | int8")->check(CLI::IsMember({"fp32", "bf16", "int8"}));
  run_cmd->add_option("--calibration", runo->calibration, "int8: calibration images (.npy, the input's layout); default: the input");
  run_cmd->add_option("--calibration-method", runo->calibration_method, "int8: minmax | percentile | entropy")
      ->check(CLI::IsMember({"minmax", "percentile", "entropy"}))->capture_default_str();
  run_cmd->add_flag("--no-winograd", runo->no_winograd, "Direct fp32 3x3 convolutions (bitwise closer to other runtimes)");
  run_cmd->add_flag("--reference-kernels", runo->reference_kernels,
                    "Every node on the engine's plain reference kernels, not oneDNN (slow; to tell an engine bug from a model's)");
  run_cmd->add_option("--threads", runo->threads, "Threads (0: all cores)")->check(CLI::NonNegativeNumber);
  run_cmd->callback([runo] { run_model(*runo); });

  auto bench = std::make_shared<ModelBenchOptions>();
  auto* bench_cmd = model->add_subcommand("bench", "Throughput and latency after a warm-up, on random input");
  bench_cmd->add_option("model", bench->model, "Model file or built-in name")->required();
  bench_cmd->add_option("--batch", bench->batch, "Images per batch")->check(CLI::PositiveNumber);
  bench_cmd->add_option("--threads", bench->threads, "Threads (0: all cores)")->check(CLI::NonNegativeNumber);
  bench_cmd->add_option("--precision", bench->precision, "fp32 | bf16 | int8")->check(CLI::IsMember({"fp32", "bf16", "int8"}));
  bench_cmd->add_option("--calibration", bench->calibration, "int8: calibration images (.npy); default: the random input");
  bench_cmd->add_option("--calibration-method", bench->calibration_method, "int8: minmax | percentile | entropy")
      ->check(CLI::IsMember({"minmax", "percentile", "entropy"}))->capture_default_str();
  bench_cmd->add_flag("--no-winograd", bench->no_winograd, "Direct fp32 3x3 convolutions, to measure what Winograd gains");
  bench_cmd->add_option("--layer", bench->layer, "Stop at this tensor or layer (default: the model's first output)");
  bench_cmd->add_option("--seconds", bench->seconds, "Measure for about this long (at least 3 runs)")->check(CLI::PositiveNumber);
  bench_cmd->add_flag("--profile", bench->profile,
                      "Time every step of the measured runs: ms per run by step kind (matmul, softmax, reorder, ...) "
                      "and by graph op, in the JSON's \"profile\" and as a table");
  bench_cmd->add_flag("--json", bench->json, "JSON on stdout: images_per_s, ms_per_batch, peak_rss_mb, isa, ...");
  bench_cmd->callback([bench] { run_bench(*bench); });
}

}  // namespace xfer::cli
