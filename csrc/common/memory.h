// Allocation checks at the Python boundary: a size that cannot fit in memory is refused before anything
// is allocated, with the bytes it needs (instead of std::bad_alloc, or the system swapping to death).
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "common/check.h"

namespace nextrl {

// Thrown when a requested size needs more memory than is available; bindings translate it to MemoryError.
struct AllocationRefused : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Bytes of memory available to a new allocation: MemAvailable of /proc/meminfo, else free physical pages.
inline uint64_t AvailableMemory() {
  if (std::FILE* f = std::fopen("/proc/meminfo", "r")) {
    char line[256];
    unsigned long long kib = 0;
    bool found = false;
    while (!found && std::fgets(line, sizeof line, f) != nullptr)
      found = std::sscanf(line, "MemAvailable: %llu kB", &kib) == 1;
    std::fclose(f);
    if (found) return static_cast<uint64_t>(kib) * 1024u;
  }
  const long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : UINT64_MAX;
}

// Throws AllocationRefused "<fn>: <what> need <bytes> bytes (<GiB> GiB), but only <available> bytes are
// available; refused before allocating" when bytes (a double: products of sizes cannot overflow it) exceed
// the available memory.
inline void CheckAllocation(const char* fn, const char* what, double bytes) {
  const uint64_t have = AvailableMemory();
  if (bytes <= static_cast<double>(have)) return;
  const std::string need = bytes < 1.8e19 ? StrCat(static_cast<uint64_t>(bytes)) : StrCat(bytes);
  throw AllocationRefused(StrCat(fn, ": ", what, " need ", need, " bytes (", bytes / 1073741824.0, " GiB), but only ",
                                 have, " bytes are available; refused before allocating"));
}

}  // namespace nextrl
