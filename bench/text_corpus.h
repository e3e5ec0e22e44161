// text_bench's documents: a seeded synthetic generator (Zipfian term frequencies, log-normal
// document lengths) and a loader for the real text this Debian machine carries (copyright
// files, changelogs, man pages; every paragraph a document). Both produce the same shape,
// a Corpus of already-tokenized documents, so every engine in the benchmark indexes exactly
// the same tokens: the engines never tokenize the text themselves (or re-tokenize tokens
// that their own tokenizer leaves unchanged).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace fathom::bench {

// Documents as term ids into one vocabulary; document d is tokens[offsets[d], offsets[d+1]).
// Empty documents are never stored (Lucene leaves them out of its average length, the others
// count them, so keeping them would make the engines' BM25 differ for no reason).
struct Corpus {
  std::string name;
  std::string description;  // one line: where the documents came from
  std::vector<std::string> vocab;
  std::vector<uint32_t> tokens;
  std::vector<uint64_t> offsets{0};
  std::vector<uint32_t> df;  // documents holding each term (filled by ComputeDf)

  size_t docs() const { return offsets.size() - 1; }
  size_t Length(size_t d) const { return offsets[d + 1] - offsets[d]; }
  const uint32_t* Begin(size_t d) const { return tokens.data() + offsets[d]; }

  void AddDoc(const std::vector<uint32_t>& ids) {
    if (ids.empty()) return;
    tokens.insert(tokens.end(), ids.begin(), ids.end());
    offsets.push_back(tokens.size());
  }
  // The document's tokens as strings, in document order.
  void Strings(size_t d, std::vector<std::string>* out) const {
    out->clear();
    for (const uint32_t* t = Begin(d); t != Begin(d) + Length(d); ++t) out->push_back(vocab[*t]);
  }
  // The document as its tokens joined by single spaces: what Lucene's WhitespaceAnalyzer and
  // FTS5's unicode61 split back into the same tokens.
  std::string Joined(size_t d) const {
    std::string text;
    for (const uint32_t* t = Begin(d); t != Begin(d) + Length(d); ++t) {
      if (!text.empty()) text += ' ';
      text += vocab[*t];
    }
    return text;
  }
  void ComputeDf() {
    df.assign(vocab.size(), 0);
    std::vector<uint32_t> last(vocab.size(), UINT32_MAX);
    for (size_t d = 0; d < docs(); ++d) {
      for (const uint32_t* t = Begin(d); t != Begin(d) + Length(d); ++t) {
        if (last[*t] != d) {
          last[*t] = static_cast<uint32_t>(d);
          ++df[*t];
        }
      }
    }
  }
};

// ---------------------------------------------------------------- synthetic

struct SyntheticCorpusOptions {
  size_t docs = 1000000;
  size_t vocab = 500000;
  double zipf_s = 1.07;         // term frequency ~ 1 / rank^s
  double length_median = 20;    // tokens; log-normal
  double length_sigma = 0.8;    // p99 about median * e^(2.33 * sigma) = 129 tokens
  size_t length_max = 200;
  uint64_t seed = 42;
};

// Word-like names for term ranks, distinct for distinct ranks: syllables in base 60, so the
// vocabulary is ASCII letters only (unicode61 and the whitespace split agree on it).
inline std::string SyntheticWord(uint32_t rank) {
  static constexpr const char* kOnsets = "bcdfghjklmnprstvwxyz";  // 20
  static constexpr const char* kVowels = "aeiou";                 // 5
  static constexpr const char* kCodas[3] = {"", "n", "r"};
  std::string word;
  uint32_t r = rank;
  do {
    const uint32_t syllable = r % 300;  // 20 onsets x 5 vowels x 3 codas
    r /= 300;
    word += kOnsets[syllable % 20];
    word += kVowels[(syllable / 20) % 5];
    word += kCodas[syllable / 100];
  } while (r != 0);
  return word;
}

