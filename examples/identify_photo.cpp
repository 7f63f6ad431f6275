// Names every face of a photo against a gallery: the library example the README quotes whole
// (tests/unit/doc_references_test.cpp checks that the two stay the same; ctest install_examples
// builds and runs it against the installed package).
#include <siamface/identify.hpp>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s GALLERY PHOTO\n", argv[0]);
    return 2;
  }
  try {
    const siamface::Engine engine = siamface::Engine::open();             // validates every model
    const siamface::Gallery gallery = siamface::Gallery::open(argv[1]);  // a file, or postgresql://
    const siamface::Image photo = siamface::load_image(argv[2]);
    // Default options: the gallery's saved threshold (else 0.6) and the default decision rule.
    for (const siamface::IdentifiedFace& face : siamface::identify_image(engine, gallery, photo, {})) {
      std::printf("%s %.2f\n", face.decision.person.c_str(), face.decision.distance);
    }
    return 0;
  } catch (const siamface::Error& e) {  // the one exception type, with a code (errors.hpp)
    std::fprintf(stderr, "%s: %s\n", siamface::to_string(e.code()), e.what());
    return 2;
  }
}
