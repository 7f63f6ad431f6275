#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "index/approximate_index.hpp"
#include "index/approximate_snapshot.hpp"
#include "index/distance_kernels.hpp"
#include "siamface/embedding_index.hpp"
#include "siamface/errors.hpp"

namespace siamface {

const char* to_string(IdentityDistance mode) {
  return mode == IdentityDistance::kMean ? "mean" : "min";
}

IdentityDistance parse_identity_distance(const std::string& name) {
  if (name == "min") return IdentityDistance::kMin;
  if (name == "mean") return IdentityDistance::kMean;
  throw Error(ErrorCode::kInvalidArgument,
              "unknown identity distance '" + name + "' (expected 'min' or 'mean')");
}

namespace {

constexpr std::size_t kBlockRows = 512;  // distances computed per kernel call (fits L1/L2)
constexpr float kInf = std::numeric_limits<float>::infinity();

// Per-identity best squared distance (and the row that gave it) for one query.
struct Best {
  std::vector<float> dist;
  std::vector<std::uint32_t> row;
  explicit Best(std::size_t slots) : dist(slots, kInf), row(slots, 0) {}
  void merge(const Best& other) {
    for (std::size_t s = 0; s < dist.size(); ++s) {
      if (other.dist[s] < dist[s]) {
        dist[s] = other.dist[s];
        row[s] = other.row[s];
      }
    }
  }
};

// Approximate search (docs/search.md): FAISS proposes candidate faces, the exact kernels rank them.
constexpr std::size_t kMinCandidates = 64;      // faces fetched per query, at least
constexpr std::size_t kCandidatesPerMatch = 16;  // ... and this many per requested identity
constexpr std::size_t kPendingRows = 1024;      // rows added since the last FAISS add, scanned exactly
constexpr std::uint32_t kNoRow = std::numeric_limits<std::uint32_t>::max();

// The approximate index and its label <-> row maps (rows move when one is removed; labels don't).
struct Approximate {
  std::unique_ptr<index::ApproximateIndex> ann;
  std::vector<std::uint32_t> label_row;  // label -> row, kNoRow once removed; labels past
                                         // ann->added() are pending (not yet in FAISS)
  std::vector<std::uint32_t> row_label;  // row -> label
  std::size_t dead = 0;                  // removed labels still in FAISS or pending
};

}  // namespace

namespace {
// Process-wide: an index replaced by another one (move-assigned) never repeats a revision.
std::uint64_t next_revision() {
  static std::atomic<std::uint64_t> counter{0};
  return ++counter;
}
}  // namespace

struct EmbeddingIndex::Impl {
  EmbeddingIndexOptions options;
  std::uint64_t revision = next_revision();
  std::size_t dims = 0;                   // floats per row: set by the first row, fixed until clear()
  std::vector<float> matrix;              // rows x dims, row-major
  std::vector<std::uint32_t> row_slot;    // row -> identity slot
  std::vector<std::string> row_id;        // row -> face id
  std::unordered_map<std::string, std::size_t> id_row;
  std::vector<std::string> slot_person;   // slots are never freed; empty ones have count 0
  std::unordered_map<std::string, std::uint32_t> person_slot;
  std::vector<std::uint32_t> slot_count;
  std::vector<double> slot_sum;           // slots x dims, for the centroids
  std::vector<float> centroid;            // slots x dims
  std::size_t active_persons = 0;
  // Built on demand: by the first search that needs it (under approx_mutex, as searches share the
  // index), or by load_approximate/save_approximate. Mutating methods have exclusive access.
  mutable std::mutex approx_mutex;
  mutable std::unique_ptr<Approximate> approx;
  mutable std::atomic<bool> approx_ready{false};

  std::uint32_t slot_for(const std::string& person) {
    if (auto it = person_slot.find(person); it != person_slot.end()) return it->second;
    const auto slot = static_cast<std::uint32_t>(slot_person.size());
    slot_person.push_back(person);
    person_slot.emplace(person, slot);
    slot_count.push_back(0);
    slot_sum.resize(slot_sum.size() + dims, 0.0);
    centroid.resize(centroid.size() + dims, 0.0F);
    return slot;
  }

