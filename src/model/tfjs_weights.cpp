#include "model/tfjs_weights.hpp"

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>

#include "siamface/errors.hpp"

namespace siamface {
namespace {

using nlohmann::json;

std::string shape_text(const std::vector<int>& shape) {
  std::ostringstream out;
  out << '[';
  for (std::size_t i = 0; i < shape.size(); ++i) out << (i ? "," : "") << shape[i];
  out << ']';
  return out.str();
}

[[noreturn]] void corrupt(const std::string& where, const std::string& what) {
  throw Error(ErrorCode::kModelCorrupt, where + ": " + what);
}

std::string read_file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw Error(ErrorCode::kModelMissing,
                "model file not found: " + path.string() +
                    " (run scripts/setup.sh, or point ModelOptions::models_dir / SIAMFACE_MODELS at the models)");
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// An optional string member ("" when absent). json::value() would throw its own type_error
// for a member of another type (found by fuzz/tfjs_weights_fuzz.cpp); that is corrupt here.
std::string optional_string(const json& object, const char* key, const std::string& where) {
  const auto it = object.find(key);
  if (it == object.end()) return {};
  if (!it->is_string()) corrupt(where, std::string("\"") + key + "\" is not a string");
  return it->get<std::string>();
}

// One tensor's byte layout inside the concatenated shards of its group.
struct Entry {
  WeightTensor tensor;
  std::string quantization;  // "", "uint8" or "uint16"
  double scale = 1.0;
  double min = 0.0;
  std::size_t byte_count = 0;
};

Entry parse_entry(const json& item, const std::string& label) {
  Entry entry;
  if (!item.is_object() || !item.contains("name") || !item["name"].is_string()) {
    corrupt(label, "weight entry without a string \"name\"");
  }
  entry.tensor.name = item["name"].get<std::string>();
  const std::string where = label + ": tensor '" + entry.tensor.name + "'";
  if (!item.contains("shape") || !item["shape"].is_array()) corrupt(where, "missing \"shape\"");
  std::size_t count = 1;
  for (const auto& dim : item["shape"]) {
    if (!dim.is_number_integer() || dim.get<long long>() < 0 || dim.get<long long>() > (1 << 24)) {
      corrupt(where, "bad dimension in \"shape\"");
    }
    entry.tensor.shape.push_back(dim.get<int>());
    count *= static_cast<std::size_t>(dim.get<int>());
    if (count > (std::size_t{1} << 28)) corrupt(where, "shape too large");
  }
  const std::string dtype = optional_string(item, "dtype", where);
  if (dtype == "float32") {
    entry.tensor.dtype = TensorDType::kFloat32;
  } else if (dtype == "int32") {
    entry.tensor.dtype = TensorDType::kInt32;
  } else {
    corrupt(where, "unsupported dtype '" + dtype + "' (expected float32 or int32)");
  }
  std::size_t element_bytes = 4;
  if (item.contains("quantization")) {
    const json& q = item["quantization"];
    if (!q.is_object()) corrupt(where, "\"quantization\" is not an object");
    entry.quantization = optional_string(q, "dtype", where);
    if (entry.quantization == "uint8") {
      element_bytes = 1;
    } else if (entry.quantization == "uint16") {
      element_bytes = 2;
    } else {
      corrupt(where, "unsupported quantization dtype '" + entry.quantization + "'");
    }
    if (!q.contains("scale") || !q["scale"].is_number() || !q.contains("min") ||
        !q["min"].is_number()) {
      corrupt(where, "quantization needs numeric \"scale\" and \"min\"");
    }
    entry.scale = q["scale"].get<double>();
    entry.min = q["min"].get<double>();
  }
  entry.byte_count = count * element_bytes;
  return entry;
}

void decode_entry(Entry& entry, const unsigned char* data) {
  const std::size_t count = entry.tensor.element_count();
  // A zero-sized dimension: nothing to copy, and memcpy to an empty vector's null data() is
  // undefined even for 0 bytes (found by fuzz/tfjs_weights_fuzz.cpp).
  if (count == 0) return;
  WeightTensor& t = entry.tensor;
  if (t.dtype == TensorDType::kInt32) {
    t.ints.resize(count);
    if (entry.quantization.empty()) {
      std::memcpy(t.ints.data(), data, count * 4);
      return;
    }
    // Quantized int32 (e.g. the SSD model's shape constants): TF.js rounds the dequantized value.
    for (std::size_t i = 0; i < count; ++i) {
      std::uint16_t q = data[i];
      if (entry.quantization == "uint16") std::memcpy(&q, data + 2 * i, 2);
      t.ints[i] = static_cast<std::int32_t>(std::lround(q * entry.scale + entry.min));
    }
    return;
  }
  t.values.resize(count);
  if (entry.quantization == "uint8") {
    for (std::size_t i = 0; i < count; ++i) {
      t.values[i] = static_cast<float>(data[i] * entry.scale + entry.min);
    }
  } else if (entry.quantization == "uint16") {
    for (std::size_t i = 0; i < count; ++i) {
      std::uint16_t q = 0;
      std::memcpy(&q, data + 2 * i, 2);
      t.values[i] = static_cast<float>(q * entry.scale + entry.min);
    }
  } else {
    std::memcpy(t.values.data(), data, count * 4);
  }
}

}  // namespace

std::size_t WeightTensor::element_count() const {
  return std::accumulate(shape.begin(), shape.end(), std::size_t{1},
                         [](std::size_t a, int b) { return a * static_cast<std::size_t>(b); });
}

WeightMap WeightMap::parse(const std::string& manifest_json, const std::string& label,
                           const std::map<std::string, std::string>& shard_bytes,
                           const std::vector<TensorSpec>& expected) {
  json manifest = json::parse(manifest_json, nullptr, /*allow_exceptions=*/false);
  if (manifest.is_discarded()) corrupt(label, "not valid JSON");
  if (!manifest.is_array()) corrupt(label, "manifest is not a JSON array of weight groups");

  WeightMap map;
  for (const json& group : manifest) {
    if (!group.is_object() || !group.contains("paths") || !group["paths"].is_array() ||
        !group.contains("weights") || !group["weights"].is_array()) {
      corrupt(label, "weight group without \"paths\" and \"weights\" arrays");
    }
    std::string blob;
    for (const json& path : group["paths"]) {
      if (!path.is_string()) corrupt(label, "non-string shard path");
      const auto it = shard_bytes.find(path.get<std::string>());
      if (it == shard_bytes.end()) corrupt(label, "shard '" + path.get<std::string>() + "' missing");
      blob += it->second;
    }
    std::size_t offset = 0;
    for (const json& item : group["weights"]) {
      Entry entry = parse_entry(item, label);
      if (offset + entry.byte_count > blob.size()) {
        corrupt(label, "tensor '" + entry.tensor.name + "' runs past the end of its shard (needs " +
                           std::to_string(offset + entry.byte_count) + " bytes, shard has " +
                           std::to_string(blob.size()) + ")");
      }
      decode_entry(entry, reinterpret_cast<const unsigned char*>(blob.data()) + offset);
      offset += entry.byte_count;
      if (map.tensors_.count(entry.tensor.name)) {
        corrupt(label, "tensor '" + entry.tensor.name + "' appears twice");
      }
      map.tensors_.emplace(entry.tensor.name, std::move(entry.tensor));
    }
    if (offset != blob.size()) {
      corrupt(label, "shard holds " + std::to_string(blob.size()) + " bytes but the manifest describes " +
                         std::to_string(offset));
    }
  }

  for (const TensorSpec& spec : expected) {
    const auto it = map.tensors_.find(spec.name);
    if (it == map.tensors_.end()) corrupt(label, "tensor '" + spec.name + "' is missing");
    if (it->second.shape != spec.shape) {
      corrupt(label, "tensor '" + spec.name + "' has shape " + shape_text(it->second.shape) +
                         ", expected " + shape_text(spec.shape));
    }
    if (it->second.dtype != spec.dtype) corrupt(label, "tensor '" + spec.name + "' has the wrong dtype");
  }
  if (!expected.empty() && map.tensors_.size() != expected.size()) {
    for (const auto& [name, tensor] : map.tensors_) {
      bool known = false;
      for (const TensorSpec& spec : expected) known = known || spec.name == name;
      if (!known) corrupt(label, "unexpected tensor '" + name + "'");
    }
  }
  return map;
}

WeightMap WeightMap::load(const std::filesystem::path& manifest_path,
                          const std::vector<TensorSpec>& expected) {
  const std::string manifest_text = read_file_bytes(manifest_path);
  json manifest = json::parse(manifest_text, nullptr, false);
  std::map<std::string, std::string> shards;
  if (manifest.is_array()) {
    for (const json& group : manifest) {
      if (!group.is_object() || !group.contains("paths") || !group["paths"].is_array()) continue;
      for (const json& path : group["paths"]) {
        if (!path.is_string()) continue;
        const std::string name = path.get<std::string>();
        // Shard names come from the file; refuse any that would leave the model directory.
        if (name.find('/') != std::string::npos || name.find('\\') != std::string::npos || name == ".." ||
            name.empty()) {
          corrupt(manifest_path.string(), "shard path '" + name + "' is not a plain file name");
        }
        shards[name] = read_file_bytes(manifest_path.parent_path() / name);
      }
    }
  }
  return parse(manifest_text, manifest_path.string(), shards, expected);
}

const WeightTensor& WeightMap::at(const std::string& name) const {
  const auto it = tensors_.find(name);
  if (it == tensors_.end()) throw Error(ErrorCode::kModelCorrupt, "tensor '" + name + "' is missing");
  return it->second;
}

}  // namespace siamface
