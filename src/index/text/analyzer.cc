#include "index/text/analyzer.h"

#include <libstemmer.h>

#include <algorithm>

#include "common/assert.h"

namespace fathom {

namespace {

// Whether libstemmer knows `language` (by sb_stemmer_new, which also takes aliases).
bool StemmerExists(const std::string& language) {
  sb_stemmer* stemmer = sb_stemmer_new(language.c_str(), "UTF_8");
  if (stemmer == nullptr) return false;
  sb_stemmer_delete(stemmer);
  return true;
}

std::string JoinLanguages() {
  std::string joined;
  for (const std::string& language : Analyzer::StemmerLanguages()) {
    if (!joined.empty()) joined += ", ";
    joined += language;
  }
  return joined;
}

}  // namespace

Result<std::shared_ptr<const Analyzer>> Analyzer::Make(const AnalyzerOptions& options) {
  if (!options.stemmer.empty() && !StemmerExists(options.stemmer)) {
    return Status::InvalidArgument("unknown stemmer language \"" + options.stemmer +
                                   "\"; known languages: " + JoinLanguages());
  }
  if (options.stop_words.size() > kAnalyzerStopWordsMax) {
    return Status::InvalidArgument("too many stop words: " +
                                   std::to_string(options.stop_words.size()) + " (at most " +
                                   std::to_string(kAnalyzerStopWordsMax) + ")");
  }
  std::shared_ptr<Analyzer> analyzer(new Analyzer(options));
  // A stop word is folded by the same tokenizer as the text, so that it matches the
  // tokens it is meant to drop; anything that is not one token could never match one.
  for (const std::string& word : options.stop_words) {
    if (word.size() > kAnalyzerStopWordBytesMax) {
      return Status::InvalidArgument("stop word longer than " +
                                     std::to_string(kAnalyzerStopWordBytesMax) + " bytes");
    }
    std::vector<std::string> tokens;
    unicode61::Scan(word, *analyzer->table_,
                    [&](std::string_view token) { tokens.emplace_back(token); });
    if (tokens.size() != 1) {
      return Status::InvalidArgument("stop word \"" + word + "\" is " +
                                     std::to_string(tokens.size()) +
                                     " tokens; each stop word must be exactly one token");
    }
    analyzer->stop_word_lengths_ |= uint64_t{1} << std::min<size_t>(tokens[0].size(), 63);
    analyzer->stop_words_.insert(std::move(tokens[0]));
  }
  return std::shared_ptr<const Analyzer>(std::move(analyzer));
}

std::shared_ptr<const Analyzer> Analyzer::Default() {
  static const std::shared_ptr<const Analyzer> kDefault(new Analyzer(AnalyzerOptions{}));
  return kDefault;
}

std::vector<std::string> Analyzer::StemmerLanguages() {
  std::vector<std::string> languages;
  for (const char** name = sb_stemmer_list(); *name != nullptr; ++name) {
    languages.emplace_back(*name);
  }
  std::sort(languages.begin(), languages.end());
  return languages;
}

Analyzer::Analyzer(AnalyzerOptions options)
    : options_(std::move(options)),
      table_(options_.remove_diacritics ? &unicode61::kRemoveDiacritics
                                        : &unicode61::kKeepDiacritics),
      has_stemmer_(!options_.stemmer.empty()) {}

Analyzer::~Analyzer() {
  for (sb_stemmer* stemmer : idle_stemmers_) sb_stemmer_delete(stemmer);
}

void Analyzer::Tokenize(std::string_view text, std::vector<std::string>* out) const {
  ForEachToken(text, [out](std::string_view token) { out->emplace_back(token); });
}

sb_stemmer* Analyzer::AcquireStemmer() const {
  {
    std::lock_guard<std::mutex> lock(stemmers_mutex_);
    if (!idle_stemmers_.empty()) {
      sb_stemmer* stemmer = idle_stemmers_.back();
      idle_stemmers_.pop_back();
      return stemmer;
    }
  }
  // Make() checked the language, so a null here can only be a failed allocation.
  sb_stemmer* stemmer = sb_stemmer_new(options_.stemmer.c_str(), "UTF_8");
  FATHOM_CHECK(stemmer != nullptr);
  return stemmer;
}

void Analyzer::ReleaseStemmer(sb_stemmer* stemmer) const {
  std::lock_guard<std::mutex> lock(stemmers_mutex_);
  idle_stemmers_.push_back(stemmer);
}

std::string_view Analyzer::Stem(sb_stemmer* stemmer, std::string_view token) {
  const sb_symbol* stem = sb_stemmer_stem(stemmer, reinterpret_cast<const sb_symbol*>(token.data()),
                                          static_cast<int>(token.size()));
  FATHOM_CHECK(stem != nullptr);  // null only when libstemmer could not allocate
  size_t length = static_cast<size_t>(sb_stemmer_length(stemmer));
  return std::string_view(reinterpret_cast<const char*>(stem),
                          std::min(length, kAnalyzerTokenBytesMax));
}

}  // namespace fathom
