// Assertion macros for programmer errors (never for bad input or bad bytes: those are
// Status values). FATHOM_CHECK is always on; FATHOM_DCHECK only in debug builds.
#pragma once

#include <cstdio>
#include <cstdlib>

#define FATHOM_CHECK(cond)                                                          \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: FATHOM_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

#ifdef NDEBUG
#define FATHOM_DCHECK(cond) \
  do {                      \
  } while (0)
#else
#define FATHOM_DCHECK(cond) FATHOM_CHECK(cond)
#endif