  void update_centroid(std::uint32_t slot) {
    const double count = slot_count[slot];
    for (std::size_t i = 0; i < dims; ++i) {
      if (count == 0) slot_sum[slot * dims + i] = 0.0;  // drop accumulated rounding
      centroid[slot * dims + i] =
          count == 0 ? 0.0F : static_cast<float>(slot_sum[slot * dims + i] / count);
    }
  }

  void account(std::uint32_t slot, const float* row, int sign) {
    for (std::size_t i = 0; i < dims; ++i) slot_sum[slot * dims + i] += sign * double(row[i]);
    if (sign > 0) {
      if (slot_count[slot]++ == 0) ++active_persons;
    } else {
      if (--slot_count[slot] == 0) --active_persons;
    }
    update_centroid(slot);
  }

  // Removes row r by moving the last row into its place.
  void remove_row(std::size_t r) {
    revision = next_revision();
    const std::uint32_t slot = row_slot[r];
    account(slot, matrix.data() + r * dims, -1);
    id_row.erase(row_id[r]);
    const std::size_t last = row_slot.size() - 1;
    if (approx) {
      approx->label_row[approx->row_label[r]] = kNoRow;
      ++approx->dead;
      approx->row_label[r] = approx->row_label[last];
      approx->label_row[approx->row_label[r]] = static_cast<std::uint32_t>(r);
      approx->row_label.pop_back();
    }
    if (r != last) {
      std::copy_n(matrix.data() + last * dims, dims, matrix.data() + r * dims);
      row_slot[r] = row_slot[last];
      row_id[r] = std::move(row_id[last]);
      id_row[row_id[r]] = r;
    }
    matrix.resize(last * dims);
    row_slot.pop_back();
    row_id.pop_back();
    // Dead labels cost search effort and memory: rebuild (at the next search) past a fifth.
    if (approx && (approx->dead > std::max(kPendingRows, approx->label_row.size() / 5) ||
                   !wants_approximate())) {
      drop_approximate();
    }
  }

  // --- approximate search -----------------------------------------------------------------

  bool wants_approximate() const {
    const std::size_t threshold = options.approximate_min_rows;
    if (threshold == 0 || dims == 0) return false;
    // Hysteresis: once built, keep it down to half the threshold rather than flap at the edge.
    const bool built = approx_ready.load(std::memory_order_acquire);
    return row_slot.size() >= (built ? threshold / 2 : threshold);
  }

  void drop_approximate() {
    approx.reset();
    approx_ready.store(false, std::memory_order_release);
  }

  int build_threads() const {
    return options.threads > 0 ? options.threads
                               : static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
  }

  // Builds from every row (label = row). Caller holds exclusive access or approx_mutex.
  void build_approximate() const {
    auto fresh = std::make_unique<Approximate>();
    fresh->ann = std::make_unique<index::ApproximateIndex>(dims);
    fresh->ann->add(matrix.data(), row_slot.size(), build_threads());
    fresh->label_row.resize(row_slot.size());
    for (std::size_t r = 0; r < row_slot.size(); ++r) fresh->label_row[r] = static_cast<std::uint32_t>(r);
    fresh->row_label = fresh->label_row;
    approx = std::move(fresh);
    approx_ready.store(true, std::memory_order_release);
  }

  // Searches call this; the first one after a (re)build became due builds.
  bool ensure_approximate() const {
    if (!wants_approximate()) return false;
    if (approx_ready.load(std::memory_order_acquire)) return true;
    const std::lock_guard lock(approx_mutex);
    if (!approx) build_approximate();
    approx_ready.store(true, std::memory_order_release);
    return true;
  }

  // Moves pending rows into FAISS (removed ones as zero rows, already dead).
  void flush_pending() {
    if (!approx) return;
    const std::size_t first = approx->ann->added();
    const std::size_t count = approx->label_row.size() - first;
    if (count == 0) return;
    std::vector<float> rows(count * dims, 0.0F);
    for (std::size_t i = 0; i < count; ++i) {
      const std::uint32_t r = approx->label_row[first + i];
      if (r != kNoRow) std::copy_n(matrix.data() + std::size_t{r} * dims, dims, rows.data() + i * dims);
    }
    approx->ann->add(rows.data(), count, build_threads());
  }

