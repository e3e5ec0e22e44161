#include "index/vector/data_zoo.h"

#include <xxhash.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <unordered_set>
#include <utility>

#include "index/vector/ivf_limits.h"
#include "index/vector/kmeans.h"
#include "index/vector/rabitq.h"

namespace fathom {

namespace {

// Streams of MixSeed (rows stay below 2^31, so these never meet): base rows, query rows,
// shapes (centres, rotations, prototypes, hash salt) and orderings never share one.
constexpr uint64_t kBaseStream = 0;
constexpr uint64_t kQueryStream = 1ull << 61;
constexpr uint64_t kShapeStream = 1ull << 62;
constexpr uint64_t kPrototypeStream = (1ull << 62) + (1ull << 40);
constexpr uint64_t kAssignStream = 3ull << 61;
constexpr uint64_t kOrderStream = (3ull << 61) + (1ull << 40);
constexpr size_t kChunkRows = 1024;

Status CheckSizes(uint32_t dim, const ZooOptions& o) {
  if (dim == 0 || dim > ivf_limits::kDimensionMax) return Status::InvalidArgument("data zoo: bad dimension");
  if (o.rows == 0 || o.rows + o.queries > ivf_limits::kRowsMax) return Status::InvalidArgument("data zoo: bad row count");
  return Status::Ok();
}

ZooDataset Empty(std::string name, DistanceSpace space, uint32_t dim, size_t rows, size_t queries) {
  ZooDataset d;
  d.name = std::move(name);
  d.space = space;
  d.dim = dim;
  d.rows = rows;
  d.query_count = queries;
  d.base.resize(rows * dim);
  d.queries.resize(queries * dim);
  return d;
}

// Calls fill(rng, row) for each of `rows` rows of `out`, the row's generator seeded by
// MixSeed(seed, stream + row) alone.
template <typename Fill>
void FillRows(const ZooOptions& o, size_t rows, uint32_t dim, uint64_t stream, float* out, const Fill& fill) {
  ParallelForChunks(rows, kChunkRows, o.threads, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      Rng rng(MixSeed(o.seed, stream + i));
      fill(rng, out + i * dim);
    }
  });
}

void AddGaussian(Rng& rng, double sigma, uint32_t dim, float* row) {
  for (uint32_t j = 0; j < dim; ++j) row[j] += static_cast<float>(sigma * rng.Gaussian());
}

void Normalize(uint32_t dim, float* row) {
  double norm = 0.0;
  for (uint32_t j = 0; j < dim; ++j) norm += double{row[j]} * row[j];
  norm = std::sqrt(norm);
  if (norm == 0.0) return;
  for (uint32_t j = 0; j < dim; ++j) row[j] = static_cast<float>(row[j] / norm);
}


void Shuffle(std::vector<uint32_t>* v, uint64_t seed) {
  Rng rng(seed);
  for (size_t i = v->size(); i > 1; --i) std::swap((*v)[i - 1], (*v)[rng.Below(i)]);
}

uint32_t CentreCount(size_t items, size_t per_centre) {
  constexpr size_t kCentresMin = 8;
  constexpr size_t kCentresMax = 1000;
  return static_cast<uint32_t>(std::clamp(items / per_centre, kCentresMin, kCentresMax));
}

