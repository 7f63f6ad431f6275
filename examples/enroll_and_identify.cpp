// One-shot recognition: enrols one photo per person into a gallery, then names the faces of
// a probe photo.
//   enroll_and_identify GALLERY.db PROBE NAME=PHOTO [NAME=PHOTO ...]
#include <siamface/engine.hpp>
#include <siamface/errors.hpp>
#include <siamface/gallery.hpp>
#include <siamface/image.hpp>
#include <siamface/identify.hpp>

#include <cstdio>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s GALLERY.db PROBE NAME=PHOTO [NAME=PHOTO ...]\n", argv[0]);
    return 2;
  }
  try {
    const siamface::Engine engine = siamface::Engine::open();
    siamface::Gallery gallery = siamface::Gallery::open(argv[1]);

    std::vector<siamface::EnrollResult> batch;
    for (int i = 3; i < argc; ++i) {
      const std::string arg = argv[i];
      const auto eq = arg.find('=');
      if (eq == std::string::npos) {
        std::fprintf(stderr, "expected NAME=PHOTO, got %s\n", arg.c_str());
        return 2;
      }
      siamface::EnrollOptions options;
      options.take_largest = true;
      batch.push_back(siamface::prepare_enrollment(engine, arg.substr(0, eq), arg.substr(eq + 1),
                                                   options));
    }
    siamface::commit_enrollments(gallery, batch);  // one transaction for the batch
    for (const siamface::EnrollResult& r : batch) {
      std::printf("enrol %s: %s %s\n", r.source_path.c_str(), siamface::to_string(r.status),
                  r.reason.c_str());
    }

    // Default options: the gallery's saved threshold (else 0.6) and the default decision rule.
    const auto faces = siamface::identify_image(engine, gallery, siamface::load_image(argv[2]), {});
    std::printf("%s: %zu face(s)\n", argv[2], faces.size());
    for (const siamface::IdentifiedFace& f : faces) {
      std::printf("face box=(%.0f,%.0f %.0fx%.0f) -> %s (distance %.3f, threshold %.2f)\n",
                  f.face.box.left, f.face.box.top, f.face.box.width, f.face.box.height,
                  f.decision.person.c_str(), f.decision.distance, f.decision.threshold);
    }
    return 0;
  } catch (const siamface::Error& e) {
    std::fprintf(stderr, "error (%s): %s\n", siamface::to_string(e.code()), e.what());
    return 2;
  }
}
