// Declares the memory storage plugin to hosts: its name, capabilities and the
// exported entry. The conformance fixtures build this file with another
// CAIRN_MEMORY_PLUGIN_NAME and a CAIRN_MEMORY_FAULT.
#include "memory_storage.h"

#ifndef CAIRN_MEMORY_PLUGIN_NAME
#define CAIRN_MEMORY_PLUGIN_NAME "memory"
#define CAIRN_MEMORY_PLUGIN_DESCRIPTION \
  "in-memory storage: complete and thread-safe, nothing survives close"
#endif

CAIRN_STORAGE_PLUGIN(cairn::memory::MemoryStorage, CAIRN_MEMORY_PLUGIN_NAME,
                     "1.0.0", CAIRN_MEMORY_PLUGIN_DESCRIPTION,
                     CAIRN_MEMORY_CAPABILITIES, CAIRN_MEMORY_COMMIT_OPTION)
