// Every bound fathom enforces, in one place. Each is checked with a clear error (never an
// assert) wherever input crosses it. Units are last in the names.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fathom::limits {

// ---- names ----
inline constexpr size_t kNameLengthMin = 3;      // collection and database names (Chroma)
inline constexpr size_t kNameLengthMax = 512;
inline constexpr size_t kTenantNameLengthMin = 3;
inline constexpr size_t kTenantNameLengthMax = 512;

// ---- records ----
inline constexpr size_t kIdLengthMax = 8192;             // bytes; Chroma local accepts 6,000
inline constexpr uint32_t kDimensionMax = 65536;
inline constexpr size_t kDocumentBytesMax = 32u << 20;   // one document
inline constexpr size_t kUriBytesMax = 64u << 10;
inline constexpr size_t kMetadataKeysMax = 4096;         // keys in one record's metadata
inline constexpr size_t kMetadataKeyBytesMax = 4096;
inline constexpr size_t kMetadataArrayLengthMax = 1u << 20;
inline constexpr size_t kWriteBatchRecordsMax = 100000;  // records in one write call
inline constexpr uint32_t kMaxBatchSizeAdvertised = 5461;  // what pre-flight tells clients

// ---- reads ----
inline constexpr uint32_t kQueryResultsMax = 100000;     // n_results
inline constexpr size_t kQueryEmbeddingsMax = 10000;     // query vectors in one request
inline constexpr size_t kFilterDepthMax = 64;            // nesting of $and/$or
inline constexpr size_t kFilterNodesMax = 100000;

// ---- write path ----
inline constexpr size_t kWriteQueueMax = 1024;           // writers waiting on one collection
inline constexpr size_t kWalGroupBytesMax = 64u << 20;   // one WAL object (group commit)
inline constexpr size_t kWalObjectBytesMax = 256u << 20; // largest WAL object we will decode
inline constexpr int kStorePutAttemptsMax = 4;           // retries of one WAL/manifest put

// ---- compaction and segments ----
inline constexpr uint64_t kCompactionTriggerOpsDefault = 50000;
inline constexpr uint64_t kWalTailBytesMax = 256u << 20;
inline constexpr size_t kSegmentsPerCollectionMax = 8;    // merge when more
inline constexpr size_t kSegmentBlockBytesTarget = 1u << 20;
inline constexpr uint64_t kSegmentBytesMax = 1ull << 40;

// ---- catalog ----
inline constexpr size_t kCollectionsMax = 1000000;
inline constexpr size_t kCatalogVersionsKept = 4;         // older catalog objects are deleted

// ---- objects ----
inline constexpr uint64_t kObjectBytesMax = 1ull << 40;

}  // namespace fathom::limits
