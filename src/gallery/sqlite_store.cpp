// The embedded backend: one SQLite file (WAL, secure_delete, synchronous=FULL, BEGIN IMMEDIATE
// writes with a busy timeout, schema version in user_version, files created 0600).
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "gallery/gallery_store.hpp"
#include "gallery/posix_files.hpp"
#include "gallery/row_codec.hpp"
#include "gallery/sqlite_db.hpp"
#include "siamface/errors.hpp"

namespace siamface::gallery {

namespace {

namespace fs = std::filesystem;

// 1: 128-d dlib embeddings only. 2: any recognizer's size (issue 16: 512-d MobileFaceNet, 640-d
// fused). 3: face thumbnails, unknown faces, clusters, negative examples (issue 20). Older
// files are migrated when first opened for writing.
constexpr std::int64_t kSchemaVersion = 3;
constexpr std::int64_t kApplicationId = 0x53464731;  // "SFG1"

// The faces table, created under the name {table} (a migration builds it beside the old one).
constexpr const char* kFacesTableSql = R"sql(
CREATE TABLE {table} (
  rowid INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  person TEXT NOT NULL,
  source_path TEXT NOT NULL,
  image_sha256 TEXT NOT NULL,
  box_left REAL NOT NULL, box_top REAL NOT NULL, box_width REAL NOT NULL, box_height REAL NOT NULL,
  score REAL NOT NULL,
  landmarks BLOB NOT NULL CHECK (length(landmarks) = 544),
  face_size_px REAL NOT NULL, brightness REAL NOT NULL, contrast REAL NOT NULL,
  sharpness REAL NOT NULL, noise REAL NOT NULL, yaw REAL NOT NULL, grayscale INTEGER NOT NULL,
  embedding BLOB NOT NULL CHECK (length(embedding) % 4 = 0 AND length(embedding) BETWEEN 4 AND 16384),
  model_name TEXT NOT NULL, model_version TEXT NOT NULL, model_weights_sha256 TEXT NOT NULL,
  created_unix_ms INTEGER NOT NULL,
  UNIQUE (person, image_sha256)
);
)sql";

std::string faces_table_sql(const std::string& table) {
  std::string sql = kFacesTableSql;
  sql.replace(sql.find("{table}"), 7, table);
  return sql;
}

constexpr const char* kSchemaSql = R"sql(
CREATE INDEX faces_by_image ON faces (image_sha256);
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE model (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  name TEXT NOT NULL, version TEXT NOT NULL, weights_sha256 TEXT NOT NULL
);
)sql";

// Version 2 -> 3, also run on a new file after kSchemaSql.
// Thumbnails live beside the faces, not in their rows: a face row stays within one page (the
// index loads faster, and its embedding is stored in one piece, which secure deletion and the
// privacy test rely on). The trigger removes a face's thumbnail with the face, on every path.
constexpr const char* kSchemaV3Sql = R"sql(
CREATE TABLE face_thumbnails (face_id TEXT PRIMARY KEY, jpeg BLOB NOT NULL);
CREATE TRIGGER face_thumbnail_goes_with_its_face AFTER DELETE ON faces
BEGIN
  DELETE FROM face_thumbnails WHERE face_id = old.id;
END;
CREATE TABLE unknown_faces (
  rowid INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  person TEXT NOT NULL DEFAULT '',
  source_path TEXT NOT NULL,
  image_sha256 TEXT NOT NULL,
  box_left REAL NOT NULL, box_top REAL NOT NULL, box_width REAL NOT NULL, box_height REAL NOT NULL,
  score REAL NOT NULL,
  landmarks BLOB NOT NULL CHECK (length(landmarks) = 544),
  face_size_px REAL NOT NULL, brightness REAL NOT NULL, contrast REAL NOT NULL,
  sharpness REAL NOT NULL, noise REAL NOT NULL, yaw REAL NOT NULL, grayscale INTEGER NOT NULL,
  embedding BLOB NOT NULL CHECK (length(embedding) % 4 = 0 AND length(embedding) BETWEEN 4 AND 16384),
  model_name TEXT NOT NULL, model_version TEXT NOT NULL, model_weights_sha256 TEXT NOT NULL,
  created_unix_ms INTEGER NOT NULL,
  source_key TEXT NOT NULL,
  quality_score REAL NOT NULL,
  cluster_id INTEGER,
  thumbnail BLOB
);
CREATE INDEX unknown_by_key ON unknown_faces (source_key);
CREATE INDEX unknown_by_cluster ON unknown_faces (cluster_id);
CREATE INDEX unknown_by_time ON unknown_faces (created_unix_ms);
CREATE TABLE clusters (id INTEGER PRIMARY KEY, centroid BLOB NOT NULL);
CREATE TABLE negatives (
  id TEXT PRIMARY KEY,
  person TEXT NOT NULL,
  source_path TEXT NOT NULL,
  embedding BLOB NOT NULL CHECK (length(embedding) % 4 = 0 AND length(embedding) BETWEEN 4 AND 16384),
  created_unix_ms INTEGER NOT NULL
);
CREATE INDEX negatives_by_person ON negatives (person);
CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
PRAGMA user_version = 3;
)sql";

