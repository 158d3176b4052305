#include "plugins/deploy/oci.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace fs = std::filesystem;

namespace wrt::deploy {

namespace {

constexpr const char* kEmptyConfig = "{}";  // image-spec 1.1 "empty descriptor"

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Writes `bytes` to `path` unless a file with them is there already.
bool put_blob(const fs::path& path, const std::string& bytes) {
  if (sha256_file(path.string()) == sha256_hex(bytes)) return true;
  const fs::path tmp = path.parent_path() / (".tmp-" + path.filename().string() + "-" + std::to_string(::getpid()));
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << bytes;
    if (!out.flush()) return false;
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  return !ec;
}

nlohmann::json read_index(const fs::path& dir, std::string& error) {
  const fs::path file = dir / "index.json";
  std::error_code ec;
  if (!fs::exists(file, ec)) return {{"schemaVersion", 2}, {"mediaType", "application/vnd.oci.image.index.v1+json"}, {"manifests", nlohmann::json::array()}};
  std::ifstream in(file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  auto j = nlohmann::json::parse(text.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("manifests") || !j["manifests"].is_array()) {
    error = file.string() + ": not an OCI image index";
    return {};
  }
  return j;
}

std::string ref_of(const nlohmann::json& descriptor) {
  if (!descriptor.is_object() || !descriptor.contains("annotations") || !descriptor["annotations"].is_object()) return {};
  const auto& a = descriptor["annotations"];
  auto it = a.find("org.opencontainers.image.ref.name");
  return it != a.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::string layer_media_type(const std::string& name) {
  if (ends_with(name, ".tar")) return "application/vnd.oci.image.layer.v1.tar";
  if (ends_with(name, ".tar.gz") || ends_with(name, ".tgz")) return "application/vnd.oci.image.layer.v1.tar+gzip";
  if (ends_with(name, ".tar.zst")) return "application/vnd.oci.image.layer.v1.tar+zstd";
  return "application/octet-stream";
}

std::string oci_manifest(const std::vector<Artifact>& artifacts, const std::map<std::string, std::string>& annotations) {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& a : artifacts)
    layers.push_back({{"mediaType", layer_media_type(a.name)},
                      {"digest", "sha256:" + a.sha256},
                      {"size", a.size},
                      {"annotations", {{"org.opencontainers.image.title", a.name}}}});
  nlohmann::json m = {{"schemaVersion", 2},
                      {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                      {"artifactType", "application/vnd.wrt.release.v1"},
                      {"config",
                       {{"mediaType", "application/vnd.oci.empty.v1+json"},
                        {"digest", "sha256:" + sha256_hex(kEmptyConfig)},
                        {"size", 2},
                        {"data", "e30="}}},
                      {"layers", layers}};
  if (!annotations.empty()) m["annotations"] = annotations;
  return m.dump();
}

std::string oci_tag(const std::string& layout_dir, const std::string& manifest, const std::string& ref) {
  const fs::path dir(layout_dir);
  const fs::path blobs = dir / "blobs" / "sha256";
  std::error_code ec;
  fs::create_directories(blobs, ec);
  if (!put_blob(dir / "oci-layout", R"({"imageLayoutVersion":"1.0.0"})") || !put_blob(blobs / sha256_hex(kEmptyConfig), kEmptyConfig) ||
      !put_blob(blobs / sha256_hex(manifest), manifest))
    return "cannot write into " + layout_dir;
  std::string error;
  nlohmann::json index = read_index(dir, error);
  if (!error.empty()) return error;
  nlohmann::json kept = nlohmann::json::array();
  for (const auto& d : index["manifests"])
    if (ref_of(d) != ref) kept.push_back(d);
  kept.push_back({{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                  {"digest", "sha256:" + sha256_hex(manifest)},
                  {"size", manifest.size()},
                  {"artifactType", "application/vnd.wrt.release.v1"},
                  {"annotations", {{"org.opencontainers.image.ref.name", ref}}}});
  index["manifests"] = kept;
  if (!index.contains("schemaVersion")) index["schemaVersion"] = 2;
  if (!put_blob(dir / "index.json", index.dump(2) + "\n")) return "cannot write " + (dir / "index.json").string();
  return {};
}

std::string oci_tagged(const std::string& layout_dir, const std::string& ref) {
  std::string error;
  nlohmann::json index = read_index(layout_dir, error);
  if (!error.empty()) return {};
  for (const auto& d : index["manifests"])
    if (ref_of(d) == ref && d.contains("digest") && d["digest"].is_string()) return d["digest"].get<std::string>();
  return {};
}

}  // namespace wrt::deploy
