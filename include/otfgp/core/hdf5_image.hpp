#pragma once
// HDF5 files are built in memory and written to disk by otfgp itself: HDF5
// never meets a full disk (where it fails mid-flush and later crashes at
// exit in H5F__close_cb), and the file appears complete or not at all.

#include <hdf5.h>

#include <filesystem>
#include <string>

namespace otfgp {

// An empty HDF5 file in memory (core driver, no backing store); < 0 on failure.
hid_t create_memory_hdf5_file(const std::string& name);

// Flushes the in-memory `file` and writes its image to `target` through a
// hidden temporary and a rename. Throws otfgp::Error (disk full, permission)
// and leaves `target` as it was.
void write_hdf5_image(hid_t file, const std::filesystem::path& target);

}  // namespace otfgp