constexpr const char* kUnknownExtraColumns = ", source_key, quality_score, cluster_id";

constexpr const char* kFaceColumns =
    "id, person, source_path, image_sha256, box_left, box_top, box_width, box_height, score, "
    "landmarks, face_size_px, brightness, contrast, sharpness, noise, yaw, grayscale, embedding, "
    "model_name, model_version, model_weights_sha256, created_unix_ms";

std::string select_faces(const char* where_and_order) {
  return std::string("SELECT ") + kFaceColumns + " FROM faces " + where_and_order;
}

void bind_face(Statement& st, const GalleryFace& f) {
  const Face& face = f.face;
  st.bind(1, f.id).bind(2, f.person).bind(3, f.source_path).bind(4, f.image_sha256);
  st.bind(5, double{face.box.left}).bind(6, double{face.box.top});
  st.bind(7, double{face.box.width}).bind(8, double{face.box.height});
  st.bind(9, double{face.score});
  st.bind_blob(10, landmark_bytes(face.landmarks));
  const FaceQuality& q = face.quality;
  st.bind(11, double{q.face_size_px}).bind(12, double{q.brightness}).bind(13, double{q.contrast});
  st.bind(14, double{q.sharpness}).bind(15, double{q.noise}).bind(16, double{q.yaw});
  st.bind(17, std::int64_t{q.grayscale ? 1 : 0});
  st.bind_blob(18, embedding_bytes(f.embedding));
  st.bind(19, f.model.name).bind(20, f.model.version).bind(21, f.model.weights_sha256);
  st.bind(22, f.created_unix_ms);
}

// Reads a kFaceColumns row.
GalleryFace read_face(const Statement& st, const std::string& path) {
  GalleryFace f;
  f.id = st.column_text(0);
  f.person = st.column_text(1);
  f.source_path = st.column_text(2);
  f.image_sha256 = st.column_text(3);
  f.face.box = {float(st.column_double(4)), float(st.column_double(5)), float(st.column_double(6)),
                float(st.column_double(7))};
  f.face.score = float(st.column_double(8));
  auto landmarks = landmarks_from_bytes(st.column_blob(9));
  auto embedding = embedding_from_bytes(st.column_blob(17));
  if (!landmarks || !embedding) {
    throw Error(ErrorCode::kGallery, "gallery " + path + " is corrupt: face " + f.id + " has a malformed blob");
  }
  f.face.landmarks = *landmarks;
  f.embedding = std::move(*embedding);
  FaceQuality& q = f.face.quality;
  q.face_size_px = float(st.column_double(10));
  q.brightness = float(st.column_double(11));
  q.contrast = float(st.column_double(12));
  q.sharpness = float(st.column_double(13));
  q.noise = float(st.column_double(14));
  q.yaw = float(st.column_double(15));
  q.grayscale = st.column_int64(16) != 0;
  f.model = {st.column_text(18), st.column_text(19), st.column_text(20)};
  f.created_unix_ms = st.column_int64(21);
  return f;
}

class SqliteStore final : public Store {
 public:
  SqliteStore(const std::string& path, const GalleryOptions& options)
      : path_(path), read_only_(options.read_only), db_(path, options.busy_timeout_ms, options.read_only) {
    init_schema();
  }

  const std::string& location() const override { return path_; }

