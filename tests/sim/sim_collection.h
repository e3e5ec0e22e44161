// A fixture base for the simulation tests: one collection in a MemStore-backed database
// that can be closed and reopened from the same store (recovery from segments and WAL),
// with a seed from testing::SeedForTest (printed; FATHOM_SEED replays a run).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "fathom/db.h"
#include "io/mem_store.h"
#include "test_util.h"

namespace fathom::testing {

class SimCollectionTest : public ::testing::Test {
 protected:
  SimCollectionTest(const char* test_name, std::string collection)
      : test_name_(test_name), collection_(std::move(collection)) {}

  void SetUp() override {
    seed_ = SeedForTest(test_name_);
    store_ = std::make_shared<MemStore>();
    Reopen();
  }

  // Closes the database (if open) and opens it again on the same store, with background
  // compaction off (tests compact explicitly).
  void Reopen() {
    col_.reset();
    db_.reset();
    auto db = Database::Open({.store = store_, .compaction_trigger_ops = 1u << 30, .background_compaction = false});
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    auto col = db_->CreateCollection(Database::kDefaultTenant, Database::kDefaultDatabase,
                                     {.name = collection_, .get_or_create = true, .sparse_key = sparse_key_});
    ASSERT_TRUE(col.ok()) << col.status().ToString();
    col_ = *col;
  }

  const char* test_name_;
  std::string collection_;
  std::optional<std::string> sparse_key_;  // the collection's sparse vector key, when set before SetUp
  uint64_t seed_ = 0;
  std::shared_ptr<MemStore> store_;
  std::unique_ptr<Database> db_;
  std::shared_ptr<Collection> col_;
};

}  // namespace fathom::testing
