// SparseIndex: a collection's index over its one sparse-vector metadata key (the key whose
// `sparse_vector_index` the collection's schema enables), a RowIndex (index/row_index.h)
// kept in step with the rows. It answers top-k by inner product with a sparse query
// (Chroma's sparse `$knn`). Design: docs/design/sparse-vectors.md.
//
// Per dimension, an inverted list of (slot, weight) in two parts, like the BM25 inverted
// index (index/text/inverted_index.h):
//   sealed  postings in blocks of kSparseBlockSize with each block's first and last slot
//           and its largest and smallest weight, from which the block's bound for a query
//           weight q is max(0, q * max) (q > 0) or max(0, q * min) (q < 0);
//   tail    vectors added since the last rebuild, per dimension a vector sorted by slot,
//           with the largest and smallest tail weight (never narrowed by removals).
// Removing a sealed vector only marks its slot (sealed postings count only while the
// slot's state says "sealed"); removing a tail vector erases its postings, found from the
// row's own vector (the RecordTable passes the row that still holds it). When the tail or
// the removed sealed vectors pass 1/8 of the sealed ones, everything is rebuilt into the
// sealed part. BulkAdd appends (dimension, slot, weight) triples that Seal sorts into
// lists with a counting sort.
//
// Search: block-max MaxScore (index/maxscore.h). A document is a candidate when it shares
// at least one dimension with the query; its score is the sum over shared dimensions of
// query value * document value, each product and the sum computed in double (a product of
// two floats is exact in double), reported as float.
// Persistence: MakeImage gives the index's sealed form with slots renumbered (to ranks),
// which index/sparse/sparse_index_format.h encodes as an object of its own; LoadImage
// installs a decoded one in place of a build from the rows (db/sparse_index_persistence.h).
// Thread-safety: Search and MakeImage are safe concurrently; changes are exclusive (the
// table's lock).
#pragma once

#include <roaring/roaring.hh>

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "fathom/types.h"
#include "index/maxscore.h"
#include "index/row_index.h"

namespace fathom {

inline constexpr uint32_t kSparseBlockSize = 128;  // postings per sealed block

class SparseIndex final : public RowIndex {
 public:
  // Indexes the SparseVector values of metadata key `key`; other values of the key (and
  // rows without it) are not indexed.
  explicit SparseIndex(std::string key) : key_(std::move(key)) {}

  const std::string& key() const { return key_; }

  Field field() const override { return Field::kMetadata; }
  void Add(uint32_t slot, const RecordView& row) override;
  void Remove(uint32_t slot, const RecordView& row) override;
  void Clear() override;
  void BulkAdd(uint32_t slot, const RecordView& row) override;
  void Seal() override;
  size_t MemoryBytes() const override;

  // The k rows with the largest inner product with `query` (indices strictly ascending,
  // values finite: the caller checked), among `filter` when non-null, by score descending
  // then slot ascending. Rows sharing no dimension with the query are never returned.
  std::vector<ScoredSlot> Search(const SparseVector& query, uint32_t k, const Roaring* filter) const;

  // For tests and diagnostics.
  uint64_t vector_count() const { return sealed_docs_ + tail_docs_; }

  // The SparseVectorChecksum (index/sparse/sparse_index_format.h) of the vector the index
  // holds for `slot`, or nullopt when it holds none: kept per slot as vectors come (Add,
  // BulkAdd, LoadImage), so that the sparse index object's row identity is read, not
  // hashed, while a compaction holds the table's lock (docs/design/sparse-vectors.md,
  // "Persistence"). Not during a bulk load.
  std::optional<uint64_t> VectorChecksum(uint32_t slot) const {
    if (slot >= state_.size() || state_[slot] == kEmpty) return std::nullopt;
    return checksums_[slot];
  }
  uint64_t tail_vector_count() const { return tail_docs_; }