  void on_added_row(std::size_t row) {
    if (!approx) return;
    approx->row_label.push_back(static_cast<std::uint32_t>(approx->label_row.size()));
    approx->label_row.push_back(static_cast<std::uint32_t>(row));
    if (approx->label_row.size() - approx->ann->added() >= kPendingRows) flush_pending();
  }

  float exact_squared(const float* query, const float* row) const {
    float d = 0.0F;
    if (options.use_simd && dims % 32 == 0 && index::avx2_supported()) {
      index::squared_distances_avx2(query, row, 1, dims, &d);
    } else {
      index::squared_distances_scalar(query, row, 1, dims, &d);
    }
    return d;
  }

  // Candidate rows for one query: FAISS's nearest alive labels plus every pending row.
  std::vector<std::uint32_t> candidate_rows(const float* query, std::size_t want) const {
    const Approximate& a = *approx;
    std::vector<std::int64_t> labels(want);
    const std::uint32_t* label_row = a.label_row.data();
    const index::LabelFilter alive = a.dead == 0 ? index::LabelFilter()
        : index::LabelFilter([label_row](std::int64_t label) { return label_row[label] != kNoRow; });
    a.ann->search(query, 1, want, alive, 1, labels.data());
    std::vector<std::uint32_t> rows;
    rows.reserve(want + (a.label_row.size() - a.ann->added()));
    for (const std::int64_t label : labels) {
      if (label >= 0 && a.label_row[label] != kNoRow) rows.push_back(a.label_row[label]);
    }
    for (std::size_t label = a.ann->added(); label < a.label_row.size(); ++label) {
      if (a.label_row[label] != kNoRow) rows.push_back(a.label_row[label]);
    }
    return rows;
  }

  // One query through the approximate index; nullopt when the candidates cannot answer
  // (fewer than k identities even after widening), and the caller scans exactly.
  std::optional<std::vector<IdentityMatch>> approximate_query(const float* query, std::size_t k,
                                                              IdentityDistance mode) const {
    const bool by_face = mode == IdentityDistance::kMin;
    const std::size_t total = row_slot.size();
    for (std::size_t want = std::max(kMinCandidates, kCandidatesPerMatch * k);; want *= 4) {
      const std::vector<std::uint32_t> rows = candidate_rows(query, std::min(want, approx->ann->added()));
      // Best (squared distance, row) per identity slot among the candidates.
      std::unordered_map<std::uint32_t, std::pair<float, std::uint32_t>> best;
      for (const std::uint32_t r : rows) {
        const std::uint32_t s = row_slot[r];
        if (by_face) {
          const float d = exact_squared(query, matrix.data() + std::size_t{r} * dims);
          auto [it, fresh] = best.try_emplace(s, d, r);
          if (!fresh && d < it->second.first) it->second = {d, r};
        } else if (!best.count(s)) {
          best.emplace(s, std::make_pair(exact_squared(query, centroid.data() + std::size_t{s} * dims), r));
        }
      }
      if (best.size() >= k || want >= total) {
        if (best.size() < k && best.size() < active_persons) return std::nullopt;
        std::vector<std::pair<float, std::uint32_t>> ranked;
        ranked.reserve(best.size());
        for (const auto& [s, dr] : best) ranked.emplace_back(dr.first, s);
        const auto less = [this](const auto& x, const auto& y) {
          return x.first != y.first ? x.first < y.first : slot_person[x.second] < slot_person[y.second];
        };
        const std::size_t take = std::min(k, ranked.size());
        std::partial_sort(ranked.begin(), ranked.begin() + take, ranked.end(), less);
        std::vector<IdentityMatch> out;
        out.reserve(take);
        for (std::size_t i = 0; i < take; ++i) {
          const auto [d, s] = ranked[i];
          out.push_back({slot_person[s], std::sqrt(std::max(0.0F, d)),
                         by_face ? row_id[best.at(s).second] : std::string()});
        }
        return out;
      }
      if (want * 4 > total / 4) return std::nullopt;  // widening this far: exact is as cheap
    }
  }

