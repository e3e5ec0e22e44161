// Analyzer: turns document and query text into the tokens the text index stores and
// searches (docs/design/text-analyzer.md).
//
// The default reproduces SQLite FTS5's `unicode61` tokenizer with its defaults, byte for
// byte (index/text/unicode61.h): tokens are runs of Unicode letters, numbers and
// private-use characters, lower case, with a Latin letter's single diacritic removed.
// Options add Snowball stemming (libstemmer) and stop words, applied in this order:
// tokenize and fold, drop stop words, stem.
//
// Ownership and thread-safety: an Analyzer is immutable once made and shared as
// shared_ptr<const Analyzer>; any number of threads may call ForEachToken / Tokenize on
// one Analyzer at once. libstemmer's stemmers are not thread-safe, so an Analyzer keeps a
// pool of them: each call borrows one for its duration (one uncontended lock to take it,
// one to give it back) and the pool grows to the number of calls running at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "fathom/status.h"
#include "index/text/unicode61.h"

struct sb_stemmer;

namespace fathom {

// Longest token, in bytes: longer ones are cut here (as FTS5 does; see unicode61.h).
inline constexpr size_t kAnalyzerTokenBytesMax = unicode61::kTokenBytesMax;
// Bounds on options, which arrive from users through a collection's schema.
inline constexpr size_t kAnalyzerStopWordsMax = 100000;
inline constexpr size_t kAnalyzerStopWordBytesMax = 1024;

struct AnalyzerOptions {
  // FTS5's remove_diacritics=1 (true) or 0 (false): whether "é" is indexed as "e".
  bool remove_diacritics = true;
  // "" for none, else a Snowball language known to libstemmer (Analyzer::StemmerLanguages()),
  // e.g. "english".
  std::string stemmer;
  // Tokens dropped after folding and before stemming. Each is itself folded by the
  // analyzer ("The" drops "the"), so it must be exactly one token.
  std::vector<std::string> stop_words;
};

class Analyzer {
 public:
  // InvalidArgument for an unknown stemmer language (the message lists the known ones), a
  // stop word that is not exactly one token, or more stop words than the limits allow.
  static Result<std::shared_ptr<const Analyzer>> Make(const AnalyzerOptions& options);
  // unicode61 with remove_diacritics=1, no stemmer, no stop words. One shared instance.
  static std::shared_ptr<const Analyzer> Default();
  // The languages `AnalyzerOptions::stemmer` accepts (libstemmer's sb_stemmer_list()).
  static std::vector<std::string> StemmerLanguages();

  ~Analyzer();
  Analyzer(const Analyzer&) = delete;
  Analyzer& operator=(const Analyzer&) = delete;

  // Calls fn(std::string_view token) for each token of `text` in order; the view is valid
  // only during the call. No allocation per token. Any bytes are accepted: invalid UTF-8
  // is tokenized as FTS5 tokenizes it (docs/design/text-analyzer.md), never read past.
  template <class Fn>
  void ForEachToken(std::string_view text, Fn&& fn) const;

  // Appends the tokens of `text` to *out.
  void Tokenize(std::string_view text, std::vector<std::string>* out) const;

  const AnalyzerOptions& options() const { return options_; }

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };

  // Borrows a stemmer from the pool for one ForEachToken call.
  class StemmerLease {
   public:
    explicit StemmerLease(const Analyzer* analyzer)
        : analyzer_(analyzer), stemmer_(analyzer->AcquireStemmer()) {}
    ~StemmerLease() { analyzer_->ReleaseStemmer(stemmer_); }
    StemmerLease(const StemmerLease&) = delete;
    StemmerLease& operator=(const StemmerLease&) = delete;
    std::string_view Stem(std::string_view token) const { return Analyzer::Stem(stemmer_, token); }

   private:
    const Analyzer* analyzer_;
    sb_stemmer* stemmer_;
  };

  explicit Analyzer(AnalyzerOptions options);

  sb_stemmer* AcquireStemmer() const;
  void ReleaseStemmer(sb_stemmer* stemmer) const;
  // The stem of `token`, valid until the stemmer's next use.
  static std::string_view Stem(sb_stemmer* stemmer, std::string_view token);
  // The length mask answers most tokens without hashing them.
  bool IsStopWord(std::string_view token) const {
    size_t length_bit = token.size() < 63 ? token.size() : 63;
    if (((stop_word_lengths_ >> length_bit) & 1) == 0) return false;
    return stop_words_.find(token) != stop_words_.end();
  }

  AnalyzerOptions options_;
  const unicode61::FoldTable* table_;
  bool has_stemmer_;
  std::unordered_set<std::string, StringHash, std::equal_to<>> stop_words_;  // folded
  uint64_t stop_word_lengths_ = 0;  // bit min(size, 63) set for each stop word

  mutable std::mutex stemmers_mutex_;
  mutable std::vector<sb_stemmer*> idle_stemmers_;  // GUARDED_BY(stemmers_mutex_)
};

template <class Fn>
void Analyzer::ForEachToken(std::string_view text, Fn&& fn) const {
  if (!has_stemmer_) {
    if (stop_words_.empty()) {
      unicode61::Scan(text, *table_, fn);
      return;
    }
    unicode61::Scan(text, *table_, [&](std::string_view token) {
      if (!IsStopWord(token)) fn(token);
    });
    return;
  }
  StemmerLease stemmer(this);
  unicode61::Scan(text, *table_, [&](std::string_view token) {
    if (IsStopWord(token)) return;
    std::string_view stem = stemmer.Stem(token);
    if (!stem.empty()) fn(stem);
  });
}

}  // namespace fathom
