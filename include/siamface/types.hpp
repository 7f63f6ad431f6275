// Value types shared by every stage. No framework types appear here.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace siamface {

inline constexpr int kLandmarkCount = 68;
inline constexpr int kDlibEmbeddingSize = 128;  // dlib's ResNet; other recognizers differ (Embedding::size())
inline constexpr int kChipSize = 150;  // side of the aligned face chip fed to the embedder

struct Point {
  float x = 0.0F;
  float y = 0.0F;
};

// Axis-aligned box in original-image pixels.
struct Box {
  float left = 0.0F;
  float top = 0.0F;
  float width = 0.0F;
  float height = 0.0F;

  float right() const { return left + width; }
  float bottom() const { return top + height; }
  float area() const { return width > 0 && height > 0 ? width * height : 0.0F; }
  Point center() const { return {left + width / 2, top + height / 2}; }
};

float intersection_over_union(const Box& a, const Box& b);

// dlib / iBUG 300-W order: 0-16 jaw, 17-21 right brow, 22-26 left brow, 27-35 nose,
// 36-41 right eye, 42-47 left eye, 48-67 mouth ("right" is the subject's right).
using Landmarks = std::array<Point, kLandmarkCount>;

// A face's embedding: 128 floats from dlib's ResNet, 512 from the MobileFaceNet, 640 fused
// (ModelOptions::recognizer). Embeddings of different recognizers are never compared.
using Embedding = std::vector<float>;

// Throws Error(kInvalidArgument) when the sizes differ.
float euclidean_distance(const Embedding& a, const Embedding& b);

// Per-face measures used by quality gates, enhancement and reports.
struct FaceQuality {
  float face_size_px = 0.0F;   // shorter side of the detection box
  float brightness = 0.0F;     // mean luminance of the face region, 0..255
  float contrast = 0.0F;       // std-dev of luminance, 0..255
  float sharpness = 0.0F;      // variance of the Laplacian of the face region
  float noise = 0.0F;          // estimated noise sigma, grey levels
  float yaw = 0.0F;            // head turn from landmarks, -1 (full left) .. 1 (full right)
  bool grayscale = false;      // the photo carries no colour
};

struct Face {
  Box box;
  float score = 0.0F;  // detector confidence, 0..1
  Landmarks landmarks{};
  FaceQuality quality;
};

// Interleaved 8-bit BGR pixels, row-major, no padding: bgr.size() == width * height * 3.
struct Image {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> bgr;

  bool empty() const { return width <= 0 || height <= 0; }
};

}  // namespace siamface
