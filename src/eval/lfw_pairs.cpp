#include "eval/lfw_pairs.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>

#include "siamface/errors.hpp"

namespace siamface {

std::vector<LfwPair> read_lfw_pairs(const std::string& pairs_file, int per_kind) {
  std::ifstream in(pairs_file);
  if (!in) throw Error(ErrorCode::kNotFound, "cannot read pairs file " + pairs_file);
  int folds = 0, in_file = 0;
  if (!(in >> folds >> in_file) || folds <= 0 || in_file <= 0) {
    throw Error(ErrorCode::kInvalidArgument, pairs_file + ": first line must be '<folds> <pairs per kind>'");
  }
  const auto image = [](const std::string& name, int number) {
    char suffix[16];
    std::snprintf(suffix, sizeof suffix, "_%04d.jpg", number);
    return name + "/" + name + suffix;
  };
  const int keep = per_kind > 0 ? std::min(per_kind, in_file) : in_file;
  std::vector<LfwPair> pairs;
  for (int fold = 0; fold < folds; ++fold) {
    for (int kind = 0; kind < 2; ++kind) {
      for (int i = 0; i < in_file; ++i) {
        std::string name_a, name_b;
        int a = 0, b = 0;
        const bool ok = kind == 0 ? static_cast<bool>(in >> name_a >> a >> b)
                                  : static_cast<bool>(in >> name_a >> a >> name_b >> b);
        if (!ok) throw Error(ErrorCode::kInvalidArgument, pairs_file + ": truncated at fold " + std::to_string(fold + 1));
        if (i >= keep) continue;
        if (kind == 0) name_b = name_a;
        pairs.push_back({image(name_a, a), image(name_b, b), kind == 0, fold});
      }
    }
  }
  return pairs;
}

LfwImagePairs read_lfw_image_pairs(const std::string& root, const std::string& pairs_file, int per_fold) {
  LfwImagePairs result;
  std::map<std::string, int> index;
  const auto image = [&](const std::string& relative) {
    const std::string path = root + '/' + relative;
    const auto [it, inserted] = index.emplace(path, static_cast<int>(result.images.size()));
    if (inserted) result.images.push_back(path);
    return it->second;
  };
  for (const LfwPair& pair : read_lfw_pairs(pairs_file, per_fold > 0 ? std::max(1, per_fold / 2) : 0)) {
    result.pairs.push_back({image(pair.a), image(pair.b), pair.same, pair.fold});
  }
  return result;
}

}  // namespace siamface
