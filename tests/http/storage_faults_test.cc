// `fathom run` on a data directory whose file system fills up or turns read-only.
//
// Each test mounts a small tmpfs (it needs root, and fails saying so otherwise), runs the
// real server on a data directory inside it and unmounts in TearDown, always. The server
// log stays outside the tmpfs.
//
// Disk full: a ballast file takes most of the space; writes fill the rest until they are
// refused with 507 and a message saying the data directory is out of space, and a filler
// file takes the last free bytes. While full, every write route is refused the same way,
// reads answer with every acknowledged record, refused records are absent, the server
// neither crashes nor hangs. Deleting the ballast lets writes through again without a
// restart, and compaction (which failed while full) catches up without a restart: the
// WAL objects it folds disappear. A restart then reads back every acknowledged write.
// Variants: several writers fill the device at once and the server is killed while
// full; a restart on a full device serves reads; compaction resumes after space is freed
// with no new writes.
//
// Read-only: the data directory is made read-only under the running server; writes get
// 503 with a message naming the read-only data directory, reads answer; made read-write
// again, writes work. A plain `remount,ro` of the whole file system works while fathom
// runs (PlainRemountReadOnlyWhileServing).
#include <stdio.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "http/http_test_support.h"

namespace fathom::http_test {
namespace {

constexpr const char* kTmpfsSize = "8m";
constexpr size_t kBallastBytes = size_t{5} << 20;
constexpr int kDimension = 32;
constexpr int kRecordsPerWrite = 16;
constexpr size_t kDocumentBytes = 1500;
constexpr int kFillWritesMax = 3000;  // far more than 8 MiB holds
// Once this many writes in a row were refused, the device counts as full for good (a
// compaction that frees WAL objects can let a few writes through in between).
constexpr int kRefusedInARowToCallFull = 5;
constexpr const char* kCompactionTriggerOps = "64";
// Small enough that the vector index and cold vector parts are written (and fail) too.
constexpr const char* kVectorIndexMinRows = "256";
constexpr const char* kColdSpillMinRows = "256";
constexpr int kWalObjectsAfterCompactionMax = 8;  // a fold leaves at most the newest few
constexpr int kCompactionDeadlineSeconds = 60;
// Without new writes: a retry with backoff would have run well within this.
constexpr int kIdleCompactionDeadlineSeconds = 20;

struct Expected {
  std::vector<float> embedding;
  std::string document;
  std::string metadata_json;
};

// Runs a shell command; returns its exit status and puts its output in `output`.
int Shell(const std::string& command, std::string* output) {
  output->clear();
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return -1;
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof(buf), pipe)) output->append(buf, n);
  const int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class StorageFaultsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "fathom-storage-test.XXXXXX").string();
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    ASSERT_NE(::mkdtemp(buf.data()), nullptr);
    root_ = std::filesystem::canonical(buf.data()).string();
    mount_point_ = root_ + "/mnt";
    std::filesystem::create_directories(mount_point_);
    std::string output;
    const std::string command = "mount -t tmpfs -o size=" + std::string(kTmpfsSize) + " tmpfs " + mount_point_;
    if (Shell(command, &output) != 0) {
      FAIL() << "this test needs root to mount a small tmpfs (`" << command << "` failed: " << output
             << "); run it as root";
    }
    ++mounts_;
    data_dir_ = mount_point_ + "/data";
  }

  void TearDown() override {
    server_.reset();  // stops the server before its file system goes away
    std::string output;
    while (mounts_ > 0) {
      if (Shell("umount " + mount_point_, &output) != 0 && Shell("umount -l " + mount_point_, &output) != 0) {
        ADD_FAILURE() << "cannot unmount " << mount_point_ << ": " << output;
        break;
      }
      --mounts_;
    }
    std::error_code ec;
    if (mounts_ == 0) std::filesystem::remove_all(root_, ec);
  }

  // Starts `fathom run` on the data directory in the tmpfs.
  bool StartServer() {
    server_ = std::make_unique<ServerProcess>(/*allow_reset=*/false, data_dir_);
    server_->set_extra_args({"--compaction-trigger-ops", kCompactionTriggerOps, "--vector-index-min-rows",
                             kVectorIndexMinRows, "--cold-spill-min-rows", kColdSpillMinRows});
    server_->set_log_dir(root_);  // not on the tmpfs the test fills
    return server_->Start();
  }

  void WriteBallast() {
    std::ofstream out(Ballast(), std::ios::binary);
    const std::string chunk(1 << 16, 'b');
    for (size_t done = 0; done < kBallastBytes; done += chunk.size()) out.write(chunk.data(), chunk.size());
    out.close();
    ASSERT_TRUE(out.good()) << "cannot write the ballast " << Ballast();
  }

  std::string Ballast() const { return mount_point_ + "/ballast"; }
  std::string Filler() const { return mount_point_ + "/filler"; }

  // Takes every byte the writes left, so the device is full to the last page. Returns the
  // bytes taken.
  size_t FillTheRest() {
    const int fd = ::open(Filler().c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return 0;
    const std::string chunk(4096, 'f');
    size_t taken = 0;
    for (;;) {
      const ssize_t n = ::write(fd, chunk.data(), chunk.size());
      if (n <= 0) break;
      taken += static_cast<size_t>(n);
    }
    ::close(fd);
    return taken;
  }

  // The body of an add of `kRecordsPerWrite` records named after `write`; their values go to
  // `batch`.
  static std::string AddBody(int write, std::map<std::string, Expected>* batch) {
    std::string ids, embeddings, documents, metadatas;
    for (int j = 0; j < kRecordsPerWrite; ++j) {
      const std::string id = "r" + std::to_string(write) + "-" + std::to_string(j);
      Expected e;
      for (int k = 0; k < kDimension; ++k) e.embedding.push_back(static_cast<float>((write * 31 + j * 7 + k) % 17) / 4);
      e.document = "document " + id + " ";
      while (e.document.size() < kDocumentBytes) {
        e.document += static_cast<char>('a' + (e.document.size() + write) % 26);
      }
      e.metadata_json = "{\"write\":" + std::to_string(write) + ",\"j\":" + std::to_string(j) + "}";
      const char* sep = j ? "," : "";
      ids += sep + ("\"" + id + "\"");
      embeddings += sep + std::string("[");
      for (int k = 0; k < kDimension; ++k) {
        char num[32];
        std::snprintf(num, sizeof(num), "%.9g", static_cast<double>(e.embedding[k]));
        embeddings += (k ? "," : "") + std::string(num);
      }
      embeddings += "]";
      documents += sep + ("\"" + e.document + "\"");
      metadatas += sep + e.metadata_json;
      (*batch)[id] = std::move(e);
    }
    return "{\"ids\":[" + ids + "],\"embeddings\":[" + embeddings + "],\"documents\":[" + documents +
           "],\"metadatas\":[" + metadatas + "]}";
  }

  // Sends add number `write` to a collection; on 201 its records join the collection's
  // acknowledged records, on anything else its refused ids. Thread-safe.
  Response Add(const std::string& collection_id, int write) {
    std::map<std::string, Expected> batch;
    Response r = server_->Post(kCollections + "/" + collection_id + "/add", AddBody(write, &batch));
    std::lock_guard<std::mutex> lock(model_mu_);
    for (auto& [id, e] : batch) {
      if (r.status == 201) {
        acknowledged_[collection_id][id] = std::move(e);
      } else {
        refused_[collection_id].insert(id);
      }
    }
    return r;
  }

  // Every acknowledged record is there with its exact values, nothing refused is, and
  // count agrees.
  void ExpectAcknowledgedData(const std::string& collection_id, const std::string& when) {
    std::map<std::string, Expected> acknowledged;
    std::set<std::string> refused;
    {
      std::lock_guard<std::mutex> lock(model_mu_);
      acknowledged = acknowledged_[collection_id];
      refused = refused_[collection_id];
    }
    const std::string base = kCollections + "/" + collection_id;
    Response got = server_->Post(base + "/get", R"({"include":["embeddings","documents","metadatas"]})");
    ASSERT_EQ(got.status, 200) << when << ": " << got.body.substr(0, 500);
    auto d = got.Json();
    ASSERT_TRUE(!d.HasParseError() && d.IsObject() && d["ids"].IsArray()) << when;
    std::set<std::string> seen;
    size_t mismatched = 0;
    for (rapidjson::SizeType i = 0; i < d["ids"].Size(); ++i) {
      const std::string id = d["ids"][i].GetString();
      EXPECT_TRUE(seen.insert(id).second) << when << ": " << id << " appears twice";
      auto it = acknowledged.find(id);
      if (it == acknowledged.end()) {
        ADD_FAILURE() << when << ": " << id << " is stored but was never acknowledged"
                      << (refused.count(id) ? " (its write was refused)" : "");
        continue;
      }
      std::vector<float> embedding;
      for (const auto& x : d["embeddings"][i].GetArray()) embedding.push_back(static_cast<float>(x.GetDouble()));
      rapidjson::Document expected_metadata;
      expected_metadata.Parse(it->second.metadata_json.c_str());
      const bool same = embedding == it->second.embedding && d["documents"][i].IsString() &&
                        d["documents"][i].GetString() == it->second.document &&
                        d["metadatas"][i] == expected_metadata;
      if (!same && ++mismatched <= 5) {
        ADD_FAILURE() << when << ": " << id << " came back different: " << ToJson(d["metadatas"][i]);
      }
    }
    EXPECT_EQ(mismatched, 0u) << when;
    EXPECT_EQ(seen.size(), acknowledged.size()) << when << ": acknowledged records missing";
    for (const auto& [id, e] : acknowledged) {
      if (seen.count(id) == 0) {
        ADD_FAILURE() << when << ": acknowledged record " << id << " is missing";
        break;
      }
    }
    EXPECT_EQ(server_->Get(base + "/count").body, std::to_string(acknowledged.size())) << when;
    // A query answers too (the vector read path over the same state).
    std::string query = R"({"n_results":3,"query_embeddings":[[)";
    for (int k = 0; k < kDimension; ++k) query += k ? ",1" : "1";
    Response q = server_->Post(base + "/query", query + "]]}");
    EXPECT_EQ(q.status, 200) << when << ": " << q.body.substr(0, 500);
  }

  // Adds until the device is full (kRefusedInARowToCallFull refusals in a row), then takes
  // the last free bytes with a filler file. `*write` is the next write number.
  void FillDevice(const std::string& id, int* next_write) {
    int write = 0;
    int refused_in_a_row = 0;
    int refused_total = 0;
    for (; write < kFillWritesMax && refused_in_a_row < kRefusedInARowToCallFull; ++write) {
      Response r = Add(id, write);
      if (r.status == 201) {
        refused_in_a_row = 0;
        continue;
      }
      ASSERT_EQ(r.status, 507) << "write " << write << " while filling the disk: " << r.body << "\nserver log:\n"
                               << server_->log();
      ++refused_in_a_row;
      ++refused_total;
      last_refusal_ = r;
    }
    *next_write = write;
    ASSERT_EQ(refused_in_a_row, kRefusedInARowToCallFull) << "the disk never filled after " << write << " writes";
    const size_t filler_bytes = FillTheRest();
    std::printf("[StorageFaults] full after %d writes: %zu records acknowledged, %d writes refused, %d WAL objects, "
                "%zu bytes left (now taken by a filler file)\n",
                write, acknowledged_[id].size(), refused_total, WalObjects(id), filler_bytes);
  }

  // WAL objects of a collection (not temporary files).
  int WalObjects(const std::string& collection_id) const {
    int n = 0;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(data_dir_ + "/c/" + collection_id + "/wal", ec)) {
      if (e.path().filename().string()[0] != '.') ++n;
    }
    return n;
  }

  static void ExpectErrorMentioning(const Response& r, int status, const std::vector<std::string>& parts,
                                    const std::string& when) {
    EXPECT_EQ(r.status, status) << when << ": " << r.body;
    auto d = r.Json();
    ASSERT_TRUE(!d.HasParseError() && d.IsObject() && d.HasMember("message") && d["message"].IsString())
        << when << ": " << r.body;
    const std::string message = d["message"].GetString();
    for (const std::string& part : parts) {
      EXPECT_NE(message.find(part), std::string::npos) << when << ": message lacks \"" << part << "\": " << message;
    }
  }

  std::string root_;
  std::string mount_point_;
  std::string data_dir_;
  int mounts_ = 0;  // file systems stacked on mount_point_
  std::unique_ptr<ServerProcess> server_;
  std::mutex model_mu_;
  // By collection id, then record id.
  std::map<std::string, std::map<std::string, Expected>> acknowledged_;
  std::map<std::string, std::set<std::string>> refused_;
  Response last_refusal_;
};

