// A real-process crash test: `fathom run` under concurrent HTTP writers (adds, upserts,
// deletes across several collections, plus collection creates) is killed with SIGKILL at
// a random moment and restarted on the same directory, for several cycles.
//
// The client keeps a model of every record. Each operation ends acknowledged (2xx), failed
// with a definite 4xx (no effect), or unknown (the connection broke: the server was
// killed while it had the request). After every restart, each record must be in its last
// acknowledged state or in the state left by one of its later unknown-outcome operations
// (every operation here sets a whole record or removes it, so "whole or absent" is
// checked value by value, and across the records of one request: all of them show its
// effect or none does); nothing appears that was never written, no id appears twice,
// counts agree with what get returns, and every collection whose create was acknowledged
// exists. The observed state then becomes the model's new known state.
//
// Writes are adds, upserts, deletes by id and deletes by a metadata filter (limited to the
// writer's own records), plus adds of a wrong dimension that must be refused (400).
//
// Each writer owns its record ids, so the operations on one record are totally ordered
// by the client and the model is exact; the writers still share collections, so group
// commit batches their writes together. A small compaction trigger and small vector
// index and cold spill thresholds make kills land in those background jobs too, and one restart in kRecoveryKillOneIn is killed again while its
// collections recover (WAL replay, deletion of obsolete objects, the compaction a long
// tail starts).
//
// FATHOM_CRASH_CYCLES (default 5) sets the number of kill/restart cycles and
// FATHOM_CRASH_SEED the seed; the seed is printed so a failure can be replayed (thread
// timing still varies between runs; the seed fixes each writer's operation choices and
// the kill points).
#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "http/http_test_support.h"

namespace fathom::http_test {
namespace {

constexpr int kCyclesDefault = 5;
constexpr int kCyclesMax = 10000;
constexpr int kWriters = 4;
constexpr int kIdsPerWriterPerCollection = 48;
constexpr int kBatchRecordsMax = 8;
constexpr int kDimension = 4;
constexpr int kInitialCollections = 3;
constexpr size_t kCollectionsMax = 12;
constexpr int kCreatesPerCycleMax = 2;
constexpr int kReadsBetweenCreatesMax = 64;
// Kill once this many writes were acknowledged in the cycle (uniform in the range), then
// after a further random delay, so kills land anywhere in a request or a compaction.
constexpr int kAcksBeforeKillMin = 10;
constexpr int kAcksBeforeKillMax = 600;
constexpr int kKillExtraDelayUsMax = 30000;
// One restart in this many is killed again while its collections recover, after a random
// delay below the maximum.
constexpr int kRecoveryKillOneIn = 3;
constexpr int kRecoveryKillDelayUsMax = 60000;
constexpr int kLoadDeadlineSeconds = 60;  // per cycle, in case the server stops answering
constexpr const char* kCompactionTriggerOps = "48";
// Small enough that collections build vector indexes and spill vectors to cold parts, so
// kills land in those jobs too.
constexpr const char* kVectorIndexMinRows = "64";
constexpr const char* kColdSpillMinRows = "48";
constexpr int kRecordFailuresShownMax = 20;

// The full state of a record: what a get with every include returns.
struct RecordValue {
  std::vector<float> embedding;
  std::string document;
  std::string metadata_json;  // a JSON object

