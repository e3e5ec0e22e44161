// Every bound fathom enforces, in one place. Each is checked with a clear error (never an
// assert) wherever input crosses it. Units are last in the names.
//
// The limits a decoder enforces on bytes (marked "decode limit" below) are checked three
// times from the same constant: at the API (InvalidArgument / HTTP 400 naming the limit),
// by the encoder (InvalidArgument, nothing written: fathom never writes what it refuses
// to read), and by the decoder (Corruption).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace fathom::limits {

// ---- names ----
inline constexpr size_t kNameLengthMin = 3;      // collection and database names (Chroma)
inline constexpr size_t kNameLengthMax = 512;
inline constexpr size_t kTenantNameLengthMin = 3;
inline constexpr size_t kTenantNameLengthMax = 512;

// ---- records ----
// All decode limits (WAL, segments; metadata also in the catalog).
inline constexpr size_t kIdLengthMax = 8192;             // bytes; Chroma local accepts 6,000
inline constexpr uint32_t kDimensionMax = 65536;
inline constexpr size_t kDocumentBytesMax = 32u << 20;   // one document
inline constexpr size_t kUriBytesMax = 64u << 10;
inline constexpr size_t kMetadataKeysMax = 4096;         // keys in one record's metadata
inline constexpr size_t kMetadataKeyBytesMax = 4096;
inline constexpr size_t kMetadataStringBytesMax = 32u << 20;  // one string value (or array element)
inline constexpr size_t kMetadataArrayLengthMax = 1u << 20;
// Nonzero dimensions of one sparse vector (a metadata value or a sparse $knn query).
// SPLADE documents hold a few hundred; Chroma's BM25 function one per distinct token, so
// a long document can hold thousands.
inline constexpr size_t kSparseVectorLengthMax = 1u << 16;
inline constexpr size_t kWriteBatchRecordsMax = 100000;  // records in one write call
inline constexpr uint32_t kMaxBatchSizeAdvertised = 5461;  // what pre-flight tells clients

// ---- reads ----
inline constexpr uint32_t kQueryResultsMax = 100000;     // n_results
inline constexpr size_t kQueryEmbeddingsMax = 10000;     // query vectors in one request
inline constexpr size_t kFilterDepthMax = 64;            // nesting of $and/$or
inline constexpr size_t kFilterNodesMax = 100000;
// Result rows one query request may ask for: query embeddings x n_results. Each row
// costs a heap entry while searching and an id, distance (and often a document) in the
// response, so 1,000,000 rows is already hundreds of MB of JSON; no real client asks for
// more in one request (Chroma's own clients page far below it), while 10,000 queries x
// 100,000 results (each allowed alone) would be 10^9 rows.
inline constexpr uint64_t kQueryResultRowsMax = 1000000;

// ---- the Search API (docs/design/search-api.md) ----
inline constexpr size_t kSearchesPerRequestMax = 1024;   // searches in one request
inline constexpr size_t kRankDepthMax = 64;              // nesting of a rank expression
inline constexpr size_t kRankNodesMax = 4096;            // nodes in one rank expression
inline constexpr size_t kRankSearchLeavesMax = 64;       // $knn / $bm25 leaves in one expression
inline constexpr size_t kSearchSelectKeysMax = 1024;     // keys in `select`, `group_by`

// ---- write path ----
inline constexpr size_t kWriteQueueMax = 1024;           // writers waiting on one collection
inline constexpr size_t kWalGroupBytesMax = 64u << 20;   // one WAL object (group commit)
inline constexpr size_t kWalObjectBytesMax = 256u << 20; // decode limit: one WAL object, encoded
inline constexpr int kStorePutAttemptsMax = 4;           // retries of one WAL/manifest put
// A group commit that loses the race for its WAL sequence number to another node waits a
// random, growing while (db/collection_write.cc, LostRaceBackoff: about 3 s in all at
// most), catches up and tries again, at most this many times in all, before its writers
// get Unavailable.
inline constexpr int kWalCommitRacesMax = 40;
// gc_grace when the store is shared and DatabaseOptions::gc_grace is negative.
inline constexpr std::chrono::milliseconds kSharedGcGraceDefault{10 * 60 * 1000};

// ---- compaction and segments ----
// A background compaction that failed for a reason that may pass (disk full, read-only,
// I/O) is tried again after a delay that doubles from the first to the second.
inline constexpr std::chrono::milliseconds kCompactionRetryDelayMin{1000};
inline constexpr std::chrono::milliseconds kCompactionRetryDelayMax{10000};
inline constexpr uint64_t kCompactionTriggerOpsDefault = 50000;
inline constexpr uint64_t kWalTailBytesMax = 256u << 20;
inline constexpr size_t kSegmentsPerCollectionMax = 8;    // merge when more
// Decode limit: segments one manifest may name (compaction merges at kSegmentsPerCollectionMax).
inline constexpr size_t kManifestSegmentsMax = kSegmentsPerCollectionMax * 4;
// Decode limit: the ids of segments, indexes and cold parts in a manifest (UUIDs: 36).
inline constexpr size_t kManifestObjectIdBytesMax = 64;
// Records segment blocks are cut once their payload reaches this: the unit of a ranged read
// when one record's document is fetched on demand (docs/format/segment.md, "Block size").
inline constexpr size_t kSegmentBlockBytesTarget = 64u << 10;
inline constexpr uint64_t kSegmentBytesMax = 1ull << 40;

