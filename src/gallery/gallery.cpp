// Gallery: the rules (validation, duplicates, the model check, merges) and the in-memory index,
// over a Store (gallery_store.hpp) that is either an SQLite file or a PostgreSQL database.
// Unknown faces and clusters: unknown_faces.cpp; merges, splits and negative examples:
// corrections.cpp; the state they share: gallery_impl.hpp.
#include "siamface/gallery.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <unordered_map>
#include <unordered_set>

#include "gallery/gallery_impl.hpp"
#include "gallery/gallery_store.hpp"
#include "gallery/jsonl_codec.hpp"
#include "gallery/posix_files.hpp"
#include "gallery/validation.hpp"
#include "siamface/errors.hpp"

namespace siamface {

namespace fs = std::filesystem;
using gallery::check_page;
using gallery::IndexSync;
using gallery::ReadScope;
using gallery::WriteEffects;
using gallery::WriteScope;

std::string default_gallery_path() {
  if (const char* env = std::getenv("SIAMFACE_GALLERY"); env && *env) return env;
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg) {
    return (fs::path(xdg) / "siamface" / "gallery.db").string();
  }
  const char* home = std::getenv("HOME");
  return (fs::path(home && *home ? home : ".") / ".local" / "share" / "siamface" / "gallery.db").string();
}

Gallery::Impl::~Impl() {
  if (store) store->stop_listening();  // a PostgreSQL listener calls refresh() until then
  save_approximate_snapshot();
}

void Gallery::Impl::load_approximate_snapshot() {
  if (!approximate_snapshot_path) return;
  std::unique_lock lock(index_mutex);
  if (index.load_approximate(*approximate_snapshot_path)) snapshot_revision = index.revision();
}

// Best effort, at close: a snapshot that cannot be written is rebuilt at the next start.
void Gallery::Impl::save_approximate_snapshot() noexcept {
  if (!approximate_snapshot_path || index.revision() == snapshot_revision) return;
  // Never build a large index just to save it (a one-off `enroll` into a big gallery).
  if (!index.approximate_active() && index.options().approximate_min_rows > 0 &&
      index.size() >= index.options().approximate_min_rows) {
    return;
  }
  try {
    index.save_approximate(*approximate_snapshot_path);
    snapshot_revision = index.revision();
  } catch (const std::exception&) {
  }
}

void Gallery::Impl::apply(IndexSync&& sync) {
  if (sync.full) {
    EmbeddingIndex fresh(options.index);
    fresh.reserve(sync.rows.size());
    for (const auto& row : sync.rows) fresh.add(row.id, row.person, row.embedding);
    std::unique_lock lock(index_mutex);
    index = std::move(fresh);
    model = std::move(sync.model);
    return;
  }
  std::unique_lock lock(index_mutex);
  for (const auto& id : sync.removed) index.remove(id);
  for (const auto& row : sync.rows) {
    index.remove(row.id);  // a changed row (renamed, reindexed) replaces the old one
    index.add(row.id, row.person, row.embedding);
  }
  model = std::move(sync.model);
}

void Gallery::Impl::load_locked() {
  apply(store->load());
  load_negatives_locked();
}

void Gallery::Impl::refresh_locked() {
  if (auto sync = store->poll()) {
    apply(std::move(*sync));
    load_negatives_locked();
  }
}

void Gallery::Impl::load_negatives_locked() {
  auto fresh = store->negatives(nullptr);
  std::unique_lock lock(index_mutex);
  negatives = std::move(fresh);
}

void Gallery::Impl::refresh() {
  if (!store->may_have_changed()) return;
  std::lock_guard lock(db_mutex);
  refresh_locked();
}

// Before a search: take in others' changes; while the database server is unreachable
// (PostgreSQL), answer from the index in memory, which catches up when it is back.
// After a failure, searches wait a second before asking again, so an unreachable host's
// connect timeout does not stall every search.
void Gallery::Impl::refresh_for_search() {
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  if (now < quiet_until.load()) return;
  try {
    refresh();
  } catch (const Error& e) {
    if (e.code() != ErrorCode::kGalleryUnavailable) throw;
    quiet_until = std::chrono::steady_clock::now().time_since_epoch().count() +
                  std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::seconds(1)).count();
  }
}

void Gallery::Impl::best_effort_forget_locked() {
  try {
    store->forget_removed(false);
  } catch (const Error&) {
    // Another process holds the file; its next checkpoint will do it.
  }
}

