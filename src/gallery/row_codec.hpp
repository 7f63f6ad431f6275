// How a face's binary columns are laid out, for every backend: landmarks as 68 (x, y) float
// pairs (544 bytes), embeddings as a whole number of floats, both little-endian.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

#include "gallery/validation.hpp"
#include "siamface/types.hpp"

namespace siamface::gallery {

static_assert(std::endian::native == std::endian::little, "blobs are stored little-endian");
static_assert(sizeof(Landmarks) == 544);

inline std::span<const std::uint8_t> landmark_bytes(const Landmarks& landmarks) {
  return {reinterpret_cast<const std::uint8_t*>(&landmarks), sizeof(Landmarks)};
}

inline std::span<const std::uint8_t> embedding_bytes(const Embedding& embedding) {
  return {reinterpret_cast<const std::uint8_t*>(embedding.data()), embedding.size() * sizeof(float)};
}

// nullopt unless the blob is exactly 544 bytes.
inline std::optional<Landmarks> landmarks_from_bytes(std::span<const std::uint8_t> blob) {
  if (blob.size() != sizeof(Landmarks)) return std::nullopt;
  Landmarks landmarks;
  std::memcpy(landmarks.data(), blob.data(), sizeof(Landmarks));
  return landmarks;
}

// nullopt unless the blob is a whole number of floats, 1 to kMaxEmbeddingFloats.
inline std::optional<Embedding> embedding_from_bytes(std::span<const std::uint8_t> blob) {
  if (blob.empty() || blob.size() % sizeof(float) != 0 || blob.size() > kMaxEmbeddingFloats * sizeof(float)) {
    return std::nullopt;
  }
  Embedding embedding(blob.size() / sizeof(float));
  std::memcpy(embedding.data(), blob.data(), blob.size());
  return embedding;
}

}  // namespace siamface::gallery