// ---- a collection's vector index (db/collection_vector_index.h) ----
// Below this many live rows queries scan exactly (under a third of a millisecond at
// 128-d) and no index is kept; the index is dropped again below half of it.
inline constexpr size_t kVectorIndexMinRows = 10000;
// Maintenance folds pending rows (added or changed since the index was last updated;
// searched exactly meanwhile) into the index once there are this many of them, or one
// per this many covered rows, whichever is more.
inline constexpr size_t kVectorIndexPendingRowsMin = 2048;
inline constexpr size_t kVectorIndexPendingFractionInverse = 20;
// The index is re-clustered from scratch once the collection has grown this many times
// past the size of its last full build (incremental splits keep it usable meanwhile).
inline constexpr size_t kVectorIndexRebuildGrowth = 4;
// Between full builds, the search budget is calibrated again (on the updated index, in
// the background) once the collection has grown this much past the size it was last
// calibrated at: a budget chosen at 10k rows gave recall@10 0.90-0.94 at 20k-30k rows
// (more rows per probed cluster compete for the same re-rank depth, and splits add
// clusters the fixed probe count no longer covers); at 1.49x growth the worst of 18 zoo
// runs was 0.9515 (docs/design/recall-calibration.md, "Growth").
inline constexpr double kVectorIndexRecalibrateGrowth = 1.3;
// ip: more than one added row in this many longer than the build's max norm -> rebuild.
inline constexpr size_t kVectorIndexNormOverflowInverse = 100;
// Default probes: this fraction of the clusters, at least kVectorIndexProbesMin; and the
// default re-rank depth (candidates = k * this, l2 and cosine; ip keeps
// ivf_limits::kRerankFactorInnerProduct). Both scale with the search effort. Measured on
// 1M x 128 (docs/design/collection-vector-index.md, "Knobs"): recall was limited by the
// re-rank depth, not by the probes, so a deeper re-rank over fewer clusters is both
// faster and more accurate than the reverse.
inline constexpr double kVectorIndexProbeFraction = 1.0 / 128;
inline constexpr uint32_t kVectorIndexProbesMin = 8;
inline constexpr uint32_t kVectorIndexRerankFactor = 20;
inline constexpr uint32_t kVectorIndexProbesMax = 65536;  // a query's explicit knob
inline constexpr double kSearchEffortMax = 1000.0;        // multiplier on the default probes

// ---- the recall monitor (db/recall_monitor.h) ----
// One unfiltered indexed query in max(this, rows / kRecallSampleRowsPerQuery) is checked
// against exact search in the background, unless DatabaseOptions says otherwise: 1% (as
// turbopuffer samples) up to 12,800 rows, fewer beyond, because a check scans every row
// while a query through the index touches a few thousand: at 1 in rows / 128 the checks
// cost a few percent of the query work (100k rows: 1 in 781; 1M rows: 1 in 7,812).
inline constexpr uint64_t kRecallSampleIntervalMin = 100;
inline constexpr uint64_t kRecallSampleRowsPerQuery = 128;
// Samples waiting for their check; more are dropped (and counted) rather than queued.
inline constexpr size_t kRecallPendingSamplesMax = 64;
// The background job is scheduled once this many samples wait.
inline constexpr size_t kRecallSampleBatch = 8;
// The report covers the last this many checked samples.
inline constexpr size_t kRecallWindowSamples = 1000;
// A warning is logged when the window's mean falls below the target with at least this
// many samples (fewer are too noisy to act on).
inline constexpr size_t kRecallWarnMinSamples = 50;

// ---- a collection's cold vectors (db/vector_column.h, docs/design/cold-vectors.md) ----
// Indexed rows are spilled to a new cold part once kColdPartBytesMax of them (64 MiB of
// f32: 131k rows at 128-d, 21k at 768-d) are hot and at least one per
// kColdSpillFractionInverse cold rows: a collection keeps its newest 64 MiB (or an eighth,
// if more) of full vectors in RAM and the rest as int8, and has O(log n) parts. Smaller
// collections never spill: their full vectors cost less than the slower cold path.
inline constexpr size_t kColdSpillFractionInverse = 8;
inline constexpr size_t kColdPartBytesMax = 64u << 20;  // a spill writes parts of this size at most
inline constexpr size_t kColdPartsMax = 1024;           // decode limit: cold parts in a manifest
// The shared block cache for cold rows (DatabaseOptions::vector_cache_bytes).
inline constexpr size_t kVectorCacheBytesDefault = 128u << 20;

// ---- catalog ----
inline constexpr size_t kCollectionsMax = 1000000;         // decode limit as well
// Decode limits of one catalog snapshot: ids, names and tenants; a collection's
// configuration JSON (schema included). A collection's metadata has the record limits.
inline constexpr size_t kCatalogStringBytesMax = 1u << 20;
inline constexpr size_t kCatalogConfigurationBytesMax = 16u << 20;
inline constexpr size_t kCatalogVersionsKept = 4;         // older catalog objects are deleted

// ---- objects ----
inline constexpr uint64_t kObjectBytesMax = 1ull << 40;

}  // namespace fathom::limits
