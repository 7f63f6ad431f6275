// Detects every face of a photo and prints its box, score and embedding.
//   detect_and_embed PHOTO
// Models come from $SIAMFACE_MODELS or ~/.cache/siamface/models (scripts/setup.sh).
#include <siamface/engine.hpp>
#include <siamface/errors.hpp>
#include <siamface/image.hpp>

#include <cmath>
#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s PHOTO\n", argv[0]);
    return 2;
  }
  try {
    const siamface::Engine engine = siamface::Engine::open();
    const siamface::Image image = siamface::load_image(argv[1]);
    const auto faces = engine.analyze(image);
    std::printf("%s: %dx%d, %zu face(s)\n", argv[1], image.width, image.height, faces.size());
    for (const siamface::FaceEmbedding& f : faces) {
      double norm = 0;
      for (float v : f.embedding) norm += double{v} * v;
      std::printf("face box=(%.0f,%.0f %.0fx%.0f) score=%.3f embedding[%zu] norm=%.3f first=%.4f\n",
                  f.face.box.left, f.face.box.top, f.face.box.width, f.face.box.height,
                  f.face.score, f.embedding.size(), std::sqrt(norm), f.embedding[0]);
    }
    return 0;
  } catch (const siamface::Error& e) {
    std::fprintf(stderr, "error (%s): %s\n", siamface::to_string(e.code()), e.what());
    return 2;
  }
}