  bool operator==(const RecordValue&) const = default;
};

using RecordState = std::optional<RecordValue>;  // nullopt: absent

std::string Describe(const RecordState& state) {
  if (!state) return "<absent>";
  std::string out = "{embedding:[";
  for (size_t i = 0; i < state->embedding.size(); ++i) {
    out += (i ? "," : "") + std::to_string(state->embedding[i]);
  }
  return out + "], document:\"" + state->document + "\", metadata:" + state->metadata_json + "}";
}

struct RecordModel {
  RecordState known;                // after the last acknowledged operation (or as last read back)
  std::vector<RecordState> unknown;  // the effect of each later operation of unknown outcome
};

struct CollectionModel {
  std::string name;
  std::string id;
  bool dimension_fixed = false;  // an embedding of kDimension was acknowledged
  std::map<std::string, RecordModel> records;
};

struct Figures {
  uint64_t acknowledged = 0;      // write requests answered 2xx
  uint64_t rejected = 0;          // answered 4xx (no effect)
  uint64_t unknown = 0;           // connection broken with the request possibly seen
  uint64_t not_sent = 0;          // connection refused: certainly no effect
  uint64_t records_checked = 0;   // record states compared after restarts
  uint64_t unknown_writes_applied = 0;  // unknown-outcome requests found applied (whole)
  uint64_t collections_created = 0;
  uint64_t collections_unknown = 0;
  uint64_t kills = 0;
  uint64_t recovery_kills = 0;  // kills while collections were recovering after a restart
};

// Shared between the writer threads and the driver; everything under mu.
struct Model {
  std::mutex mu;
  std::vector<CollectionModel> collections;
  std::vector<std::string> unknown_creates;  // names whose create outcome is unknown
  // Write requests of unknown outcome: collection index and ids. A writer stops at its
  // first one in a cycle, so a record has at most one between two restarts.
  std::vector<std::pair<size_t, std::vector<std::string>>> unknown_writes;
  Figures figures;
};

std::string Quote(const std::string& s) { return "\"" + s + "\""; }

std::string EmbeddingJson(const std::vector<float>& e) {
  std::string out = "[";
  for (size_t i = 0; i < e.size(); ++i) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.9g", static_cast<double>(e[i]));
    out += (i ? "," : "") + std::string(buf);
  }
  return out + "]";
}

RecordValue RandomValue(std::mt19937_64& rng, int writer, const std::string& id, uint64_t version) {
  RecordValue v;
  // Multiples of 1/8 in [-8, 8]: exact in float and in decimal.
  for (int i = 0; i < kDimension; ++i) {
    v.embedding.push_back(static_cast<float>(static_cast<int>(rng() % 129) - 64) / 8);
  }
  v.document = "doc " + id + " v" + std::to_string(version) + " " + std::to_string(rng() % 100000);
  v.metadata_json = "{\"writer\":" + std::to_string(writer) + ",\"version\":" + std::to_string(version) +
                    ",\"tag\":\"t" + std::to_string(rng() % 1000) +
                    "\",\"even\":" + (version % 2 == 0 ? "true" : "false") + ",\"half\":" +
                    std::to_string(rng() % 64) + ".5}";
  return v;
}

uint64_t VersionOf(const RecordValue& v) {
  rapidjson::Document d;
  d.Parse(v.metadata_json.c_str());
  return d["version"].GetUint64();
}

enum class Outcome { kAcknowledged, kRejected, kUnknown, kNotSent };

Outcome Classify(const Response& r) {
  if (r.status >= 200 && r.status < 300) return Outcome::kAcknowledged;
  if (r.status >= 400 && r.status < 500) return Outcome::kRejected;
  if (r.status == 0 && !r.connected) return Outcome::kNotSent;
  return Outcome::kUnknown;  // no answer, or a 5xx (the write may have been logged)
}

// One writer: random batches on its own ids until the server goes away or `stop`.
void WriterLoop(int writer, uint64_t seed, uint16_t port, Model* model, std::atomic<bool>* stop,
                std::atomic<int>* acks_this_cycle, std::vector<std::string>* failures) {
  std::mt19937_64 rng(seed);
  uint64_t version = 0;
  while (!stop->load()) {
    // Choose a collection and a batch under the lock; send without it.
    size_t c = 0;
    std::string collection_id;
    bool dimension_fixed = false;
    std::vector<std::string> ids;
    {
      std::lock_guard<std::mutex> lock(model->mu);
      c = rng() % model->collections.size();
      collection_id = model->collections[c].id;
      dimension_fixed = model->collections[c].dimension_fixed;
    }
    const int batch = 1 + static_cast<int>(rng() % kBatchRecordsMax);
    std::set<int> keys;
    while (static_cast<int>(keys.size()) < batch) keys.insert(static_cast<int>(rng() % kIdsPerWriterPerCollection));
    for (int k : keys) ids.push_back("w" + std::to_string(writer) + "-" + std::to_string(k));

    const unsigned kind = static_cast<unsigned>(rng() % 100);
    std::string route;
    std::string body;
    std::vector<RecordState> effects;  // per id, the state the operation leaves if applied
    bool expect_rejection = false;
    {
      std::lock_guard<std::mutex> lock(model->mu);
      CollectionModel& cm = model->collections[c];
      if (kind < 5 && dimension_fixed) {
        // A definite failure: an embedding of the wrong dimension is rejected whole.
        expect_rejection = true;
        route = "/add";
        ids.resize(1);
        body = "{\"ids\":[" + Quote(ids[0]) + "],\"embeddings\":[[1,2,3]]}";
        effects.push_back(cm.records[ids[0]].known);
      } else if (kind < 70) {
        const bool add = kind < 35;  // add: first write wins; upsert: last write wins
        route = add ? "/add" : "/upsert";
        std::string id_list, embeddings, documents, metadatas;
        for (size_t i = 0; i < ids.size(); ++i) {
          RecordModel& rm = cm.records[ids[i]];
          RecordValue v = RandomValue(rng, writer, ids[i], ++version);
          effects.push_back(add && rm.known ? rm.known : RecordState(v));
          const char* sep = i ? "," : "";
          id_list += sep + Quote(ids[i]);
          embeddings += sep + EmbeddingJson(v.embedding);
          documents += sep + Quote(v.document);
          metadatas += sep + v.metadata_json;
        }
        body = "{\"ids\":[" + id_list + "],\"embeddings\":[" + embeddings + "],\"documents\":[" + documents +
               "],\"metadatas\":[" + metadatas + "]}";
      } else if (kind < 74) {
        // A filter delete: this writer's records below a version, resolved by the server
        // against its state when the delete commits; the writer alone changes them, so
        // it knows which.
        route = "/delete";
        const uint64_t below = 1 + rng() % (version + 1);
        body = "{\"where\":{\"$and\":[{\"writer\":" + std::to_string(writer) + "},{\"version\":{\"$lt\":" +
               std::to_string(below) + "}}]}}";
        ids.clear();
        const std::string prefix = "w" + std::to_string(writer) + "-";
        for (const auto& [id, rm] : cm.records) {
          if (id.compare(0, prefix.size(), prefix) != 0) continue;
          ids.push_back(id);
          effects.push_back(rm.known && VersionOf(*rm.known) < below ? RecordState() : rm.known);
        }
      } else {
        route = "/delete";
        std::string id_list;
        for (size_t i = 0; i < ids.size(); ++i) {
          (void)cm.records[ids[i]];
          effects.push_back(std::nullopt);
          id_list += (i ? "," : "") + Quote(ids[i]);
        }
        body = "{\"ids\":[" + id_list + "]}";
      }
    }
    const Response r = Request(port, "POST", kCollections + "/" + collection_id + route, body);
    const Outcome outcome = Classify(r);
    std::lock_guard<std::mutex> lock(model->mu);
    CollectionModel& cm = model->collections[c];
    if (expect_rejection) {
      if (outcome == Outcome::kAcknowledged) {
        failures->push_back("an embedding of the wrong dimension was acknowledged in " + cm.name + ": " + r.body);
      }
    }
    switch (outcome) {
      case Outcome::kAcknowledged:
        ++model->figures.acknowledged;
        acks_this_cycle->fetch_add(1);
        if (expect_rejection) break;
        if (route != "/delete") cm.dimension_fixed = true;
        for (size_t i = 0; i < ids.size(); ++i) cm.records[ids[i]].known = effects[i];
        break;
      case Outcome::kRejected:
        ++model->figures.rejected;
        if (!expect_rejection) {
          failures->push_back("unexpected " + std::to_string(r.status) + " for " + route + " on " + cm.name + ": " +
                              r.body);
        }
        break;
      case Outcome::kUnknown:
        ++model->figures.unknown;
        if (r.status != 0) {
          std::fprintf(stderr, "[ProcessCrash] %s answered %d (outcome treated as unknown): %s\n", route.c_str(),
                       r.status, r.body.c_str());
        }
        if (!expect_rejection) {
          for (size_t i = 0; i < ids.size(); ++i) cm.records[ids[i]].unknown.push_back(effects[i]);
          model->unknown_writes.emplace_back(c, ids);
        }
        return;  // the server is gone (or failing): nothing more this cycle
      case Outcome::kNotSent:
        ++model->figures.not_sent;
        return;
    }
  }
}

// Creates collections now and then while the writers run.
void CreatorLoop(int cycle, uint64_t seed, uint16_t port, Model* model, std::atomic<bool>* stop) {
  std::mt19937_64 rng(seed);
  for (int n = 0; n < kCreatesPerCycleMax && !stop->load(); ++n) {
    {
      std::lock_guard<std::mutex> lock(model->mu);
      if (model->collections.size() + model->unknown_creates.size() >= kCollectionsMax) return;
    }
    // Spread the creates over the cycle: a few reads between them.
    for (unsigned i = rng() % kReadsBetweenCreatesMax; i > 0 && !stop->load(); --i) {
      if (Request(port, "GET", "/api/v2/heartbeat").status != 200) return;
    }
    const std::string name = "crash-" + std::to_string(cycle) + "-" + std::to_string(n);
    const Response r = Request(port, "POST", kCollections,
                               "{\"name\":" + Quote(name) + ",\"metadata\":{\"cycle\":" + std::to_string(cycle) + "}}");
    std::lock_guard<std::mutex> lock(model->mu);
    switch (Classify(r)) {
      case Outcome::kAcknowledged: {
        ++model->figures.collections_created;
        CollectionModel cm;
        cm.name = name;
        auto d = r.Json();
        if (!d.HasParseError() && d.IsObject() && d.HasMember("id") && d["id"].IsString()) cm.id = d["id"].GetString();
        EXPECT_FALSE(cm.id.empty()) << r.body;
        model->collections.push_back(std::move(cm));
        break;
      }
      case Outcome::kRejected:
        ADD_FAILURE() << "create collection " << name << ": " << r.status << " " << r.body;
        return;
      case Outcome::kUnknown:
        ++model->figures.collections_unknown;
        model->unknown_creates.push_back(name);
        return;
      case Outcome::kNotSent:
        return;
    }
  }
}

std::optional<RecordValue> ParseRecord(const rapidjson::Value& embedding, const rapidjson::Value& document,
                                       const rapidjson::Value& metadata) {
  RecordValue v;
  if (!embedding.IsArray() || !document.IsString()) return std::nullopt;
  for (const auto& x : embedding.GetArray()) {
    if (!x.IsNumber()) return std::nullopt;
    v.embedding.push_back(static_cast<float>(x.GetDouble()));
  }
  v.document = document.GetString();
  v.metadata_json = ToJson(metadata);
  return v;
}

// Metadata compared as JSON values (member order and number spelling do not matter).
bool SameRecord(const RecordState& a, const RecordState& b) {
  if (!a || !b) return !a && !b;
  if (a->embedding != b->embedding || a->document != b->document) return false;
  rapidjson::Document ma, mb;
  ma.Parse(a->metadata_json.c_str());
  mb.Parse(b->metadata_json.c_str());
  return !ma.HasParseError() && !mb.HasParseError() && ma == mb;
}

// Compares what the restarted server holds with the model, then makes what it holds the
// model's known state. Returns false after recording failures.
bool VerifyAndResolve(const ServerProcess& server, Model* model, int cycle) {
  std::lock_guard<std::mutex> lock(model->mu);
  Figures& figures = model->figures;
  const Response listed = server.Get(kCollections);
  EXPECT_EQ(listed.status, 200) << listed.body;
  auto list = listed.Json();
  if (list.HasParseError() || !list.IsArray()) {
    ADD_FAILURE() << "cycle " << cycle << ": bad collection list: " << listed.body;
    return false;
  }
  std::map<std::string, std::string> present;  // name -> id
  for (const auto& c : list.GetArray()) present[c["name"].GetString()] = c["id"].GetString();
  bool ok = true;
  std::set<std::string> expected;
  for (const CollectionModel& cm : model->collections) {
    expected.insert(cm.name);
    auto it = present.find(cm.name);
    if (it == present.end()) {
      ADD_FAILURE() << "cycle " << cycle << ": acknowledged collection " << cm.name << " is gone";
      ok = false;
    } else if (it->second != cm.id) {
      ADD_FAILURE() << "cycle " << cycle << ": collection " << cm.name << " has id " << it->second
                    << ", acknowledged as " << cm.id;
      ok = false;
    }
  }
  for (const std::string& name : model->unknown_creates) {
    if (auto it = present.find(name); it != present.end()) {
      CollectionModel cm;  // its create was applied; nobody wrote to it
      cm.name = name;
      cm.id = it->second;
      model->collections.push_back(std::move(cm));
      expected.insert(name);
    }
  }
  model->unknown_creates.clear();
  for (const auto& [name, id] : present) {
    if (expected.count(name) == 0) {
      ADD_FAILURE() << "cycle " << cycle << ": collection " << name << " was never created";
      ok = false;
    }
  }
  if (!ok) return false;

  int record_failures = 0;
  // For records with an unknown-outcome write whose effect differs from their known
  // state: whether they show that effect. Keyed by collection index and id.
  std::map<std::pair<size_t, std::string>, bool> shows_unknown_effect;
  for (size_t c = 0; c < model->collections.size(); ++c) {
    CollectionModel& cm = model->collections[c];
    const std::string base = kCollections + "/" + cm.id;
    const Response got = server.Post(base + "/get", R"({"include":["embeddings","documents","metadatas"]})");
    auto d = got.Json();
    if (got.status != 200 || d.HasParseError() || !d.IsObject() || !d["ids"].IsArray()) {
      ADD_FAILURE() << "cycle " << cycle << ": get on " << cm.name << ": " << got.status << " " << got.body;
      return false;
    }
    std::map<std::string, RecordState> stored;
    const auto& ids = d["ids"];
    for (rapidjson::SizeType i = 0; i < ids.Size(); ++i) {
      const std::string id = ids[i].GetString();
      auto value = ParseRecord(d["embeddings"][i], d["documents"][i], d["metadatas"][i]);
      if (!value) {
        ADD_FAILURE() << "cycle " << cycle << ": " << cm.name << "/" << id << " came back incomplete: "
                      << ToJson(d["embeddings"][i]) << " " << ToJson(d["documents"][i]);
        ok = false;
        continue;
      }
      if (!stored.emplace(id, std::move(value)).second) {
        ADD_FAILURE() << "cycle " << cycle << ": " << cm.name << "/" << id << " appears twice";
        ok = false;
      }
      if (cm.records.count(id) == 0) {
        ADD_FAILURE() << "cycle " << cycle << ": " << cm.name << "/" << id << " was never written";
        ok = false;
      }
    }
    const Response count = server.Get(base + "/count");
    if (count.body != std::to_string(ids.Size())) {
      ADD_FAILURE() << "cycle " << cycle << ": " << cm.name << ": count " << count.body << " but get returned "
                    << ids.Size();
      ok = false;
    }
    uint64_t live = 0;
    for (auto& [id, rm] : cm.records) {
      auto it = stored.find(id);
      const RecordState observed = it == stored.end() ? RecordState() : it->second;
      ++figures.records_checked;
      bool acceptable = SameRecord(observed, rm.known);
      if (!acceptable) {
        for (const RecordState& candidate : rm.unknown) {
          if (SameRecord(observed, candidate)) {
            acceptable = true;
            break;
          }
        }
      }
      if (!acceptable && ++record_failures <= kRecordFailuresShownMax) {
        std::string allowed = Describe(rm.known);
        for (const RecordState& candidate : rm.unknown) allowed += " or " + Describe(candidate);
        ADD_FAILURE() << "cycle " << cycle << ": " << cm.name << "/" << id << " is " << Describe(observed)
                      << "; acceptable: " << allowed;
      }
      if (!acceptable) ok = false;
      if (rm.unknown.size() == 1 && !SameRecord(rm.unknown[0], rm.known)) {
        shows_unknown_effect[{c, id}] = SameRecord(observed, rm.unknown[0]);
      }
      rm.known = observed;
      rm.unknown.clear();
      if (observed) {
        ++live;
        cm.dimension_fixed = true;
      }
    }
    EXPECT_EQ(live, ids.Size()) << cm.name;
  }
  // An unknown-outcome write is whole or absent: all of its records show its effect or
  // none does.
  for (const auto& [c, ids] : model->unknown_writes) {
    size_t applied = 0, distinguishable = 0;
    for (const std::string& id : ids) {
      auto it = shows_unknown_effect.find({c, id});
      if (it == shows_unknown_effect.end()) continue;
      ++distinguishable;
      applied += it->second ? 1 : 0;
    }
    if (applied > 0 && applied < distinguishable) {
      ADD_FAILURE() << "cycle " << cycle << ": a write of unknown outcome to " << model->collections[c].name
                    << " was applied to " << applied << " of its " << distinguishable << " records";
      ok = false;
    }
    if (applied > 0) ++figures.unknown_writes_applied;
  }
  model->unknown_writes.clear();
  if (record_failures > kRecordFailuresShownMax) {
    ADD_FAILURE() << "cycle " << cycle << ": " << record_failures << " records in a state they cannot be in (the first "
                  << kRecordFailuresShownMax << " shown)";
  }
  return ok;
}

// What the data directory shows the background jobs did: manifests committed over all
// collections (each compaction commits one; the newest one's name is its version), and
// objects of vector indexes and cold vector parts present now.
struct StoreFigures {
  uint64_t manifests = 0;
  uint64_t vector_indexes = 0;
  uint64_t cold_parts = 0;
};

StoreFigures CountStoreObjects(const std::string& data_dir) {
  StoreFigures figures;
  std::error_code ec;
  for (const auto& collection : std::filesystem::directory_iterator(data_dir + "/c", ec)) {
    uint64_t newest = 0;
    std::error_code inner;
    for (const auto& m : std::filesystem::directory_iterator(collection.path() / "manifest", inner)) {
      const std::string name = m.path().filename().string();
      if (name.empty() || name[0] == '.') continue;
      newest = std::max<uint64_t>(newest, std::strtoull(name.c_str(), nullptr, 10));
    }
    figures.manifests += newest;
    for (const auto& v : std::filesystem::directory_iterator(collection.path() / "vidx", inner)) {
      figures.vector_indexes += v.path().filename().string()[0] != '.';
    }
    for (const auto& v : std::filesystem::directory_iterator(collection.path() / "vcold", inner)) {
      figures.cold_parts += v.path().filename().string()[0] != '.';
    }
  }
  return figures;
}

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return fallback;
  return std::strtoull(value, nullptr, 10);
}