TEST_F(StorageFaultsTest, DiskFullRefusesWritesKeepsReadsAndRecoversWhenSpaceIsFreed) {
  ASSERT_NO_FATAL_FAILURE(WriteBallast());
  ASSERT_TRUE(StartServer());
  const std::string id = CreateCollection(*server_, "filling");
  ASSERT_FALSE(id.empty());

  int write = 0;
  ASSERT_NO_FATAL_FAILURE(FillDevice(id, &write));
  ExpectErrorMentioning(last_refusal_, 507, {"out of space", data_dir_}, "a write on a full disk");

  // While full: reads answer with every acknowledged record; more writes and a collection
  // create are refused the same way; the server keeps answering.
  ExpectAcknowledgedData(id, "while full");
  ExpectErrorMentioning(Add(id, write++), 507, {"out of space"}, "another write on a full disk");
  ExpectErrorMentioning(server_->Post(kCollections, R"({"name":"while-full"})"), 507, {"out of space"},
                        "a collection create on a full disk");
  // Every other write route too; the records they name stay as acknowledged.
  const std::string some_id = acknowledged_[id].begin()->first;
  std::string zeros = "[0";
  for (int k = 1; k < kDimension; ++k) zeros += ",0";
  zeros += "]";
  const std::string base = kCollections + "/" + id;
  ExpectErrorMentioning(server_->Post(base + "/upsert", "{\"ids\":[\"" + some_id + "\"],\"embeddings\":[" + zeros +
                                                            "],\"documents\":[\"changed\"]}"),
                        507, {"out of space"}, "an upsert on a full disk");
  ExpectErrorMentioning(server_->Post(base + "/update", "{\"ids\":[\"" + some_id + "\"],\"documents\":[\"changed\"]}"),
                        507, {"out of space"}, "an update on a full disk");
  ExpectErrorMentioning(server_->Post(base + "/delete", "{\"ids\":[\"" + some_id + "\"]}"), 507, {"out of space"},
                        "a delete on a full disk");
  ExpectErrorMentioning(server_->Put(base, R"({"new_metadata":{"changed":true}})"), 507, {"out of space"},
                        "a collection change on a full disk");
  EXPECT_EQ(server_->Get("/api/v2/heartbeat").status, 200);

  const int wal_when_full = WalObjects(id);

  // Free the space: writes work again at once, and compaction catches up on its own.
  ASSERT_EQ(::unlink(Ballast().c_str()), 0);
  ASSERT_EQ(::unlink(Filler().c_str()), 0);
  Response after = Add(id, write++);
  ASSERT_EQ(after.status, 201) << "the first write after space was freed: " << after.body << "\nserver log:\n"
                               << server_->log();
  for (int i = 0; i < 4; ++i) ASSERT_EQ(Add(id, write++).status, 201);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kCompactionDeadlineSeconds);
  while (WalObjects(id) > kWalObjectsAfterCompactionMax && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling, bounded
  }
  EXPECT_LE(WalObjects(id), kWalObjectsAfterCompactionMax)
      << "compaction did not resume after space was freed (" << wal_when_full << " WAL objects when full)\n"
      << "server log:\n" << server_->log();
  std::printf("[StorageFaults] WAL objects: %d when full, %d after space was freed\n", wal_when_full, WalObjects(id));
  EXPECT_EQ(server_->Post(kCollections, R"({"name":"after-full"})").status, 200);
  ExpectAcknowledgedData(id, "after space was freed");

  // A restart reads back every acknowledged write.
  EXPECT_EQ(server_->Stop(), 0) << server_->log();
  ASSERT_TRUE(StartServer());
  ExpectAcknowledgedData(id, "after a restart");
  EXPECT_EQ(server_->Stop(), 0) << server_->log();
}