// ---- text ------------------------------------------------------------------------------

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool EndsWith(const std::string& s, const char* suffix) {
  size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// Compressed, binary, markup and source files: not prose even under a doc directory.
bool ExcludedName(const std::string& lower_name) {
  static const char* const kSuffixes[] = {
      ".gz",  ".xz",   ".bz2", ".zst", ".lz4", ".zip", ".z",    ".png",  ".jpg", ".jpeg", ".gif", ".svg", ".ico",
      ".pdf", ".ps",   ".eps", ".dvi", ".so",  ".a",   ".o",    ".pyc",  ".mo",  ".gmo",  ".ttf", ".otf", ".woff",
      ".woff2", ".db", ".py",  ".h",   ".c",   ".cc",  ".cpp",  ".hpp",  ".js",  ".mjs",  ".ts",  ".json", ".html",
      ".htm", ".xml",  ".css", ".sh",  ".pl",  ".pm",  ".rb",   ".cmake", ".yaml", ".yml", ".toml", ".conf"};
  for (const char* suffix : kSuffixes) {
    if (EndsWith(lower_name, suffix)) return true;
  }
  return false;
}

bool ProseName(const std::string& lower_name) {
  static const char* const kSuffixes[] = {".txt", ".md", ".rst", ".pod", ".markdown"};
  static const char* const kPrefixes[] = {"readme", "copyright", "copying", "license", "licence", "news",
                                          "changelog", "changes", "history", "todo", "authors", "thanks", "notice"};
  for (const char* suffix : kSuffixes) {
    if (EndsWith(lower_name, suffix)) return true;
  }
  for (const char* prefix : kPrefixes) {
    if (lower_name.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

void ListFiles(const std::string& root, bool prose_only, std::set<std::string>* files) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code entry_ec;
    if (it->is_symlink(entry_ec) || !it->is_regular_file(entry_ec)) continue;
    const std::string name = Lower(it->path().filename().string());
    if (ExcludedName(name) || (prose_only && !ProseName(name))) continue;
    files->insert(it->path().string());
  }
}

bool AsciiAlnum(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// Splits `text` at blank lines into paragraphs of tokens; appends the new distinct ones.
// Returns whether the text gave any.
bool AddParagraphs(const std::string& text, const TextCorpusOptions& o, std::unordered_set<uint64_t>* seen,
                   std::vector<std::string>* out) {
  constexpr size_t kTokenCharsMin = 2;
  bool gave = false;
  std::string paragraph, token;
  size_t tokens = 0;
  bool line_blank = true;
  auto flush_token = [&] {
    if (token.size() >= kTokenCharsMin) {
      if (!paragraph.empty()) paragraph += ' ';
      paragraph += token;
      ++tokens;
    }
    token.clear();
  };
  auto flush_paragraph = [&] {
    flush_token();
    if (tokens >= o.tokens_min && out->size() < o.paragraphs_max &&
        seen->insert(XXH64(paragraph.data(), paragraph.size(), 0)).second) {
      out->push_back(paragraph);
      gave = true;
    }
    paragraph.clear();
    tokens = 0;
  };
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\n') {
      flush_token();
      if (line_blank) flush_paragraph();
      line_blank = true;
      continue;
    }
    if (!std::isspace(c)) line_blank = false;
    if (AsciiAlnum(c)) {
      token += static_cast<char>(std::tolower(c));
    } else {
      flush_token();
    }
  }
  flush_paragraph();
  return gave;
}

// The paragraph's hashed bag of words into out[0, dim) (zeroed first). Returns false when
// the vector is zero.
bool EmbedParagraph(const std::string& paragraph, uint32_t dim, uint64_t salt, std::vector<uint64_t>* hashes,
                    float* out) {
  hashes->clear();
  size_t start = 0;
  while (start < paragraph.size()) {
    size_t end = paragraph.find(' ', start);
    if (end == std::string::npos) end = paragraph.size();
    hashes->push_back(XXH64(paragraph.data() + start, end - start, salt));
    start = end + 1;
  }
  std::sort(hashes->begin(), hashes->end());
  std::fill(out, out + dim, 0.0f);
  for (size_t i = 0; i < hashes->size();) {
    size_t j = i;
    while (j < hashes->size() && (*hashes)[j] == (*hashes)[i]) ++j;
    const uint64_t h = (*hashes)[i];
    const float weight = static_cast<float>(std::log1p(static_cast<double>(j - i)));
    out[(h >> 1) % dim] += (h & 1) ? -weight : weight;
    i = j;
  }
  return std::any_of(out, out + dim, [](float v) { return v != 0.0f; });
}

}  // namespace