TEST(ProcessCrashTest, AcknowledgedWritesSurviveSigkillUnderLoad) {
  const uint64_t seed = EnvOr("FATHOM_CRASH_SEED", std::random_device{}());
  const int cycles = static_cast<int>(std::min<uint64_t>(EnvOr("FATHOM_CRASH_CYCLES", kCyclesDefault), kCyclesMax));
  std::printf("[ProcessCrash] seed=%" PRIu64 " cycles=%d (FATHOM_CRASH_SEED / FATHOM_CRASH_CYCLES to change)\n", seed,
              cycles);
  std::fflush(stdout);
  std::mt19937_64 rng(seed);

  std::string pattern = (std::filesystem::temp_directory_path() / "fathom-crash-test.XXXXXX").string();
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  ASSERT_NE(::mkdtemp(buf.data()), nullptr);
  const std::string root = buf.data();
  struct RemoveRoot {
    std::string path;
    ~RemoveRoot() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  } remove_root{root};

  ServerProcess server(/*allow_reset=*/false, root + "/data");
  server.set_extra_args({"--compaction-trigger-ops", kCompactionTriggerOps, "--vector-index-min-rows",
                         kVectorIndexMinRows, "--cold-spill-min-rows", kColdSpillMinRows});
  ASSERT_TRUE(server.Start());
  Model model;
  for (int i = 0; i < kInitialCollections; ++i) {
    CollectionModel cm;
    cm.name = "base-" + std::to_string(i);
    cm.id = CreateCollection(server, cm.name);
    ASSERT_FALSE(cm.id.empty());
    model.collections.push_back(std::move(cm));
    ++model.figures.collections_created;
  }

  const auto started = std::chrono::steady_clock::now();
  for (int cycle = 0; cycle < cycles; ++cycle) {
    std::atomic<bool> stop{false};
    std::atomic<int> acks{0};
    std::vector<std::string> failures;  // under model.mu
    std::vector<std::thread> threads;
    for (int w = 0; w < kWriters; ++w) {
      threads.emplace_back(WriterLoop, w, rng(), server.port(), &model, &stop, &acks, &failures);
    }
    threads.emplace_back(CreatorLoop, cycle, rng(), server.port(), &model, &stop);
    const int kill_after = kAcksBeforeKillMin + static_cast<int>(rng() % (kAcksBeforeKillMax - kAcksBeforeKillMin));
    const auto extra_delay = std::chrono::microseconds(rng() % kKillExtraDelayUsMax);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kLoadDeadlineSeconds);
    while (acks.load() < kill_after && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));  // polling, bounded
    }
    EXPECT_GE(acks.load(), kill_after) << "cycle " << cycle << ": the server stopped acknowledging writes; log:\n"
                                       << server.log();
    std::this_thread::sleep_for(extra_delay);  // the kill point itself is random
    server.Kill();
    ++model.figures.kills;
    stop.store(true);
    for (auto& t : threads) t.join();
    for (const std::string& f : failures) ADD_FAILURE() << "cycle " << cycle << ": " << f;

    ASSERT_TRUE(server.Start()) << "restart after kill " << cycle;
    if (rng() % kRecoveryKillOneIn == 0) {
      // Kill again while the collections recover: the first request to each replays its
      // WAL tail, deletes obsolete objects and (the tail being over the trigger) starts a
      // compaction.
      std::vector<std::string> ids;
      {
        std::lock_guard<std::mutex> lock(model.mu);
        for (const CollectionModel& cm : model.collections) ids.push_back(cm.id);
      }
      std::thread opener([&] {
        for (const std::string& id : ids) {
          if (server.Get(kCollections + "/" + id + "/count").status == 0) break;
        }
      });
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % kRecoveryKillDelayUsMax));
      server.Kill();
      opener.join();
      ++model.figures.kills;
      ++model.figures.recovery_kills;
      ASSERT_TRUE(server.Start()) << "restart after a kill during recovery " << cycle;
    }
    ASSERT_TRUE(VerifyAndResolve(server, &model, cycle)) << "seed " << seed << "; server log:\n" << server.log();
  }
  EXPECT_EQ(server.Stop(), 0) << server.log();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const Figures& f = model.figures;
  const StoreFigures store = CountStoreObjects(root + "/data");
  std::printf("[ProcessCrash] seed=%" PRIu64 ": %" PRIu64 " kills (%" PRIu64 " during recovery), %" PRIu64
              " writes acknowledged, %" PRIu64 " rejected (4xx), %" PRIu64 " unknown (%" PRIu64
              " found applied, whole), %" PRIu64 " not sent; %" PRIu64 " collections created (+%" PRIu64
              " unknown); %" PRIu64 " record states checked; %" PRIu64 " manifests committed by compactions, %" PRIu64
              " vector indexes and %" PRIu64 " cold vector parts stored at the end; %.1f s\n",
              seed, f.kills, f.recovery_kills, f.acknowledged, f.rejected, f.unknown, f.unknown_writes_applied,
              f.not_sent, f.collections_created, f.collections_unknown, f.records_checked, store.manifests,
              store.vector_indexes, store.cold_parts, seconds);
  EXPECT_GT(f.acknowledged, 0u);
}

}  // namespace
}  // namespace fathom::http_test
