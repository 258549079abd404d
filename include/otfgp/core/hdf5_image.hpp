#pragma once
// HDF5 files are built in memory and written to disk by otfgp itself: HDF5
// never meets a full disk (where it fails mid-flush and later crashes at
// exit in H5F__close_cb), and the file appears complete or not at all.

#include <hdf5.h>

#include <filesystem>
#include <string>
#include <vector>

namespace otfgp {

// An empty HDF5 file in memory (core driver, no backing store); < 0 on failure.
hid_t create_memory_hdf5_file(const std::string& name);

// Files otfgp writes start with a 512-byte HDF5 user block (which HDF5 and
// h5py skip) holding a magic line, the file's size and an FNV-1a checksum of
// every byte after the block. read_hdf5_image() reads the whole file and
// checks them before HDF5 parses anything, so a damaged or edited file is an
// otfgp::Error instead of a hang or crash inside HDF5 (which loops on some
// corrupt heaps and crashes on some corrupt B-trees).
struct Hdf5Image {
  std::vector<char> bytes;
  bool verified = false;  // the otfgp header vouched for every byte
};
// Throws otfgp::Error naming the file when it cannot be read, is empty, is not
// HDF5, or has an otfgp header that does not match its bytes. Files without
// the header (older otfgp, h5py, a header damaged beyond recognition) come
// back with verified = false: open them only after probe_hdf5_image().
Hdf5Image read_hdf5_image(const std::filesystem::path& path);

// Opens `image` with HDF5 in a child process, walks every object, dataset and
// attribute (hdf5_content_checksum), and returns only if that succeeded; a
// hang (beyond a time limit), a crash, an allocation beyond a memory limit or
// an error inside HDF5 is an otfgp::Error naming `name`. The time limit is
// OTFGP_HDF5_CHECK_SECONDS (default 30) plus one second per MiB of file.
void probe_hdf5_image(const std::vector<char>& image, const std::string& name);

// Opens an image held in memory (core driver, never written back by HDF5);
// `writable` allows edits, which File::close() writes with write_hdf5_image.
// < 0 on failure.
hid_t open_memory_hdf5_file(const std::vector<char>& image, bool writable);

// Flushes the in-memory `file` and writes its image to `target` through a
// hidden temporary and a rename. Throws otfgp::Error (disk full, permission)
// and leaves `target` as it was.
void write_hdf5_image(hid_t file, const std::filesystem::path& target);

// The number of elements of `dataset`, or an otfgp::Error naming `where` when
// its header claims more than the file can hold (a damaged shape would
// otherwise make the reader allocate terabytes): at most 1100 elements of 8
// bytes per stored byte (deflate's limit is about 1032) plus 1 MiB.
std::size_t checked_element_count(hid_t dataset, const std::string& where);

}  // namespace otfgp
