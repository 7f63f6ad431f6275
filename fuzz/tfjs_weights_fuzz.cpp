// Fuzzes the TF.js weights loader (WeightMap::parse, the code behind WeightMap::load).
// Input: the manifest JSON, a NUL byte, then the shard bytes. The shard bytes are split in two
// halves named "shard1" and "shard2", so a manifest can name one shard or concatenate both.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "model/tfjs_weights.hpp"
#include "siamface/errors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t separator = input.find('\0');
  const std::string manifest(input.substr(0, separator));
  const std::string_view shards = separator == std::string_view::npos ? std::string_view() : input.substr(separator + 1);
  const std::map<std::string, std::string> shard_bytes = {
      {"shard1", std::string(shards.substr(0, shards.size() / 2))},
      {"shard2", std::string(shards.substr(shards.size() / 2))}};

  // Once without expectations (every tensor is decoded), once against a small declared list
  // (the validation a network does: names, shapes, dtypes, unexpected tensors).
  static const std::vector<siamface::TensorSpec> kExpected = {
      {"conv/filters", {1, 1, 2, 2}, siamface::TensorDType::kFloat32},
      {"conv/bias", {2}, siamface::TensorDType::kFloat32},
      {"shape", {2}, siamface::TensorDType::kInt32}};
  for (const auto* expected : {&kExpected, static_cast<const std::vector<siamface::TensorSpec>*>(nullptr)}) {
    try {
      const siamface::WeightMap map =
          siamface::WeightMap::parse(manifest, "fuzz", shard_bytes, expected ? *expected : std::vector<siamface::TensorSpec>{});
      // A parsed tensor must hold exactly as many values as its shape says.
      if (expected) {
        for (const auto& spec : *expected) {
          const siamface::WeightTensor& t = map.at(spec.name);
          const std::size_t held = t.dtype == siamface::TensorDType::kInt32 ? t.ints.size() : t.values.size();
          if (held != t.element_count()) __builtin_trap();
        }
      }
    } catch (const siamface::Error&) {
      // Rejected cleanly: the expected outcome for almost every input.
    }
  }
  return 0;
}
