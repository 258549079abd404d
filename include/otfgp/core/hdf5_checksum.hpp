#pragma once
// A checksum over everything an otfgp HDF5 file holds (every dataset's shape
// and values, every attribute except the checksum itself), walked in name
// order so that it does not depend on how the file was laid out. Written at
// save as the root attribute "checksum"; checked once on load, whichever
// reader opens the file, so that a zeroed block, an edited value or a
// truncated dataset is an error rather than a silently different model.

#include <string>

#include "otfgp/core/hdf5.hpp"

namespace otfgp {

// "fnv1a64:0123456789abcdef".
std::string hdf5_content_checksum(const hdf5::Group& root);
// Sets the root attribute "checksum" (call last, after every other write).
void write_hdf5_checksum(const hdf5::Group& root);
// Throws otfgp::Error naming the file when the stored checksum disagrees with
// the content; `required` makes a missing checksum an error too.
void verify_hdf5_checksum(const hdf5::Group& root, bool required);

}  // namespace otfgp