void Gallery::Impl::commit(WriteScope& txn, WriteEffects effects) {
  txn.commit();
  if (effects.reload) {
    load_locked();
  } else if (effects.changes_index()) {
    std::unique_lock lock(index_mutex);
    if (effects.cleared) index.clear();
    for (const auto& id : effects.removed_faces) index.remove(id);
    if (effects.removed_person) index.remove_person(*effects.removed_person);
    if (effects.renamed_person) index.rename_person(effects.renamed_person->first, effects.renamed_person->second);
    if (!effects.added_faces.empty()) model = effects.added_faces.front().model;
    for (const auto* faces : {&effects.added_faces, &effects.refiled_faces}) {
      for (const GalleryFace& f : *faces) {
        index.remove(f.id);  // the change feed may have brought it in already
        index.add(f.id, f.person, f.embedding);
      }
    }
    if (!model && effects.first_model) model = std::move(effects.first_model);
  }
  if (effects.negatives_changed && !effects.reload) load_negatives_locked();
  if (effects.rows_removed) best_effort_forget_locked();
}

std::vector<AddOutcome> Gallery::Impl::insert_locked(const std::vector<GalleryFace>& batch,
                                                     std::vector<GalleryFace>& added) {
  std::optional<ModelInfo> current = store->read_model();
  // The first face fixes the model of a gallery that has none or holds no faces.
  if (!batch.empty() &&
      (!current || (!gallery::same_model(*current, batch.front().model) && store->count_faces() == 0))) {
    store->write_model(batch.front().model);
    current = batch.front().model;
  }
  std::vector<AddOutcome> outcomes;
  outcomes.reserve(batch.size());
  const std::int64_t now = gallery::now_unix_ms();
  for (const GalleryFace& in : batch) {
    if (current && !gallery::same_model(*current, in.model)) {
      gallery::throw_model_mismatch(location(), *current, in.model);
    }
    if (auto existing = stored_face_like(in)) {
      outcomes.push_back({AddStatus::kDuplicate, std::move(existing->id), std::move(existing->person)});
      continue;
    }
    // A given id (an import) that exists is the same face again; a generated one is retried.
    if (!in.id.empty()) {
      if (auto existing = store->face(in.id)) {
        outcomes.push_back({AddStatus::kDuplicate, in.id, std::move(existing->person)});
        continue;
      }
    }
    GalleryFace f = in;
    if (f.id.empty()) {
      do {
        f.id = gallery::new_face_id();
      } while (store->has_face_id(f.id));
    }
    if (f.created_unix_ms == 0) f.created_unix_ms = now;
    store->insert_face(f);
    outcomes.push_back({AddStatus::kAdded, f.id, f.person});
    added.push_back(std::move(f));
  }
  return outcomes;
}

// The stored face that `in` would repeat, inside the open transaction: a photo's face is
// stored at most once, under one person. The same image with an overlapping box is the same
// face under whatever name it is stored (the best overlap wins); otherwise a face of the same
// image under the same person (one face per person and photo, UNIQUE(person, image_sha256)).
std::optional<gallery::ImageFace> Gallery::Impl::stored_face_like(const GalleryFace& in) {
  std::optional<gallery::ImageFace> same_face;
  std::optional<gallery::ImageFace> same_person;
  float best_iou = 0.0F;
  for (gallery::ImageFace& stored : store->faces_of_image(in.image_sha256)) {
    const float iou = intersection_over_union(stored.box, in.face.box);
    if (iou >= kSameFaceMinIou && iou > best_iou) {
      best_iou = iou;
      same_face = stored;
    }
    if (!same_person && stored.person == in.person) same_person = std::move(stored);
  }
  return same_face ? same_face : same_person;
}

std::size_t Gallery::Impl::move_person_locked(const std::string& from, const std::string& to,
                                              WriteEffects& effects) {
  // A photo `to` already has would violate UNIQUE(person, image_sha256): drop it.
  effects.removed_faces = store->faces_sharing_images(from, to);
  for (const auto& id : effects.removed_faces) store->delete_face(id);
  effects.renamed_person = std::pair(from, to);
  return store->move_person(from, to);
}

void Gallery::Impl::check_search_model(const ModelInfo& given) const {
  if (model && index.size() > 0 && !gallery::same_model(*model, given)) {
    gallery::throw_model_mismatch(location(), *model, given);
  }
}

