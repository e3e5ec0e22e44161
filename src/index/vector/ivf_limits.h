// Bounds and defaults of the IVF + RaBitQ vector index (ivf_index.h, rabitq.h, kmeans.h).
//
// Kept apart from common/limits.h because they only matter to this index. Every bound
// here is checked with a clear Status wherever input (build options, search options,
// decoded bytes) crosses it. Units are last in the names.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fathom::ivf_limits {

// ---- shape ----
// RaBitQ codes are whole 64-bit words: the rotated dimension is the internal dimension
// rounded up to a multiple of this.
inline constexpr uint32_t kCodeWordBits = 64;
inline constexpr uint32_t kDimensionMax = 65536;        // same as limits::kDimensionMax
inline constexpr uint32_t kClustersMax = 1u << 20;      // flat centroid list
inline constexpr uint64_t kRowsMax = 1ull << 31;        // slots are uint32; keep headroom
// A dense rotation is a padded_dim x dim matrix (64 MiB at this bound). The Hadamard
// rotation new indexes use would allow wider vectors; the bound stays because version 1
// indexes are dense and no wider workload has been measured.
inline constexpr uint32_t kRotatedDimensionMax = 4096;

// Rounds of random signs + Hadamard blocks in a structured rotation (rabitq.h); the
// RaBitQ library uses as many for its FHT rotator.
inline constexpr uint32_t kHadamardRounds = 4;

// ---- clustering ----
// nlist defaults to sqrt(rows) * this, which put the recall/QPS knee of 200k x 128
// synthetic data near 16-32 probes (bench/vector_bench.cc).
inline constexpr double kClustersPerSqrtRowsDefault = 2.0;
// A cluster may hold at most this many times the mean cluster size; larger ones are
// split, so that one probe never costs many times another.
inline constexpr double kClusterSizeCapFactor = 2.0;
// An incremental update (IvfIndex::Updated) dissolves a cluster smaller than this many
// times the mean cluster size, moving its rows to their nearest remaining centroids: a
// probe spent on a near-empty list is wasted. At a quarter most of balanced k-means' own
// small clusters stay (the first update after a Build still merges 2-10% of them; see
// docs/design/vector-index.md, "Incremental maintenance").
inline constexpr double kClusterMergeFactor = 0.25;
// After an update splits a cluster, the rows of this many nearest neighbouring clusters
// move to one of the two new centroids when it is nearer than their own (SPFresh's
// reassignment); the split rows likewise move to a nearer neighbour. Each costs one read
// of those clusters' full vectors.
inline constexpr uint32_t kSplitReassignNeighbors = 4;
// Lloyd iterations of the 2-means that splits a cluster in an update (k-means++ seeded).
inline constexpr int kSplitIterations = 8;
// K-means trains on a sample of this many rows per centroid (FAISS uses 39-256); more
// costs build time without moving recall measurably.
inline constexpr size_t kTrainRowsPerCluster = 48;
inline constexpr int kKmeansIterationsDefault = 10;
inline constexpr int kKmeansIterationsMax = 100;
// Rows per chunk in parallel passes; sums are combined in chunk order, so results do
// not depend on the thread count.
inline constexpr size_t kParallelChunkRows = 4096;
inline constexpr int kBuildThreadsMax = 256;

// Centroid routing (IvfIndex::BuildRouting, centroid_router.h): from this many clusters
// on, a search finds its nearest centroids through an int8 copy with error bounds and
// computes exact distances only for the centroids that may be among them; below, a scan
// of every f32 centroid is cheap (the table fits in L2).
inline constexpr uint32_t kRoutingClustersMin = 256;

// ---- RaBitQ ----
// Query residuals are quantized to this many bits per dimension (the paper's B_q = 4:
// its error is negligible next to the 1-bit code's).
inline constexpr int kQueryBits = 4;
// The paper's confidence parameter epsilon_0 of the error bound; 1.9 makes the bound
// hold with probability about 0.99 per estimate (Gao & Long 2024, section 5).
inline constexpr float kErrorBoundEpsilonDefault = 1.9f;

