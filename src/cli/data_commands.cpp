// xfer data import-idx: MNIST-format IDX files -> an ImageFolder of PNG (or JPEG) files.
#include <iostream>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "data/idx_import.h"

namespace xfer::cli {
namespace {

struct ImportIdxCommandOptions {
  data::IdxImportOptions import;
  std::string class_names;
  bool json = false;
};

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> parts;
  if (text.empty()) return parts;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    parts.push_back(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return parts;
}

void run_import_idx(ImportIdxCommandOptions& o) {
  o.import.class_names = split_commas(o.class_names);
  const auto result = data::import_idx(o.import);
  if (o.json) {
    nlohmann::json per_class = nlohmann::json::object();
    for (size_t c = 0; c < result.class_names.size(); ++c) per_class[result.class_names[c]] = result.per_class[c];
    std::cout << nlohmann::json{{"out", o.import.out.string()},
                                {"images", result.images},
                                {"already_done", result.already_done},
                                {"per_class", per_class}}
                     .dump(1)
              << "\n";
    return;
  }
  std::cout << fmt::format("{} {} images into {}\n", result.already_done ? "already imported:" : "imported",
                           result.images, o.import.out.string());
  for (size_t c = 0; c < result.class_names.size(); ++c)
    std::cout << fmt::format("  {:<16} {}\n", result.class_names[c], result.per_class[c]);
}

}  // namespace

void add_data_commands(CLI::App& app) {
  auto* data = app.add_subcommand("data", "Data set tools");
  data->require_subcommand(1);
  auto o = std::make_shared<ImportIdxCommandOptions>();
  auto* cmd = data->add_subcommand("import-idx", "Write MNIST-format IDX files (gzip or plain) as an ImageFolder");
  cmd->add_option("--images", o->import.images, "IDX image file (e.g. train-images-idx3-ubyte.gz)")->required();
  cmd->add_option("--labels", o->import.labels, "IDX label file (e.g. train-labels-idx1-ubyte.gz)")->required();
  cmd->add_option("--out", o->import.out, "ImageFolder to create (OUT/<class>/<index>.png)")->required();
  cmd->add_option("--class-names", o->class_names,
                  "Folder name per label, comma-separated (default: the label numbers); 'fashion-mnist' for "
                  "t-shirt_top,trouser,pullover,dress,coat,sandal,shirt,sneaker,bag,ankle_boot");
  cmd->add_option("--format", o->import.format, "Image file format")
      ->check(CLI::IsMember({"png", "jpeg"}))
      ->capture_default_str();
  cmd->add_option("--limit", o->import.limit, "Import only the first N images in file order")->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  cmd->add_option("--threads", o->import.threads, "Threads (0: all cores)")->check(CLI::Range(0, 4096));
  cmd->add_flag("--json", o->json, "Print the summary as JSON");
  cmd->callback([o] { run_import_idx(*o); });
}

}  // namespace xfer::cli