// Several writers fill the device at once, each in its own collection, so group commit
// and the compactions of several collections meet ENOSPC together; the server is then
// killed while full, the space freed, and a restart must find every acknowledged write.
TEST_F(StorageFaultsTest, ConcurrentWritersFillTheDiskThenSigkill) {
  ASSERT_NO_FATAL_FAILURE(WriteBallast());
  ASSERT_TRUE(StartServer());
  constexpr int kWriters = 3;
  std::vector<std::string> ids;
  for (int c = 0; c < kWriters; ++c) {
    ids.push_back(CreateCollection(*server_, "concurrent-" + std::to_string(c)));
    ASSERT_FALSE(ids.back().empty());
  }
  std::mutex failures_mu;
  std::vector<std::string> failures;
  std::vector<int> next_write(kWriters, 0);
  std::vector<std::thread> writers;
  for (int c = 0; c < kWriters; ++c) {
    writers.emplace_back([&, c] {
      int refused_in_a_row = 0;
      int& write = next_write[c];
      while (write < kFillWritesMax && refused_in_a_row < kRefusedInARowToCallFull) {
        Response r = Add(ids[c], write++);
        if (r.status == 201) {
          refused_in_a_row = 0;
        } else if (r.status == 507) {
          ++refused_in_a_row;
        } else {
          std::lock_guard<std::mutex> lock(failures_mu);
          failures.push_back("writer " + std::to_string(c) + ", write " + std::to_string(write - 1) + ": " +
                             std::to_string(r.status) + " " + r.body);
          return;
        }
      }
    });
  }
  for (auto& t : writers) t.join();
  for (const std::string& f : failures) ADD_FAILURE() << f << "\nserver log:\n" << server_->log();
  for (int c = 0; c < kWriters; ++c) {
    std::printf("[StorageFaults] writer %d: %d writes, %zu records acknowledged, %d WAL objects\n", c, next_write[c],
                acknowledged_[ids[c]].size(), WalObjects(ids[c]));
    ExpectAcknowledgedData(ids[c], "while full, collection " + std::to_string(c));
  }

  server_->Kill();
  ASSERT_EQ(::unlink(Ballast().c_str()), 0);
  ASSERT_TRUE(StartServer());
  for (int c = 0; c < kWriters; ++c) {
    ExpectAcknowledgedData(ids[c], "after a kill on the full device, collection " + std::to_string(c));
    EXPECT_EQ(Add(ids[c], next_write[c]++).status, 201);
  }
  EXPECT_EQ(server_->Stop(), 0) << server_->log();
}

