// Age, gender, expression, liveness and head pose of every face of a photo (docs/analysis.md).
//   analyze_photo PHOTO
// Models come from $SIAMFACE_MODELS or ~/.cache/siamface/models (scripts/setup.sh).
#include <siamface/analysis.hpp>
#include <siamface/errors.hpp>
#include <siamface/image.hpp>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s PHOTO\n", argv[0]);
    return 2;
  }
  try {
    const siamface::Engine engine = siamface::Engine::open();
    siamface::AnalyzeOptions options;
    options.attributes = siamface::AttributeSet::all();
    const auto faces = siamface::analyze_faces(engine, siamface::load_image(argv[1]), options);
    std::printf("%s: %zu face(s)\n", argv[1], faces.size());
    for (const siamface::FaceAnalysis& a : faces) {
      if (a.too_small) {
        std::printf("face too small for the attributes\n");
        continue;
      }
      std::printf("face age=%.0f gender=%s (%.2f) expression=%s liveness=%s (%.2f) yaw=%.0f\n", *a.age,
                  a.gender->value.c_str(), a.gender->probability, a.expression->value.c_str(),
                  siamface::name_of(siamface::kLivenessVerdictNames, a.liveness->verdict), a.liveness->score,
                  a.pose->yaw);
    }
    return 0;
  } catch (const siamface::Error& e) {
    std::fprintf(stderr, "error (%s): %s\n", siamface::to_string(e.code()), e.what());
    return 2;
  }
}