// ---- search ----
inline constexpr uint32_t kTopKMax = 100000;                 // = limits::kQueryResultsMax
inline constexpr uint32_t kProbesDefault = 16;
inline constexpr uint32_t kRerankFactorDefault = 10;         // candidates = k * factor
// ip keeps more: its MIPS reduction puts short rows far from every query, so their
// 1-bit estimates are looser (0.99 recall needed 30 on the bench's data).
inline constexpr uint32_t kRerankFactorInnerProduct = 30;
inline constexpr uint32_t kRerankCandidatesMax = 1u << 20;
// Two-stage re-rank (IvfSearchOptions::exact): the best k * this of the approximate
// re-rank get exact distances; 2 absorbs the int8 approximation's boundary swaps.
inline constexpr uint32_t kRefineFactorDefault = 2;
inline constexpr uint32_t kRefineFactorMax = 64;
// Filtered search falls back to an exact scan of the allowed rows when there are at most
// this many of them: below it the exact scan costs less than one IVF probe list.
inline constexpr size_t kExactScanAllowedRowsMin = 2048;
// Cost of scoring one RaBitQ code relative to one exact f32 distance at the same
// dimension, used by the planner to choose between the IVF scan and the exact scan
// (measured: a 4-plane popcount estimate is about 1/8 of an AVX2 distance at 128-d and
// less at higher dimensions).
inline constexpr double kCodeCostRelativeToExact = 0.125;

// ---- search calibration (search_calibration.h) ----
// Sample queries a calibration runs: at most this many, fewer for very large indexes so
// the brute-force truth (rows x dim multiply-adds per query) stays within the work bound
// below (about 2-4 s on one core), but never fewer than the minimum.
inline constexpr uint32_t kCalibrationQueriesMax = 200;
inline constexpr uint32_t kCalibrationQueriesMin = 100;
inline constexpr double kCalibrationTruthWorkMax = 1.5e10;
// The sample's mean recall must also exceed the target by this much: a row used as a
// query finds its neighbours slightly more easily than a query from outside the
// collection (its own row pulled its cluster's centroid toward it, and the search asks
// for k + 1 to drop the row itself), measured at about 0.01 of recall@10 on uniform data.
inline constexpr double kCalibrationMeanMargin = 0.02;
// A setting is measured in blocks of this many sample queries and rejected early once its
// upper confidence bound falls below the target.
inline constexpr size_t kCalibrationEarlyRejectQueries = 40;
// Re-rank depths tried (candidates kept = k * factor), from the default depth deeper.
inline constexpr uint32_t kCalibrationRerankFactors[] = {10, 20, 40, 80, 160};
// Shallower depths, tried in this order only when the default depth was the cheapest.
inline constexpr uint32_t kCalibrationShallowRerankFactors[] = {5, 3};
// The fixed cost of probing one cluster (quantizing the query residual), in exact
// distance equivalents, for the calibration's cost model.
inline constexpr double kProbeOverheadCost = 2.0;
// Sample queries timed per plan when a calibration times the index against an exact scan.
inline constexpr size_t kCalibrationTimedQueries = 32;
// Without a clock, the index plan is kept only while it costs less than this fraction of
// an exact scan: the cost model counts work, not memory stalls, and a streaming scan of
// every row has the better memory access pattern and exact answers.
inline constexpr double kExactPlanCostFraction = 0.5;
// The exact plan scans through int8 copies of the rows (int8_scan_copy.h) once the rows'
// f32 bytes reach this: below it they sit in the CPU caches and the f32 scan is as fast
// or faster; above it the scan is bound by memory bandwidth and the copies, a quarter of
// the bytes, win (measured, uniform data: 10k x 64-d 0.6x, 30k x 64-d 1.1x, 30k x 256-d
// 5x, 100k x 64-d 2x the f32 scan's queries/s). Copies are dropped again below half of it.
inline constexpr size_t kInt8ScanMinF32Bytes = size_t{8} << 20;
// The recall@10 a collection's default search is calibrated to reach
// (DatabaseOptions::vector_recall_target overrides it).
inline constexpr double kRecallTargetDefault = 0.95;

// ---- serialized bytes ----
inline constexpr uint64_t kSerializedBytesMax = 1ull << 40;
// Slots in a serialized index are below this bound, so a decoder's slot bitset stays
// proportional to the rows it holds (a collection persists dense slots, < rows).
inline constexpr uint64_t SerializedSlotBound(uint64_t rows) { return 4 * rows + 65536; }

}  // namespace fathom::ivf_limits
