// CRC32C (Castagnoli), the checksum of every mmaplog record and file.
#ifndef CAIRN_PLUGINS_STORAGE_MMAPLOG_CRC32C_H_
#define CAIRN_PLUGINS_STORAGE_MMAPLOG_CRC32C_H_

#include <cstddef>
#include <cstdint>

namespace cairn::mmaplog {

// Extends `crc` (0 to start) over `size` bytes at `data` and returns the new
// value. Uses the SSE4.2 crc32 instruction when the CPU has it (checked once)
// and a slicing-by-8 table otherwise; both give the same result.
// Thread-safe.
uint32_t Crc32c(uint32_t crc, const void* data, size_t size);

// The portable table implementation, exposed so tests can compare it with the
// hardware path.
uint32_t Crc32cPortable(uint32_t crc, const void* data, size_t size);

// True if Crc32c uses the hardware instruction on this machine.
bool Crc32cIsHardware();

}  // namespace cairn::mmaplog

#endif  // CAIRN_PLUGINS_STORAGE_MMAPLOG_CRC32C_H_
