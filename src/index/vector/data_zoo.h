// A "data zoo" for measuring the vector index on data it was not designed around: seeded
// generators of kinds unlike the project's own clustered generator (synthetic_data.h),
// hashed bag-of-words vectors of real text found on this machine, and a loader for
// external embedding files (.fvecs). bench/zoo_bench.cc runs a collection with default
// settings over each of them.
//
// Every generator returns base rows and query rows as row-major float matrices. Queries
// are never base rows: synthetic kinds draw them from their own seed stream, text and
// fvecs kinds hold a seeded sample out of the base set (the duplicates kind draws them as
// near-duplicates of base prototypes, on purpose). A seed reproduces a data set exactly:
// rows are drawn from MixSeed(seed, stream + row) (kmeans.h), so they do not depend on
// thread count. The text kind also depends on the files installed on the machine.
//
// Ownership: ZooDataset and TextCorpus own their values. Thread-safety: the functions are
// reentrant.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fathom/status.h"
#include "fathom/types.h"
#include "index/vector/synthetic_data.h"

namespace fathom {

struct ZooDataset {
  std::string name;  // e.g. "uniform_64", "bow_256"
  DistanceSpace space = DistanceSpace::kL2;
  uint32_t dim = 0;
  std::vector<float> base;     // rows x dim
  std::vector<float> queries;  // query_count x dim
  size_t rows = 0, query_count = 0;
  // Where the data came from, in one line (what a table footnote would say): the
  // generator's parameters, or the files and counts behind a text / fvecs set.
  std::string note;

  const float* BaseRow(size_t i) const { return base.data() + i * dim; }
  const float* QueryRow(size_t i) const { return queries.data() + i * dim; }
};

// How many rows and queries to make, from which seed. A text or fvecs source with fewer
// rows than rows + queries yields fewer base rows (never fewer queries) and says so in
// the note.
struct ZooOptions {
  size_t rows = 10000;
  size_t queries = 200;
  uint64_t seed = 1;
  int threads = 1;
};

// Uniform in [0, 1)^dim, l2: no structure at all, the hardest case for a clustering index
// (the intrinsic dimension is the full dimension). Name "uniform_<dim>".
Result<ZooDataset> MakeUniform(uint32_t dim, const ZooOptions& options);

// A single gaussian whose standard deviation along its i-th principal axis is
// (i + 1)^-0.5 (i from 0), rotated by a seeded random orthogonal matrix so the axes are
// not the coordinates; l2. One blob with a slowly decaying spectrum, as PCA of many
// embedding models looks, with no clusters to find. Name "gauss_decay_<dim>".
Result<ZooDataset> MakeDecayingGaussian(uint32_t dim, const ZooOptions& options);

// Heavy duplicates, cosine: round(distinct_fraction * rows) distinct prototypes (gaussian
// clusters: clamp(prototypes / 100, 8, 1000) centres ~ N(0, I), prototype = centre +
// N(0, 0.5^2 I)); every prototype appears at least once and the other rows repeat a
// random prototype; each row is an exact copy (probability 1/2) or the prototype plus
// N(0, 0.01^2 I). Rows are in a seeded random order. Queries are near-duplicates: a random
// prototype plus N(0, 0.02^2 I). Name "dup_<dim>".
Result<ZooDataset> MakeDuplicates(uint32_t dim, const ZooOptions& options, double distinct_fraction = 0.2);

// Inner product with unnormalised norms: directions from clamp(rows / 1000, 8, 1000)
// clusters (unit centre + N(0, 0.7^2 / dim I), normalised), each row scaled by a
// log-normal norm exp(norm_log_sigma * N(0, 1)); queries are unit directions from the same
// clusters. Chroma's ip distance 1 - a.b then favours long rows over close directions.
// Name "ip_lognorm_<dim>".
Result<ZooDataset> MakeLogNormalNorms(uint32_t dim, const ZooOptions& options, double norm_log_sigma = 0.75);

// The project's own clustered generator (GenerateSynthetic) with the given shape; its
// rows, queries, seed and threads come from `options`. l2. Name "synthetic_<dim>".
Result<ZooDataset> MakeClustered(const SyntheticOptions& shape, const ZooOptions& options);

// Paragraphs of plain-text files on this machine, for MakeHashedBagOfWords.
struct TextCorpusOptions {
  // Every plain-text file under these roots counts (license texts, Debian copyright
  // files, package READMEs and changelogs).
  std::vector<std::string> text_roots = {"/usr/share/common-licenses", "/usr/share/doc"};
  // Under these, only files named like prose: *.txt, *.md, *.rst, *.pod, *.markdown, or
  // README*, COPYING*, LICENSE*, NEWS*, ... (vim help, CMake's manual, perl pods).
  std::vector<std::string> prose_roots = {"/usr/share", "/usr/lib"};
  // A paragraph (text between blank lines) with fewer tokens is dropped.
  size_t tokens_min = 5;
  size_t paragraphs_max = 2000000;
  size_t file_bytes_max = 4 << 20;  // the rest of a longer file is ignored
};

struct TextCorpus {
  // Each paragraph's tokens: runs of ASCII letters and digits, lowercased, at least two
  // characters long, joined by single spaces. Distinct (a paragraph seen before, e.g. the
  // GPL in a hundred copyright files, is kept once), in sorted-path order.
  std::vector<std::string> paragraphs;
  size_t files = 0;  // files that gave at least one paragraph
};

// Walks the roots (directory symlinks are not followed; compressed and binary files are
// skipped). NotFound when no paragraph was found.
Result<TextCorpus> LoadTextCorpus(const TextCorpusOptions& options);

// Hashed bag-of-words of the corpus' paragraphs, cosine: each distinct token t of a
// paragraph adds sign(t) * log(1 + tf(t)) to coordinate bucket(t), with bucket and sign
// from a 64-bit hash of t salted with the seed. Paragraphs whose vectors are zero or equal
// to an earlier paragraph's are dropped; a seeded shuffle of the rest gives the queries
// (first) and the base rows (next). Name "bow_<dim>".
Result<ZooDataset> MakeHashedBagOfWords(const TextCorpus& corpus, uint32_t dim, const ZooOptions& options);

// Reads up to max_rows vectors (0 = all) of an .fvecs file: each vector is a
// little-endian int32 dimension followed by that many float32 values, every vector of the
// same dimension. IOError when unreadable, Corruption on a truncated file, a changing or
// impossible dimension, or a non-finite value.
Result<Dataset> LoadFvecs(const std::string& path, size_t max_rows);

// An fvecs file as a zoo set: a seeded random sample of options.queries rows held out as
// queries, and up to options.rows of the others (in a seeded random order) as the base.
// Zero rows are dropped for cosine.
Result<ZooDataset> MakeFromFvecs(const std::string& name, const std::string& path, DistanceSpace space,
                                 const ZooOptions& options);

}  // namespace fathom
