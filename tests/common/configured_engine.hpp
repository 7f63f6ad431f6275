// An engine with the per-call options of one setting, for tests that compare settings
// (enhancement, augmentation) on one photo.
#pragma once

#include <vector>

#include "siamface/engine.hpp"

namespace siamface::test {

struct ConfiguredEngine {
  Engine engine;
  PipelineOptions pipeline;

  std::vector<Face> detect(const Image& image) const { return engine.detect(image, pipeline); }
  Image align(const Image& image, const Face& face) const { return engine.align(image, face, pipeline.chip); }
  Embedding embed(const Image& image, const Face& face) const { return engine.embed(image, face, pipeline.chip); }
  std::vector<FaceEmbedding> analyze(const Image& image) const { return engine.analyze(image, pipeline); }
  Embedding embed_chip(const Image& chip) const { return engine.embed_chip(chip); }
};

}  // namespace siamface::test
