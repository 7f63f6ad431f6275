// Approximate (FAISS HNSW + exact re-ranking) vs exact gallery search, single queries on one core,
// on clustered synthetic embeddings (tests/common/synthetic_embeddings.hpp; 10 faces per person).
// For each dimension and size, in one run: exact and approximate median / p99 ms per query and
// their ratio, recall@1 against the exact answer (identity and face, known persons and
// strangers; kMean too), memory per face, build, save and load time of the snapshot file.
//
//   ./build/bench/approximate_search_bench                       # 128 and 640 dims, 100k and 1M
//   ./build/bench/approximate_search_bench --dims 128 --rows 100000 --study   # + HNSW vs IVF
// Options: --dims a,b  --rows a,b  --queries N (known-person queries; 1M sizes use N/5)
//          --strangers N  --study (also compares the raw HNSW and IVF candidates, re-ranked)
//          --dir PATH (where the snapshot file goes; default /tmp)
//          --study-only (the study, without the EmbeddingIndex run)  --ef a,b (efSearch values the
//          study sweeps for HNSW; default 256)
// A 10M projection is printed from the growth between the two largest sizes.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "common/synthetic_embeddings.hpp"
#include "index/approximate_index.hpp"
#include "siamface/gallery.hpp"

namespace {

using siamface::Embedding;
using siamface::EmbeddingIndex;
using siamface::EmbeddingIndexOptions;
using siamface::IdentityDistance;
using siamface::IdentityMatch;
using siamface::test::SyntheticFaces;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kFacesPerPerson = 10;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct Latency {
  double median_ms = 0, p99_ms = 0;
};

Latency summarise(std::vector<double> ms) {
  if (ms.empty()) return {};
  std::sort(ms.begin(), ms.end());
  const auto at = [&](double q) { return ms[std::min(ms.size() - 1, static_cast<std::size_t>(q * ms.size()))]; };
  return {at(0.5), at(0.99)};
}

std::vector<std::size_t> parse_list(const char* text) {
  std::vector<std::size_t> values;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) values.push_back(std::stoul(item));
  return values;
}

void fill(EmbeddingIndex& index, const SyntheticFaces& faces, std::size_t rows) {
  index.add("first", "first", faces.face(0, 0));  // fixes the dimension so reserve sizes the matrix
  index.reserve(rows);
  index.remove("first");
  for (std::size_t p = 0; p * kFacesPerPerson < rows; ++p) {
    const Embedding centre = faces.centre(p);
    for (std::size_t f = 0; f < kFacesPerPerson && p * kFacesPerPerson + f < rows; ++f) {
      index.add(SyntheticFaces::face_id(p, f), SyntheticFaces::person_name(p), faces.face(p, f, centre));
    }
  }
}

struct Answers {
  std::vector<IdentityMatch> top;  // one per query
  std::vector<double> ms;          // per timed query
};

// Times the first `timed` queries one by one; answers every query (the rest in batches when
// `batch_rest`, which reads the rows once per group of queries: the exact scan's ground truth).
Answers answer(const EmbeddingIndex& index, const std::vector<Embedding>& queries, std::size_t timed,
               IdentityDistance mode, bool batch_rest) {
  Answers out;
  out.top.resize(queries.size());
  for (std::size_t q = 0; q < queries.size(); ++q) {
    if (q >= timed && batch_rest) {
      const std::span<const Embedding> rest(queries.data() + q, queries.size() - q);
      const auto results = index.search_batch(rest, 1, mode);
      for (std::size_t i = 0; i < results.size(); ++i) out.top[q + i] = results[i].at(0);
      break;
    }
    const auto start = Clock::now();
    const auto result = index.search(queries[q], 1, mode);
    if (q < timed) out.ms.push_back(seconds_since(start) * 1000.0);
    out.top[q] = result.at(0);
  }
  return out;
}

struct Recall {
  double identity = 0, face = 0;
};

Recall recall(const Answers& approximate, const Answers& exact, std::size_t begin, std::size_t end) {
  std::size_t same_identity = 0, same_face = 0;
  for (std::size_t q = begin; q < end; ++q) {
    same_identity += approximate.top[q].person == exact.top[q].person ? 1 : 0;
    same_face += approximate.top[q].face_id == exact.top[q].face_id ? 1 : 0;
  }
  const double n = static_cast<double>(end - begin);
  return {same_identity / n, same_face / n};
}

struct Row {
  std::size_t dims = 0, rows = 0;
  Latency exact, approximate, exact_mean, approximate_mean;
  Recall known, strangers;
  double mean_recall = 0;
  double exact_bytes_per_face = 0, approximate_bytes_per_face = 0, file_bytes_per_face = 0;
  double build_s = 0, save_s = 0, load_s = 0;
  bool loaded = false;
};

// The raw candidates of one FAISS index kind, re-ranked exactly here (the study behind the choice
// of HNSW): build time, per-query time, identity recall@1 against the exact answers.
std::vector<std::size_t> g_efs{256};  // --ef: efSearch values the study sweeps (HNSW)
bool g_study_only = false;            // --study-only: no EmbeddingIndex run after the study

