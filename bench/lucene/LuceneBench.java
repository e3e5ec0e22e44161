// text_bench's Lucene 8 peer: text_bench writes the corpus (one document a line, its tokens
// joined by spaces) and the queries, compiles this file with javac into build/ and runs it.
// It indexes the documents on disk (MMapDirectory, one thread, BM25Similarity(1.2, 0.75),
// WhitespaceAnalyzer: the tokens come pre-made, so Lucene sees exactly the tokens every other
// engine sees), times the build without and with forceMerge(1), then times each query in
// process (the thread CPU time with -Dtimer=cpu, else System.nanoTime, around building the
// BooleanQuery and IndexSearcher.search) after
// warm-up passes, and writes one result line per query for text_bench to read.
//
// Usage: java -cp <lucene jars>:<classes> LuceneBench DOCS QUERIES INDEX_DIR OUT WARMUP_PASSES K...
//   QUERIES: one query a line, "<class>\t<term> <term> ..."
//   OUT:     "docs N", "build_s S", "bytes_unmerged B", "merge_s S", "bytes B", then per k and
//            query "r <k> <query> <nanoseconds> <hits> <doc> <doc> ..." (the first 10 docs;
//            a document's id is its line number: one indexing thread and a log merge policy
//            keep documents in insertion order through every merge).
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;

import org.apache.lucene.analysis.core.WhitespaceAnalyzer;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.FieldType;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexOptions;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.LogByteSizeMergePolicy;
import org.apache.lucene.index.Term;
import org.apache.lucene.search.BooleanClause;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.search.TopDocs;
import org.apache.lucene.search.similarities.BM25Similarity;
import org.apache.lucene.store.MMapDirectory;

public final class LuceneBench {
  private static final String FIELD = "body";

  private static long DirBytes(Path dir) throws IOException {
    long total = 0;
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
      for (Path f : files) {
        if (Files.isRegularFile(f)) total += Files.size(f);
      }
    }
    return total;
  }

  private static BooleanQuery OrQuery(String[] terms) {
    BooleanQuery.Builder builder = new BooleanQuery.Builder();
    for (String t : terms) builder.add(new TermQuery(new Term(FIELD, t)), BooleanClause.Occur.SHOULD);
    return builder.build();
  }

  // A query's time: this thread's CPU time with -Dtimer=cpu (text_bench's default, for a
  // shared machine; the JIT's and GC's threads are not counted), else System.nanoTime.
  static final boolean CPU_TIMER = "cpu".equals(System.getProperty("timer", "wall"));
  static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

  static long QueryClock() { return CPU_TIMER ? THREADS.getCurrentThreadCpuTime() : System.nanoTime(); }

  public static void main(String[] args) throws Exception {
    if (CPU_TIMER && !THREADS.isCurrentThreadCpuTimeSupported()) {
      System.err.println("LuceneBench: this JVM has no thread CPU time (-Dtimer=cpu)");
      System.exit(2);
    }
    if (args.length < 6) {
      System.err.println("usage: LuceneBench DOCS QUERIES INDEX_DIR OUT WARMUP_PASSES K...");
      System.exit(2);
    }
    final Path docsPath = Paths.get(args[0]);
    final Path queriesPath = Paths.get(args[1]);
    final Path indexDir = Paths.get(args[2]);
    final Path outPath = Paths.get(args[3]);
    final int warmup = Integer.parseInt(args[4]);
    final int[] ks = new int[args.length - 5];
    for (int i = 5; i < args.length; ++i) ks[i - 5] = Integer.parseInt(args[i]);

    // The corpus is read before the clock starts, as the other engines get theirs in memory.
    List<String> docs = new ArrayList<>();
    try (BufferedReader in = Files.newBufferedReader(docsPath, StandardCharsets.UTF_8)) {
      for (String line; (line = in.readLine()) != null; ) docs.add(line);
    }
    List<String[]> queries = new ArrayList<>();
    try (BufferedReader in = Files.newBufferedReader(queriesPath, StandardCharsets.UTF_8)) {
      for (String line; (line = in.readLine()) != null; ) {
        int tab = line.indexOf('\t');
        queries.add(line.substring(tab + 1).split(" "));
      }
    }

    final BM25Similarity similarity = new BM25Similarity(1.2f, 0.75f);
    // Term frequencies and norms, no positions: BM25 needs nothing else, and neither fathom
    // nor the Xapian peer stores positions.
    FieldType type = new FieldType();
    type.setIndexOptions(IndexOptions.DOCS_AND_FREQS);
    type.setTokenized(true);
    type.setStored(false);
    type.freeze();

    try (PrintWriter out = new PrintWriter(Files.newBufferedWriter(outPath, StandardCharsets.UTF_8))) {
      out.println("docs " + docs.size());
      try (MMapDirectory dir = new MMapDirectory(indexDir)) {
        IndexWriterConfig config = new IndexWriterConfig(new WhitespaceAnalyzer());
        config.setOpenMode(IndexWriterConfig.OpenMode.CREATE);
        config.setSimilarity(similarity);
        config.setRAMBufferSizeMB(256);
        config.setMergePolicy(new LogByteSizeMergePolicy());  // merges adjacent segments only
        long start = System.nanoTime();
        try (IndexWriter writer = new IndexWriter(dir, config)) {
          for (String text : docs) {
            Document doc = new Document();
            doc.add(new Field(FIELD, text, type));
            writer.addDocument(doc);
          }
          writer.commit();
          out.println("build_s " + (System.nanoTime() - start) / 1e9);
          out.println("bytes_unmerged " + DirBytes(indexDir));
          long mergeStart = System.nanoTime();
          writer.forceMerge(1);
          writer.commit();
          out.println("merge_s " + (System.nanoTime() - mergeStart) / 1e9);
        }
        out.println("bytes " + DirBytes(indexDir));
        out.flush();
        docs = null;

        try (DirectoryReader reader = DirectoryReader.open(dir)) {
          IndexSearcher searcher = new IndexSearcher(reader);
          searcher.setSimilarity(similarity);
          searcher.setQueryCache(null);  // every query is scored, none is a cacheable filter
          long sink = 0;
          for (int pass = 0; pass < warmup; ++pass) {
            for (int k : ks) {
              for (String[] q : queries) sink += searcher.search(OrQuery(q), k).scoreDocs.length;
            }
          }
          for (int k : ks) {
            long[] nanos = new long[queries.size()];
            TopDocs[] results = new TopDocs[queries.size()];
            for (int i = 0; i < queries.size(); ++i) {
              long t0 = QueryClock();
              results[i] = searcher.search(OrQuery(queries.get(i)), k);
              nanos[i] = QueryClock() - t0;
            }
            for (int i = 0; i < queries.size(); ++i) {
              StringBuilder line = new StringBuilder();
              line.append("r ").append(k).append(' ').append(i).append(' ').append(nanos[i]).append(' ')
                  .append(results[i].scoreDocs.length);
              for (int j = 0; j < results[i].scoreDocs.length && j < 10; ++j) {
                line.append(' ').append(results[i].scoreDocs[j].doc);
              }
              out.println(line);
            }
          }
          if (sink == 42) System.err.println();  // keeps the warm-up from being optimised away
        }
      }
    }
  }
}
