#pragma once
// Hadoop *-site.xml writing (pugixml), and the names render may use that Hadoop's own *-default.xml files do not
// list. Hadoop silently ignores a misspelled property, so every name we write is either in Hadoop's defaults
// (the test checks this against the copies in ../shared/data/hadoop-defaults) or in one of these lists.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace xfer::cluster {

struct Property {
  std::string name, value;
  std::string reason;  // written as an XML comment before the property
};

struct UndeclaredProperty {
  std::string name;
  std::string why;  // why it is not in the default files
};

// Read by Hadoop (or a plug-in it loads) with no entry in any *-default.xml.
const std::vector<UndeclaredProperty>& properties_read_without_default();
// In Hadoop 3's mapred-default.xml but not in the older mapred-default.xml copy in ../shared (a 2.0-line file).
const std::vector<UndeclaredProperty>& properties_newer_than_shared_defaults();

// <?xml?><configuration> with a header comment, then a comment + <property> per entry.
std::string hadoop_configuration_xml(const std::string& header, const std::vector<Property>& properties);

// name -> value of every <property> in a Hadoop configuration file. Throws Error naming the file on bad XML.
std::map<std::string, std::string> read_hadoop_configuration(const std::filesystem::path& path);

}  // namespace xfer::cluster