void study(const SyntheticFaces& faces, std::size_t rows, const std::vector<Embedding>& queries,
           const Answers& exact, std::size_t known) {
  const std::size_t d = faces.dims();
  std::vector<float> matrix;
  matrix.reserve(rows * d);
  std::vector<std::size_t> person_of;
  for (std::size_t p = 0; p * kFacesPerPerson < rows; ++p) {
    const Embedding centre = faces.centre(p);
    for (std::size_t f = 0; f < kFacesPerPerson && p * kFacesPerPerson + f < rows; ++f) {
      const Embedding e = faces.face(p, f, centre);
      matrix.insert(matrix.end(), e.begin(), e.end());
      person_of.push_back(p);
    }
  }
  std::vector<siamface::index::ApproximateKind> kinds{siamface::index::ApproximateKind::kHnsw};
  if (!g_study_only) kinds.push_back(siamface::index::ApproximateKind::kIvf);
  for (const auto kind : kinds) {
    siamface::index::ApproximateParams params;
    params.kind = kind;
    siamface::index::ApproximateIndex ann(d, params);
    auto start = Clock::now();
    ann.add(matrix.data(), rows, 0 /* all cores */);
    const double build_s = seconds_since(start);
    for (const std::size_t ef : kind == siamface::index::ApproximateKind::kHnsw ? g_efs : std::vector<std::size_t>{0}) {
    if (ef != 0) ann.set_search_effort(static_cast<int>(ef));
    std::vector<double> ms;
    std::size_t same = 0;
    std::vector<std::int64_t> labels(64);
    for (std::size_t q = 0; q < known; ++q) {
      start = Clock::now();
      ann.search(queries[q].data(), 1, labels.size(), {}, 1, labels.data());
      float best = 1e30F;
      std::int64_t best_label = -1;
      for (const std::int64_t label : labels) {
        if (label < 0) continue;
        float dist = 0;
        const float* row = matrix.data() + label * d;
        for (std::size_t i = 0; i < d; ++i) dist += (row[i] - queries[q][i]) * (row[i] - queries[q][i]);
        if (dist < best) best = dist, best_label = label;
      }
      ms.push_back(seconds_since(start) * 1000.0);
      if (best_label >= 0 && SyntheticFaces::person_name(person_of[best_label]) == exact.top[q].person) ++same;
    }
    const Latency latency = summarise(ms);
    std::printf("study  %-9s d=%-4zu rows=%-8zu build %7.1f s  efSearch %4zu  query median %6.3f ms p99 %6.3f ms  "
                "recall@1 %.4f  index %.0f B/face\n",
                siamface::index::to_string(kind), d, rows, build_s, ef, latency.median_ms, latency.p99_ms,
                static_cast<double>(same) / known, static_cast<double>(ann.memory_bytes()) / rows);
    std::fflush(stdout);
    }
  }
}

