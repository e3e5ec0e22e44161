// index_snapshot_bench: how long a compaction holds the table's exclusive lock to snapshot
// the persisted row indexes (the sparse index object, db/sparse_index_persistence.h; the
// text index object, db/text_index_persistence.h), against the encoding done after the
// lock is released. A RecordTable of --docs rows, each with a SPLADE-like sparse vector
// (sparse_data.h: Zipfian dimensions out of --dims, Poisson(--nnz) nonzeros, log-normal
// weights) and a short document (Zipfian words), is filled through Apply as writes fill it;
// then, --rounds times, each persisted index's SnapshotObject (what compaction runs under
// the lock, CollectionIndexes::TakeSnapshots) and Encode (what it runs after), with the
// parts of the snapshot alone: the copy of the index (for text, with the trigram index) and the rows' identity (ranks,
// offsets, checksums). Thread CPU time, median over the rounds. The documents are in RAM
// (rows not yet in a segment: a first fold); once stored, a document's checksum is read
// from its row instead of computed. Prints a table and the machine's load; not a test.
// Usage: index_snapshot_bench [--docs 200000] [--nnz 64] [--dims 30000] [--rounds 5]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "bench_util.h"
#include "db/record_table.h"
#include "db/sparse_index_persistence.h"
#include "db/text_index_persistence.h"
#include "sparse_data.h"

namespace {

using fathom::bench::Check;
using fathom::bench::Median;
using fathom::bench::ThreadCpuSeconds;

constexpr const char* kKey = "sp";

// Milliseconds of thread CPU that fn takes.
template <typename Fn>
double CpuMs(Fn&& fn) {
  const double start = ThreadCpuSeconds();
  fn();
  return (ThreadCpuSeconds() - start) * 1e3;
}

std::string Document(const fathom::bench::Zipf& words, std::mt19937_64& rng) {
  std::string out;
  for (int n = 12 + static_cast<int>(rng() % 16); n > 0; --n) {
    out += 'w';
    out += std::to_string(words(rng));
    out += ' ';
  }
  return out;
}

struct Timings {
  std::vector<double> snapshot, encode, copy, identity;
};

void Row(const char* what, const Timings& t) {
  std::printf("| %s | %.1f | %.1f | %.1f | %.1f |\n", what, Median(t.snapshot), Median(t.copy), Median(t.identity),
              Median(t.encode));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"lock hold of the persisted index snapshots at compaction"};
  uint32_t docs = 200000, nnz = 64, dims = 30000;
  int rounds = 5;
  uint64_t seed = 1;
  app.add_option("--docs", docs, "rows");
  app.add_option("--nnz", nnz, "mean nonzeros per sparse vector");
  app.add_option("--dims", dims, "sparse dimensions");
  app.add_option("--rounds", rounds, "snapshots of each index");
  app.add_option("--seed", seed, "data seed");
  CLI11_PARSE(app, argc, argv);

  std::printf("load before: %s\n", fathom::bench::LoadAverages().c_str());
  std::mt19937_64 rng(seed);
  const fathom::bench::Zipf zipf(dims);
  const fathom::bench::Zipf words(50000);
  fathom::RecordTable table;
  table.set_sparse_key(kKey);
  uint64_t postings = 0;
  for (uint32_t d = 0; d < docs; ++d) {
    fathom::Operation op;
    op.type = fathom::OpType::kAdd;
    op.record.id = "doc" + std::to_string(d);
    op.record.embedding = std::vector<float>{1.0f};
    fathom::SparseVector v = fathom::bench::RandomSparseVector(zipf, nnz, rng);
    postings += v.indices.size();
    op.record.metadata = fathom::MetadataPatch{{kKey, fathom::MetadataValue(std::move(v))}};
    op.record.document = Document(words, rng);
    table.Apply(std::move(op));
  }
  std::printf("%u rows, %.1f sparse nonzeros each on average, a document of 12-27 words each; seed %llu\n", docs,
              static_cast<double>(postings) / docs, static_cast<unsigned long long>(seed));

  Timings sparse, text;
  volatile uint64_t sink = 0;  // keeps the copies
  for (int round = 0; round < rounds; ++round) {
    {
      fathom::PersistedSparseIndex object;
      std::unique_ptr<fathom::IndexSnapshot> snapshot;
      sparse.snapshot.push_back(CpuMs([&] { snapshot = object.SnapshotObject(table); }));
      if (snapshot == nullptr) fathom::bench::Die("no sparse snapshot");
      sparse.encode.push_back(CpuMs([&] { Check(snapshot->Encode().status(), "sparse encode"); }));
      // Freed after the timing, as the snapshot's copy is.
      std::unique_ptr<fathom::SparseIndex> copy;
      sparse.copy.push_back(CpuMs([&] { copy = std::make_unique<fathom::SparseIndex>(*table.sparse_index()); }));
      sink = sink + copy->vector_count();
    }
    {
      fathom::PersistedTextIndex object;
      std::unique_ptr<fathom::IndexSnapshot> snapshot;
      text.snapshot.push_back(CpuMs([&] { snapshot = object.SnapshotObject(table); }));
      if (snapshot == nullptr) fathom::bench::Die("no text snapshot");
      text.encode.push_back(CpuMs([&] { Check(snapshot->Encode().status(), "text encode"); }));
      std::optional<fathom::InvertedIndex> copy;
      fathom::TrigramIndex::SortedPostings trigrams;
      text.copy.push_back(CpuMs([&] {
        copy = table.text_index()->inverted_index();
        trigrams = table.trigram_index()->CopySortedPostings();
      }));
      sink = sink + copy->doc_count() + trigrams.size();
    }
  }
  // The identity part of the snapshot: what is left once the copy is taken out.
  for (Timings* t : {&sparse, &text}) {
    for (size_t i = 0; i < t->snapshot.size(); ++i) t->identity.push_back(t->snapshot[i] - t->copy[i]);
  }
  std::printf("load after: %s\n", fathom::bench::LoadAverages().c_str());
  std::printf("\n| thread CPU ms, median of %d | snapshot (under the lock) | of which the index copy | the rest: "
              "ranks and the rows' identity | encode (after the lock) |\n| --- | ---: | ---: | ---: | ---: |\n",
              rounds);
  Row("sparse index object", sparse);
  Row("text index object", text);
  return 0;
}