inline Corpus GenerateSyntheticCorpus(const SyntheticCorpusOptions& o) {
  Corpus c;
  c.name = "synthetic";
  char description[256];
  std::snprintf(description, sizeof(description),
                "synthetic: %zu docs, vocabulary %zu, Zipf s=%.2f, length log-normal median %.0f sigma %.2f "
                "(1..%zu tokens), seed %llu",
                o.docs, o.vocab, o.zipf_s, o.length_median, o.length_sigma, o.length_max,
                static_cast<unsigned long long>(o.seed));
  c.description = description;
  c.vocab.reserve(o.vocab);
  for (size_t r = 0; r < o.vocab; ++r) c.vocab.push_back(SyntheticWord(static_cast<uint32_t>(r)));
  std::vector<double> cdf(o.vocab);
  double sum = 0;
  for (size_t r = 0; r < o.vocab; ++r) cdf[r] = (sum += 1.0 / std::pow(static_cast<double>(r + 1), o.zipf_s));
  for (double& x : cdf) x /= sum;
  // Term ids are shuffled against ranks so that id order says nothing about frequency
  // (an engine that happened to favour low ids would otherwise be helped).
  std::mt19937_64 rng(o.seed);
  std::vector<uint32_t> id_of_rank(o.vocab);
  for (size_t r = 0; r < o.vocab; ++r) id_of_rank[r] = static_cast<uint32_t>(r);
  std::shuffle(id_of_rank.begin(), id_of_rank.end(), rng);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::lognormal_distribution<double> length(std::log(o.length_median), o.length_sigma);
  c.tokens.reserve(static_cast<size_t>(o.docs * o.length_median * 1.4));
  c.offsets.reserve(o.docs + 1);
  std::vector<uint32_t> doc;
  for (size_t d = 0; d < o.docs; ++d) {
    const size_t n = std::clamp<size_t>(static_cast<size_t>(std::lround(length(rng))), 1, o.length_max);
    doc.clear();
    for (size_t i = 0; i < n; ++i) {
      const size_t rank = std::min<size_t>(std::lower_bound(cdf.begin(), cdf.end(), uniform(rng)) - cdf.begin(),
                                           o.vocab - 1);
      doc.push_back(id_of_rank[rank]);
    }
    c.AddDoc(doc);
  }
  return c;
}

// ---------------------------------------------------------------- Debian text

// Tokens longer than this are dropped by every loader: Xapian refuses terms over 245 bytes,
// and such tokens (base64, hashes) are noise in any case.
constexpr size_t kMaxTokenBytes = 64;

// Splits text into tokens. The default is FTS5 unicode61 restricted to ASCII: maximal runs of
// [A-Za-z0-9], lower-cased; every other byte (UTF-8 included) separates. Its tokens are
// unchanged by unicode61, the whitespace split and fathom's default analyzer alike.
// text_bench passes fathom's own default analyzer instead when it is built.
using TokenizeFn = void (*)(std::string_view text, std::vector<std::string>* out);

inline void AsciiTokenize(std::string_view text, std::vector<std::string>* out) {
  out->clear();
  std::string token;
  for (char ch : text) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      token += static_cast<char>(c);
    } else if (c >= 'A' && c <= 'Z') {
      token += static_cast<char>(c - 'A' + 'a');
    } else if (!token.empty()) {
      out->push_back(std::move(token));
      token.clear();
    }
  }
  if (!token.empty()) out->push_back(std::move(token));
}

// Turns a man page's troff source into text: request lines (".TH", ".B foo") keep their
// arguments, comments go, and the common escapes (\fB, \-, \(em, \*(xx, \&) are removed so
// that they do not leave tokens such as "fb" behind. A paragraph ends at a blank line or at
// a paragraph/section macro.
inline bool TroffLine(std::string_view line, std::string* text) {
  text->clear();
  if (line.rfind(".\\\"", 0) == 0 || line.rfind("'\\\"", 0) == 0 || line.rfind("\\\"", 0) == 0) return false;
  bool breaks = false;
  if (!line.empty() && (line[0] == '.' || line[0] == '\'')) {
    size_t name_end = 1;
    while (name_end < line.size() && line[name_end] != ' ' && line[name_end] != '\t') ++name_end;
    const std::string_view name = line.substr(1, name_end - 1);
    static constexpr std::string_view kBreaks[] = {"PP", "P", "LP", "SH", "SS", "TP", "IP", "HP", "sp", "br", "TH"};
    for (std::string_view b : kBreaks) breaks |= name == b;
    line = name_end < line.size() ? line.substr(name_end) : std::string_view();
  }
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] != '\\') {
      *text += line[i];
      continue;
    }
    if (++i >= line.size()) break;
    const char e = line[i];
    if (e == 'f' || e == 's') {  // \fB \f(CW \s-1
      if (i + 1 < line.size() && line[i + 1] == '(') i += 3;
      else if (i + 1 < line.size() && (line[i + 1] == '-' || line[i + 1] == '+')) i += 2;
      else i += 1;
    } else if (e == '(') {  // \(em
      i += 2;
      *text += ' ';
    } else if (e == '*') {  // \*(xx or \*x
      i += (i + 1 < line.size() && line[i + 1] == '(') ? 3 : 1;
    } else if (e == '"') {
      break;  // comment to end of line
    } else if (e == '-' || e == 'e') {
      *text += e == '-' ? '-' : '\\';
    } else {
      *text += ' ';  // \& \| \0 \c ... : no letters of their own
    }
  }
  return breaks;
}

struct DebianCorpusOptions {
  std::string doc_root = "/usr/share/doc";
  std::string man_root = "/usr/share/man";
  size_t max_docs = 0;  // 0: every paragraph
};

namespace internal {

// Reads a whole file, through `gzip -dc` when it ends in .gz (fathom_core links no zlib).
inline bool ReadText(const std::filesystem::path& path, std::string* out) {
  out->clear();
  const bool gz = path.extension() == ".gz";
  FILE* f = nullptr;
  if (gz) {
    std::string quoted = "'";
    for (char ch : path.string()) quoted += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
    quoted += "'";
    f = popen(("gzip -dc " + quoted + " 2>/dev/null").c_str(), "r");
  } else {
    f = std::fopen(path.c_str(), "rb");
  }
  if (f == nullptr) return false;
  char buffer[1 << 16];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), f)) > 0) out->append(buffer, n);
  if (gz) pclose(f);
  else std::fclose(f);
  return true;
}