  struct Block {
    uint32_t first_slot;
    uint32_t last_slot;
    uint64_t begin;  // postings [begin, begin + count) of slots_ / weights_
    uint32_t count;
    float max_weight;
    float min_weight;
  };
  struct Posting {
    uint32_t slot;
    float weight;
  };
  // The sealed form of the whole index, as its object holds it (docs/format/
  // sparse-index.md): per dimension, in increasing dimension order, its postings in
  // blocks of kSparseBlockSize (the last may be shorter), slots strictly increasing.
  struct ImageList {
    uint32_t dimension;    // the sparse vector index
    uint32_t first_block;  // blocks [first_block, first_block + block_count) of blocks
    uint32_t block_count;  // >= 1
  };
  struct Image {
    uint64_t slot_count = 0;  // every slot is below it
    std::vector<ImageList> dimensions;
    std::vector<Block> blocks;  // in dimension order; begin/count index slots, weights
    std::vector<uint32_t> slots;
    std::vector<float> weights;
  };
  // The live postings, sealed and tail, slot s renumbered to (*rank_of_slot)[s] (kept
  // when null), which must increase with s over the slots holding a vector and be below
  // `slot_count`. Not during a bulk load (BulkAdd before Seal).
  Image MakeImage(const std::vector<uint32_t>* rank_of_slot, uint64_t slot_count) const;
  // Replaces the index by `image` (as its decoder checked it: slots below
  // image.slot_count), its slot r renumbered to (*slot_of_rank)[r] (kept when null;
  // increasing). `vector_slots`: the slots (< slot_count) whose rows hold a vector at
  // key(), those of the image's rows, and `vector_checksums` their vectors'
  // SparseVectorChecksum (what VectorChecksum answers); `slot_count`: the table's slots.
  void LoadImage(Image image, const std::vector<uint32_t>* slot_of_rank, const std::vector<uint32_t>& vector_slots,
                 const std::vector<uint64_t>& vector_checksums, size_t slot_count);

  struct Dimension {
    uint32_t first_block = 0;  // blocks [first_block, first_block + block_count) in blocks_
    uint32_t block_count = 0;
    std::vector<Posting> tail;  // sorted by slot
    float tail_max = 0;         // bounds of the tail weights, when the tail is not empty
    float tail_min = 0;
  };

 private:
  friend class SparseIndexSearch;
  enum SlotState : uint8_t { kEmpty = 0, kSealed = 1, kTail = 2, kBulk = 3 };

  // The row's vector at key_, or null.
  const SparseVector* VectorOf(const RecordView& row) const;
  uint32_t DimensionIdOrAdd(uint32_t dimension);
  void EnsureSlot(uint32_t slot);
  void MaybeRebuild();
  // Rebuilds the sealed part from the live sealed postings, the tail and `bulk`
  // (triples sorted by dimension id, then slot).
  struct BulkPosting {
    uint32_t dimension_id;
    uint32_t slot;
    float weight;
  };
  void Rebuild(const std::vector<BulkPosting>& bulk);
  // The dimension's live postings, sealed then tail merged by slot, into `list`.
  void LivePostings(const Dimension& d, std::vector<Posting>* list) const;
  // Cuts `list` (slots increasing) into blocks of kSparseBlockSize appended to `blocks`,
  // its postings to `slots` / `weights`; returns the number of blocks.
  static uint32_t AppendBlocks(const std::vector<Posting>& list, std::vector<Block>* blocks,
                               std::vector<uint32_t>* slots, std::vector<float>* weights);

  const std::string key_;
  std::unordered_map<uint32_t, uint32_t> dimension_ids_;  // dimension index -> id
  std::vector<Dimension> dimensions_;                     // by id
  std::vector<Block> blocks_;
  std::vector<uint32_t> slots_;  // sealed postings, block after block
  std::vector<float> weights_;
  std::vector<uint8_t> state_;  // SlotState by slot
  std::vector<uint64_t> checksums_;  // by slot: its vector's checksum (state_ not kEmpty)
  std::vector<BulkPosting> bulk_;
  uint64_t sealed_docs_ = 0;  // live vectors in the sealed part
  uint64_t sealed_dead_ = 0;  // sealed vectors removed since the last rebuild
  uint64_t tail_docs_ = 0;
  uint64_t tail_postings_ = 0;
};

}  // namespace fathom
