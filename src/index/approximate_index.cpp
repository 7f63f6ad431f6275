#include "index/approximate_index.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexScalarQuantizer.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>

#include "siamface/errors.hpp"

namespace siamface::index {

const char* to_string(ApproximateKind kind) {
  return kind == ApproximateKind::kIvf ? "ivf-sq8" : "hnsw-sq8";
}

namespace {

// FAISS's k-means and IVF assignment call sgemm; when the system BLAS is OpenBLAS (Debian's
// libblas.so.3 alternative often is) it runs its own thread pool, sized to the machine. Limit it
// to what the caller asked for while we call FAISS, found by name so any BLAS links.
class ScopedBlasThreads {
 public:
  explicit ScopedBlasThreads(int threads) {
    set_ = reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
    auto get = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
    if (set_ == nullptr || get == nullptr) return;
    saved_ = get();
    set_(std::max(1, threads));
  }
  ~ScopedBlasThreads() {
    if (set_ != nullptr && saved_ > 0) set_(saved_);
  }
  ScopedBlasThreads(const ScopedBlasThreads&) = delete;
  ScopedBlasThreads& operator=(const ScopedBlasThreads&) = delete;

 private:
  void (*set_)(int) = nullptr;
  int saved_ = 0;
};

struct FilterSelector final : faiss::IDSelector {
  const LabelFilter* alive;
  explicit FilterSelector(const LabelFilter* f) : alive(f) {}
  bool is_member(faiss::Index::idx_t id) const override { return (*alive)(id); }
};

std::size_t lists_for(std::size_t rows, std::size_t requested) {
  if (requested != 0) return requested;
  const auto lists = static_cast<std::size_t>(4.0 * std::sqrt(static_cast<double>(rows)));
  return std::clamp<std::size_t>(lists, 16, 65536);
}

}  // namespace

struct ApproximateIndex::Impl {
  std::size_t dims = 0;
  ApproximateParams params;
  std::unique_ptr<faiss::Index> index;  // created at the first add (IVF needs the row count)