Result<ZooDataset> MakeUniform(uint32_t dim, const ZooOptions& o) {
  FATHOM_RETURN_IF_ERROR(CheckSizes(dim, o));
  ZooDataset d = Empty("uniform_" + std::to_string(dim), DistanceSpace::kL2, dim, o.rows, o.queries);
  auto fill = [dim](Rng& rng, float* row) {
    for (uint32_t j = 0; j < dim; ++j) row[j] = static_cast<float>(rng.Uniform());
  };
  FillRows(o, d.rows, dim, kBaseStream, d.base.data(), fill);
  FillRows(o, d.query_count, dim, kQueryStream, d.queries.data(), fill);
  d.note = "uniform in [0,1)^" + std::to_string(dim);
  return d;
}

Result<ZooDataset> MakeDecayingGaussian(uint32_t dim, const ZooOptions& o) {
  FATHOM_RETURN_IF_ERROR(CheckSizes(dim, o));
  ZooDataset d = Empty("gauss_decay_" + std::to_string(dim), DistanceSpace::kL2, dim, o.rows, o.queries);
  FATHOM_ASSIGN_OR_RETURN(const std::vector<double> rotation,
                          RandomOrthogonalMatrix(dim, MixSeed(o.seed, kShapeStream)));
  auto fill = [&](Rng& rng, float* row) {
    std::vector<double> out(dim, 0.0);
    for (uint32_t i = 0; i < dim; ++i) {
      const double z = rng.Gaussian() / std::sqrt(i + 1.0);
      const double* axis = rotation.data() + static_cast<size_t>(i) * dim;
      for (uint32_t j = 0; j < dim; ++j) out[j] += z * axis[j];
    }
    for (uint32_t j = 0; j < dim; ++j) row[j] = static_cast<float>(out[j]);
  };
  FillRows(o, d.rows, dim, kBaseStream, d.base.data(), fill);
  FillRows(o, d.query_count, dim, kQueryStream, d.queries.data(), fill);
  d.note = "one gaussian, std (i+1)^-0.5 along axis i, randomly rotated";
  return d;
}

Result<ZooDataset> MakeDuplicates(uint32_t dim, const ZooOptions& o, double distinct_fraction) {
  FATHOM_RETURN_IF_ERROR(CheckSizes(dim, o));
  if (!(distinct_fraction > 0.0 && distinct_fraction <= 1.0)) {
    return Status::InvalidArgument("data zoo: distinct fraction must be in (0, 1]");
  }
  constexpr double kPrototypeSpread = 0.5;
  constexpr double kCopyNoise = 0.01;
  constexpr double kQueryNoise = 0.02;
  constexpr size_t kPrototypesPerCentre = 100;
  ZooDataset d = Empty("dup_" + std::to_string(dim), DistanceSpace::kCosine, dim, o.rows, o.queries);
  const size_t distinct =
      std::clamp<size_t>(static_cast<size_t>(std::llround(distinct_fraction * o.rows)), 1, o.rows);
  const uint32_t centres = CentreCount(distinct, kPrototypesPerCentre);
  std::vector<float> centre(static_cast<size_t>(centres) * dim, 0.0f);
  for (uint32_t c = 0; c < centres; ++c) {
    Rng rng(MixSeed(o.seed, kShapeStream + c));
    AddGaussian(rng, 1.0, dim, centre.data() + static_cast<size_t>(c) * dim);
  }
  std::vector<float> prototype(distinct * dim);
  ParallelForChunks(distinct, kChunkRows, o.threads, [&](size_t begin, size_t end) {
    for (size_t p = begin; p < end; ++p) {
      Rng rng(MixSeed(o.seed, kPrototypeStream + p));
      float* row = prototype.data() + p * dim;
      const float* c = centre.data() + rng.Below(centres) * dim;
      std::copy(c, c + dim, row);
      AddGaussian(rng, kPrototypeSpread, dim, row);
    }
  });
  // Every prototype once, the other rows a random one, in a seeded random order.
  std::vector<uint32_t> source(o.rows);
  for (size_t i = 0; i < o.rows; ++i) {
    source[i] = i < distinct ? static_cast<uint32_t>(i)
                             : static_cast<uint32_t>(Rng(MixSeed(o.seed, kAssignStream + i)).Below(distinct));
  }
  Shuffle(&source, MixSeed(o.seed, kOrderStream));
  ParallelForChunks(o.rows, kChunkRows, o.threads, [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      Rng rng(MixSeed(o.seed, kBaseStream + i));
      float* row = d.base.data() + i * dim;
      const float* p = prototype.data() + static_cast<size_t>(source[i]) * dim;
      std::copy(p, p + dim, row);
      if (rng.Uniform() >= 0.5) AddGaussian(rng, kCopyNoise, dim, row);
    }
  });
  FillRows(o, d.query_count, dim, kQueryStream, d.queries.data(), [&](Rng& rng, float* row) {
    const float* p = prototype.data() + rng.Below(distinct) * dim;
    std::copy(p, p + dim, row);
    AddGaussian(rng, kQueryNoise, dim, row);
  });
  d.note = std::to_string(distinct) + " distinct prototypes in " + std::to_string(centres) +
           " clusters; half the copies exact, half +N(0,0.01^2); queries +N(0,0.02^2)";
  return d;
}

