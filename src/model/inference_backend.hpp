// Which inference engine runs the networks: OpenCV DNN (the reference) or oneDNN (f32, bf16).
// One choice for every network of every stage: detectors, landmark nets and embedders.
#pragma once

namespace siamface {

enum class InferenceBackend {
  kAuto,        // oneDNN f32 when this build has it, else OpenCV DNN; $SIAMFACE_RECOGNITION_BACKEND
                // ("opencv", "onednn", "onednn-bf16") overrides it, for comparisons. Both networks.
  kOpenCv,      // OpenCV DNN: the reference implementation
  kOneDnn,      // oneDNN f32: the same outputs to float rounding, faster (docs/speed.md)
  kOneDnnBf16,  // oneDNN bf16 (CPUs with avx512_bf16 or AMX only; opt-in): the ResNet and the SSD
                // detector in bf16 (docs/speed.md, "bf16": speed and how far embeddings move)
};

// The backend that runs for `requested`: kAuto resolved through $SIAMFACE_RECOGNITION_BACKEND and
// what this build has. Every network follows the same choice; bf16 is the ResNet's and the SSD's
// only (docs/speed.md, "bf16").
// Throws Error(kInvalidArgument) for an unknown variable value or a backend this build lacks.
InferenceBackend resolve_inference_backend(InferenceBackend requested);

}  // namespace siamface
