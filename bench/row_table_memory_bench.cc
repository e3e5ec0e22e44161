// row_table_memory_bench: the bytes a RecordTable accounts for its rows
// (RecordTable::RowMemoryBytes: fields, strings' heap bytes, the id map; not the row
// indexes or vectors) with every document in RAM, and after the documents stored in a
// records segment left it (docs/design/documents-on-demand.md). --rows rows with
// documents of --doc-bytes bytes are written to one segment in a MemStore, loaded and
// indexed twice: with the documents in RAM, then with their locators as a collection's
// open does. The process's
// resident set is printed beside (after malloc_trim; freed documents interleaved with
// live allocations may stay resident: the accounted figure is the one to read).
// Usage: row_table_memory_bench [--rows 100000] [--doc-bytes 1024]
#include <malloc.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <random>

#include "bench_util.h"
#include "db/record_table.h"
#include "io/mem_store.h"
#include "io/random_reader.h"
#include "storage/records_segment.h"
#include "storage/records_segment_reader.h"

using namespace fathom;

int main(int argc, char** argv) {
  CLI::App app{"row_table_memory_bench"};
  size_t rows = 100000, doc_bytes = 1024;
  app.add_option("--rows", rows);
  app.add_option("--doc-bytes", doc_bytes);
  CLI11_PARSE(app, argc, argv);
  std::mt19937_64 rng(42);
  const uint32_t dim = 8;
  auto store = std::make_shared<MemStore>();
  {
    RecordsSegmentWriter writer(dim);
    std::vector<float> v(dim, 0.5f);
    for (size_t i = 0; i < rows; ++i) {
      Row row;
      row.id = "id" + std::to_string(i);
      row.offset = i;
      std::string doc = "record " + std::to_string(i);
      while (doc.size() < doc_bytes) doc += static_cast<char>('a' + rng() % 26);
      row.document = std::move(doc);
      row.metadata = Metadata{{"n", static_cast<int64_t>(i % 100)}};
      writer.AddRow(row, v.data());
    }
    auto bytes = writer.Finish();
    if (!bytes.ok()) bench::Die(bytes.status().ToString());
    bench::Check(store->Put("seg", *bytes, PutMode::kOverwrite), "put");
  }
  BlockCache cache(64 << 20, RecordsSegmentReader::kCacheBlockBytes);
  auto random = ObjectRangeReader::Open(store, "seg");
  if (!random.ok()) bench::Die(random.status().ToString());
  auto segment = RecordsSegmentReader::Open(std::move(*random), &cache);
  if (!segment.ok()) bench::Die(segment.status().ToString());
  malloc_trim(0);
  const size_t rss_start = bench::RssBytes();
  // The same rows twice: with their documents in RAM (loaded without a locator), and as
  // an open loads them (locators only; the indexes of documents read them back).
  auto load = [&](RecordTable& table, bool stored) {
    table.BeginBulkLoad();
    const uint32_t number = table.AddSegment(*segment);
    auto scanned = (*segment)->Scan([&](SegmentEntry& e, SegmentEntryLocator at) {
      if (!stored) {
        table.LoadRow(std::move(e.row), e.embedding);
        return;
      }
      const SegmentDocumentLocator document_at = e.row.document ? DocumentLocatorOf(at, e) : SegmentDocumentLocator{};
      table.LoadRow(std::move(e.row), e.embedding, std::make_pair(number, document_at));
    });
    if (!scanned.ok()) bench::Die(scanned.status().ToString());
    bench::Check(table.SealIndexes(), "seal");
    malloc_trim(0);
  };
  size_t in_ram, stored, rss_in_ram, rss_stored;
  {
    RecordTable table;
    load(table, false);
    in_ram = table.RowMemoryBytes();
    rss_in_ram = bench::RssBytes();
  }
  malloc_trim(0);
  const size_t rss_between = bench::RssBytes();
  {
    RecordTable table;
    load(table, true);
    stored = table.RowMemoryBytes();
    rss_stored = bench::RssBytes();
  }
  std::printf("load %s\n", bench::LoadAverages().c_str());
  std::printf("%zu rows, documents of %zu B: row bytes with documents in RAM %.0f B/row, stored %.0f B/row "
              "(resident set of the table and its indexes: %.0f B/row, then %.0f B/row; sizeof(Row) %zu)\n",
              rows, doc_bytes, double(in_ram) / rows, double(stored) / rows,
              (double(rss_in_ram) - double(rss_start)) / rows, (double(rss_stored) - double(rss_between)) / rows,
              sizeof(Row));
  return 0;
}
