// Exact gallery search: SIMD + threads vs a scalar single-thread baseline, per query and per
// batch of 64 queries, at 10k / 100k / 1M synthetic embeddings (10 per identity).
//   ./build/bench/search_bench --benchmark_counters_tabular=true
// Arguments: /rows/engine[/mode] where engine 0 = AVX2 + threads (the defaults), 1 = scalar on
// one thread (the naive baseline), 2 = AVX2 on one thread; mode 0 = kMin, 1 = kMean.
// Times are wall-clock (UseRealTime) because the searches spawn threads. Every index here is
// exact (approximate_min_rows = 0); approximate_search_bench compares the approximate one.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "siamface/gallery.hpp"

namespace {

using siamface::Embedding;
using siamface::EmbeddingIndex;
using siamface::EmbeddingIndexOptions;
using siamface::IdentityDistance;

constexpr int kFacesPerPerson = 10;
constexpr std::size_t kBatch = 64;

// Small fast PRNG; the data only needs to look like spread-out embeddings.
struct XorShift {
  std::uint64_t s;
  float next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return static_cast<float>(s >> 40) / static_cast<float>(1 << 24) - 0.5F;
  }
};

Embedding random_embedding(XorShift& rng) {
  Embedding e(siamface::kDlibEmbeddingSize);
  for (float& v : e) v = rng.next() * 0.3F;
  return e;
}

struct Fixture {
  std::unique_ptr<EmbeddingIndex> fast;
  std::unique_ptr<EmbeddingIndex> baseline;
  std::unique_ptr<EmbeddingIndex> simd_one_thread;
  std::vector<Embedding> queries;
};

// Built once per size (the 1M case takes a couple of seconds and ~1 GB for both indexes).
const Fixture& fixture(std::size_t rows) {
  static std::map<std::size_t, Fixture> cache;
  auto it = cache.find(rows);
  if (it != cache.end()) return it->second;
  Fixture f;
  f.fast = std::make_unique<EmbeddingIndex>(EmbeddingIndexOptions{.approximate_min_rows = 0});
  f.baseline = std::make_unique<EmbeddingIndex>(EmbeddingIndexOptions{.use_simd = false, .threads = 1, .approximate_min_rows = 0});
  f.simd_one_thread = std::make_unique<EmbeddingIndex>(EmbeddingIndexOptions{.threads = 1, .approximate_min_rows = 0});
  f.fast->reserve(rows);
  f.baseline->reserve(rows);
  f.simd_one_thread->reserve(rows);
  XorShift rng{0x9E3779B97F4A7C15ULL ^ rows};
  for (std::size_t r = 0; r < rows; ++r) {
    const Embedding e = random_embedding(rng);
    const std::string id = std::to_string(r);
    const std::string person = "person" + std::to_string(r / kFacesPerPerson);
    f.fast->add(id, person, e);
    f.baseline->add(id, person, e);
    f.simd_one_thread->add(id, person, e);
  }
  for (std::size_t q = 0; q < kBatch; ++q) f.queries.push_back(random_embedding(rng));
  return cache.emplace(rows, std::move(f)).first->second;
}

const EmbeddingIndex& engine(const Fixture& f, std::int64_t which) {
  return which == 0 ? *f.fast : which == 1 ? *f.baseline : *f.simd_one_thread;
}

const char* label(std::int64_t which) {
  const bool simd = EmbeddingIndex::simd_supported();
  if (which == 0) return simd ? "avx2+threads" : "scalar+threads";
  if (which == 1) return "scalar 1-thread (baseline)";
  return simd ? "avx2 1-thread" : "scalar 1-thread";
}

void BM_Search(benchmark::State& state) {
  const auto rows = static_cast<std::size_t>(state.range(0));
  const Fixture& f = fixture(rows);
  const EmbeddingIndex& index = engine(f, state.range(1));
  const auto mode = state.range(2) == 0 ? IdentityDistance::kMin : IdentityDistance::kMean;
  std::size_t q = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(index.search(f.queries[q++ % kBatch], 5, mode));
  }
  state.SetLabel(label(state.range(1)));
  state.counters["rows/s"] =
      benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["bytes/embedding"] =
      static_cast<double>(index.memory_bytes()) / static_cast<double>(index.size());
}

void BM_SearchBatch64(benchmark::State& state) {
  const auto rows = static_cast<std::size_t>(state.range(0));
  const Fixture& f = fixture(rows);
  const EmbeddingIndex& index = engine(f, state.range(1));
  for (auto _ : state) {
    benchmark::DoNotOptimize(index.search_batch(f.queries, 5, IdentityDistance::kMin));
  }
  state.SetLabel(label(state.range(1)));
  state.counters["per_query"] = benchmark::Counter(
      static_cast<double>(kBatch), benchmark::Counter::kIsIterationInvariantRate |
                                       benchmark::Counter::kInvert);
}

// mode argument: 0 = kMin (per-face), 1 = kMean (per-identity centroid).
BENCHMARK(BM_Search)->ArgsProduct({{10'000, 100'000}, {0, 1, 2}, {0}})
    ->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_Search)->ArgsProduct({{1'000'000}, {0, 1, 2}, {0}})->Iterations(5)
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Search)->ArgsProduct({{100'000}, {0, 1}, {1}})
    ->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_SearchBatch64)->ArgsProduct({{10'000, 100'000}, {0, 1, 2}})
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SearchBatch64)->ArgsProduct({{1'000'000}, {0, 1, 2}})->Iterations(1)
    ->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