  faiss::IndexHNSW* hnsw() const { return dynamic_cast<faiss::IndexHNSW*>(index.get()); }
  faiss::IndexIVF* ivf() const { return dynamic_cast<faiss::IndexIVF*>(index.get()); }
};

ApproximateIndex::ApproximateIndex(std::size_t dims, const ApproximateParams& params)
    : impl_(std::make_unique<Impl>()) {
  if (dims == 0) throw Error(ErrorCode::kInvalidArgument, "approximate index: dimensions is 0");
  impl_->dims = dims;
  impl_->params = params;
}
ApproximateIndex::ApproximateIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ApproximateIndex::~ApproximateIndex() = default;

void ApproximateIndex::add(const float* rows, std::size_t n, int threads) {
  if (n == 0) return;
  auto& im = *impl_;
  const auto d = static_cast<int>(im.dims);
  ScopedOmpThreads omp(threads);
  ScopedBlasThreads blas(threads);
  try {
    if (!im.index) {
      if (im.params.kind == ApproximateKind::kHnsw) {
        auto index = std::make_unique<faiss::IndexHNSWSQ>(d, faiss::ScalarQuantizer::QT_8bit,
                                                          im.params.hnsw_neighbors);
        index->hnsw.efConstruction = im.params.hnsw_build_effort;
        index->hnsw.efSearch = im.params.hnsw_search_effort;
        im.index = std::move(index);
      } else {
        auto* quantizer = new faiss::IndexFlatL2(d);
        auto index = std::make_unique<faiss::IndexIVFScalarQuantizer>(
            quantizer, im.dims, lists_for(n, im.params.ivf_lists), faiss::ScalarQuantizer::QT_8bit,
            faiss::METRIC_L2, true);
        index->own_fields = true;
        index->nprobe = im.params.ivf_probes;
        im.index = std::move(index);
      }
      im.index->train(static_cast<faiss::Index::idx_t>(n), rows);
    }
    im.index->add(static_cast<faiss::Index::idx_t>(n), rows);
  } catch (const faiss::FaissException& e) {
    throw Error(ErrorCode::kInternal, std::string("approximate index: add failed: ") + e.what());
  }
}

void ApproximateIndex::search(const float* queries, std::size_t nq, std::size_t k,
                              const LabelFilter& alive, int threads,
                              std::int64_t* labels_out) const {
  std::fill_n(labels_out, nq * k, -1);
  const auto& im = *impl_;
  if (!im.index || im.index->ntotal == 0 || nq == 0 || k == 0) return;
  std::vector<float> distances(nq * k);
  std::vector<faiss::Index::idx_t> labels(nq * k, -1);
  FilterSelector selector(&alive);
  ScopedOmpThreads omp(threads);
  try {
    if (const auto* h = im.hnsw()) {
      // FAISS 1.7.3 (Debian 12) searches with hnsw.efSearch, set at creation, load and by
      // set_search_effort; the parameter is set too for FAISS versions that read it.
      faiss::SearchParametersHNSW params;
      params.efSearch = std::max<int>(im.params.hnsw_search_effort, static_cast<int>(k));
      if (alive) params.sel = &selector;
      h->search(static_cast<faiss::Index::idx_t>(nq), queries, static_cast<faiss::Index::idx_t>(k),
                distances.data(), labels.data(), &params);
    } else {
      faiss::SearchParametersIVF params;
      params.nprobe = im.params.ivf_probes;
      if (alive) params.sel = &selector;
      im.index->search(static_cast<faiss::Index::idx_t>(nq), queries, static_cast<faiss::Index::idx_t>(k),
                       distances.data(), labels.data(), &params);
    }
  } catch (const faiss::FaissException& e) {
    throw Error(ErrorCode::kInternal, std::string("approximate index: search failed: ") + e.what());
  }
  std::copy(labels.begin(), labels.end(), labels_out);
}

void ApproximateIndex::set_search_effort(int effort) {
  impl_->params.hnsw_search_effort = std::max(1, effort);
  if (auto* h = impl_->hnsw()) h->hnsw.efSearch = impl_->params.hnsw_search_effort;
}

std::size_t ApproximateIndex::added() const {
  return impl_->index ? static_cast<std::size_t>(impl_->index->ntotal) : 0;
}
std::size_t ApproximateIndex::dimensions() const { return impl_->dims; }

ApproximateKind ApproximateIndex::kind() const {
  if (impl_->index) return impl_->hnsw() != nullptr ? ApproximateKind::kHnsw : ApproximateKind::kIvf;
  return impl_->params.kind;
}

std::size_t ApproximateIndex::memory_bytes() const {
  const auto& im = *impl_;
  if (!im.index) return 0;
  std::size_t bytes = 0;
  if (const auto* h = im.hnsw()) {
    bytes += h->hnsw.neighbors.capacity() * sizeof(faiss::HNSW::storage_idx_t) +
             h->hnsw.offsets.capacity() * sizeof(std::size_t) + h->hnsw.levels.capacity() * sizeof(int);
    if (const auto* codes = dynamic_cast<const faiss::IndexFlatCodes*>(h->storage)) {
      bytes += codes->codes.capacity();
    }
  } else if (const auto* ivf = im.ivf()) {
    for (std::size_t list = 0; list < ivf->nlist; ++list) {
      bytes += ivf->invlists->list_size(list) * (ivf->code_size + sizeof(faiss::Index::idx_t));
    }
    bytes += ivf->nlist * im.dims * sizeof(float);  // the coarse centroids
  }
  return bytes;
}

std::vector<std::uint8_t> ApproximateIndex::serialize() const {
  if (!impl_->index) throw Error(ErrorCode::kInternal, "approximate index: nothing to write");
  try {
    faiss::VectorIOWriter writer;
    faiss::write_index(impl_->index.get(), &writer);
    return std::move(writer.data);
  } catch (const faiss::FaissException& e) {
    throw Error(ErrorCode::kIo, std::string("approximate index: write failed: ") + e.what());
  }
}

std::unique_ptr<ApproximateIndex> ApproximateIndex::deserialize(
    const std::vector<std::uint8_t>& bytes, std::size_t dims, const ApproximateParams& params) {
  auto impl = std::make_unique<Impl>();
  impl->dims = dims;
  impl->params = params;
  try {
    faiss::VectorIOReader reader;
    reader.data = bytes;
    impl->index.reset(faiss::read_index(&reader));
  } catch (const std::exception& e) {  // FaissException, or bad_alloc from a wild length
    throw Error(ErrorCode::kGallery, std::string("approximate index: unreadable: ") + e.what());
  }
  if (!impl->index || static_cast<std::size_t>(impl->index->d) != dims) {
    throw Error(ErrorCode::kGallery, "approximate index: holds " +
                                         std::to_string(impl->index ? impl->index->d : 0) +
                                         " dimensions, expected " + std::to_string(dims));
  }
  if (auto* h = impl->hnsw()) {
    impl->params.kind = ApproximateKind::kHnsw;
    h->hnsw.efSearch = params.hnsw_search_effort;
  } else if (auto* ivf = impl->ivf()) {
    impl->params.kind = ApproximateKind::kIvf;
    ivf->nprobe = params.ivf_probes;
  } else {
    throw Error(ErrorCode::kGallery, "approximate index: not an HNSW or IVF index");
  }
  return std::unique_ptr<ApproximateIndex>(new ApproximateIndex(std::move(impl)));
}

}  // namespace siamface::index
