// LFW View 2's pairs file (pairs.txt): "<folds> <pairs per kind>", then for each fold
// that many "name i j" lines (the same person) and as many "name1 i name2 j" lines (different
// people); image i of `name` is <name>/<name>_<iiii>.jpg. Read by `eval lfw` and the benches.
#pragma once

#include <string>
#include <vector>

namespace siamface {

struct LfwPair {
  std::string a, b;  // image paths relative to the LFW folder
  bool same = false;
  int fold = 0;  // 0-based
};

// The first `per_kind` pairs of each kind in each fold (0: all of them), in file order. Throws
// Error(kNotFound) when the file cannot be read and Error(kInvalidArgument), naming the file, when
// its first line or a pair line is malformed.
std::vector<LfwPair> read_lfw_pairs(const std::string& pairs_file, int per_kind = 0);

// A pair as two indices into LfwImagePairs::images.
struct IndexedLfwPair {
  int image_a = 0;
  int image_b = 0;
  bool same = false;
  int fold = 0;  // 0-based
};

// The pairs with each image listed once (root + '/' + its relative path), so each is embedded once.
struct LfwImagePairs {
  std::vector<std::string> images;
  std::vector<IndexedLfwPair> pairs;
};

// read_lfw_pairs with `per_fold` pairs of each fold, half of each kind (at least one; 0: all), and
// the same errors.
LfwImagePairs read_lfw_image_pairs(const std::string& root, const std::string& pairs_file, int per_fold);

}  // namespace siamface