  IndexSync load() override {
    IndexSync sync;
    sync.full = true;
    ReadTransaction read(db_);
    data_version_ = db_.query_int64("PRAGMA data_version");
    sync.model = read_model();
    sync.rows.reserve(static_cast<std::size_t>(db_.query_int64("SELECT count(*) FROM faces")));
    Statement st(db_, "SELECT id, person, embedding FROM faces ORDER BY rowid");
    while (st.step()) {
      std::string id = st.column_text(0);
      auto embedding = embedding_from_bytes(st.column_blob(2));
      if (!embedding || (!sync.rows.empty() && embedding->size() != sync.rows.front().embedding.size())) {
        throw Error(ErrorCode::kGallery, "gallery " + path_ + " is corrupt: face " + id + " has a malformed embedding");
      }
      sync.rows.push_back({std::move(id), st.column_text(1), std::move(*embedding)});
    }
    return sync;
  }

  // SQLite says whether another connection committed (data_version), not what: reload all.
  std::optional<IndexSync> poll() override {
    if (db_.query_int64("PRAGMA data_version") == data_version_) return std::nullopt;
    return load();
  }

  void begin_write() override { write_.emplace(db_); }
  void commit() override {
    write_->commit();
    write_.reset();
  }
  void rollback() noexcept override { write_.reset(); }
  void begin_read() override { read_.emplace(db_); }
  void end_read() noexcept override { read_.reset(); }

  std::optional<ModelInfo> read_model() override {
    Statement st(db_, "SELECT name, version, weights_sha256 FROM model WHERE id = 1");
    if (!st.step()) return std::nullopt;
    return ModelInfo{st.column_text(0), st.column_text(1), st.column_text(2)};
  }

  void write_model(const ModelInfo& m) override {
    Statement st(db_,
                 "INSERT INTO model (id, name, version, weights_sha256) VALUES (1, ?, ?, ?) "
                 "ON CONFLICT (id) DO UPDATE SET name = excluded.name, version = excluded.version, "
                 "weights_sha256 = excluded.weights_sha256");
    st.bind(1, m.name).bind(2, m.version).bind(3, m.weights_sha256).run();
  }

  std::int64_t count_faces() override { return db_.query_int64("SELECT count(*) FROM faces"); }
  std::int64_t count_people() override { return db_.query_int64("SELECT count(DISTINCT person) FROM faces"); }
  std::int64_t count_faces_of(const std::string& person) override {
    Statement st(db_, "SELECT count(*) FROM faces WHERE person = ?");
    st.bind(1, person);
    st.step();
    return st.column_int64(0);
  }

  std::optional<std::string> face_with_image(const std::string& person, const std::string& sha) override {
    Statement st(db_, "SELECT id FROM faces WHERE person = ? AND image_sha256 = ?");
    st.bind(1, person).bind(2, sha);
    if (!st.step()) return std::nullopt;
    return st.column_text(0);
  }

  bool has_image(const std::string& sha, const std::string* person) override {
    if (!person) {
      Statement st(db_, "SELECT 1 FROM faces WHERE image_sha256 = ? LIMIT 1");
      st.bind(1, sha);
      return st.step();
    }
    Statement st(db_, "SELECT 1 FROM faces WHERE image_sha256 = ? AND person = ? LIMIT 1");
    st.bind(1, sha).bind(2, *person);
    return st.step();
  }

  std::vector<ImageFace> faces_of_image(const std::string& sha) override {
    Statement st(db_,
                 "SELECT id, person, box_left, box_top, box_width, box_height FROM faces WHERE image_sha256 = ? "
                 "ORDER BY rowid");
    st.bind(1, sha);
    std::vector<ImageFace> out;
    while (st.step()) {
      out.push_back({st.column_text(0), st.column_text(1),
                     {float(st.column_double(2)), float(st.column_double(3)), float(st.column_double(4)),
                      float(st.column_double(5))}});
    }
    return out;
  }

  bool has_face_id(const std::string& id) override {
    Statement st(db_, "SELECT 1 FROM faces WHERE id = ?");
    st.bind(1, id);
    return st.step();
  }