Row measure(std::size_t dims, std::size_t rows, std::size_t known, std::size_t strangers,
            const std::string& dir, bool with_study) {
  Row row{.dims = dims, .rows = rows};
  const SyntheticFaces faces(dims, (rows + kFacesPerPerson - 1) / kFacesPerPerson, 7);
  std::vector<Embedding> queries;
  for (std::size_t q = 0; q < known; ++q) queries.push_back(faces.face((q * 7919) % faces.persons(), 100 + q));
  for (std::size_t s = 0; s < strangers; ++s) queries.push_back(faces.stranger(s));
  const std::size_t timed_exact = std::min<std::size_t>(queries.size(), rows >= 1'000'000 ? 40 : 200);

  Answers exact, exact_mean;
  {
    EmbeddingIndexOptions options;
    options.threads = 1;
    options.approximate_min_rows = 0;
    EmbeddingIndex index(options);
    fill(index, faces, rows);
    exact = answer(index, queries, timed_exact, IdentityDistance::kMin, true);
    exact_mean = answer(index, queries, timed_exact, IdentityDistance::kMean, true);
    row.exact = summarise(exact.ms);
    row.exact_mean = summarise(exact_mean.ms);
    row.exact_bytes_per_face = static_cast<double>(index.memory_bytes()) / rows;
  }
  if (with_study) study(faces, rows, queries, exact, known);
  if (g_study_only) return row;

  EmbeddingIndexOptions options;
  options.threads = 0;  // the build uses every core; searches run FAISS on the calling thread
  options.approximate_min_rows = std::min<std::size_t>(rows, 100'000);
  EmbeddingIndex index(options);
  fill(index, faces, rows);
  const std::string path = dir + "/approximate_search_bench_" + std::to_string(dims) + "_" +
                           std::to_string(rows) + ".faiss";
  std::filesystem::remove(path);
  auto start = Clock::now();
  index.load_approximate(path);  // absent: builds
  row.build_s = seconds_since(start);
  start = Clock::now();
  index.save_approximate(path);
  row.save_s = seconds_since(start);
  row.file_bytes_per_face = static_cast<double>(std::filesystem::file_size(path)) / rows;
  start = Clock::now();
  row.loaded = index.load_approximate(path);
  row.load_s = seconds_since(start);
  std::filesystem::remove(path);

  const Answers approximate = answer(index, queries, queries.size(), IdentityDistance::kMin, false);
  const Answers approximate_mean = answer(index, queries, queries.size(), IdentityDistance::kMean, false);
  row.approximate = summarise(approximate.ms);
  row.approximate_mean = summarise(approximate_mean.ms);
  row.known = recall(approximate, exact, 0, known);
  row.strangers = recall(approximate, exact, known, queries.size());
  row.mean_recall = recall(approximate_mean, exact_mean, 0, known).identity;
  row.approximate_bytes_per_face = static_cast<double>(index.memory_bytes()) / rows;
  return row;
}

void print(const Row& r) {
  std::printf(
      "d=%-4zu rows=%-8zu kMin  exact median %8.3f ms p99 %8.3f | approximate median %6.3f ms p99 %6.3f"
      " | x%.0f faster | recall@1 identity %.4f face %.4f (strangers: identity %.4f)\n",
      r.dims, r.rows, r.exact.median_ms, r.exact.p99_ms, r.approximate.median_ms, r.approximate.p99_ms,
      r.exact.median_ms / r.approximate.median_ms, r.known.identity, r.known.face, r.strangers.identity);
  std::printf(
      "d=%-4zu rows=%-8zu kMean exact median %8.3f ms p99 %8.3f | approximate median %6.3f ms p99 %6.3f"
      " | x%.1f | recall@1 identity %.4f (%zu identities)\n",
      r.dims, r.rows, r.exact_mean.median_ms, r.exact_mean.p99_ms, r.approximate_mean.median_ms,
      r.approximate_mean.p99_ms, r.exact_mean.median_ms / r.approximate_mean.median_ms, r.mean_recall,
      r.rows / kFacesPerPerson);
  std::printf(
      "d=%-4zu rows=%-8zu memory %.0f B/face exact, %.0f B/face with the approximate index (+%.0f) | file "
      "%.0f B/face | build %.1f s, save %.2f s, load %.2f s (%s)\n",
      r.dims, r.rows, r.exact_bytes_per_face, r.approximate_bytes_per_face,
      r.approximate_bytes_per_face - r.exact_bytes_per_face, r.file_bytes_per_face, r.build_s, r.save_s,
      r.load_s, r.loaded ? "adopted" : "NOT adopted");
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::size_t> dims{128, 640};
  std::vector<std::size_t> sizes{100'000, 1'000'000};
  std::size_t queries = 1000;
  std::size_t strangers = 200;
  bool with_study = false;
  std::string dir = "/tmp";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : "";
    if (arg == "--dims") dims = parse_list(value), ++i;
    else if (arg == "--rows") sizes = parse_list(value), ++i;
    else if (arg == "--queries") queries = std::stoul(value), ++i;
    else if (arg == "--strangers") strangers = std::stoul(value), ++i;
    else if (arg == "--dir") dir = value, ++i;
    else if (arg == "--study") with_study = true;
    else if (arg == "--study-only") with_study = g_study_only = true;
    else if (arg == "--ef") g_efs = parse_list(value), ++i;
    else {
      std::fprintf(stderr, "unknown option %s (see the comment at the top of the source)\n", arg.c_str());
      return 2;
    }
  }
  std::printf("approximate (HNSW, 8-bit codes, M=16, efConstruction=64, efSearch=512, 64 candidates re-ranked exactly) vs "
              "exact; single queries, one core; %zu faces per person\n", kFacesPerPerson);
  for (const std::size_t d : dims) {
    std::vector<Row> rows;
    for (const std::size_t n : sizes) {
      const std::size_t known = n >= 1'000'000 ? queries / 5 : queries;
      rows.push_back(measure(d, n, known, n >= 1'000'000 ? strangers / 4 : strangers, dir, with_study));
      if (!g_study_only) print(rows.back());
    }
    if (rows.size() >= 2 && !g_study_only) {
      const Row& a = rows[rows.size() - 2];
      const Row& b = rows.back();
      const double decades = std::log10(10'000'000.0 / b.rows) / std::log10(static_cast<double>(b.rows) / a.rows);
      const auto project = [&](double x, double y) { return y * std::pow(y / x, decades); };
      std::printf("d=%-4zu projected 10M (growth %zu -> %zu carried on): approximate median %.3f ms, exact "
                  "median %.1f ms, build %.0f s, %.1f GB in memory\n",
                  d, a.rows, b.rows, project(a.approximate.median_ms, b.approximate.median_ms),
                  project(a.exact.median_ms, b.exact.median_ms), project(a.build_s, b.build_s),
                  b.approximate_bytes_per_face * 1e7 / 1e9);
    }
  }
  return 0;
}
