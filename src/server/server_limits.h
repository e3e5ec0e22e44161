// Bounds the HTTP layer enforces, in one place (engine bounds live in common/limits.h).
// Units are last in the names.
#pragma once

#include <chrono>
#include <cstddef>

namespace fathom::server::http_limits {

// Chroma's max_payload_size_bytes: larger bodies get 413 "Payload too large".
inline constexpr size_t kRequestBodyBytesMax = 40u << 20;
// Request bodies held at once, across all connections (read or being handled); past it
// requests are refused with 503 before their body is read.
inline constexpr size_t kBodyBytesInFlightMax = 1u << 30;
// Request line plus headers.
inline constexpr size_t kRequestHeaderBytesMax = 64u << 10;
// Bodies up to this size are parsed with a per-thread simdjson parser whose buffers are
// reused; larger ones get a parser of their own so a single huge body does not pin its
// buffers in every worker thread.
inline constexpr size_t kReusedParserBodyBytesMax = 4u << 20;
// Each connection's read buffer. Beast reads at most the buffer's free capacity (and at
// least 512 bytes) per receive call, and a body parser consumes the buffer as it goes, so
// an unreserved buffer stays at 512 bytes and a 5 KiB query body took ten recvmsg calls
// (each with an epoll poll in between). Requests with larger bodies read through a
// buffer of kLargeReadBufferBytes (Beast's cap on one read), given back afterwards.
inline constexpr size_t kReadBufferBytes = 16u << 10;
inline constexpr size_t kLargeReadBufferBytes = 64u << 10;
// An engine read runs on the I/O thread that read it (no hand-off to a worker) when its
// body is at most this large and the connection's previous read took at most
// kInlineReadDurationMax; other connections on that thread wait meanwhile, so the bound
// is also the longest such a wait gets (once per slow connection).
inline constexpr size_t kInlineReadBodyBytesMax = 256u << 10;
inline constexpr std::chrono::microseconds kInlineReadDurationMax{2000};
// Open connections; beyond this new connections are closed at once.
inline constexpr size_t kConnectionsMax = 4096;
// A keep-alive connection with no request in flight for this long is closed.
inline constexpr std::chrono::seconds kIdleTimeout{300};
// How long shutdown waits for in-flight requests before closing their connections.
inline constexpr std::chrono::seconds kShutdownGrace{30};
// Typed collection configurations kept by ConfigCache (config_cache.h), and the largest
// stored configuration text it holds (larger ones are parsed on each use instead).
inline constexpr size_t kConfigCacheEntriesMax = 1024;
inline constexpr size_t kConfigCacheEntryBytesMax = 64u << 10;
// Where-clause depth ($and/$or nesting) and size.
inline constexpr size_t kFilterDepthMax = 64;
inline constexpr size_t kFilterNodesMax = 100000;

}  // namespace fathom::server::http_limits