  // Whether this search goes through the approximate index: kMin always above the size threshold;
  // kMean only when the identities themselves number past it (fewer centroids scan exactly fast).
  bool use_approximate(std::size_t k, IdentityDistance mode) const {
    if (k == 0) return false;
    if (mode == IdentityDistance::kMean && active_persons < options.approximate_min_rows) return false;
    return ensure_approximate();
  }

  std::size_t threads_for(std::size_t work_rows) const {
    if (work_rows < options.parallel_min_rows) return 1;
    std::size_t hw = options.threads > 0 ? static_cast<std::size_t>(options.threads)
                                         : std::max(1U, std::thread::hardware_concurrency());
    const std::size_t by_size = std::max<std::size_t>(1, work_rows / (options.parallel_min_rows / 2));
    return std::max<std::size_t>(1, std::min(hw, by_size));
  }

  // Scans rows [begin, end) for queries [0, nq) (nq <= kMaxQueryGroup) into best[0..nq).
  void scan(const float* queries, std::size_t nq, const float* rows, const std::uint32_t* slots,
            std::size_t begin, std::size_t end, Best* best) const {
    std::vector<float> buf(nq * kBlockRows);
    for (std::size_t b = begin; b < end; b += kBlockRows) {
      const std::size_t m = std::min(kBlockRows, end - b);
      if (options.use_simd && dims % 32 == 0 && index::avx2_supported()) {
        index::squared_distances_group_avx2(queries, nq, rows + b * dims, m, dims, buf.data());
      } else {
        index::squared_distances_group_scalar(queries, nq, rows + b * dims, m, dims, buf.data());
      }
      for (std::size_t q = 0; q < nq; ++q) {
        float* dist = best[q].dist.data();
        std::uint32_t* best_row = best[q].row.data();
        const float* d = buf.data() + q * m;
        for (std::size_t r = 0; r < m; ++r) {
          const std::size_t s = slots ? slots[b + r] : b + r;
          if (d[r] < dist[s]) {
            dist[s] = d[r];
            best_row[s] = static_cast<std::uint32_t>(b + r);
          }
        }
      }
    }
  }

  std::vector<IdentityMatch> finalize(const Best& best, std::size_t k, IdentityDistance mode) const {
    std::vector<std::pair<float, std::uint32_t>> candidates;
    candidates.reserve(active_persons);
    for (std::uint32_t s = 0; s < slot_count.size(); ++s) {
      if (slot_count[s] > 0 && best.dist[s] < kInf) candidates.emplace_back(best.dist[s], s);
    }
    const auto less = [this](const auto& a, const auto& b) {
      return a.first != b.first ? a.first < b.first : slot_person[a.second] < slot_person[b.second];
    };
    const std::size_t take = k == 0 ? candidates.size() : std::min(k, candidates.size());
    std::partial_sort(candidates.begin(), candidates.begin() + take, candidates.end(), less);
    std::vector<IdentityMatch> out;
    out.reserve(take);
    for (std::size_t i = 0; i < take; ++i) {
      const auto [d, s] = candidates[i];
      out.push_back({slot_person[s], std::sqrt(std::max(0.0F, d)),
                     mode == IdentityDistance::kMin ? row_id[best.row[s]] : std::string()});
    }
    return out;
  }