// Regression (issue 12): a background compaction that failed (here: StorageFull) was
// dropped until the next write, and writes refused while the device was full never
// scheduled one, so once space was freed nothing folded the WAL tail. The compaction
// thread now retries failed jobs by itself, with a delay of 1 s doubling to 10 s
// (limits::kCompactionRetryDelay*).
TEST_F(StorageFaultsTest, CompactionResumesAfterSpaceIsFreedWithoutNewWrites) {
  ASSERT_NO_FATAL_FAILURE(WriteBallast());
  ASSERT_TRUE(StartServer());
  const std::string id = CreateCollection(*server_, "idle-after-full");
  ASSERT_FALSE(id.empty());
  int write = 0;
  ASSERT_NO_FATAL_FAILURE(FillDevice(id, &write));
  const int wal_when_full = WalObjects(id);
  // Background maintenance reports its failures (the vector_index route's "background").
  auto background_failures = [&] {
    Response r = server_->Get("/fathom/v1/tenants/default_tenant/databases/default_database/collections/" + id +
                              "/vector_index");
    auto d = r.Json();
    if (r.status != 200 || d.HasParseError() || !d.HasMember("background")) return -1;
    return static_cast<int>(d["background"]["consecutive_failures"].GetUint64());
  };
  const int failures_when_full = background_failures();
  std::printf("[StorageFaults] when full: %d WAL objects, %d background failures in a row\n", wal_when_full,
              failures_when_full);
  // Whether compaction was behind when the device filled depends on timing; either way,
  // once space is back it must catch up, and say so, with no write to prompt it.
  ASSERT_GE(failures_when_full, 0);
  ASSERT_EQ(::unlink(Ballast().c_str()), 0);
  ASSERT_EQ(::unlink(Filler().c_str()), 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kIdleCompactionDeadlineSeconds);
  while ((WalObjects(id) > kWalObjectsAfterCompactionMax || background_failures() != 0) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling, bounded
  }
  EXPECT_LE(WalObjects(id), kWalObjectsAfterCompactionMax)
      << "no compaction within " << kIdleCompactionDeadlineSeconds << " s of space being freed (" << wal_when_full
      << " WAL objects); it waits for a new write";
  EXPECT_EQ(background_failures(), 0) << "the background failure is still reported after space was freed";
  ExpectAcknowledgedData(id, "after space was freed");
  EXPECT_EQ(server_->Stop(), 0) << server_->log();
}

