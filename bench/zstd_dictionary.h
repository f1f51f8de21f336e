// A zstd dictionary trained on sample events and written to a file, as
// `cairn train-dict` makes one from a store's events: for the benchmarks
// that measure zstd with a dictionary (cairn-bench's cairn-sealed-dict
// engine, cairn-crypto-bench's *_dictionary rows). Header-only, so both
// programs use it without sharing a library.
#ifndef CAIRN_BENCH_ZSTD_DICTIONARY_H_
#define CAIRN_BENCH_ZSTD_DICTIONARY_H_

#include <zdict.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace cairn::bench {

// Trains a dictionary of at most `capacity` bytes on `samples` and writes it
// to `path`; fails saying why zstd could not train or the file could not be
// written.
inline absl::Status WriteZstdDictionary(const std::vector<std::string>& samples,
                                        const std::string& path,
                                        size_t capacity = 16384) {
  std::string joined;
  std::vector<size_t> sizes;
  for (const std::string& sample : samples) {
    joined += sample;
    sizes.push_back(sample.size());
  }
  std::string dictionary(capacity, '\0');
  size_t trained =
      ZDICT_trainFromBuffer(dictionary.data(), dictionary.size(), joined.data(),
                            sizes.data(), static_cast<unsigned>(sizes.size()));
  if (ZDICT_isError(trained)) {
    return absl::InternalError(
        absl::StrCat("zstd could not train a dictionary on ", samples.size(),
                     " samples: ", ZDICT_getErrorName(trained)));
  }
  dictionary.resize(trained);
  std::ofstream out(path, std::ios::binary);
  out << dictionary;
  if (!out.flush())
    return absl::InternalError(absl::StrCat("cannot write dictionary ", path));
  return absl::OkStatus();
}

}  // namespace cairn::bench

#endif  // CAIRN_BENCH_ZSTD_DICTIONARY_H_
