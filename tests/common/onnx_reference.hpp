// Runs one of the ONNX Runtime oracles of tests/reference (mobilefacenet_reference.mjs,
// liveness_reference.mjs) on a batch of 8-bit images: writes each image's interleaved bytes and
// a job file into `work`, runs Node, and returns its JSON answer keyed "case0", "case1", ...
// Fails the calling test (ADD_FAILURE) and returns null when Node fails.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "common/run_command.hpp"

namespace siamface::test {

inline std::filesystem::path onnx_reference_dir() {
  return std::filesystem::path(SIAMFACE_SOURCE_DIR) / "tests" / "reference";
}

inline nlohmann::json run_onnx_reference(const std::string& script, const std::filesystem::path& model,
                                         const std::vector<cv::Mat>& images, const std::filesystem::path& work) {
  nlohmann::json job = {{"cases", nlohmann::json::array()}};
  for (std::size_t i = 0; i < images.size(); ++i) {
    const std::filesystem::path input = work / ("case" + std::to_string(i) + ".raw");
    std::ofstream(input, std::ios::binary)
        .write(reinterpret_cast<const char*>(images[i].data), static_cast<std::streamsize>(images[i].total() * 3));
    job["cases"].push_back({{"id", "case" + std::to_string(i)}, {"input", input.string()}});
  }
  std::ofstream(work / "job.json") << job.dump();
  const auto result = run_command("node " + shell_quote((onnx_reference_dir() / script).string()) + " " +
                                  shell_quote(model.string()) + " " + shell_quote((work / "job.json").string()) + " > " +
                                  shell_quote((work / "out.json").string()));
  if (result.exit_code != 0) {
    ADD_FAILURE() << script << " failed: " << result.output;
    return nullptr;
  }
  std::ifstream in(work / "out.json", std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return nlohmann::json::parse(text.str());
}

}  // namespace siamface::test
