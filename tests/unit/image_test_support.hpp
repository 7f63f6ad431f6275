// Helpers shared by the image decoding tests (image_decode_test, image_formats_test).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <fstream>
#include <iterator>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#include "image/cv_image.hpp"
#include "siamface/errors.hpp"
#include "siamface/image.hpp"

namespace siamface::test {

using Bytes = std::vector<std::uint8_t>;

inline Bytes encode(const cv::Mat& mat, const std::string& ext,
                    const std::vector<int>& params = {}) {
  Bytes out;
  EXPECT_TRUE(cv::imencode(ext, mat, out, params)) << ext;
  return out;
}

// A smooth, non-symmetric test picture: position is recoverable from colour.
inline cv::Mat gradient(int width, int height) {
  cv::Mat m(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      m.at<cv::Vec3b>(y, x) = {static_cast<uchar>(x * 255 / std::max(1, width - 1)),
                               static_cast<uchar>(y * 255 / std::max(1, height - 1)), 90};
    }
  }
  return m;
}

// An input the image_decode fuzzer found, kept as a seed of its corpus (fuzz/corpus/image_decode/).
inline Bytes fuzz_finding(const std::string& name) {
  const std::string path = std::string(SIAMFACE_SOURCE_DIR) + "/fuzz/corpus/image_decode/" + name;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "missing fuzz seed " << path;
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Runs fn, expects Error with `code`, returns its message.
template <typename Fn>
std::string expect_error(ErrorCode code, Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << "message: " << e.what();
    EXPECT_GT(std::string(e.what()).size(), 10U);
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
    return {};
  }
  ADD_FAILURE() << "no exception; expected " << to_string(code);
  return {};
}

inline cv::Vec3b pixel(const Image& image, int x, int y) {
  return as_mat(image).at<cv::Vec3b>(y, x);
}

inline void expect_near(const cv::Vec3b& got, const cv::Vec3b& want, int tolerance) {
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(got[c], want[c], tolerance)
        << "channel " << c << " got " << got << " want " << want;
  }
}

// PNG chunk checksum.
inline std::uint32_t crc32(const std::uint8_t* data, std::size_t size) {
  std::uint32_t crc = 0xFFFFFFFFU;
  for (std::size_t i = 0; i < size; ++i) {
    crc ^= data[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320U & (0U - (crc & 1U)));
  }
  return ~crc;
}

inline void put_be32(Bytes& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}

}  // namespace siamface::test