  void insert_face(const GalleryFace& f) override {
    Statement st(db_, ("INSERT INTO faces (" + std::string(kFaceColumns) +
                       ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
                          .c_str());
    bind_face(st, f);
    st.run();
    if (!f.thumbnail_jpeg.empty()) {
      Statement thumb(db_, "INSERT OR REPLACE INTO face_thumbnails (face_id, jpeg) VALUES (?, ?)");
      thumb.bind(1, f.id).bind_blob(2, f.thumbnail_jpeg).run();
    }
  }

  std::optional<std::vector<std::uint8_t>> face_thumbnail(const std::string& id) override {
    if (!schema3()) return std::nullopt;
    return thumbnail_from("SELECT jpeg FROM face_thumbnails WHERE face_id = ?", id);
  }

  std::optional<std::string> face_with_thumbnail(const std::string& person) override {
    if (!schema3()) return std::nullopt;
    Statement st(db_,
                 "SELECT f.id FROM faces f JOIN face_thumbnails t ON t.face_id = f.id WHERE f.person = ? "
                 "ORDER BY f.rowid LIMIT 1");
    st.bind(1, person);
    if (!st.step()) return std::nullopt;
    return st.column_text(0);
  }

  void move_face(const std::string& id, const std::string& to) override {
    Statement st(db_, "UPDATE faces SET person = ?2 WHERE id = ?1");
    st.bind(1, id).bind(2, to).run();
  }

  void insert_unknown(const UnknownFace& u) override {
    Statement st(db_, ("INSERT INTO unknown_faces (" + std::string(kFaceColumns) + kUnknownExtraColumns +
                       ", thumbnail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
                          .c_str());
    bind_face(st, u.face);
    st.bind(23, u.source_key).bind(24, double{u.quality});
    if (u.cluster) {
      st.bind(25, *u.cluster);
    } else {
      st.bind_null(25);
    }
    bind_optional_blob(st, 26, u.face.thumbnail_jpeg);
    st.run();
  }

  std::vector<Embedding> unknown_embeddings_with_key(const std::string& key) override {
    Statement st(db_, "SELECT id, embedding FROM unknown_faces WHERE source_key = ?");
    st.bind(1, key);
    std::vector<Embedding> out;
    while (st.step()) out.push_back(read_embedding(st, 1, st.column_text(0)));
    return out;
  }

  std::int64_t count_unknown() override { return schema3() ? db_.query_int64("SELECT count(*) FROM unknown_faces") : 0; }

  std::vector<UnknownFace> unknown_page(std::int64_t offset, std::int64_t limit) override {
    if (!schema3()) return {};
    Statement st(db_, select_unknown("ORDER BY created_unix_ms DESC, rowid DESC LIMIT ? OFFSET ?").c_str());
    st.bind(1, limit).bind(2, offset);
    std::vector<UnknownFace> out;
    while (st.step()) out.push_back(read_unknown(st));
    return out;
  }

  std::optional<UnknownFace> unknown_face(const std::string& id) override {
    if (!schema3()) return std::nullopt;
    Statement st(db_, select_unknown("WHERE id = ?").c_str());
    st.bind(1, id);
    if (!st.step()) return std::nullopt;
    return read_unknown(st);
  }

  std::optional<std::vector<std::uint8_t>> unknown_thumbnail(const std::string& id) override {
    if (!schema3()) return std::nullopt;
    return thumbnail_from("SELECT thumbnail FROM unknown_faces WHERE id = ?", id);
  }

  std::size_t delete_unknown_before(std::int64_t unix_ms) override {
    Statement st(db_, "DELETE FROM unknown_faces WHERE created_unix_ms < ?");
    st.bind(1, unix_ms).run();
    return static_cast<std::size_t>(db_.changes());
  }

  std::size_t delete_unknown_beyond(std::int64_t keep_newest) override {
    Statement st(db_,
                 "DELETE FROM unknown_faces WHERE rowid NOT IN (SELECT rowid FROM unknown_faces "
                 "ORDER BY created_unix_ms DESC, rowid DESC LIMIT ?)");
    st.bind(1, keep_newest).run();
    return static_cast<std::size_t>(db_.changes());
  }

  std::size_t delete_all_unknown() override {
    db_.exec("DELETE FROM unknown_faces");
    const auto removed = static_cast<std::size_t>(db_.changes());
    db_.exec("DELETE FROM clusters");
    return removed;
  }

  bool delete_unknown(const std::string& id) override {
    Statement st(db_, "DELETE FROM unknown_faces WHERE id = ?");
    st.bind(1, id).run();
    return db_.changes() > 0;
  }

  std::vector<UnknownRow> unknown_rows() override {
    Statement st(db_, "SELECT id, embedding, cluster_id FROM unknown_faces ORDER BY rowid");
    std::vector<UnknownRow> out;
    while (st.step()) {
      UnknownRow row{st.column_text(0), {}, std::nullopt};
      row.embedding = read_embedding(st, 1, row.id);
      if (!st.is_null(2)) row.cluster = st.column_int64(2);
      out.push_back(std::move(row));
    }
    return out;
  }

  void set_unknown_cluster(const std::string& id, std::optional<std::int64_t> cluster) override {
    Statement st(db_, "UPDATE unknown_faces SET cluster_id = ?2 WHERE id = ?1");
    st.bind(1, id);
    if (cluster) {
      st.bind(2, *cluster);
    } else {
      st.bind_null(2);
    }
    st.run();
  }

  void replace_clusters(const std::vector<ClusterRow>& clusters) override {
    db_.exec("DELETE FROM clusters");
    Statement st(db_, "INSERT INTO clusters (id, centroid) VALUES (?, ?)");
    for (const ClusterRow& c : clusters) {
      st.bind(1, c.id).bind_blob(2, embedding_bytes(c.centroid)).run();
      st.reset();
    }
  }

  std::int64_t take_cluster_ids(std::int64_t count) override {
    const std::int64_t first =
        std::max(db_.query_int64("SELECT coalesce(max(value), 0) FROM counters WHERE name = 'cluster'"),
                 db_.query_int64("SELECT coalesce(max(id), 0) FROM clusters")) + 1;
    Statement st(db_,
                 "INSERT INTO counters (name, value) VALUES ('cluster', ?) "
                 "ON CONFLICT (name) DO UPDATE SET value = excluded.value");
    st.bind(1, first + count - 1).run();
    return first;
  }

  std::int64_t count_clusters() override { return schema3() ? db_.query_int64("SELECT count(*) FROM clusters") : 0; }

  std::vector<ClusterRow> cluster_page(std::int64_t offset, std::int64_t limit) override {
    if (!schema3()) return {};
    Statement st(db_,
                 "SELECT c.id, c.centroid, (SELECT count(*) FROM unknown_faces u WHERE u.cluster_id = c.id) AS size "
                 "FROM clusters c ORDER BY size DESC, c.id LIMIT ? OFFSET ?");
    st.bind(1, limit).bind(2, offset);
    return read_clusters(st);
  }

  std::vector<ClusterRow> all_clusters() override {
    if (!schema3()) return {};
    Statement st(db_,
                 "SELECT c.id, c.centroid, (SELECT count(*) FROM unknown_faces u WHERE u.cluster_id = c.id) "
                 "FROM clusters c ORDER BY c.id");
    return read_clusters(st);
  }

  std::vector<UnknownFace> unknown_of_cluster(std::int64_t cluster, std::int64_t limit) override {
    Statement st(db_, select_unknown("WHERE cluster_id = ? ORDER BY rowid LIMIT ?").c_str());
    st.bind(1, cluster).bind(2, limit);
    std::vector<UnknownFace> out;
    while (st.step()) out.push_back(read_unknown(st));
    return out;
  }

  void delete_cluster(std::int64_t cluster) override {
    Statement faces(db_, "DELETE FROM unknown_faces WHERE cluster_id = ?");
    faces.bind(1, cluster).run();
    Statement st(db_, "DELETE FROM clusters WHERE id = ?");
    st.bind(1, cluster).run();
  }

  void insert_negative(const NegativeExample& n) override {
    Statement st(db_,
                 "INSERT INTO negatives (id, person, source_path, embedding, created_unix_ms) VALUES (?, ?, ?, ?, ?)");
    st.bind(1, n.id).bind(2, n.person).bind(3, n.source_path).bind_blob(4, embedding_bytes(n.embedding));
    st.bind(5, n.created_unix_ms).run();
  }

  std::vector<NegativeExample> negatives(const std::string* person) override {
    if (!schema3()) return {};
    Statement st(db_, person ? "SELECT id, person, source_path, embedding, created_unix_ms FROM negatives "
                               "WHERE person = ? ORDER BY rowid"
                             : "SELECT id, person, source_path, embedding, created_unix_ms FROM negatives ORDER BY rowid");
    if (person) st.bind(1, *person);
    std::vector<NegativeExample> out;
    while (st.step()) {
      NegativeExample n;
      n.id = st.column_text(0);
      n.person = st.column_text(1);
      n.source_path = st.column_text(2);
      n.embedding = read_embedding(st, 3, n.id);
      n.created_unix_ms = st.column_int64(4);
      out.push_back(std::move(n));
    }
    return out;
  }

  std::size_t delete_negatives(const std::string* person) override {
    if (!schema3()) return 0;
    Statement st(db_, person ? "DELETE FROM negatives WHERE person = ?" : "DELETE FROM negatives");
    if (person) st.bind(1, *person);
    st.run();
    return static_cast<std::size_t>(db_.changes());
  }

  std::size_t move_negatives(const std::string& from, const std::string& to) override {
    Statement st(db_, "UPDATE negatives SET person = ?2 WHERE person = ?1");
    st.bind(1, from).bind(2, to).run();
    return static_cast<std::size_t>(db_.changes());
  }

  std::size_t delete_person(const std::string& person) override {
    Statement st(db_, "DELETE FROM faces WHERE person = ?");
    st.bind(1, person).run();
    return static_cast<std::size_t>(db_.changes());
  }

  bool delete_face(const std::string& id) override {
    Statement st(db_, "DELETE FROM faces WHERE id = ?");
    st.bind(1, id).run();
    return db_.changes() > 0;
  }

  std::vector<std::string> faces_sharing_images(const std::string& from, const std::string& to) override {
    Statement st(db_,
                 "SELECT id FROM faces WHERE person = ?1 AND image_sha256 IN "
                 "(SELECT image_sha256 FROM faces WHERE person = ?2)");
    st.bind(1, from).bind(2, to);
    std::vector<std::string> ids;
    while (st.step()) ids.push_back(st.column_text(0));
    return ids;
  }

  std::size_t move_person(const std::string& from, const std::string& to) override {
    Statement st(db_, "UPDATE faces SET person = ?2 WHERE person = ?1");
    st.bind(1, from).bind(2, to).run();
    return static_cast<std::size_t>(db_.changes());
  }

  std::size_t delete_all_faces() override {
    db_.exec("DELETE FROM faces");
    return static_cast<std::size_t>(db_.changes());
  }

  std::vector<std::string> face_ids() override {
    Statement st(db_, "SELECT id FROM faces");
    std::vector<std::string> ids;
    while (st.step()) ids.push_back(st.column_text(0));
    return ids;
  }

  void update_embedding(const std::string& id, const Embedding& embedding, const ModelInfo& model) override {
    Statement st(db_,
                 "UPDATE faces SET embedding = ?2, model_name = ?3, model_version = ?4, "
                 "model_weights_sha256 = ?5 WHERE id = ?1");
    st.bind(1, id).bind_blob(2, embedding_bytes(embedding));
    st.bind(3, model.name).bind(4, model.version).bind(5, model.weights_sha256).run();
  }

  void update_geometry(const std::string& id, const Face& f) override {
    Statement st(db_,
                 "UPDATE faces SET box_left = ?2, box_top = ?3, box_width = ?4, box_height = ?5, "
                 "score = ?6, landmarks = ?7, face_size_px = ?8, brightness = ?9, contrast = ?10, "
                 "sharpness = ?11, noise = ?12, yaw = ?13, grayscale = ?14 WHERE id = ?1");
    const FaceQuality& q = f.quality;
    st.bind(1, id).bind(2, double{f.box.left}).bind(3, double{f.box.top});
    st.bind(4, double{f.box.width}).bind(5, double{f.box.height}).bind(6, double{f.score});
    st.bind_blob(7, landmark_bytes(f.landmarks)).bind(8, double{q.face_size_px});
    st.bind(9, double{q.brightness}).bind(10, double{q.contrast});
    st.bind(11, double{q.sharpness}).bind(12, double{q.noise}).bind(13, double{q.yaw});
    st.bind(14, std::int64_t{q.grayscale ? 1 : 0}).run();
  }

  std::optional<GalleryFace> face(const std::string& id) override {
    Statement st(db_, select_faces("WHERE id = ?").c_str());
    st.bind(1, id);
    if (!st.step()) return std::nullopt;
    return read_face(st, path_);
  }

  void for_each_face(const std::string* person, const std::function<void(GalleryFace&&)>& visit,
                     bool with_thumbnails) override {
    // Column 22: the thumbnail (NULL when none, or in an older file opened read-only).
    const bool thumbnails = with_thumbnails && schema3();
    const std::string sql = std::string("SELECT ") + kFaceColumns +
                            (thumbnails ? ", (SELECT jpeg FROM face_thumbnails WHERE face_id = faces.id)" : "") +
                            " FROM faces " + (person ? "WHERE person = ? ORDER BY rowid" : "ORDER BY rowid");
    Statement st(db_, sql.c_str());
    if (person) st.bind(1, *person);
    while (st.step()) {
      GalleryFace f = read_face(st, path_);
      if (thumbnails && !st.is_null(22)) {
        const auto blob = st.column_blob(22);
        f.thumbnail_jpeg.assign(blob.begin(), blob.end());
      }
      visit(std::move(f));
    }
  }

  std::vector<PersonSummary> people() override {
    Statement st(db_, "SELECT person, count(*) FROM faces GROUP BY person ORDER BY person");
    std::vector<PersonSummary> out;
    while (st.step()) out.push_back({st.column_text(0), st.column_int64(1)});
    return out;
  }

  Settings settings() override {
    Statement st(db_, "SELECT key, value FROM settings ORDER BY key");
    Settings out;
    while (st.step()) out.emplace_back(st.column_text(0), st.column_text(1));
    return out;
  }

  std::optional<std::string> setting(const std::string& key) override {
    Statement st(db_, "SELECT value FROM settings WHERE key = ?");
    st.bind(1, key);
    if (!st.step()) return std::nullopt;
    return st.column_text(0);
  }

  void put_setting(const std::string& key, const std::string& value) override {
    Statement st(db_,
                 "INSERT INTO settings (key, value) VALUES (?, ?) "
                 "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    st.bind(1, key).bind(2, value).run();
  }

  bool delete_setting(const std::string& key) override {
    Statement st(db_, "DELETE FROM settings WHERE key = ?");
    st.bind(1, key).run();
    return db_.changes() > 0;
  }

  int schema_version() override { return static_cast<int>(db_.query_int64("PRAGMA user_version")); }
  std::int64_t stored_bytes() override { return file_size_or_zero(path_) + file_size_or_zero(path_ + "-wal"); }

  // With secure_delete the removed rows are zeroed in the pages; folding the WAL into the file
  // and truncating it removes the copies the WAL still holds.
  void forget_removed(bool must) override {
    Statement st(db_, "PRAGMA wal_checkpoint(TRUNCATE)");
    if (st.step() && st.column_int64(0) != 0 && must) {
      throw Error(ErrorCode::kGalleryBusy, "gallery " + path_ +
                                               ": could not checkpoint the WAL while other "
                                               "connections were reading; try again");
    }
  }

 private:
  // An older file opened read-only is not migrated: its reads of schema-3 data answer "none".
  bool schema3() { return db_.query_int64("PRAGMA user_version") >= 3; }

  static void bind_optional_blob(Statement& st, int index, const std::vector<std::uint8_t>& bytes) {
    if (bytes.empty()) {
      st.bind_null(index);
    } else {
      st.bind_blob(index, bytes);
    }
  }

  std::optional<std::vector<std::uint8_t>> thumbnail_from(const char* sql, const std::string& id) {
    Statement st(db_, sql);
    st.bind(1, id);
    if (!st.step() || st.is_null(0)) return std::nullopt;
    const auto blob = st.column_blob(0);
    return std::vector<std::uint8_t>(blob.begin(), blob.end());
  }

  Embedding read_embedding(const Statement& st, int column, const std::string& id) const {
    auto embedding = embedding_from_bytes(st.column_blob(column));
    if (!embedding) {
      throw Error(ErrorCode::kGallery, "gallery " + path_ + " is corrupt: row " + id + " has a malformed embedding");
    }
    return std::move(*embedding);
  }

  static std::string select_unknown(const char* where_and_order) {
    return std::string("SELECT ") + kFaceColumns + kUnknownExtraColumns + " FROM unknown_faces " + where_and_order;
  }

  UnknownFace read_unknown(const Statement& st) const {
    UnknownFace u;
    u.face = read_face(st, path_);
    u.source_key = st.column_text(22);
    u.quality = float(st.column_double(23));
    if (!st.is_null(24)) u.cluster = st.column_int64(24);
    return u;
  }

  std::vector<ClusterRow> read_clusters(Statement& st) const {
    std::vector<ClusterRow> out;
    while (st.step()) {
      ClusterRow row;
      row.id = st.column_int64(0);
      row.centroid = read_embedding(st, 1, "cluster " + std::to_string(row.id));
      row.size = st.column_int64(2);
      out.push_back(std::move(row));
    }
    return out;
  }

  void init_schema() {
    const std::int64_t app_id = db_.query_int64("PRAGMA application_id");
    const std::int64_t version = db_.query_int64("PRAGMA user_version");
    check_version(version, app_id);
    if (read_only_) {
      if (version == 0) {
        throw Error(ErrorCode::kGallery, "gallery " + path_ + " is empty or not a siamface gallery (opened read-only)");
      }
      return;
    }
    db_.exec("PRAGMA journal_mode = WAL");
    db_.exec("PRAGMA secure_delete = ON");
    db_.exec("PRAGMA synchronous = FULL");
    if (version == 0) {
      Transaction txn(db_);
      const std::int64_t again = db_.query_int64("PRAGMA user_version");
      if (again == 0) {
        if (db_.query_int64("SELECT count(*) FROM sqlite_master") != 0) {
          throw Error(ErrorCode::kGallery, "gallery " + path_ +
                                               " is an SQLite database but not a siamface "
                                               "gallery; choose another file");
        }
        db_.exec(faces_table_sql("faces").c_str());
        db_.exec(kSchemaSql);
        db_.exec(kSchemaV3Sql);
        db_.exec(("PRAGMA application_id = " + std::to_string(kApplicationId)).c_str());
        db_.exec(("PRAGMA user_version = " + std::to_string(kSchemaVersion)).c_str());
      } else {
        check_version(again, db_.query_int64("PRAGMA application_id"));
      }
      txn.commit();
    } else if (version < kSchemaVersion) {
      migrate_to_current();
    }
  }

  // Version 1 -> 2: the faces table is rebuilt without the 128-float embedding check (SQLite
  // cannot alter a CHECK constraint in place), in one transaction.
  void migrate_to_current() {
    Transaction txn(db_);
    if (db_.query_int64("PRAGMA user_version") == 1) {
      db_.exec(faces_table_sql("faces_v2").c_str());
      db_.exec(("INSERT INTO faces_v2 (rowid, " + std::string(kFaceColumns) + ") SELECT rowid, " + kFaceColumns +
                " FROM faces")
                   .c_str());
      db_.exec("DROP TABLE faces");
      db_.exec("ALTER TABLE faces_v2 RENAME TO faces");
      db_.exec("CREATE INDEX faces_by_image ON faces (image_sha256)");
      db_.exec("PRAGMA user_version = 2");
    }
    // Version 2 -> 3: new tables and a NULL thumbnail for every face enrolled before.
    if (db_.query_int64("PRAGMA user_version") == 2) db_.exec(kSchemaV3Sql);
    txn.commit();
  }

  void check_version(std::int64_t version, std::int64_t app_id) const {
    if (version > kSchemaVersion) {
      throw Error(ErrorCode::kGallery,
                  "gallery " + path_ + " has schema version " + std::to_string(version) +
                      ", newer than this siamface supports (" + std::to_string(kSchemaVersion) + "); upgrade siamface");
    }
    if (version != 0 && app_id != kApplicationId) {
      throw Error(ErrorCode::kGallery, "gallery " + path_ + " is an SQLite database but not a siamface gallery");
    }
  }

  std::string path_;
  bool read_only_;
  Database db_;
  std::int64_t data_version_ = -1;
  std::optional<Transaction> write_;
  std::optional<ReadTransaction> read_;
};

}  // namespace

std::unique_ptr<Store> open_sqlite_store(const std::string& path, const GalleryOptions& options) {
  if (path.empty()) throw Error(ErrorCode::kInvalidArgument, "gallery path is empty");
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (fs::exists(status)) {
    if (!fs::is_regular_file(status)) {
      throw Error(ErrorCode::kGallery, "gallery " + path + " is not a regular file");
    }
    // SQLite would open it read-only and fail only at the first write; say so now. It also
    // needs the folder for its -wal and -shm files.
    if (!options.read_only) {
      const fs::path parent = fs::path(path).parent_path();
      const char* cannot = ::access(path.c_str(), W_OK) != 0 ? "the file"
                           : ::access(parent.empty() ? "." : parent.c_str(), W_OK) != 0
                               ? "its folder"
                               : nullptr;
      if (cannot) {
        throw Error(ErrorCode::kGallery, "gallery " + path + " is read-only (" + cannot +
                                             " is not writable: " + std::strerror(errno) +
                                             "); only reading commands can use it");
      }
    }
  } else if (!options.create || options.read_only) {
    throw Error(ErrorCode::kNotFound, "gallery " + path + " does not exist");
  } else {
    create_private_file(path);
  }
  return std::make_unique<SqliteStore>(path, options);
}

}  // namespace siamface::gallery