// Regression (issue 12): Open's create-only probe put failed with StorageFull on a full
// device, so `fathom run` exited and the data could not even be read. A probe that fails
// for lack of space (or on a read-only store) is now logged and Open carries on; writes
// get 507 / 503 as on a running server.
TEST_F(StorageFaultsTest, RestartOnAFullDeviceServesReads) {
  ASSERT_NO_FATAL_FAILURE(WriteBallast());
  ASSERT_TRUE(StartServer());
  const std::string id = CreateCollection(*server_, "full-restart");
  ASSERT_FALSE(id.empty());
  int write = 0;
  ASSERT_NO_FATAL_FAILURE(FillDevice(id, &write));
  EXPECT_EQ(server_->Stop(), 0) << server_->log();
  ASSERT_TRUE(StartServer()) << "fathom does not start on a full device";
  ExpectAcknowledgedData(id, "after a restart on the full device");
  // Recovery may delete garbage (WAL objects a manifest covers), so a few writes can fit
  // again; then the device is full once more.
  Response refused;
  for (int tries = 0; tries < 500; ++tries) {
    refused = Add(id, write++);
    if (refused.status != 201) break;
  }
  ExpectErrorMentioning(refused, 507, {"out of space"}, "a write after a restart on the full device");
  ASSERT_EQ(::unlink(Ballast().c_str()), 0);
  ASSERT_EQ(::unlink(Filler().c_str()), 0);
  EXPECT_EQ(Add(id, write++).status, 201);
  ExpectAcknowledgedData(id, "after space was freed");
  EXPECT_EQ(server_->Stop(), 0) << server_->log();
}

