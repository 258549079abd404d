#include "otfgp/core/hdf5_checksum.hpp"

#include <hdf5.h>

#include <cstdint>
#include <cstdio>
#include <vector>

#include "otfgp/core/error.hpp"
#include "otfgp/core/fnv1a.hpp"
#include "otfgp/core/hdf5_image.hpp"

namespace otfgp {

namespace {

constexpr const char* checksum_name = "checksum";

// FNV-1a (core/fnv1a.hpp), fed in name order.
struct Fnv1a {
  std::uint64_t state = fnv1a_offset;
  void bytes(const void* data, std::size_t count) { state = fnv1a(data, count, state); }
  void text(const std::string& value) {
    const std::uint64_t size = value.size();
    bytes(&size, sizeof size);
    bytes(value.data(), value.size());
  }
  void number(std::uint64_t value) { bytes(&value, sizeof value); }
};

struct Walk {
  Fnv1a hash;
  bool failed = false;
  bool at_root = false;
  std::string failure;
};

// Values of a dataset or attribute as doubles (floating types) or 64-bit
// integers (integer types), and strings; other classes hash by class only.
template <class Read>
bool hash_values(Fnv1a& hash, hid_t type, hsize_t count, Read read) {
  const H5T_class_t type_class = H5Tget_class(type);
  hash.number(static_cast<std::uint64_t>(type_class));
  if (type_class == H5T_FLOAT) {
    std::vector<double> values(count);
    if (count > 0 && read(H5T_NATIVE_DOUBLE, values.data()) < 0) return false;
    hash.bytes(values.data(), values.size() * sizeof(double));
  } else if (type_class == H5T_INTEGER) {
    std::vector<long long> values(count);
    if (count > 0 && read(H5T_NATIVE_LLONG, values.data()) < 0) return false;
    hash.bytes(values.data(), values.size() * sizeof(long long));
  } else if (type_class == H5T_STRING) {
    if (H5Tis_variable_str(type) > 0) {
      const hid_t memory = H5Tcopy(H5T_C_S1);
      H5Tset_size(memory, H5T_VARIABLE);
      H5Tset_cset(memory, H5Tget_cset(type));
      std::vector<char*> values(count, nullptr);
      const bool good = count == 0 || read(memory, values.data()) >= 0;
      for (char* value : values) {
        hash.text(value ? value : "");
        if (value) H5free_memory(value);
      }
      H5Tclose(memory);
      if (!good) return false;
    } else {
      const std::size_t size = H5Tget_size(type);
      std::vector<char> values(count * size);
      const hid_t memory = H5Tcopy(type);
      const bool good = count == 0 || read(memory, values.data()) >= 0;
      H5Tclose(memory);
      if (!good) return false;
      hash.bytes(values.data(), values.size());
    }
  }
  return true;
}

hsize_t space_count(hid_t space, Fnv1a& hash) {
  const int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> shape(rank > 0 ? rank : 0);
  if (rank > 0) H5Sget_simple_extent_dims(space, shape.data(), nullptr);
  hash.number(static_cast<std::uint64_t>(rank));
  hsize_t count = 1;
  for (hsize_t extent : shape) {
    hash.number(extent);
    count *= extent;
  }
  return count;
}

herr_t visit_attribute(hid_t object, const char* name, const H5A_info_t*, void* data) {
  auto& walk = *static_cast<Walk*>(data);
  const std::string attribute_name = name;
  if (walk.at_root && attribute_name == checksum_name) return 0;
  walk.hash.text("@" + attribute_name);
  const hid_t attribute = H5Aopen(object, name, H5P_DEFAULT);
  if (attribute < 0) return -1;
  const hid_t type = H5Aget_type(attribute), space = H5Aget_space(attribute);
  const hsize_t count = space_count(space, walk.hash);
  // Attributes live in object headers of at most 64 KiB: a larger claim is damage.
  const bool good =
      count <= (1 << 16) && hash_values(walk.hash, type, count, [&](hid_t memory, void* buffer) {
        return H5Aread(attribute, memory, buffer);
      });
  H5Sclose(space);
  H5Tclose(type);
  H5Aclose(attribute);
  if (!good) {
    walk.failed = true;
    walk.failure = "attribute '" + attribute_name + "' cannot be read";
    return -1;
  }
  return 0;
}

herr_t visit_object(hid_t root, const char* name, const H5O_info_t* info, void* data) {
  auto& walk = *static_cast<Walk*>(data);
  walk.at_root = std::string(name) == ".";
  walk.hash.text(name);
  walk.hash.number(static_cast<std::uint64_t>(info->type));
  if (info->type == H5O_TYPE_DATASET) {
    const hid_t dataset = H5Dopen2(root, name, H5P_DEFAULT);
    if (dataset < 0) {
      walk.failed = true;
      walk.failure = std::string("dataset '") + name + "' cannot be opened";
      return -1;
    }
    try {
      checked_element_count(dataset, name);
    } catch (const Error& error) {
      H5Dclose(dataset);
      walk.failed = true;
      walk.failure = error.what();
      return -1;
    }
    const hid_t type = H5Dget_type(dataset), space = H5Dget_space(dataset);
    const hsize_t count = space_count(space, walk.hash);
    const bool good = hash_values(walk.hash, type, count, [&](hid_t memory, void* buffer) {
      return H5Dread(dataset, memory, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer);
    });
    H5Sclose(space);
    H5Tclose(type);
    if (!good) {
      H5Dclose(dataset);
      walk.failed = true;
      walk.failure = std::string("dataset '") + name + "' cannot be read (damaged file?)";
      return -1;
    }
    H5Dclose(dataset);
  }
  const hid_t object = H5Oopen(root, name, H5P_DEFAULT);
  if (object < 0) return -1;
  hsize_t index = 0;
  const herr_t status =
      H5Aiterate2(object, H5_INDEX_NAME, H5_ITER_INC, &index, visit_attribute, data);
  H5Oclose(object);
  return status < 0 ? -1 : 0;
}

}  // namespace

std::string hdf5_content_checksum(const hdf5::Group& root) {
  Walk walk;
  const herr_t status = H5Ovisit(root.id(), H5_INDEX_NAME, H5_ITER_INC, visit_object, &walk);
  if (status < 0 || walk.failed)
    throw Error(
        root.file() + ": the file is damaged: " +
        (walk.failure.empty() ? std::string("its objects cannot be walked") : walk.failure));
  char text[32];
  std::snprintf(text, sizeof text, "fnv1a64:%016llx",
                static_cast<unsigned long long>(walk.hash.state));
  return text;
}

void write_hdf5_checksum(const hdf5::Group& root) {
  root.set_attribute(checksum_name, hdf5_content_checksum(root));
}

void verify_hdf5_checksum(const hdf5::Group& root, bool required) {
  if (!root.has_attribute(checksum_name)) {
    if (required) throw Error(root.file() + ": no checksum attribute (not written by otfgp?)");
    return;
  }
  const std::string stored = root.string_attribute(checksum_name);
  const std::string actual = hdf5_content_checksum(root);
  if (stored != actual)
    throw Error(root.file() + ": the file is damaged or was edited: its content checksum is " +
                actual + " but " + stored +
                " was recorded when it was written; retrain or restore the file");
}

}  // namespace otfgp
