// Loader for the TF.js "weights manifest + .bin shards" format used by face-api.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace siamface {

enum class TensorDType { kFloat32, kInt32 };

struct WeightTensor {
  std::string name;
  TensorDType dtype = TensorDType::kFloat32;
  std::vector<int> shape;          // as stored by TF (conv filters are [kh, kw, cin, cout])
  std::vector<float> values;       // dequantized float32 data (kFloat32)
  std::vector<std::int32_t> ints;  // int32 data (kInt32)

  std::size_t element_count() const;
};

// What a network expects of one tensor.
struct TensorSpec {
  std::string name;
  std::vector<int> shape;
  TensorDType dtype = TensorDType::kFloat32;
};

// A parsed, fully validated weights file set. Immutable once loaded.
// Thread safety: const access is safe from many threads.
class WeightMap {
 public:
  // Reads `<dir>/<model>-weights_manifest.json` and its shards. Every tensor in `expected`
  // must be present with that dtype and shape; unexpected tensors are an error too.
  // Throws Error(kModelMissing) for absent files and Error(kModelCorrupt) naming the file
  // and tensor for anything else (bad JSON, unknown dtype, short shard, wrong shape, ...).
  static WeightMap load(const std::filesystem::path& manifest_path,
                        const std::vector<TensorSpec>& expected);

  // Parses from memory: the manifest text and the shard bytes by path, in manifest order.
  static WeightMap parse(const std::string& manifest_json, const std::string& manifest_label,
                         const std::map<std::string, std::string>& shard_bytes,
                         const std::vector<TensorSpec>& expected);

  const WeightTensor& at(const std::string& name) const;  // throws Error(kModelCorrupt)
  bool contains(const std::string& name) const { return tensors_.count(name) > 0; }
  std::size_t size() const { return tensors_.size(); }

 private:
  std::map<std::string, WeightTensor> tensors_;
};

}  // namespace siamface
