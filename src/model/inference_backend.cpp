#include "model/inference_backend.hpp"

#include <cstdlib>
#include <cstring>
#include <string>

#include "siamface/errors.hpp"

namespace siamface {

namespace {

InferenceBackend backend_from_environment() {
  const char* value = std::getenv("SIAMFACE_RECOGNITION_BACKEND");
  if (value == nullptr || *value == '\0') return InferenceBackend::kAuto;
  if (std::strcmp(value, "opencv") == 0) return InferenceBackend::kOpenCv;
  if (std::strcmp(value, "onednn") == 0) return InferenceBackend::kOneDnn;
  if (std::strcmp(value, "onednn-bf16") == 0) return InferenceBackend::kOneDnnBf16;
  throw Error(ErrorCode::kInvalidArgument, std::string("SIAMFACE_RECOGNITION_BACKEND is '") + value +
                                               "'; expected opencv, onednn or onednn-bf16");
}

}  // namespace

InferenceBackend resolve_inference_backend(InferenceBackend requested) {
  InferenceBackend backend = requested == InferenceBackend::kAuto ? backend_from_environment() : requested;
#ifdef SIAMFACE_HAVE_ONEDNN
  if (backend == InferenceBackend::kAuto) backend = InferenceBackend::kOneDnn;
#else
  if (backend == InferenceBackend::kOneDnn || backend == InferenceBackend::kOneDnnBf16) {
    throw Error(ErrorCode::kInvalidArgument, "this build has no oneDNN (configure with libdnnl-dev installed)");
  }
  if (backend == InferenceBackend::kAuto) backend = InferenceBackend::kOpenCv;
#endif
  return backend;
}

}  // namespace siamface
