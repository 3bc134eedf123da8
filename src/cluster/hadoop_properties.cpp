#include "cluster/hadoop_properties.h"

#include <sstream>

#include <pugixml.hpp>

#include "util/error.h"

namespace xfer::cluster {

const std::vector<UndeclaredProperty>& properties_read_without_default() {
  static const std::vector<UndeclaredProperty> list = {
      // yarn.nodemanager.aux-services.<service>.class: the NodeManager reads it for every name in
      // yarn.nodemanager.aux-services; only mapreduce_shuffle's has a default.
      {"yarn.nodemanager.aux-services.spark_shuffle.class",
       "aux-service class for the name spark_shuffle in yarn.nodemanager.aux-services (Spark's external shuffle)"},
      // The CapacityScheduler's own settings live in capacity-scheduler.xml, which has no *-default.xml.
      {"yarn.scheduler.capacity.root.queues", "CapacityScheduler: the queues under root"},
      {"yarn.scheduler.capacity.root.default.capacity", "CapacityScheduler: share of the default queue (percent)"},
      {"yarn.scheduler.capacity.root.default.maximum-capacity", "CapacityScheduler: ceiling of the default queue"},
      {"yarn.scheduler.capacity.maximum-am-resource-percent",
       "CapacityScheduler: share of the cluster that ApplicationMasters (Spark drivers in cluster mode) may use"},
      {"yarn.scheduler.capacity.resource-calculator",
       "CapacityScheduler: DominantResourceCalculator makes vcores count, not only memory"},
  };
  return list;
}

const std::vector<UndeclaredProperty>& properties_newer_than_shared_defaults() {
  static const std::vector<UndeclaredProperty> list = {
      {"mapreduce.map.memory.mb", "MRJobConfig.MAP_MEMORY_MB; in mapred-default.xml since Hadoop 2.x"},
      {"mapreduce.reduce.memory.mb", "MRJobConfig.REDUCE_MEMORY_MB; in mapred-default.xml since Hadoop 2.x"},
      {"mapreduce.map.java.opts", "MRJobConfig.MAP_JAVA_OPTS; in mapred-default.xml since Hadoop 2.x"},
      {"mapreduce.reduce.java.opts", "MRJobConfig.REDUCE_JAVA_OPTS; in mapred-default.xml since Hadoop 2.x"},
      {"mapreduce.map.env", "MRJobConfig.MAP_ENV; in mapred-default.xml since Hadoop 2.x"},
      {"mapreduce.reduce.env", "MRJobConfig.REDUCE_ENV; in mapred-default.xml since Hadoop 2.x"},
  };
  return list;
}

std::string hadoop_configuration_xml(const std::string& header, const std::vector<Property>& properties) {
  pugi::xml_document doc;
  auto decl = doc.append_child(pugi::node_declaration);
  decl.append_attribute("version") = "1.0";
  decl.append_attribute("encoding") = "UTF-8";
  doc.append_child(pugi::node_comment).set_value((" " + header + " ").c_str());
  auto configuration = doc.append_child("configuration");
  for (const auto& p : properties) {
    if (!p.reason.empty()) {
      // "--" may not appear inside an XML comment.
      std::string reason = p.reason;
      for (size_t at; (at = reason.find("--")) != std::string::npos;) reason.replace(at, 2, "- -");
      configuration.append_child(pugi::node_comment).set_value((" " + reason + " ").c_str());
    }
    auto property = configuration.append_child("property");
    property.append_child("name").text().set(p.name.c_str());
    property.append_child("value").text().set(p.value.c_str());
  }
  std::ostringstream out;
  doc.save(out, "  ", pugi::format_default, pugi::encoding_utf8);
  return out.str();
}

std::map<std::string, std::string> read_hadoop_configuration(const std::filesystem::path& path) {
  pugi::xml_document doc;
  const auto result = doc.load_file(path.c_str());
  if (!result) fail("{}: not readable as XML at byte {}: {}", path.string(), result.offset, result.description());
  const auto configuration = doc.child("configuration");
  if (!configuration) fail("{}: no <configuration> element; is this a Hadoop *-site.xml?", path.string());
  std::map<std::string, std::string> values;
  for (const auto& property : configuration.children("property")) {
    const std::string name = property.child_value("name");
    if (name.empty()) fail("{}: a <property> without <name>", path.string());
    std::string value = property.child_value("value");
    // Hadoop trims values.
    while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) value.pop_back();
    while (!value.empty() && std::isspace(static_cast<unsigned char>(value.front()))) value.erase(0, 1);
    values[name] = value;
  }
  return values;
}

}  // namespace xfer::cluster