Gallery::Gallery(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Gallery::~Gallery() = default;
Gallery::Gallery(Gallery&&) noexcept = default;
Gallery& Gallery::operator=(Gallery&&) noexcept = default;

Gallery Gallery::open(const std::string& path, const GalleryOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->index = EmbeddingIndex(options.index);
  impl->store = is_postgres_gallery(path) ? gallery::open_postgres_store(path, options)
                                           : gallery::open_sqlite_store(path, options);
  {
    std::lock_guard lock(impl->db_mutex);
    impl->load_locked();
  }
  if (!is_postgres_gallery(path) && options.index.approximate_min_rows > 0) {
    impl->approximate_snapshot_path = impl->location() + ".faiss";
    impl->load_approximate_snapshot();
  }
  // Another node's commit: bring the index in step now, not at the next search.
  impl->store->on_change([im = impl.get()] {
    try {
      im->refresh();
    } catch (const Error&) {
      // The server is unreachable; the next call reports it, and the listener retries.
    }
  });
  return Gallery(std::move(impl));
}

const std::string& Gallery::path() const { return impl_->location(); }

std::vector<AddOutcome> Gallery::add_faces(const std::vector<GalleryFace>& batch) {
  for (std::size_t i = 0; i < batch.size(); ++i) {
    gallery::validate_face(batch[i], "face " + std::to_string(i) + " of the batch: ");
  }
  if (batch.empty()) return {};
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  im.refresh_locked();
  // Every row of a gallery has one size (its recognizer's); checked before anything is written.
  std::size_t dims = im.index.dimensions();
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (dims == 0) dims = batch[i].embedding.size();
    if (batch[i].embedding.size() != dims || dims > gallery::kMaxEmbeddingFloats) {
      throw Error(ErrorCode::kInvalidArgument, "face " + std::to_string(i) + " of the batch: embedding has " +
                                                   std::to_string(batch[i].embedding.size()) +
                                                   " values, the gallery holds " + std::to_string(dims) + " per face");
    }
  }
  WriteScope txn(*im.store);
  WriteEffects effects;
  std::vector<AddOutcome> outcomes = im.insert_locked(batch, effects.added_faces);
  im.commit(txn, std::move(effects));
  return outcomes;
}

AddOutcome Gallery::add_face(const GalleryFace& face) { return add_faces({face}).front(); }

bool Gallery::has_image(const std::string& image_sha256) const {
  std::lock_guard lock(impl_->db_mutex);
  return impl_->store->has_image(image_sha256, nullptr);
}

bool Gallery::has_image(const std::string& image_sha256, const std::string& person) const {
  std::lock_guard lock(impl_->db_mutex);
  return impl_->store->has_image(image_sha256, &person);
}

std::optional<GalleryFace> Gallery::face(const std::string& face_id) const {
  std::lock_guard lock(impl_->db_mutex);
  return impl_->store->face(face_id);
}

std::vector<GalleryFace> Gallery::faces_of(const std::string& person) const {
  std::lock_guard lock(impl_->db_mutex);
  std::vector<GalleryFace> out;
  impl_->store->for_each_face(&person, [&](GalleryFace&& f) { out.push_back(std::move(f)); });
  return out;
}

std::vector<PersonSummary> Gallery::people() const {
  std::lock_guard lock(impl_->db_mutex);
  return impl_->store->people();
}

std::int64_t Gallery::face_count() const {
  std::lock_guard lock(impl_->db_mutex);
  return impl_->store->count_faces();
}

std::size_t Gallery::remove_person(const std::string& person) {
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  im.refresh_locked();
  WriteScope txn(*im.store);
  const std::size_t removed = im.store->delete_person(person);
  if (removed == 0) {
    throw Error(ErrorCode::kNotFound, "no person named '" + person + "' in gallery " + im.location());
  }
  im.store->delete_negatives(&person);  // "not <person>" means nothing once they are gone
  im.commit(txn, {.removed_person = person, .negatives_changed = true, .rows_removed = true});
  return removed;
}

void Gallery::remove_face(const std::string& face_id) {
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  im.refresh_locked();
  WriteScope txn(*im.store);
  if (!im.store->delete_face(face_id)) {
    throw Error(ErrorCode::kNotFound, "no face with id " + face_id + " in gallery " + im.location());
  }
  im.commit(txn, {.removed_faces = {face_id}, .rows_removed = true});
}

std::size_t Gallery::rename_person(const std::string& from, const std::string& to) {
  gallery::validate_person(to, "rename: new ");
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  im.refresh_locked();
  WriteScope txn(*im.store);
  const std::int64_t count = im.store->count_faces_of(from);
  if (count == 0) {
    throw Error(ErrorCode::kNotFound, "no person named '" + from + "' in gallery " + im.location());
  }
  if (from == to) return static_cast<std::size_t>(count);
  WriteEffects effects;
  const std::size_t moved = im.move_person_locked(from, to, effects);
  effects.rows_removed = !effects.removed_faces.empty();
  im.commit(txn, std::move(effects));
  return moved;
}