Result<ZooDataset> MakeLogNormalNorms(uint32_t dim, const ZooOptions& o, double norm_log_sigma) {
  FATHOM_RETURN_IF_ERROR(CheckSizes(dim, o));
  constexpr double kDirectionSpread = 0.7;
  constexpr size_t kRowsPerCentre = 1000;
  ZooDataset d = Empty("ip_lognorm_" + std::to_string(dim), DistanceSpace::kInnerProduct, dim, o.rows, o.queries);
  const uint32_t centres = CentreCount(o.rows, kRowsPerCentre);
  std::vector<float> centre(static_cast<size_t>(centres) * dim, 0.0f);
  for (uint32_t c = 0; c < centres; ++c) {
    Rng rng(MixSeed(o.seed, kShapeStream + c));
    float* row = centre.data() + static_cast<size_t>(c) * dim;
    AddGaussian(rng, 1.0, dim, row);
    Normalize(dim, row);
  }
  auto direction = [&](Rng& rng, float* row) {
    const float* c = centre.data() + rng.Below(centres) * dim;
    std::copy(c, c + dim, row);
    AddGaussian(rng, kDirectionSpread / std::sqrt(static_cast<double>(dim)), dim, row);
    Normalize(dim, row);
  };
  FillRows(o, d.rows, dim, kBaseStream, d.base.data(), [&](Rng& rng, float* row) {
    direction(rng, row);
    const float norm = static_cast<float>(std::exp(norm_log_sigma * rng.Gaussian()));
    for (uint32_t j = 0; j < dim; ++j) row[j] *= norm;
  });
  FillRows(o, d.query_count, dim, kQueryStream, d.queries.data(), direction);
  char note[160];
  std::snprintf(note, sizeof(note), "%u direction clusters; row norms log-normal sigma %.2f; unit queries", centres,
                norm_log_sigma);
  d.note = note;
  return d;
}

