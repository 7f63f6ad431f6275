// Running one of face-api's 112-px attribute nets over a photo's faces: crop as
// extractFaceTensors does, batch (util/batches.hpp), map each row of the output.
#pragma once

#include <string>
#include <vector>

#include "model/face_api_input.hpp"
#include "model/net_pool.hpp"
#include "siamface/errors.hpp"
#include "util/batches.hpp"

namespace siamface {

// The raw outputs (N x `outputs`) of an N x 3 x 112 x 112 blob.
inline cv::Mat run_face_api_blob(const NetPool& pool, const cv::Mat& blob, const char* stage, int outputs) {
  cv::Mat out;
  {
    NetPool::Lease net = pool.lease();
    net->setInput(blob);
    out = net->forward().clone();
  }
  if (out.total() != static_cast<std::size_t>(blob.size[0]) * outputs) {
    throw Error(ErrorCode::kInternal, std::string(stage) + ": unexpected output size");
  }
  return out;
}

template <typename Output, typename ToOutput>
std::vector<Output> run_face_api_head(const NetPool& pool, const cv::Mat& bgr, const std::vector<Box>& boxes,
                                      const char* stage, int outputs, ToOutput to_output) {
  std::vector<cv::Rect> crops;
  crops.reserve(boxes.size());
  for (const Box& box : boxes) crops.push_back(face_api_crop(bgr, box, stage));
  std::vector<Output> result;
  result.reserve(boxes.size());
  for_each_batch(boxes.size(), [&](std::size_t first, std::size_t count) {
    cv::Mat blob = make_face_api_blob(static_cast<int>(count));
    for (std::size_t i = 0; i < count; ++i) {
      write_face_api_input(bgr(crops[first + i]), blob.ptr<float>(static_cast<int>(i)));
    }
    const cv::Mat out = run_face_api_blob(pool, blob, stage, outputs);
    for (std::size_t i = 0; i < count; ++i) result.push_back(to_output(out.ptr<float>() + i * outputs));
  });
  return result;
}

template <typename Output, typename ToOutput>
Output run_face_api_head_on_input(const NetPool& pool, const cv::Mat& bgr_112, const char* stage, int outputs,
                                  ToOutput to_output) {
  if (bgr_112.rows != kFaceApiInputSize || bgr_112.cols != kFaceApiInputSize ||
      (bgr_112.type() != CV_8UC3 && bgr_112.type() != CV_32FC3)) {
    throw Error(ErrorCode::kInvalidArgument, std::string(stage) + ": predict_input needs a 112x112 CV_8UC3 or CV_32FC3 image");
  }
  cv::Mat blob = make_face_api_blob(1);
  write_face_api_input(bgr_112, blob.ptr<float>(0));
  return to_output(run_face_api_blob(pool, blob, stage, outputs).ptr<float>());
}

}  // namespace siamface