TEST_F(StorageFaultsTest, ReadOnlyDataDirectoryRefusesWritesKeepsReads) {
  ASSERT_TRUE(StartServer());
  const std::string id = CreateCollection(*server_, "frozen");
  ASSERT_FALSE(id.empty());
  int write = 0;
  for (; write < 20; ++write) ASSERT_EQ(Add(id, write).status, 201);

  // Read-only under the running server. The server holds its lock file open for writing,
  // which makes `mount -o remount,ro` of the whole tmpfs fail with EBUSY (see
  // PlainRemountReadOnlyWhileServing); a read-only bind mount stacked on the same
  // directory turns every new open read-only just the same.
  std::string output;
  ASSERT_EQ(Shell("mount --bind " + mount_point_ + " " + mount_point_, &output), 0) << output;
  ++mounts_;
  ASSERT_EQ(Shell("mount -o remount,bind,ro " + mount_point_, &output), 0) << output;

  ExpectErrorMentioning(Add(id, write++), 503, {"read-only", data_dir_}, "a write on a read-only directory");
  ExpectErrorMentioning(server_->Post(kCollections + "/" + id + "/delete", R"({"ids":["r0-0"]})"), 503,
                        {"read-only"}, "a delete on a read-only directory");
  ExpectErrorMentioning(server_->Post(kCollections, R"({"name":"while-ro"})"), 503, {"read-only"},
                        "a collection create on a read-only directory");
  ExpectAcknowledgedData(id, "while read-only");

  ASSERT_EQ(Shell("mount -o remount,bind,rw " + mount_point_, &output), 0) << output;
  Response after = Add(id, write++);
  EXPECT_EQ(after.status, 201) << "the first write after remounting read-write: " << after.body;
  EXPECT_EQ(server_->Post(kCollections, R"({"name":"after-ro"})").status, 200);
  ExpectAcknowledgedData(id, "after remounting read-write");

  EXPECT_EQ(server_->Stop(), 0) << server_->log();
  ASSERT_TRUE(StartServer());
  ExpectAcknowledgedData(id, "after a restart");
  EXPECT_EQ(server_->Stop(), 0) << server_->log();
}

// Regression (issue 12): the lock file was held open O_RDWR, and Linux refuses to remount
// a file system read-only while a file on it is open for writing (EBUSY), so an operator
// could not remount the data directory's file system read-only under a running server.
// The lock is now held on an O_RDONLY descriptor (flock does not need write access).
TEST_F(StorageFaultsTest, PlainRemountReadOnlyWhileServing) {
  ASSERT_TRUE(StartServer());
  const std::string id = CreateCollection(*server_, "plain");
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(Add(id, 0).status, 201);
  std::string output;
  ASSERT_EQ(Shell("mount -o remount,ro " + mount_point_, &output), 0)
      << "remounting the data directory's file system read-only under the server failed: " << output;
  ExpectErrorMentioning(Add(id, 1), 503, {"read-only", data_dir_}, "a write on a read-only file system");
  ExpectAcknowledgedData(id, "while read-only");
  ASSERT_EQ(Shell("mount -o remount,rw " + mount_point_, &output), 0) << output;
  EXPECT_EQ(Add(id, 2).status, 201);
  ExpectAcknowledgedData(id, "after remounting read-write");
  EXPECT_EQ(server_->Stop(), 0) << server_->log();
}

}  // namespace
}  // namespace fathom::http_test