Result<ZooDataset> MakeClustered(const SyntheticOptions& shape, const ZooOptions& o) {
  FATHOM_RETURN_IF_ERROR(CheckSizes(shape.dim, o));
  SyntheticOptions s = shape;
  s.rows = o.rows;
  s.queries = o.queries;
  s.seed = o.seed;
  s.threads = o.threads;
  FATHOM_ASSIGN_OR_RETURN(SyntheticData data, GenerateSynthetic(s));
  ZooDataset d;
  d.name = "synthetic_" + std::to_string(s.dim);
  d.space = DistanceSpace::kL2;
  d.dim = s.dim;
  d.rows = data.base.rows;
  d.query_count = data.queries.rows;
  d.base = std::move(data.base.values);
  d.queries = std::move(data.queries.values);
  char note[200];
  std::snprintf(note, sizeof(note),
                "GenerateSynthetic noise=%.2f rows-per-cluster=%zu spectrum-decay=%.2f cluster-spread=%.2f "
                "scale-log-sigma=%.2f",
                s.noise, s.rows_per_cluster, s.spectrum_decay, s.cluster_spread, s.scale_log_sigma);
  d.note = note;
  return d;
}

Result<TextCorpus> LoadTextCorpus(const TextCorpusOptions& o) {
  std::set<std::string> text_files, prose_files;
  for (const std::string& root : o.text_roots) ListFiles(root, /*prose_only=*/false, &text_files);
  for (const std::string& root : o.prose_roots) ListFiles(root, /*prose_only=*/true, &prose_files);
  std::vector<std::string> files(text_files.begin(), text_files.end());
  for (const std::string& f : prose_files) {
    if (text_files.count(f) == 0) files.push_back(f);
  }
  TextCorpus corpus;
  std::unordered_set<uint64_t> seen;
  std::string text;
  constexpr size_t kBinaryProbeBytes = 4096;
  for (const std::string& path : files) {
    if (corpus.paragraphs.size() >= o.paragraphs_max) break;
    std::ifstream in(path, std::ios::binary);
    if (!in) continue;
    text.resize(o.file_bytes_max);
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<size_t>(in.gcount()));
    if (text.find('\0') < kBinaryProbeBytes) continue;
    if (AddParagraphs(text, o, &seen, &corpus.paragraphs)) ++corpus.files;
  }
  if (corpus.paragraphs.empty()) return Status::NotFound("data zoo: no text paragraphs under the given roots");
  return corpus;
}

Result<ZooDataset> MakeHashedBagOfWords(const TextCorpus& corpus, uint32_t dim, const ZooOptions& o) {
  FATHOM_RETURN_IF_ERROR(CheckSizes(dim, o));
  const uint64_t salt = MixSeed(o.seed, kShapeStream);
  std::vector<uint64_t> hashes;
  std::vector<float> vector(dim);
  // Paragraphs whose vectors are non-zero and new, so no query equals a base row.
  std::vector<uint32_t> kept;
  std::unordered_set<uint64_t> seen;
  for (size_t i = 0; i < corpus.paragraphs.size() && i < ivf_limits::kRowsMax; ++i) {
    if (!EmbedParagraph(corpus.paragraphs[i], dim, salt, &hashes, vector.data())) continue;
    if (seen.insert(XXH64(vector.data(), dim * sizeof(float), 0)).second) kept.push_back(static_cast<uint32_t>(i));
  }
  if (kept.size() <= o.queries) {
    return Status::InvalidArgument("data zoo: the text corpus has only " + std::to_string(kept.size()) +
                                   " distinct paragraph vectors");
  }
  Shuffle(&kept, MixSeed(o.seed, kOrderStream));
  const size_t rows = std::min(o.rows, kept.size() - o.queries);
  ZooDataset d = Empty("bow_" + std::to_string(dim), DistanceSpace::kCosine, dim, rows, o.queries);
  ParallelForChunks(o.queries + rows, kChunkRows, o.threads, [&](size_t begin, size_t end) {
    std::vector<uint64_t> chunk_hashes;
    for (size_t i = begin; i < end; ++i) {
      float* out = i < o.queries ? d.queries.data() + i * dim : d.base.data() + (i - o.queries) * dim;
      EmbedParagraph(corpus.paragraphs[kept[i]], dim, salt, &chunk_hashes, out);
    }
  });
  d.note = std::to_string(corpus.paragraphs.size()) + " distinct paragraphs from " + std::to_string(corpus.files) +
           " files, " + std::to_string(kept.size()) + " distinct vectors; " + std::to_string(o.queries) +
           " held out as queries, " + std::to_string(rows) + " base rows" +
           (rows < o.rows ? " (asked " + std::to_string(o.rows) + ": not enough text)" : "");
  return d;
}

