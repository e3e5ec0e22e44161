#include "index/text/analyzer.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "index/text/unicode61_tables.h"
#include "test_util.h"

namespace fathom {
namespace {

using Tokens = std::vector<std::string>;

Tokens Tok(std::string_view text, const Analyzer& analyzer = *Analyzer::Default()) {
  Tokens out;
  analyzer.Tokenize(text, &out);
  return out;
}

std::shared_ptr<const Analyzer> MakeOrDie(const AnalyzerOptions& options) {
  auto analyzer = Analyzer::Make(options);
  EXPECT_TRUE(analyzer.ok()) << analyzer.status().ToString();
  return *analyzer;
}

// ---- FTS5, the reference ----

// An in-memory SQLite database with one FTS5 table `t(x)` and its vocabulary tables.
class Fts5 {
 public:
  explicit Fts5(const char* tokenize = "unicode61") {
    EXPECT_EQ(sqlite3_open(":memory:", &db_), SQLITE_OK);
    Exec(std::string("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='") + tokenize + "')");
    Exec("CREATE VIRTUAL TABLE vrow USING fts5vocab(t, row)");
    Exec("CREATE VIRTUAL TABLE vinst USING fts5vocab(t, instance)");
  }
  ~Fts5() { sqlite3_close(db_); }

  void Exec(const std::string& sql) {
    char* error = nullptr;
    ASSERT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK) << error;
  }

  // Inserts the documents as rows 1..n, byte for byte (invalid UTF-8 included).
  void Insert(const std::vector<std::string>& documents) {
    Exec("BEGIN");
    sqlite3_stmt* insert = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db_, "INSERT INTO t(rowid, x) VALUES (?, ?)", -1, &insert, nullptr),
              SQLITE_OK);
    for (size_t i = 0; i < documents.size(); ++i) {
      sqlite3_bind_int64(insert, 1, static_cast<int64_t>(i + 1));
      sqlite3_bind_text(insert, 2, documents[i].data(), static_cast<int>(documents[i].size()),
                        SQLITE_STATIC);
      ASSERT_EQ(sqlite3_step(insert), SQLITE_DONE);
      sqlite3_reset(insert);
    }
    sqlite3_finalize(insert);
    Exec("COMMIT");
  }

  // Each document's tokens in order (fts5vocab 'instance').
  std::vector<Tokens> Instances(size_t documents) {
    std::vector<Tokens> tokens(documents);
    sqlite3_stmt* select = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, "SELECT term, doc FROM vinst ORDER BY doc, offset", -1,
                                 &select, nullptr),
              SQLITE_OK);
    while (sqlite3_step(select) == SQLITE_ROW) {
      int64_t doc = sqlite3_column_int64(select, 1);
      tokens.at(static_cast<size_t>(doc - 1)).push_back(ColumnBytes(select, 0));
    }
    sqlite3_finalize(select);
    return tokens;
  }

  // term -> (documents containing it, occurrences) (fts5vocab 'row').
  std::map<std::string, std::pair<int64_t, int64_t>> Vocabulary() {
    std::map<std::string, std::pair<int64_t, int64_t>> vocabulary;
    sqlite3_stmt* select = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, "SELECT term, doc, cnt FROM vrow", -1, &select, nullptr),
              SQLITE_OK);
    while (sqlite3_step(select) == SQLITE_ROW) {
      vocabulary[ColumnBytes(select, 0)] = {sqlite3_column_int64(select, 1),
                                            sqlite3_column_int64(select, 2)};
    }
    sqlite3_finalize(select);
    return vocabulary;
  }

 private:
  static std::string ColumnBytes(sqlite3_stmt* statement, int column) {
    const void* bytes = sqlite3_column_blob(statement, column);
    int size = sqlite3_column_bytes(statement, column);
    return bytes == nullptr ? std::string() : std::string(static_cast<const char*>(bytes), size);
  }

  sqlite3* db_ = nullptr;
};

std::string Hex(std::string_view bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : bytes) {
    hex += kDigits[c >> 4];
    hex += kDigits[c & 15];
  }
  return hex;
}

std::string HexTokens(const Tokens& tokens) {
  std::string joined;
  for (const std::string& token : tokens) joined += Hex(token) + " ";
  return joined;
}