  std::vector<std::vector<IdentityMatch>> run(const Embedding* queries, std::size_t nq,
                                              std::size_t k, IdentityDistance mode) const {
    std::vector<std::vector<IdentityMatch>> results(nq);
    for (std::size_t q = 0; q < nq; ++q) {
      if (dims != 0 && queries[q].size() != dims) {
        throw Error(ErrorCode::kInvalidArgument, "query embedding " + std::to_string(q) + " has " +
                                                     std::to_string(queries[q].size()) + " values, the index holds " +
                                                     std::to_string(dims) + " per face");
      }
      for (float v : queries[q]) {
        if (!std::isfinite(v)) {
          throw Error(ErrorCode::kInvalidArgument,
                      "query embedding " + std::to_string(q) + " has a non-finite value");
        }
      }
    }
    const bool by_row = mode == IdentityDistance::kMin;
    const float* rows = by_row ? matrix.data() : centroid.data();
    const std::size_t n = by_row ? row_slot.size() : slot_count.size();
    const std::uint32_t* slots = by_row ? row_slot.data() : nullptr;
    const std::size_t nslots = slot_count.size();
    if (n == 0 || nq == 0) return results;

    if (use_approximate(k, mode)) {
      bool all = true;
      for (std::size_t q = 0; q < nq && all; ++q) {
        auto answer = approximate_query(queries[q].data(), k, mode);
        if (answer) results[q] = std::move(*answer);
        else all = false;
      }
      if (all) return results;
      results.assign(nq, {});  // a query the candidates could not answer: scan them all exactly
    }

    // The queries side by side, as the kernels read them.
    std::vector<float> packed(nq * dims);
    for (std::size_t q = 0; q < nq; ++q) std::copy(queries[q].begin(), queries[q].end(), packed.begin() + q * dims);
    const float* qdata = packed.data();

    // Runs queries [q_begin, q_end) in groups over all rows on the calling thread.
    const auto run_queries = [&](std::size_t q_begin, std::size_t q_end) {
      for (std::size_t q = q_begin; q < q_end; q += index::kMaxQueryGroup) {
        const std::size_t g = std::min(index::kMaxQueryGroup, q_end - q);
        std::vector<Best> best(g, Best(nslots));
        scan(qdata + q * dims, g, rows, slots, 0, n, best.data());
        for (std::size_t i = 0; i < g; ++i) results[q + i] = finalize(best[i], k, mode);
      }
    };

    const std::size_t threads = threads_for(n * nq);
    if (threads <= 1) {
      run_queries(0, nq);
    } else if (nq >= threads) {
      // Many queries: each thread takes a contiguous share of them.
      std::vector<std::thread> pool;
      const std::size_t per = (nq + threads - 1) / threads;
      for (std::size_t t = 0; t < threads; ++t) {
        const std::size_t a = t * per;
        const std::size_t b = std::min(nq, a + per);
        if (a < b) pool.emplace_back(run_queries, a, b);
      }
      for (auto& th : pool) th.join();
    } else {
      // Few queries over many rows: split the rows, then merge the per-thread bests.
      for (std::size_t q = 0; q < nq; q += index::kMaxQueryGroup) {
        const std::size_t g = std::min(index::kMaxQueryGroup, nq - q);
        std::vector<std::vector<Best>> partial(threads, std::vector<Best>(g, Best(nslots)));
        std::vector<std::thread> pool;
        const std::size_t per = (n + threads - 1) / threads;
        for (std::size_t t = 0; t < threads; ++t) {
          const std::size_t a = t * per;
          const std::size_t b = std::min(n, a + per);
          if (a >= b) continue;
          pool.emplace_back([&, t, a, b] {
            scan(qdata + q * dims, g, rows, slots, a, b, partial[t].data());
          });
        }
        for (auto& th : pool) th.join();
        for (std::size_t t = 1; t < threads; ++t) {
          for (std::size_t i = 0; i < g; ++i) partial[0][i].merge(partial[t][i]);
        }
        for (std::size_t i = 0; i < g; ++i) results[q + i] = finalize(partial[0][i], k, mode);
      }
    }
    return results;
  }
};

EmbeddingIndex::EmbeddingIndex(const EmbeddingIndexOptions& options)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  if (impl_->options.parallel_min_rows < 2) impl_->options.parallel_min_rows = 2;
}
EmbeddingIndex::~EmbeddingIndex() = default;
EmbeddingIndex::EmbeddingIndex(EmbeddingIndex&&) noexcept = default;
EmbeddingIndex& EmbeddingIndex::operator=(EmbeddingIndex&&) noexcept = default;

