// Test helper of the backup tests (backup_test.cc, cli_remote_test.cc): a
// store's ordered log as stored, to compare a backup's records with the
// store's byte for byte.
#ifndef CAIRN_HOSTS_CAIRN_LOG_UP_TO_H_
#define CAIRN_HOSTS_CAIRN_LOG_UP_TO_H_

#include <cairn/log_record.h>
#include <cairn/store.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace cairn::backup_testing {

// `store`'s records with positions up to `last` (read_log from position 1),
// as stored.
inline std::vector<OwnedLogRecord> LogUpTo(Store& store, uint64_t last) {
  std::vector<OwnedLogRecord> records;
  const cairn_storage_api* api = store.storage_plugin()->storage();
  char message[256] = "";
  cairn_error error{message, sizeof(message)};
  EXPECT_EQ(
      api->read_log(
          store.raw_storage(), 0, last,
          [](void* context, const cairn_log_record* record) -> int {
            static_cast<std::vector<OwnedLogRecord>*>(context)->emplace_back(
                *record);
            return 0;
          },
          &records, &error),
      CAIRN_OK)
      << message;
  while (!records.empty() && records.back().position > last) records.pop_back();
  return records;
}

}  // namespace cairn::backup_testing

#endif  // CAIRN_HOSTS_CAIRN_LOG_UP_TO_H_