std::size_t Gallery::remove_all() {
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  WriteScope txn(*im.store);
  const std::size_t removed = im.store->delete_all_faces();
  im.store->delete_negatives(nullptr);
  im.commit(txn, {.cleared = true, .negatives_changed = true, .rows_removed = true});
  return removed;
}

std::size_t Gallery::export_jsonl(const std::string& file) const {
  auto& im = *impl_;
  gallery::PrivateOutputFile out(file, "export file");
  std::size_t count = 0;
  {
    std::lock_guard lock(im.db_mutex);
    ReadScope read(*im.store);
    out.write(gallery::header_line({im.store->read_model(), im.store->settings()}) + "\n");
    im.store->for_each_face(
        nullptr,
        [&](GalleryFace&& f) {
          out.write(gallery::face_line(f) + "\n");
          ++count;
        },
        /*with_thumbnails=*/true);
    for (const NegativeExample& n : im.store->negatives(nullptr)) out.write(gallery::negative_line(n) + "\n");
  }
  out.finish();
  return count;
}

ImportResult Gallery::import_jsonl(const std::string& file) {
  std::ifstream in(file);
  if (!in) throw Error(ErrorCode::kIo, "cannot read import file " + file);
  return import_jsonl(in, file);
}

ImportResult Gallery::import_jsonl(std::istream& in, const std::string& file) {
  const gallery::ParsedExport parsed = gallery::parse_export(in, file);
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  im.refresh_locked();
  ImportResult result;
  {
    WriteScope txn(*im.store);
    WriteEffects effects;
    for (const auto& [key, value] : parsed.header.settings) im.store->put_setting(key, value);
    const std::vector<AddOutcome> outcomes = im.insert_locked(parsed.faces, effects.added_faces);
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
      if (outcomes[i].status == AddStatus::kAdded) {
        ++result.added;
        continue;
      }
      ++result.duplicates;
      const GalleryFace& f = parsed.faces[i];
      if (outcomes[i].person != f.person) {
        result.other_person.push_back({f.id, f.person, f.source_path, outcomes[i].person});
      }
    }
    if (!parsed.negatives.empty()) {
      std::set<std::string> present;
      for (const NegativeExample& n : im.store->negatives(nullptr)) present.insert(n.id);
      for (const NegativeExample& n : parsed.negatives) {
        if (!present.insert(n.id).second) continue;
        if (im.store->count_faces_of(n.person) == 0) {
          throw Error(ErrorCode::kInvalidArgument, file + ": negative example " + n.id + " is for '" + n.person +
                                                       "', who has no face in the gallery or the file");
        }
        if (const auto current = im.store->read_model(); parsed.header.model && current &&
                                                          !gallery::same_model(*current, *parsed.header.model)) {
          gallery::throw_model_mismatch(im.location(), *current, *parsed.header.model);
        }
        if (im.index.dimensions() != 0 && n.embedding.size() != im.index.dimensions()) {
          throw Error(ErrorCode::kInvalidArgument, file + ": negative example " + n.id + " has " +
                                                       std::to_string(n.embedding.size()) + " values, the gallery holds " +
                                                       std::to_string(im.index.dimensions()) + " per face");
        }
        im.store->insert_negative(n);
        ++result.negatives;
      }
    }
    effects.negatives_changed = result.negatives > 0;
    im.commit(txn, std::move(effects));
  }
  return result;
}

GalleryInfo Gallery::info() const {
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  GalleryInfo info;
  info.path = im.location();
  info.schema_version = im.store->schema_version();
  info.model = im.store->read_model();
  info.face_count = im.store->count_faces();
  info.person_count = im.store->count_people();
  if (const auto saved = im.store->setting(kThresholdSetting)) {
    try {
      info.threshold = parse_distance_threshold(*saved);
    } catch (const Error&) {
      // Only an old file written before the check could hold one; resolve_threshold says so.
    }
  }
  info.file_bytes = im.store->stored_bytes();
  return info;
}

std::optional<ModelInfo> Gallery::model() const {
  std::lock_guard lock(impl_->db_mutex);
  return impl_->store->read_model();
}

std::optional<std::string> Gallery::setting(const std::string& key) const {
  std::lock_guard lock(impl_->db_mutex);
  return impl_->store->setting(key);
}

void Gallery::set_setting(const std::string& key, const std::string& value) {
  gallery::validate_setting(key, value);
  std::lock_guard lock(impl_->db_mutex);
  WriteScope txn(*impl_->store);
  impl_->store->put_setting(key, value);
  impl_->commit(txn);
}

