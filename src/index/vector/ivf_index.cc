// IvfIndex: building the index (k-means, RaBitQ codes, routing) and its shape; the
// search is in ivf_search.cc, the bytes in ivf_format.cc, incremental updates in
// ivf_update.cc.
#include "index/vector/ivf_index.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "common/assert.h"
#include "index/vector/distance.h"

namespace fathom {

namespace {

// Seed streams derived from IvfBuildOptions::seed.
constexpr uint64_t kKmeansSeedStream = 1;
constexpr uint64_t kRotationSeedStream = 2;

}  // namespace

bool IvfIndex::IndexMembers() {
  uint32_t bound = 0;
  for (uint32_t slot : slots_) bound = std::max(bound, slot + 1);
  slot_bound_ = bound;
  members_.assign((static_cast<size_t>(bound) + 63) / 64, 0);
  for (uint32_t slot : slots_) {
    uint64_t& word = members_[slot >> 6];
    const uint64_t bit = uint64_t{1} << (slot & 63);
    if (word & bit) return false;
    word |= bit;
  }
  return true;
}

namespace {

// Build's steps, in the order it takes them.

Status CheckBuildInput(MatrixView vectors, const IvfBuildOptions& options) {
  if (vectors.rows == 0) return Status::InvalidArgument("IVF index: no vectors");
  if (vectors.rows > ivf_limits::kRowsMax) return Status::InvalidArgument("IVF index: too many vectors");
  if (vectors.dim == 0 || vectors.dim > ivf_limits::kDimensionMax) {
    return Status::InvalidArgument("IVF index: bad dimension");
  }
  if (options.threads < 1 || options.threads > ivf_limits::kBuildThreadsMax) {
    return Status::InvalidArgument("IVF index: threads out of range");
  }
  if (options.clusters > ivf_limits::kClustersMax) return Status::InvalidArgument("IVF index: too many clusters");
  for (size_t i = 0; i < vectors.rows * vectors.dim; ++i) {
    if (!std::isfinite(vectors.data[i])) return Status::InvalidArgument("IVF index: vectors must be finite");
  }
  return Status::Ok();
}

// The internal (squared-L2) representation of every row: the rows themselves in l2;
// normalized in cosine; in ip, each row with one more coordinate sqrt(M^2 - |x|^2), M the
// largest norm (the MIPS reduction), which *ip_max_norm receives (0 in l2 and cosine).
// The rows are written to *transformed unless the space is l2.
MatrixView InternalRows(MatrixView vectors, DistanceSpace space, uint32_t internal_dim,
                        std::vector<float>* transformed, float* ip_max_norm) {
  *ip_max_norm = 0.0f;
  if (space == DistanceSpace::kL2) return vectors;
  transformed->resize(vectors.rows * internal_dim);
  std::vector<float> norms(vectors.rows);
  double max_norm = 0.0;
  for (size_t i = 0; i < vectors.rows; ++i) {
    norms[i] = std::sqrt(DotProduct(vectors.Row(i), vectors.Row(i), vectors.dim));
    max_norm = std::max<double>(max_norm, norms[i]);
  }
  for (size_t i = 0; i < vectors.rows; ++i) {
    const float* row = vectors.Row(i);
    float* out = transformed->data() + i * internal_dim;
    if (space == DistanceSpace::kCosine) {
      float inverse = norms[i] > 0.0f ? 1.0f / norms[i] : 0.0f;
      for (uint32_t d = 0; d < vectors.dim; ++d) out[d] = row[d] * inverse;
    } else {
      std::copy_n(row, vectors.dim, out);
      double slack = max_norm * max_norm - static_cast<double>(norms[i]) * norms[i];
      out[vectors.dim] = static_cast<float>(std::sqrt(std::max(0.0, slack)));
    }
  }
  if (space == DistanceSpace::kInnerProduct) *ip_max_norm = static_cast<float>(max_norm);
  return MatrixView{transformed->data(), vectors.rows, internal_dim};
}

// The clustering's options: options.clusters, or sqrt(rows) * kClustersPerSqrtRowsDefault
// when 0.
KmeansOptions BuildKmeansOptions(size_t rows, const IvfBuildOptions& options) {
  KmeansOptions kmeans;
  kmeans.clusters = options.clusters;
  if (kmeans.clusters == 0) {
    double wanted = std::round(std::sqrt(static_cast<double>(rows)) * ivf_limits::kClustersPerSqrtRowsDefault);
    kmeans.clusters = static_cast<uint32_t>(std::clamp<double>(wanted, 1.0, ivf_limits::kClustersMax));
  }
  kmeans.iterations = options.kmeans_iterations;
  kmeans.seed = MixSeed(options.seed, kKmeansSeedStream);
  kmeans.threads = options.threads;
  return kmeans;
}

// The centroids, rotated: clusters x padded_dim floats.
std::vector<float> RotatedCentroids(const RabitqQuantizer& quantizer, const KmeansResult& clustering,
                                    uint32_t internal_dim) {
  const uint32_t padded = quantizer.padded_dim();
  std::vector<float> out(static_cast<size_t>(clustering.clusters()) * padded);
  for (uint32_t j = 0; j < clustering.clusters(); ++j) {
    quantizer.Rotate(clustering.centroids.data() + static_cast<size_t>(j) * internal_dim,
                     out.data() + static_cast<size_t>(j) * padded);
  }
  return out;
}

// A counting sort of rows by cluster (within a cluster, rows keep their order): the
// clusters' offsets (clusters + 1) and each row's position in cluster order.
void SortRowsByCluster(const KmeansResult& clustering, std::vector<uint32_t>* offsets,
                       std::vector<uint32_t>* position) {
  const uint32_t clusters = clustering.clusters();
  offsets->assign(clusters + 1, 0);
  for (uint32_t a : clustering.assignment) ++(*offsets)[a + 1];
  for (uint32_t j = 0; j < clusters; ++j) (*offsets)[j + 1] += (*offsets)[j];
  position->resize(clustering.assignment.size());
  std::vector<uint32_t> next(offsets->begin(), offsets->end() - 1);
  for (size_t i = 0; i < position->size(); ++i) (*position)[i] = next[clustering.assignment[i]]++;
}

}  // namespace

Result<IvfIndex> IvfIndex::Build(MatrixView vectors, const IvfBuildOptions& options, const uint32_t* slots) {
  FATHOM_RETURN_IF_ERROR(CheckBuildInput(vectors, options));
  IvfIndex index;
  index.space_ = options.space;
  index.dim_ = vectors.dim;
  index.rows_ = vectors.rows;
  index.internal_dim_ = vectors.dim + (options.space == DistanceSpace::kInnerProduct ? 1 : 0);
  const uint32_t internal_dim = index.internal_dim_;
  std::vector<float> transformed;
  const MatrixView internal = InternalRows(vectors, options.space, internal_dim, &transformed, &index.ip_max_norm_);

  FATHOM_ASSIGN_OR_RETURN(KmeansResult clustering, BalancedKmeans(internal, BuildKmeansOptions(vectors.rows, options)));
  FATHOM_ASSIGN_OR_RETURN(RabitqQuantizer quantizer,
                          RabitqQuantizer::Create(internal_dim, MixSeed(options.seed, kRotationSeedStream),
                                                  options.rotation));
  index.centroids_ = RotatedCentroids(quantizer, clustering, internal_dim);
  std::vector<uint32_t> position;
  SortRowsByCluster(clustering, &index.offsets_, &position);

  // Each row's code, of its rotated residual from its centroid, at its place in cluster
  // order.
  const uint32_t padded = quantizer.padded_dim();
  const uint32_t words = quantizer.code_words();
  index.slots_.resize(vectors.rows);
  index.codes_.resize(vectors.rows * words);
  index.add_.resize(vectors.rows);
  index.rescale_.resize(vectors.rows);
  index.error_.resize(vectors.rows);
  ParallelForChunks(vectors.rows, ivf_limits::kParallelChunkRows, options.threads, [&](size_t begin, size_t end) {
    std::vector<float> rotated(padded);
    for (size_t i = begin; i < end; ++i) {
      const uint32_t p = position[i];
      const float* centroid = index.centroids_.data() + static_cast<size_t>(clustering.assignment[i]) * padded;
      quantizer.Rotate(internal.Row(i), rotated.data());
      for (uint32_t d = 0; d < padded; ++d) rotated[d] -= centroid[d];
      quantizer.Encode(rotated.data(), index.codes_.data() + static_cast<size_t>(p) * words, &index.add_[p],
                       &index.rescale_[p], &index.error_[p]);
      index.slots_[p] = slots != nullptr ? slots[i] : static_cast<uint32_t>(i);
    }
  });
  index.quantizer_.emplace(std::move(quantizer));
  if (slots != nullptr && vectors.rows > 0 && *std::max_element(slots, slots + vectors.rows) == UINT32_MAX) {
    return Status::InvalidArgument("IVF index: slot 2^32-1 is reserved");
  }
  if (!index.IndexMembers()) return Status::InvalidArgument("IVF index: slots must be distinct");
  index.BuildRouting();
  return index;
}

void IvfIndex::BuildRouting() {
  router_ = clusters() >= ivf_limits::kRoutingClustersMin
                ? CentroidRouter::Build(centroids_.data(), clusters(), quantizer_->padded_dim())
                : CentroidRouter();
}

IvfIndex IvfIndex::WithoutRouting() const {
  IvfIndex copy = *this;
  copy.router_ = CentroidRouter();
  return copy;
}

size_t IvfIndex::RouteQuery(const float* rotated, uint32_t wanted, std::vector<std::pair<float, uint32_t>>* order,
                            std::vector<float>* scratch) const {
  const uint32_t clusters = this->clusters();
  const uint32_t padded = quantizer_->padded_dim();
  if (!router_.empty() && wanted < clusters) return router_.Route(rotated, centroids_.data(), wanted, order);
  scratch->resize(clusters);
  SquaredL2ToMany(rotated, centroids_.data(), clusters, padded, scratch->data());
  order->resize(clusters);
  for (uint32_t j = 0; j < clusters; ++j) (*order)[j] = {(*scratch)[j], j};
  return clusters;
}

std::vector<std::pair<float, uint32_t>> IvfIndex::CentroidOrder(const float* query) const {
  const uint32_t padded = quantizer_->padded_dim();
  std::vector<float> internal_query(padded, 0.0f), rotated(padded), scratch(clusters());
  TransformQuery(query, std::sqrt(DotProduct(query, query, dim_)), internal_query.data());
  quantizer_->Rotate(internal_query.data(), rotated.data());
  SquaredL2ToMany(rotated.data(), centroids_.data(), clusters(), padded, scratch.data());
  std::vector<std::pair<float, uint32_t>> order(clusters());
  for (uint32_t j = 0; j < clusters(); ++j) order[j] = {scratch[j], j};
  std::sort(order.begin(), order.end());
  return order;
}

std::vector<uint32_t> IvfIndex::ClusterOfSlots() const {
  std::vector<uint32_t> out(slot_bound_, UINT32_MAX);
  for (uint32_t j = 0; j < clusters(); ++j) {
    for (uint32_t r = offsets_[j]; r < offsets_[j + 1]; ++r) out[slots_[r]] = j;
  }
  return out;
}

IvfIndex IvfIndex::EmptyWithSameShape() const {
  IvfIndex out;
  out.space_ = space_;
  out.dim_ = dim_;
  out.internal_dim_ = internal_dim_;
  out.ip_max_norm_ = ip_max_norm_;
  out.quantizer_ = quantizer_;
  return out;
}

Result<IvfIndex> IvfIndex::Remapped(const std::function<std::optional<uint32_t>(uint32_t)>& map) const {
  const uint32_t words = quantizer_->code_words();
  IvfIndex out = EmptyWithSameShape();
  out.centroids_ = centroids_;
  out.router_ = router_;
  out.offsets_.assign(offsets_.size(), 0);
  out.slots_.reserve(slots_.size());
  out.codes_.reserve(codes_.size());
  for (uint32_t j = 0; j < clusters(); ++j) {
    for (size_t r = offsets_[j]; r < offsets_[j + 1]; ++r) {
      const std::optional<uint32_t> slot = map(slots_[r]);
      if (!slot) continue;
      if (*slot == UINT32_MAX) return Status::InvalidArgument("IVF remap: slot 2^32-1 is reserved");
      out.slots_.push_back(*slot);
      out.codes_.insert(out.codes_.end(), codes_.begin() + r * words, codes_.begin() + (r + 1) * words);
      out.add_.push_back(add_[r]);
      out.rescale_.push_back(rescale_[r]);
      out.error_.push_back(error_[r]);
    }
    out.offsets_[j + 1] = static_cast<uint32_t>(out.slots_.size());
  }
  out.rows_ = out.slots_.size();
  if (out.rows_ == 0) return Status::InvalidArgument("IVF remap: no row left");
  if (!out.IndexMembers()) return Status::InvalidArgument("IVF remap: slots must stay distinct");
  return out;
}

Status IvfIndex::RenameSlots(const std::function<std::optional<uint32_t>(uint32_t)>& map) {
  std::vector<uint32_t> renamed(slots_.size());
  for (size_t r = 0; r < slots_.size(); ++r) {
    const std::optional<uint32_t> slot = map(slots_[r]);
    if (!slot) return Status::InvalidArgument("IVF rename: a row has no new slot");
    if (*slot == UINT32_MAX) return Status::InvalidArgument("IVF rename: slot 2^32-1 is reserved");
    renamed[r] = *slot;
  }
  renamed.swap(slots_);
  if (!IndexMembers()) {
    renamed.swap(slots_);
    FATHOM_CHECK(IndexMembers());  // the slots it had were distinct
    return Status::InvalidArgument("IVF rename: slots must stay distinct");
  }
  return Status::Ok();
}

size_t IvfIndex::MemoryBytes() const {
  size_t bytes = sizeof(*this);
  bytes += centroids_.capacity() * sizeof(float) + offsets_.capacity() * sizeof(uint32_t);
  bytes += slots_.capacity() * sizeof(uint32_t) + codes_.capacity() * sizeof(uint64_t);
  bytes += members_.capacity() * sizeof(uint64_t);
  bytes += router_.MemoryBytes();
  bytes += (add_.capacity() + rescale_.capacity() + error_.capacity()) * sizeof(float);
  if (quantizer_) bytes += quantizer_->rotation().capacity() * sizeof(float) + quantizer_->padded_dim() * sizeof(float);
  return bytes;
}

}  // namespace fathom