void EmbeddingIndex::add(const std::string& face_id, const std::string& person,
                         const Embedding& embedding) {
  if (face_id.empty()) throw Error(ErrorCode::kInvalidArgument, "face id is empty");
  if (person.empty()) throw Error(ErrorCode::kInvalidArgument, "person name is empty");
  for (float v : embedding) {
    if (!std::isfinite(v)) {
      throw Error(ErrorCode::kInvalidArgument, "embedding of face " + face_id + " is not finite");
    }
  }
  auto& im = *impl_;
  if (embedding.empty()) throw Error(ErrorCode::kInvalidArgument, "embedding of face " + face_id + " is empty");
  if (im.dims == 0) im.dims = embedding.size();
  if (embedding.size() != im.dims) {
    throw Error(ErrorCode::kInvalidArgument, "embedding of face " + face_id + " has " +
                                                 std::to_string(embedding.size()) + " values, the index holds " +
                                                 std::to_string(im.dims) + " per face");
  }
  if (im.id_row.count(face_id)) {
    throw Error(ErrorCode::kInvalidArgument, "face id " + face_id + " is already in the index");
  }
  const std::uint32_t slot = im.slot_for(person);
  const std::size_t row = im.row_slot.size();
  im.matrix.insert(im.matrix.end(), embedding.begin(), embedding.end());
  im.row_slot.push_back(slot);
  im.row_id.push_back(face_id);
  im.id_row.emplace(face_id, row);
  im.account(slot, embedding.data(), +1);
  im.on_added_row(row);
  im.revision = next_revision();
}

bool EmbeddingIndex::remove(const std::string& face_id) {
  const auto it = impl_->id_row.find(face_id);
  if (it == impl_->id_row.end()) return false;
  impl_->remove_row(it->second);
  return true;
}

std::size_t EmbeddingIndex::remove_person(const std::string& person) {
  auto& im = *impl_;
  const auto it = im.person_slot.find(person);
  if (it == im.person_slot.end()) return 0;
  const std::uint32_t slot = it->second;
  std::size_t removed = 0;
  for (std::size_t r = im.row_slot.size(); r-- > 0;) {
    if (im.row_slot[r] == slot) {
      im.remove_row(r);
      ++removed;
    }
  }
  return removed;
}

std::size_t EmbeddingIndex::rename_person(const std::string& from, const std::string& to) {
  auto& im = *impl_;
  if (to.empty()) throw Error(ErrorCode::kInvalidArgument, "new person name is empty");
  const auto it = im.person_slot.find(from);
  if (it == im.person_slot.end() || from == to) return 0;
  const std::uint32_t old_slot = it->second;
  const std::uint32_t new_slot = im.slot_for(to);
  std::size_t moved = 0;
  for (std::size_t r = 0; r < im.row_slot.size(); ++r) {
    if (im.row_slot[r] != old_slot) continue;
    im.account(old_slot, im.matrix.data() + r * im.dims, -1);
    im.account(new_slot, im.matrix.data() + r * im.dims, +1);
    im.row_slot[r] = new_slot;
    ++moved;
  }
  if (moved > 0) im.revision = next_revision();
  return moved;
}

void EmbeddingIndex::clear() {
  const EmbeddingIndexOptions options = impl_->options;
  impl_ = std::make_unique<Impl>();
  impl_->options = options;
}

void EmbeddingIndex::reserve(std::size_t rows) {
  impl_->matrix.reserve(rows * (impl_->dims != 0 ? impl_->dims : kDlibEmbeddingSize));  // empty: guess dlib's
  impl_->row_slot.reserve(rows);
  impl_->row_id.reserve(rows);
  impl_->id_row.reserve(rows);
}

std::size_t EmbeddingIndex::size() const { return impl_->row_slot.size(); }
std::size_t EmbeddingIndex::dimensions() const { return impl_->dims; }
std::uint64_t EmbeddingIndex::revision() const { return impl_->revision; }
std::size_t EmbeddingIndex::person_count() const { return impl_->active_persons; }
bool EmbeddingIndex::contains(const std::string& face_id) const {
  return impl_->id_row.count(face_id) > 0;
}

Embedding EmbeddingIndex::matched_embedding(const IdentityMatch& match) const {
  const auto& im = *impl_;
  const float* values = nullptr;
  if (!match.face_id.empty()) {
    if (const auto it = im.id_row.find(match.face_id); it != im.id_row.end()) values = im.matrix.data() + it->second * im.dims;
  } else if (const auto it = im.person_slot.find(match.person); it != im.person_slot.end() && im.slot_count[it->second] > 0) {
    values = im.centroid.data() + std::size_t{it->second} * im.dims;
  }
  return values ? Embedding(values, values + im.dims) : Embedding{};
}

