// Options for opening a Database.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstddef>
#include <memory>
#include <string>

namespace fathom {

class Clock;        // src/io/clock.h
class Executor;     // src/io/executor.h
class ObjectStore;  // fathom/object_store.h

struct DatabaseOptions {
  // Where the data lives, one of: a local directory (created if missing) ...
  std::string path;
  // ... or a store URL: "file://DIR" (the same as path DIR), "mem://" (in RAM, gone when
  // closed), "s3://BUCKET/PREFIX" (an S3-compatible object store; credentials and region
  // from AWS_* variables, docs/design/object-storage.md) ...
  std::string store_url;
  // For s3:// store URLs: the server, "http(s)://host[:port]". Empty: FATHOM_S3_ENDPOINT,
  // else AWS_ENDPOINT_URL, else AWS S3 in the region. InvalidArgument with other stores.
  std::string store_endpoint;
  // For s3:// store URLs: a local directory caching the store's objects (created if
  // missing; one process per directory), kept across restarts, within store_cache_bytes
  // (0 = 4 GiB). Empty: no cache. InvalidArgument with other stores (a local directory
  // needs none). docs/design/object-storage.md, "The local cache".
  std::string store_cache_dir;
  uint64_t store_cache_bytes = 0;
  // ... or an ObjectStore supplied by the caller (tests: MemStore, FaultStore). When set,
  // `path` and `store_url` are ignored. Shared so a test can keep using the store after closing.
  // One owner at a time: a local `path` is locked (a second open fails), a caller's
  // store is not, so the caller must not open a second Database on it until the first
  // is destroyed, unless every Database on it sets `sharing = kShared` (below).
  // Destroying a Database waits for every call still running on it or its collections (a
  // write, a Compact() on another thread), so nothing it started touches the store
  // afterwards.
  std::shared_ptr<ObjectStore> store;

  // Compaction folds a collection's WAL tail into a segment once the tail holds this
  // many operations (or kWalTailBytesMax bytes). 0 = the default from limits.h.
  uint64_t compaction_trigger_ops = 0;
  // A collection keeps a vector index once it has this many live rows (below, queries
  // scan exactly). 0 = limits::kVectorIndexMinRows (10,000). Tests lower it.
  uint64_t vector_index_min_rows = 0;
  // The recall@10 a collection's default vector search is calibrated to reach on its own
  // data, in (0, 1]; 0 = 0.95. Higher targets cost more clusters probed per query, up to
  // an exact scan (docs/design/recall-calibration.md). `fathom run --recall-target`.
  double vector_recall_target = 0.0;
  // The recall monitor checks one unfiltered indexed query in this many against exact
  // search, in the background (0 = by size: 1 in max(100, rows / 128), so the checks stay
  // a few percent of the query work). Collection::IndexStats reports what it measured.
  uint32_t recall_sample_interval = 0;
  // Large collections keep only int8 approximations of their indexed vectors in RAM; the
  // full vectors are spilled to cold parts in the store and read on demand through one
  // block cache of this many bytes per distinct block size (one for dimensions up to
  // 1024). 0 = limits::kVectorCacheBytesDefault (128 MiB). docs/design/cold-vectors.md.
  uint64_t vector_cache_bytes = 0;
  // The memory budget of the database, bytes (0 = none, the default: the caches and
  // per-row structures are sized by the options above). With a budget, the vector block
  // cache takes a quarter of it (vector_cache_bytes, when set, at most half), cold
  // vectors keep no int8 copy in RAM (searches read their exact rows in batches through
  // the cache), and a collection keeps at most an eighth of it (and 64 MiB) of indexed
  // vectors hot. At least 64 MiB. What it bounds and what it does not:
  // docs/design/memory-budget.md. `fathom run --memory-budget-mib`.
  uint64_t memory_budget_bytes = 0;
  // Spill once this many indexed rows are hot (and at least an eighth of the cold rows).
  // 0 = 64 MiB worth of rows (limits::kColdPartBytesMax; 131,072 at 128-d). Tests lower it.
  uint64_t cold_spill_min_rows = 0;
  // A collection whose calibrated plan is the exact scan, with every row in RAM, scans
  // through int8 copies of its rows once their f32 bytes reach this (0 =
  // ivf_limits::kInt8ScanMinF32Bytes, 8 MiB; below it the f32 rows sit in the CPU caches).
  // docs/design/recall-calibration.md, "Int8 first pass". Tests lower it.
  uint64_t int8_scan_min_bytes = 0;
  // false keeps every full vector in RAM (fastest queries, most memory).
  bool cold_vectors = true;
  // The largest WAL object a write may produce, at most (and 0 =)
  // limits::kWalObjectBytesMax, the most the decoder reads. A group commit whose encoding
  // is larger commits writer by writer; a single write larger is refused. Tests lower it.
  uint64_t wal_object_bytes_max = 0;
  // Whether other processes ("nodes") may open the same store at once and write to it
  // (docs/design/object-storage.md, "Several nodes on one store"). kAuto: yes for
  // s3:// stores, no for a local path (held by one process through its directory lock),
  // mem:// and a caller's `store`. A shared store costs every strong read one store
  // request (is there a WAL object newer than the last one applied?) and delays garbage
  // collection by `gc_grace`; a store that is not shared must have one owner at a time.
  enum class Sharing : uint8_t { kAuto, kSingleNode, kShared };
  Sharing sharing = Sharing::kAuto;
  // How long an object that compaction made obsolete (a WAL object, segment, manifest,
  // index or cold part no current manifest names) stays before it is deleted, so that a
  // node still reading an older manifest does not find its objects gone. Negative: 0
  // when the store is not shared, 10 minutes when it is. A node whose view of a
  // collection is older than half of it checks for a newer manifest before answering.
  std::chrono::milliseconds gc_grace{-1};
  // Run compaction in a background thread. Tests turn it off and call Compact() directly.
  bool background_compaction = true;
  // How long a writer waits for room in a full commit queue before getting Unavailable.
  std::chrono::milliseconds write_queue_timeout{10000};
  // The time background work reads and waits on (compaction retry delays); null = real
  // time. Tests pass a ManualClock (src/io/manual_clock.h) to drive it.
  std::shared_ptr<Clock> clock;
  // Where the database's parallel build loops run their extra threads (at open, a
  // collection's row indexes are built side by side: metadata, full text, trigrams,
  // sparse); null = a process-wide pool with one thread per CPU. The loop's own thread
  // always takes part, so an executor with few or busy threads only slows it down. Tests
  // pass an InlineExecutor (src/io/executor.h) to run everything on the calling thread.
  // The database's long-running background threads (compaction, freshness checks) are
  // its own and not taken from here.
  std::shared_ptr<Executor> executor;
};

}  // namespace fathom