class VocabBuilder {
 public:
  explicit VocabBuilder(Corpus* corpus) : corpus_(corpus) {}
  void AddParagraph(std::string_view text, TokenizeFn tokenize) {
    tokenize(text, &strings_);
    ids_.clear();
    for (std::string& s : strings_) {
      if (s.empty() || s.size() > kMaxTokenBytes) continue;
      auto [it, inserted] = ids_of_.try_emplace(s, static_cast<uint32_t>(corpus_->vocab.size()));
      if (inserted) corpus_->vocab.push_back(s);
      ids_.push_back(it->second);
    }
    corpus_->AddDoc(ids_);
  }

 private:
  Corpus* corpus_;
  std::unordered_map<std::string, uint32_t> ids_of_;
  std::vector<std::string> strings_;
  std::vector<uint32_t> ids_;
};

}  // namespace internal

// Every paragraph of every /usr/share/doc/*/copyright, /usr/share/doc/*/changelog*.gz and
// /usr/share/man/**/*.gz, in sorted path order (so two runs on one machine see the same
// corpus). Plain-text files split at blank lines; man pages at blank lines and paragraph
// macros. `counts` receives how many documents each source gave.
inline Corpus LoadDebianCorpus(const DebianCorpusOptions& o, TokenizeFn tokenize, size_t counts[3]) {
  namespace fs = std::filesystem;
  Corpus c;
  c.name = "debian";
  internal::VocabBuilder vocab(&c);
  std::vector<fs::path> copyrights, changelogs, manpages;
  std::error_code ec;
  for (const fs::directory_entry& pkg : fs::directory_iterator(o.doc_root, ec)) {
    for (const fs::directory_entry& f : fs::directory_iterator(pkg.path(), ec)) {
      const std::string name = f.path().filename().string();
      if (!f.is_regular_file(ec)) continue;
      if (name == "copyright") copyrights.push_back(f.path());
      else if (name.rfind("changelog", 0) == 0 && f.path().extension() == ".gz") changelogs.push_back(f.path());
    }
  }
  for (auto it = fs::recursive_directory_iterator(o.man_root, fs::directory_options::skip_permission_denied, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it->is_regular_file(ec) && it->path().extension() == ".gz") manpages.push_back(it->path());
  }
  std::sort(copyrights.begin(), copyrights.end());
  std::sort(changelogs.begin(), changelogs.end());
  std::sort(manpages.begin(), manpages.end());

  auto full = [&] { return o.max_docs != 0 && c.docs() >= o.max_docs; };
  std::string text, paragraph, line_text;
  auto plain = [&](const std::vector<fs::path>& files) {
    const size_t before = c.docs();
    for (const fs::path& p : files) {
      if (full() || !internal::ReadText(p, &text)) continue;
      paragraph.clear();
      size_t start = 0;
      while (start <= text.size() && !full()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        const std::string_view line(text.data() + start, end - start);
        if (line.find_first_not_of(" \t\r") == std::string_view::npos) {
          if (!paragraph.empty()) vocab.AddParagraph(paragraph, tokenize);
          paragraph.clear();
        } else {
          paragraph.append(line).push_back('\n');
        }
        start = end + 1;
      }
      if (!paragraph.empty() && !full()) vocab.AddParagraph(paragraph, tokenize);
    }
    return c.docs() - before;
  };
  counts[0] = plain(copyrights);
  counts[1] = plain(changelogs);
  const size_t before_man = c.docs();
  for (const fs::path& p : manpages) {
    if (full() || !internal::ReadText(p, &text)) continue;
    paragraph.clear();
    size_t start = 0;
    while (start <= text.size() && !full()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      const std::string_view line(text.data() + start, end - start);
      const bool blank = line.find_first_not_of(" \t\r") == std::string_view::npos;
      const bool breaks = blank || TroffLine(line, &line_text);
      if (breaks && !paragraph.empty()) {
        vocab.AddParagraph(paragraph, tokenize);
        paragraph.clear();
      }
      if (!blank) paragraph.append(line_text).push_back('\n');
      start = end + 1;
    }
    if (!paragraph.empty() && !full()) vocab.AddParagraph(paragraph, tokenize);
  }
  counts[2] = c.docs() - before_man;
  char description[512];
  std::snprintf(description, sizeof(description),
                "debian: %zu docs (paragraphs) from %zu copyright files (%zu), %zu changelogs (%zu), %zu man "
                "pages (%zu); vocabulary %zu",
                c.docs(), copyrights.size(), counts[0], changelogs.size(), counts[1], manpages.size(), counts[2],
                c.vocab.size());
  c.description = description;
  return c;
}

}  // namespace fathom::bench