Result<Dataset> LoadFvecs(const std::string& path, size_t max_rows) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError("fvecs: cannot open " + path);
  Dataset out;
  std::vector<float> row;
  while (max_rows == 0 || out.rows < max_rows) {
    char header[4];
    in.read(header, sizeof(header));
    if (in.gcount() == 0) break;
    if (in.gcount() != sizeof(header)) return Status::Corruption("fvecs: truncated header in " + path);
    int32_t dim = 0;
    std::memcpy(&dim, header, sizeof(dim));
    if (dim <= 0 || static_cast<uint64_t>(dim) > ivf_limits::kDimensionMax) {
      return Status::Corruption("fvecs: bad dimension " + std::to_string(dim) + " in " + path);
    }
    if (out.rows == 0) {
      out.dim = static_cast<uint32_t>(dim);
    } else if (static_cast<uint32_t>(dim) != out.dim) {
      return Status::Corruption("fvecs: dimension changes at row " + std::to_string(out.rows) + " in " + path);
    }
    if (out.rows >= ivf_limits::kRowsMax) return Status::InvalidArgument("fvecs: too many rows in " + path);
    row.resize(out.dim);
    const auto bytes = static_cast<std::streamsize>(out.dim * sizeof(float));
    in.read(reinterpret_cast<char*>(row.data()), bytes);
    if (in.gcount() != bytes) return Status::Corruption("fvecs: truncated row " + std::to_string(out.rows) + " in " + path);
    for (float v : row) {
      if (!std::isfinite(v)) return Status::Corruption("fvecs: non-finite value at row " + std::to_string(out.rows));
    }
    out.values.insert(out.values.end(), row.begin(), row.end());
    ++out.rows;
  }
  if (in.bad()) return Status::IOError("fvecs: read error in " + path);
  return out;
}

Result<ZooDataset> MakeFromFvecs(const std::string& name, const std::string& path, DistanceSpace space,
                                 const ZooOptions& o) {
  FATHOM_ASSIGN_OR_RETURN(Dataset file, LoadFvecs(path, 0));
  if (file.rows == 0) return Status::InvalidArgument("fvecs: no rows in " + path);
  FATHOM_RETURN_IF_ERROR(CheckSizes(file.dim, o));
  std::vector<uint32_t> kept;
  for (size_t i = 0; i < file.rows; ++i) {
    const float* row = file.Row(i);
    if (space == DistanceSpace::kCosine && std::all_of(row, row + file.dim, [](float v) { return v == 0.0f; })) {
      continue;
    }
    kept.push_back(static_cast<uint32_t>(i));
  }
  if (kept.size() <= o.queries) {
    return Status::InvalidArgument("fvecs: " + path + " has only " + std::to_string(kept.size()) + " usable rows");
  }
  Shuffle(&kept, MixSeed(o.seed, kOrderStream));
  const size_t rows = std::min(o.rows, kept.size() - o.queries);
  ZooDataset d = Empty(name, space, file.dim, rows, o.queries);
  for (size_t i = 0; i < o.queries + rows; ++i) {
    const float* src = file.Row(kept[i]);
    float* out = i < o.queries ? d.queries.data() + i * file.dim : d.base.data() + (i - o.queries) * file.dim;
    std::copy(src, src + file.dim, out);
  }
  d.note = path + ": " + std::to_string(file.rows) + " rows x " + std::to_string(file.dim) + "; " +
           std::to_string(o.queries) + " held out as queries, " + std::to_string(rows) + " base rows" +
           (rows < o.rows ? " (asked " + std::to_string(o.rows) + ")" : "");
  return d;
}

}  // namespace fathom
