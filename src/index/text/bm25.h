// BM25 scoring (Robertson/Sparck Jones idf with the +1 inside the log, as Lucene 8 and
// issue 14 define it):
//   idf(t)      = ln(1 + (N - n_t + 0.5) / (n_t + 0.5))
//   score(d, q) = sum over distinct t in q of idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))
// N and n_t count live documents, dl is the document's exact length in tokens and avgdl
// the mean over live documents. Everything is computed in double; results are reported
// as float (the rounding is the only difference from a reference computed in double).
// Thread-safety: plain values.
#pragma once

#include <cmath>
#include <cstdint>

#include "index/maxscore.h"  // ScoredSlot

namespace fathom {

struct Bm25Params {
  float k1 = 1.2f;
  float b = 0.75f;
};

inline double Bm25Idf(uint64_t doc_count, uint64_t doc_freq) {
  const double n = static_cast<double>(doc_freq);
  return std::log(1.0 + (static_cast<double>(doc_count) - n + 0.5) / (n + 0.5));
}

// One term's contribution for one query, with the per-query constants folded:
// weight * tf / (tf + norm_base + norm_per_token * dl).
class Bm25TermScorer {
 public:
  Bm25TermScorer(double idf, double average_length, const Bm25Params& params)
      : weight_(idf * (static_cast<double>(params.k1) + 1.0)),
        norm_base_(static_cast<double>(params.k1) * (1.0 - static_cast<double>(params.b))),
        norm_per_token_(average_length > 0
                            ? static_cast<double>(params.k1) * static_cast<double>(params.b) / average_length
                            : 0.0) {}

  double Score(uint32_t tf, uint32_t length) const {
    const double f = static_cast<double>(tf);
    return weight_ * f / (f + norm_base_ + norm_per_token_ * static_cast<double>(length));
  }
  // An upper bound of Score(tf, dl) for every tf <= max_tf and dl >= min_length: the
  // score grows with tf and falls with dl (k1, b >= 0). Slightly inflated so that a
  // bound rounded differently from the score it bounds still bounds it.
  double Bound(uint32_t max_tf, uint32_t min_length) const { return Score(max_tf, min_length) * (1.0 + 1e-12); }

 private:
  double weight_;
  double norm_base_;
  double norm_per_token_;
};

}  // namespace fathom