// ---- unit tests ----

TEST(TextAnalyzer, Ascii) {
  EXPECT_EQ(Tok("Hello, World! foo_bar BAZ-qux"),
            (Tokens{"hello", "world", "foo", "bar", "baz", "qux"}));
  EXPECT_EQ(Tok("  lower case only "), (Tokens{"lower", "case", "only"}));
  EXPECT_EQ(Tok("don't"), (Tokens{"don", "t"}));
}

TEST(TextAnalyzer, DigitsAndPunctuation) {
  EXPECT_EQ(Tok("v1.2 3,000 x86_64 $42.50 (c)2024"),
            (Tokens{"v1", "2", "3", "000", "x86", "64", "42", "50", "c", "2024"}));
  EXPECT_EQ(Tok("!@#$%^&*()[]{};:'\",.<>/?\\|`~-=+"), Tokens{});
  EXPECT_EQ(Tok("a\tb\nc\rd"), (Tokens{"a", "b", "c", "d"}));
  EXPECT_EQ(Tok(std::string_view("a\0b", 3)), (Tokens{"a", "b"}));
}

TEST(TextAnalyzer, Empty) {
  EXPECT_EQ(Tok(""), Tokens{});
  EXPECT_EQ(Tok("   ...   "), Tokens{});
}

TEST(TextAnalyzer, Cjk) {
  // No separators between CJK ideographs: unicode61 makes the whole run one token.
  EXPECT_EQ(Tok("你好世界 東京"), (Tokens{"你好世界", "東京"}));
  EXPECT_EQ(Tok("日本語のテキスト、です。"), (Tokens{"日本語のテキスト", "です"}));
  EXPECT_EQ(Tok("한국어 텍스트"), (Tokens{"한국어", "텍스트"}));
}

TEST(TextAnalyzer, Diacritics) {
  EXPECT_EQ(Tok("Émile Zola à Paris, déjà vu, naïve café"),
            (Tokens{"emile", "zola", "a", "paris", "deja", "vu", "naive", "cafe"}));
  EXPECT_EQ(Tok("ÀÁÂÃÄÅ"), (Tokens{"aaaaaa"}));
  // Letters FTS5's simple removal leaves alone: ø and æ are letters, not a + mark.
  EXPECT_EQ(Tok("Øresund Æsir"), (Tokens{"øresund", "æsir"}));
  auto keep = MakeOrDie({.remove_diacritics = false});
  EXPECT_EQ(Tok("Émile déjà", *keep), (Tokens{"émile", "déjà"}));
}

TEST(TextAnalyzer, CombiningMarks) {
  // A combining mark continues a token (and is removed) but never starts one.
  EXPECT_EQ(Tok("e\xcc\x81te\xcc\x81"), (Tokens{"ete"}));        // e U+0301 t e U+0301
  EXPECT_EQ(Tok("\xcc\x81" "abc"), (Tokens{"abc"}));              // U+0301 first
  EXPECT_EQ(Tok("x \xcc\x81 y"), (Tokens{"x", "y"}));
  auto keep = MakeOrDie({.remove_diacritics = false});
  EXPECT_EQ(Tok("e\xcc\x81t", *keep), (Tokens{"e\xcc\x81t"}));
}

TEST(TextAnalyzer, SharpSAndTurkishI) {
  EXPECT_EQ(Tok("Straße STRASSE"), (Tokens{"straße", "strasse"}));  // no full case folding
  EXPECT_EQ(Tok("İstanbul ıIi"), (Tokens{"istanbul", "ıii"}));
}

TEST(TextAnalyzer, OtherScripts) {
  EXPECT_EQ(Tok("ΑΘΗΝΑ Ελλάδα"), (Tokens{"αθηνα", "ελλάδα"}));
  EXPECT_EQ(Tok("МОСКВА, Россия"), (Tokens{"москва", "россия"}));
  EXPECT_EQ(Tok("𐐀𐐨"), (Tokens{"𐐨𐐨"}));  // Deseret: FTS5's one case fold above the BMP
  // Greek and Cyrillic keep their accents (FTS5 removes diacritics from Latin only).
  EXPECT_EQ(Tok("Ἀθῆναι ёлка"), (Tokens{"ἀθῆναι", "ёлка"}));
  // Code points newer than FTS5's Unicode table (most emoji) are token characters; the
  // zero-width joiner (Cf) and ♂ (So) separate; Roman numerals (Nl) fold to lower case.
  EXPECT_EQ(Tok("🤦🏼‍♂️ ok ⅢⅣ"), (Tokens{"🤦🏼", "ok", "ⅲⅳ"}));
}

