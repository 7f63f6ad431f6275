// A tiny RAII wrapper over the SQLite C API that turns failures into siamface::Error:
// SQLITE_BUSY/LOCKED -> kGalleryBusy, everything else -> kGallery, naming the file and saying
// "locked", "read-only" or "disk full" when that is the cause.
// Thread safety: none; a Database and its Statements must be used by one thread at a time
// (Gallery holds a mutex around them).
#pragma once

#include <cstdint>
#include <span>
#include <string>

struct sqlite3;
struct sqlite3_stmt;

namespace siamface::gallery {

class Database;

class Statement {
 public:
  Statement(Database& db, const char* sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, double value);
  Statement& bind(int index, const std::string& value);
  Statement& bind_blob(int index, std::span<const std::uint8_t> bytes);
  Statement& bind_null(int index);

  bool step();  // true: a row is ready; false: done
  void run();   // step to completion
  void reset();

  bool is_null(int column) const;
  std::int64_t column_int64(int column) const;
  double column_double(int column) const;
  std::string column_text(int column) const;
  std::span<const std::uint8_t> column_blob(int column) const;  // valid until the next step

 private:
  Database& db_;
  sqlite3_stmt* stmt_ = nullptr;
};

class Database {
 public:
  // Opens an existing file read-write, or read-only. A read-only open of a WAL database whose
  // folder we cannot write (so SQLite cannot create the -shm file) and that has no -wal file
  // falls back to SQLite's immutable mode: nothing is pending, and nobody can write it anyway.
  Database(const std::string& path, int busy_timeout_ms, bool read_only = false);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  void exec(const char* sql);
  std::int64_t query_int64(const char* sql);  // first column of the first row
  int changes() const;
  const std::string& path() const { return path_; }
  int busy_timeout_ms() const { return busy_timeout_ms_; }
  bool read_only() const { return read_only_; }
  sqlite3* handle() { return db_; }

  // Throws the Error matching an SQLite result code; `what` says what was being done.
  [[noreturn]] void fail(int rc, const std::string& what) const;

 private:
  std::string path_;
  int busy_timeout_ms_;
  bool read_only_;
  sqlite3* db_ = nullptr;
};

// BEGIN IMMEDIATE (takes the write lock up front, so waiting happens in the busy handler);
// rolls back unless commit() was called.
class Transaction {
 public:
  explicit Transaction(Database& db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Database& db_;
  bool open_ = true;
};

// BEGIN (deferred): a consistent snapshot for several reads; ends without throwing.
class ReadTransaction {
 public:
  explicit ReadTransaction(Database& db);
  ~ReadTransaction();
  ReadTransaction(const ReadTransaction&) = delete;
  ReadTransaction& operator=(const ReadTransaction&) = delete;

 private:
  Database& db_;
};

}  // namespace siamface::gallery