bool Gallery::erase_setting(const std::string& key) {
  std::lock_guard lock(impl_->db_mutex);
  WriteScope txn(*impl_->store);
  const bool erased = impl_->store->delete_setting(key);
  impl_->commit(txn);
  return erased;
}

std::vector<FaceSource> Gallery::face_sources() const {
  std::lock_guard lock(impl_->db_mutex);
  std::vector<FaceSource> out;
  impl_->store->for_each_face(nullptr, [&](GalleryFace&& f) {
    out.push_back({std::move(f.id), std::move(f.person), std::move(f.source_path), std::move(f.image_sha256), f.face});
  });
  return out;
}

void Gallery::reindex(const std::vector<ReindexUpdate>& updates, const ModelInfo& model, bool remove_unlisted) {
  gallery::validate_model(model, "reindex: ");
  std::unordered_map<std::string, const ReindexUpdate*> by_id;
  for (const ReindexUpdate& u : updates) {
    for (float v : u.embedding) gallery::require_finite(v, "reindex of face " + u.face_id + ": ", "embedding");
    if (!by_id.emplace(u.face_id, &u).second) {
      throw Error(ErrorCode::kInvalidArgument, "reindex: face " + u.face_id + " listed twice");
    }
  }
  auto& im = *impl_;
  std::lock_guard lock(im.db_mutex);
  {
    WriteScope txn(*im.store);
    const std::vector<std::string> ids = im.store->face_ids();
    const std::unordered_set<std::string> present(ids.begin(), ids.end());
    for (const auto& [id, u] : by_id) {
      if (!present.count(id)) {
        throw Error(ErrorCode::kNotFound, "reindex: no face with id " + id + " in gallery " + im.location());
      }
    }
    for (const auto& id : ids) {
      if (by_id.count(id)) continue;
      if (!remove_unlisted) {
        throw Error(ErrorCode::kInvalidArgument, "reindex: face " + id + " has no new embedding; nothing was changed");
      }
      im.store->delete_face(id);
    }
    for (const ReindexUpdate& u : updates) {
      im.store->update_embedding(u.face_id, u.embedding, model);
      if (u.face) im.store->update_geometry(u.face_id, *u.face);
    }
    im.store->write_model(model);
    im.commit(txn, {.reload = true, .rows_removed = true});
  }
}

std::vector<IdentityMatch> Gallery::search(const Embedding& query, const ModelInfo& model, std::size_t k,
                                           IdentityDistance mode) const {
  impl_->refresh_for_search();
  std::shared_lock lock(impl_->index_mutex);
  impl_->check_search_model(model);
  return impl_->index.search(query, k, mode);
}

std::vector<std::vector<IdentityMatch>> Gallery::search_batch(std::span<const Embedding> queries,
                                                              const ModelInfo& model, std::size_t k,
                                                              IdentityDistance mode) const {
  impl_->refresh_for_search();
  std::shared_lock lock(impl_->index_mutex);
  impl_->check_search_model(model);
  return impl_->index.search_batch(queries, k, mode);
}

Embedding Gallery::matched_embedding(const IdentityMatch& match) const {
  std::shared_lock lock(impl_->index_mutex);
  return impl_->index.matched_embedding(match);
}

std::optional<std::vector<std::uint8_t>> Gallery::face_thumbnail(const std::string& face_id) const {
  std::lock_guard lock(impl_->db_mutex);
  return impl_->store->face_thumbnail(face_id);
}

std::pair<std::int64_t, std::vector<Gallery::PersonPageItem>> Gallery::people_page(std::int64_t offset,
                                                                                   std::int64_t limit) const {
  check_page(offset, limit);
  std::lock_guard lock(impl_->db_mutex);
  ReadScope read(*impl_->store);
  const std::vector<PersonSummary> all = impl_->store->people();
  std::vector<PersonPageItem> items;
  for (std::size_t i = static_cast<std::size_t>(offset); i < all.size() && items.size() < static_cast<std::size_t>(limit); ++i) {
    items.push_back({all[i].person, all[i].face_count, impl_->store->face_with_thumbnail(all[i].person)});
  }
  return {static_cast<std::int64_t>(all.size()), std::move(items)};
}

void Gallery::reload() {
  std::lock_guard lock(impl_->db_mutex);
  impl_->load_locked();
}

void Gallery::checkpoint() {
  std::lock_guard lock(impl_->db_mutex);
  impl_->store->forget_removed(true);
}

}  // namespace siamface
