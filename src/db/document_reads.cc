#include "db/document_reads.h"

#include <array>
#include <atomic>

namespace fathom {

namespace {
thread_local DocumentReadScope* current_scope = nullptr;
thread_local std::array<std::optional<std::string>, DocumentReadScope::kRingSize> ring;
thread_local size_t ring_next = 0;
std::atomic<uint64_t> unscoped{0};
}  // namespace

DocumentReadScope::DocumentReadScope() : outer_(current_scope) { current_scope = this; }

DocumentReadScope::~DocumentReadScope() {
  current_scope = outer_;
  // An outer scope's request includes this one's work.
  if (outer_ != nullptr && outer_->status_.ok() && !status_.ok()) outer_->status_ = status_;
}

void DocumentReadScope::Fail(const Status& status) {
  if (current_scope == nullptr) {
    unscoped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (current_scope->status_.ok()) current_scope->status_ = status;
}

const std::optional<std::string>& DocumentReadScope::Keep(std::string document) {
  std::optional<std::string>& slot = ring[ring_next];
  ring_next = (ring_next + 1) % kRingSize;
  slot = std::move(document);
  return slot;
}

uint64_t DocumentReadScope::unscoped_failures() { return unscoped.load(std::memory_order_relaxed); }

}  // namespace fathom