TEST(TextAnalyzer, PrivateUseAndUnassigned) {
  EXPECT_EQ(Tok("\xee\x80\x80 \xf3\xb0\x80\x80 \xf4\x8f\xbf\xbf"),  // U+E000 U+F0000 U+10FFFF
            (Tokens{"\xee\x80\x80", "\xf3\xb0\x80\x80", "\xf4\x8f\xbf\xbf"}));
  EXPECT_EQ(Tok("a\xf3\xa0\x80\x81" "b"), (Tokens{"a", "b"}));  // U+E0001 (Cf) separates
}

TEST(TextAnalyzer, InvalidUtf8) {
  // A stray continuation byte reads as the code point of its value (0xAA: ª, a letter;
  // 0x80: a control); a truncated sequence reads as U+FFFD, a separator.
  EXPECT_EQ(Tok("\x80\xaa" "A\xc3"), (Tokens{"\xc2\xaa" "a"}));
  EXPECT_EQ(Tok("abc\xe2\x82"), (Tokens{"abc"}));
  EXPECT_EQ(Tok("\xed\xa0\x80x"), (Tokens{"x"}));                // surrogate: U+FFFD
  EXPECT_EQ(Tok("\xc0\xaf" "x"), (Tokens{"x"}));                 // overlong '/'
  // A lead byte swallows every continuation byte; values past U+10FFFF are letters whose
  // four bytes FTS5 writes masked.
  EXPECT_EQ(Tok("\xf7\xbf\xbf\xbf \xfb\xbf\xbf\xbf\xbf"),
            (Tokens{"\xf7\xbf\xbf\xbf", "\xf7\xbf\xbf\xbf"}));
  std::string many(1000, '\xbf');
  many.insert(many.begin(), '\xf0');
  (void)Tok(many);  // no crash, no read past the end
  for (int b = 0; b < 256; ++b) (void)Tok(std::string(1, static_cast<char>(b)));
}

TEST(TextAnalyzer, LongTokensAreCutLikeFts5) {
  std::string word(40000, 'x');
  Tokens tokens = Tok(word + " y");
  ASSERT_EQ(tokens.size(), 2u);
  EXPECT_EQ(tokens[0], std::string(kAnalyzerTokenBytesMax, 'x'));
  EXPECT_EQ(tokens[1], "y");
  std::string upper(40000, 'X');
  EXPECT_EQ(Tok(upper), Tokens{std::string(kAnalyzerTokenBytesMax, 'x')});
  std::string mixed = "é" + std::string(40000, 'Y');
  tokens = Tok(mixed);
  ASSERT_EQ(tokens.size(), 1u);
  EXPECT_EQ(tokens[0], "e" + std::string(kAnalyzerTokenBytesMax - 1, 'y'));
}

TEST(TextAnalyzer, ZeroCopyForLowerCaseAscii) {
  std::string text = "plain words HERE";
  std::vector<const char*> starts;
  Analyzer::Default()->ForEachToken(text, [&](std::string_view t) { starts.push_back(t.data()); });
  ASSERT_EQ(starts.size(), 3u);
  EXPECT_EQ(starts[0], text.data());
  EXPECT_EQ(starts[1], text.data() + 6);
  EXPECT_NE(starts[2], text.data() + 12);  // upper case: folded into a buffer
}

TEST(TextAnalyzer, AsciiBytesAgreeWithTheGeneratedTable) {
  for (uint32_t c = 0; c < 128; ++c) {
    int32_t value = unicode61::Lookup(unicode61::kRemoveDiacritics, c);
    uint8_t kind = unicode61::kByteKinds[c];
    bool token = kind == unicode61::kAsciiToken || kind == unicode61::kAsciiUpper;
    EXPECT_EQ(token, (value & unicode61::kStartsToken) != 0) << c;
    EXPECT_EQ(token, (value & unicode61::kContinuesToken) != 0) << c;
    if (token) {
      EXPECT_EQ(c + static_cast<uint32_t>(value >> 2), kind == unicode61::kAsciiUpper ? c + 32 : c) << c;
    }
  }
}

