// The code point tables of fathom's unicode61 tokenizer (index/text/unicode61.h), generated
// from SQLite FTS5 itself by scripts/gen_unicode61.py into unicode61_tables.cc.
//
// For every code point below kTableLimit a table gives a class (does it start a token, may
// it continue one) and a fold (the code point written in its place inside a token, or
// nothing). Two tables: one for FTS5's default remove_diacritics=1, one for
// remove_diacritics=0; the classes are the same in both. Thread-safety: constant data.
#pragma once

#include <cstdint>

namespace fathom::unicode61 {

// FTS5's category table covers code points below 2^20. From there up (plane 16 and the
// out-of-range values its UTF-8 reader can produce from bad bytes) FTS5 files every code
// point under category 0, which its tokenizer counts as a token character, and folds it
// to itself; Lookup() does the same without a table.
inline constexpr uint32_t kTableLimit = 0x100000;
inline constexpr int kBlockShift = 6;
inline constexpr uint32_t kBlockMask = (1u << kBlockShift) - 1;

// Class bits of a table value (value & 3).
inline constexpr int32_t kContinuesToken = 1;  // allowed inside a token
inline constexpr int32_t kStartsToken = 2;     // begins a token (always also continues one)

// A two-level table: value = blocks[index[cp >> kBlockShift]][cp & kBlockMask]; the low two
// bits are the class, value >> 2 (arithmetic) is the fold delta: folded = cp + delta, where
// a folded value of 0 means "write nothing" (a removed combining mark).
struct FoldTable {
  const uint16_t* index;
  const int32_t (*blocks)[1 << kBlockShift];
};

extern const FoldTable kRemoveDiacritics;
extern const FoldTable kKeepDiacritics;

inline int32_t Lookup(const FoldTable& table, uint32_t cp) {
  if (cp >= kTableLimit) return kStartsToken | kContinuesToken;
  return table.blocks[table.index[cp >> kBlockShift]][cp & kBlockMask];
}

}  // namespace fathom::unicode61