std::size_t EmbeddingIndex::memory_bytes() const {
  const auto& im = *impl_;
  std::size_t bytes = im.matrix.capacity() * sizeof(float) +
                      im.row_slot.capacity() * sizeof(std::uint32_t) +
                      im.row_id.capacity() * sizeof(std::string);
  for (const auto& id : im.row_id) bytes += id.capacity() > 15 ? id.capacity() + 1 : 0;
  // unordered_map: one node (next pointer, key, value, cached hash) per entry plus buckets;
  // the key is a second copy of the id.
  bytes += im.id_row.size() * (sizeof(void*) + sizeof(std::string) + 2 * sizeof(std::size_t));
  for (const auto& [id, row] : im.id_row) bytes += id.capacity() > 15 ? id.capacity() + 1 : 0;
  bytes += im.id_row.bucket_count() * sizeof(void*);
  bytes += im.slot_person.capacity() * sizeof(std::string) +
           im.slot_count.capacity() * sizeof(std::uint32_t) +
           im.slot_sum.capacity() * sizeof(double) + im.centroid.capacity() * sizeof(float) +
           im.person_slot.size() * (sizeof(void*) + sizeof(std::string) + 2 * sizeof(std::size_t)) +
           im.person_slot.bucket_count() * sizeof(void*);
  if (im.approx_ready.load(std::memory_order_acquire) && im.approx) {
    bytes += im.approx->ann->memory_bytes() +
             (im.approx->label_row.capacity() + im.approx->row_label.capacity()) * sizeof(std::uint32_t);
  }
  return bytes;
}

std::vector<IdentityMatch> EmbeddingIndex::search(const Embedding& query, std::size_t k,
                                                  IdentityDistance mode) const {
  return std::move(impl_->run(&query, 1, k, mode)[0]);
}

std::vector<std::vector<IdentityMatch>> EmbeddingIndex::search_batch(
    std::span<const Embedding> queries, std::size_t k, IdentityDistance mode) const {
  return impl_->run(queries.data(), queries.size(), k, mode);
}

const EmbeddingIndexOptions& EmbeddingIndex::options() const { return impl_->options; }

bool EmbeddingIndex::approximate_active() const {
  return impl_->wants_approximate() && impl_->approx_ready.load(std::memory_order_acquire);
}

void EmbeddingIndex::save_approximate(const std::string& path) {
  auto& im = *impl_;
  if (!im.wants_approximate()) {
    index::remove_snapshot(path);  // a smaller gallery now: a stale file must not linger
    return;
  }
  if (!im.approx) im.build_approximate();
  im.flush_pending();
  index::SnapshotRows rows{im.dims, im.matrix.data(), &im.row_id};
  index::write_snapshot(path, rows, *im.approx->ann, im.approx->label_row);
}

bool EmbeddingIndex::load_approximate(const std::string& path) {
  auto& im = *impl_;
  if (!im.wants_approximate()) return false;
  index::SnapshotRows rows{im.dims, im.matrix.data(), &im.row_id};
  auto loaded = index::read_snapshot(path, rows, im.id_row);
  if (!loaded) {
    im.build_approximate();
    return false;
  }
  auto fresh = std::make_unique<Approximate>();
  fresh->ann = std::move(loaded->ann);
  fresh->label_row = std::move(loaded->label_row);
  fresh->row_label.assign(im.row_slot.size(), 0);
  for (std::size_t label = 0; label < fresh->label_row.size(); ++label) {
    if (fresh->label_row[label] == kNoRow) ++fresh->dead;
    else fresh->row_label[fresh->label_row[label]] = static_cast<std::uint32_t>(label);
  }
  im.approx = std::move(fresh);
  im.approx_ready.store(true, std::memory_order_release);
  return true;
}
bool EmbeddingIndex::simd_supported() { return index::avx2_supported(); }

}  // namespace siamface