TEST(TextAnalyzer, Stemming) {
  auto english = MakeOrDie({.stemmer = "english"});
  EXPECT_EQ(Tok("Running runs RAN easily; the connections connected", *english),
            (Tokens{"run", "run", "ran", "easili", "the", "connect", "connect"}));
  auto french = MakeOrDie({.stemmer = "french"});
  EXPECT_EQ(Tok("Les chevaux mangeaient", *french), (Tokens{"le", "cheval", "mang"}));
  EXPECT_EQ(english->options().stemmer, "english");
}

TEST(TextAnalyzer, StopWordsBeforeStemming) {
  auto analyzer = MakeOrDie({.stemmer = "english", .stop_words = {"The", "running", "É"}});
  // "running" is dropped as itself; "runs" is not a stop word and stems to "run".
  EXPECT_EQ(Tok("The runner is running; the runs e", *analyzer),
            (Tokens{"runner", "is", "run"}));
  auto plain = MakeOrDie({.stop_words = {"a", "of"}});
  EXPECT_EQ(Tok("A Tale of Two Cities", *plain), (Tokens{"tale", "two", "cities"}));
}

TEST(TextAnalyzer, BadOptions) {
  auto unknown = Analyzer::Make({.stemmer = "klingon"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("klingon"), std::string::npos);
  EXPECT_NE(unknown.status().message().find("english"), std::string::npos);
  EXPECT_NE(unknown.status().message().find("russian"), std::string::npos);

  auto two_tokens = Analyzer::Make({.stop_words = {"two words"}});
  ASSERT_FALSE(two_tokens.ok());
  EXPECT_EQ(two_tokens.status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(Analyzer::Make({.stop_words = {"..."}}).ok());
  EXPECT_FALSE(Analyzer::Make({.stop_words = {std::string(2000, 'a')}}).ok());
  EXPECT_FALSE(
      Analyzer::Make({.stop_words = std::vector<std::string>(kAnalyzerStopWordsMax + 1, "a")}).ok());

  std::vector<std::string> languages = Analyzer::StemmerLanguages();
  EXPECT_NE(std::find(languages.begin(), languages.end(), "english"), languages.end());
  for (const std::string& language : languages) {
    EXPECT_TRUE(Analyzer::Make({.stemmer = language}).ok()) << language;
  }
}

TEST(TextAnalyzer, DefaultIsShared) {
  EXPECT_EQ(Analyzer::Default().get(), Analyzer::Default().get());
  EXPECT_TRUE(Analyzer::Default()->options().remove_diacritics);
  EXPECT_TRUE(Analyzer::Default()->options().stemmer.empty());
}

TEST(TextAnalyzer, ConcurrentTokenizeWithStemmer) {
  auto analyzer = MakeOrDie({.stemmer = "english", .stop_words = {"the"}});
  std::vector<std::string> texts;
  for (int i = 0; i < 64; ++i) {
    texts.push_back("The quick brown foxes were jumping over " + std::to_string(i) +
                    " lazy dogs, connections and generalizations");
  }
  std::vector<Tokens> expected;
  for (const std::string& text : texts) expected.push_back(Tok(text, *analyzer));
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 50; ++round) {
        size_t i = static_cast<size_t>(t * 7 + round) % texts.size();
        if (Tok(texts[i], *analyzer) != expected[i]) ++mismatches;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(mismatches.load(), 0);
}

// ---- against FTS5 ----

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

// Real text found on every Debian 12 machine with the project's packages: the copyright
// files of the installed packages (mostly English, some names with diacritics) and the
// message catalogs under /usr/share/locale (translations in dozens of scripts, between
// the binary tables of the .mo format, so invalid UTF-8 too), one catalog per language.
// In path order, up to a byte budget for each that keeps the test quick under ASan.
std::vector<std::string> DebianText(size_t copyright_budget_bytes, size_t catalog_budget_bytes) {
  std::error_code error;
  std::vector<std::filesystem::path> copyrights, catalogs;
  for (const auto& entry : std::filesystem::directory_iterator("/usr/share/doc", error)) {
    std::filesystem::path copyright = entry.path() / "copyright";
    if (std::filesystem::is_regular_file(copyright, error)) copyrights.push_back(copyright);
  }
  for (const auto& entry : std::filesystem::directory_iterator("/usr/share/locale", error)) {
    std::filesystem::path messages = entry.path() / "LC_MESSAGES";
    std::vector<std::filesystem::path> files;
    for (const auto& file : std::filesystem::directory_iterator(messages, error)) {
      if (file.path().extension() == ".mo") files.push_back(file.path());
    }
    if (!files.empty()) catalogs.push_back(*std::min_element(files.begin(), files.end()));
  }
  std::vector<std::string> documents;
  for (auto [paths, budget] : {std::pair{&copyrights, copyright_budget_bytes},
                               std::pair{&catalogs, catalog_budget_bytes}}) {
    std::sort(paths->begin(), paths->end());
    size_t total = 0;
    for (const auto& path : *paths) {
      if (total >= budget) break;
      documents.push_back(ReadFile(path));
      total += documents.back().size();
    }
  }
  return documents;
}

TEST(TextAnalyzer, VocabularyEqualsFts5OnDebianText) {
  std::vector<std::string> documents = DebianText(2u << 20, 2u << 20);
  if (documents.size() < 50) GTEST_SKIP() << "too few files under /usr/share/doc";
  Fts5 fts5;
  fts5.Insert(documents);

  std::map<std::string, std::pair<int64_t, int64_t>> ours;
  size_t bytes = 0, tokens = 0, non_ascii_tokens = 0;
  std::vector<Tokens> per_document;
  for (const std::string& document : documents) {
    bytes += document.size();
    std::map<std::string, int64_t> counts;
    Tokens list = Tok(document);
    for (const std::string& token : list) {
      ++counts[token];
      ++tokens;
      if (std::any_of(token.begin(), token.end(), [](char c) { return c & 0x80; })) ++non_ascii_tokens;
    }
    for (const auto& [term, count] : counts) {
      ours[term].first += 1;
      ours[term].second += count;
    }
    per_document.push_back(std::move(list));
  }
  std::map<std::string, std::pair<int64_t, int64_t>> theirs = fts5.Vocabulary();
  std::printf("[ corpus   ] %zu files, %zu bytes, %zu tokens (%zu non-ASCII), %zu terms\n",
              documents.size(), bytes, tokens, non_ascii_tokens, ours.size());
  EXPECT_GT(non_ascii_tokens, 0u);
  EXPECT_EQ(ours.size(), theirs.size());
  size_t reported = 0;
  for (const auto& [term, stats] : theirs) {
    auto it = ours.find(term);
    if (it == ours.end() || it->second != stats) {
      if (++reported <= 10) {
        ADD_FAILURE() << "term " << Hex(term) << " '" << term << "': FTS5 docs/count " << stats.first
                      << "/" << stats.second << ", fathom "
                      << (it == ours.end() ? std::string("missing")
                                           : std::to_string(it->second.first) + "/" +
                                                 std::to_string(it->second.second));
      }
    }
  }
  EXPECT_EQ(reported, 0u);

  // Every document's token sequence, position by position.
  std::vector<Tokens> sequences = fts5.Instances(documents.size());
  for (size_t i = 0; i < documents.size(); ++i) {
    EXPECT_EQ(per_document[i], sequences[i]) << "document " << i;
  }
}

// Random strings over all planes, with combining marks, case pairs and invalid UTF-8
// (stray continuation bytes, truncated and overlong sequences, surrogates, lead bytes
// F5..FF, long continuation runs), tokenized by both; FATHOM_SEED replays a run.
// Appends code point `c` in UTF-8 (any value below 0x110000, surrogates included: the
// tokenizers must cope with them).
void AppendUtf8(std::string& out, uint32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

std::string RandomText(std::mt19937_64& rng) {
  static const uint32_t kInteresting[] = {
      0x130, 0x131, 0xDF, 0xC9, 0x300, 0x301, 0x302, 0x308, 0x327, 0x331, 0x332, 0x10400,
      0x10428, 0xE000, 0xF0000, 0x10FFFF, 0xE0001, 0xFFFD, 0xAA, 0xB5, 0x1E9E, 0x212A,
      0x2160, 0x3000, 0x4E00, 0xAC00, 0x1F926, 0x200D, 0xFE0F, 0x2028, 0xA0, 0x1C5};
  auto pick = [&](uint64_t n) { return static_cast<uint64_t>(rng() % n); };
  std::string text;
  size_t pieces = pick(40);
  for (size_t i = 0; i < pieces; ++i) {
    switch (pick(10)) {
      case 0: text += static_cast<char>(0x20 + pick(95)); break;           // printable ASCII
      case 1: text += static_cast<char>(pick(2) ? 'A' + pick(26) : 'a' + pick(26)); break;
      case 2: text += ' '; break;
      case 3: AppendUtf8(text, 0x80 + static_cast<uint32_t>(pick(0xFF80))); break;  // BMP (surrogates too)
      case 4: AppendUtf8(text, static_cast<uint32_t>(pick(0x110000))); break;       // any plane
      case 5: AppendUtf8(text, 0x300 + static_cast<uint32_t>(pick(0x70))); break;    // combining marks
      case 6: AppendUtf8(text, kInteresting[pick(std::size(kInteresting))]); break;
      case 7: text += static_cast<char>(0x80 + pick(128)); break;              // a stray byte
      case 8: {                                                                // a cut sequence
        std::string full;
        AppendUtf8(full, 0x80 + static_cast<uint32_t>(pick(0x10FF80)));
        text += full.substr(0, 1 + pick(full.size()));
        break;
      }
      default:                                                                 // a long run
        text += static_cast<char>(0xC0 + pick(64));
        text.append(pick(8), static_cast<char>(0x80 + pick(64)));
        break;
    }
  }
  return text;
}

// Tokenizes `documents` with FTS5 and with fathom (same remove_diacritics) and reports
// the first ten documents whose token sequences differ; `context` prefixes each report.
void ExpectSameTokensAsFts5(const std::vector<std::string>& documents, bool remove_diacritics,
                            const std::string& context) {
  Fts5 fts5(remove_diacritics ? "unicode61" : "unicode61 remove_diacritics 0");
  fts5.Insert(documents);
  std::vector<Tokens> expected = fts5.Instances(documents.size());
  auto analyzer = MakeOrDie({.remove_diacritics = remove_diacritics});
  size_t failures = 0;
  for (size_t i = 0; i < documents.size() && failures < 10; ++i) {
    Tokens ours = Tok(documents[i], *analyzer);
    if (ours != expected[i]) {
      ++failures;
      ADD_FAILURE() << context << " remove_diacritics " << remove_diacritics << " text " << Hex(documents[i])
                    << "\n  fts5:   " << HexTokens(expected[i]) << "\n  fathom: " << HexTokens(ours);
    }
  }
}

TEST(TextAnalyzer, RandomTextMatchesFts5) {
  uint64_t seed = testing::SeedForTest("TextAnalyzer.RandomTextMatchesFts5");
  std::mt19937_64 rng(seed);
  for (bool remove_diacritics : {true, false}) {
    std::vector<std::string> documents;
    for (int i = 0; i < 4000; ++i) documents.push_back(RandomText(rng));
    ExpectSameTokensAsFts5(documents, remove_diacritics, "seed " + std::to_string(seed));
  }
}

// Every BMP code point (and every 61st above it), alone and inside a token, through both
// tokenizers: checks the generated tables and their lookup independently of the script.
TEST(TextAnalyzer, EveryBmpCodePointMatchesFts5) {
  auto utf8 = [](uint32_t c) {
    std::string out;
    AppendUtf8(out, c);
    return out;
  };
  std::vector<std::string> documents;
  for (uint32_t c = 0; c < 0x110000; c += c < 0x10000 ? 1 : 61) {
    std::string character = utf8(c);
    documents.push_back(character + " a" + character + "Z " + character + character);
  }
  for (bool remove_diacritics : {true, false}) {
    ExpectSameTokensAsFts5(documents, remove_diacritics, "");
  }
}

}  // namespace
}  // namespace fathom
