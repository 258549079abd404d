#include "otfgp/otf/training_database.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <fstream>
#include <limits>
#include <sstream>

#include "otfgp/core/error.hpp"
#include "otfgp/core/extxyz.hpp"
#include "otfgp/core/hdf5.hpp"
#include "otfgp/core/log.hpp"
#include "otfgp/core/number_text.hpp"
#include "otfgp/gp/model_file.hpp"

namespace otfgp::otf {

namespace {

constexpr double missing = std::numeric_limits<double>::quiet_NaN();

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return text;
}

// The frame as the mirror holds it: geometry, labels and the record's bookkeeping.
Structure mirror_frame(const TrainingRecord& record) {
  Structure frame;
  frame.cell = record.frame.cell;
  frame.positions = record.frame.positions;
  frame.numbers = record.frame.numbers;
  frame.pbc = record.frame.pbc;
  frame.energy = record.frame.energy;
  frame.forces = record.frame.forces;
  frame.stress = record.frame.stress;
  frame.info = {
      {"otf_stage", std::to_string(record.stage)},
      {"otf_step", std::to_string(record.step)},
      {"otf_max_std", std::isnan(record.max_std) ? "nan" : format_real(record.max_std)},
      {"otf_labels", std::string(record.labels.energy ? "E" : "") +
                         (record.labels.forces ? "F" : "") + (record.labels.stress ? "S" : "")}};
  return frame;
}

std::string mirror_text(const TrainingRecord& record) {
  std::ostringstream text;
  write_extxyz(text, mirror_frame(record));
  return text.str();
}

TrainingRecord record_from_mirror(const Structure& frame, const std::string& source) {
  TrainingRecord record;
  record.frame = frame;
  record.frame.info.clear();
  auto value = [&](const char* key) {
    const auto text = frame.info_value(key);
    if (!text) throw Error(source + ": a frame lacks the info key " + key);
    return *text;
  };
  try {
    record.stage = std::stoi(value("otf_stage"));
    record.step = std::stol(value("otf_step"));
    const std::string max_std = value("otf_max_std");
    record.max_std = max_std == "nan" ? missing : std::stod(max_std);
  } catch (const std::logic_error&) {
    throw Error(source + ": a frame has a malformed otf_stage, otf_step or otf_max_std");
  }
  const std::string labels = value("otf_labels");
  record.labels = {labels.find('E') != std::string::npos,
                   labels.find('F') != std::string::npos,
                   labels.find('S') != std::string::npos,
                   {}};
  return record;
}

void append_bytes(const std::filesystem::path& path, const std::string& text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
  if (fd < 0)
    throw Error(path.string() + ": cannot open for appending (" + std::strerror(errno) + ")");
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      throw Error(path.string() + ": cannot append (" + why + ")");
    }
    written += static_cast<std::size_t>(n);
  }
  const int synced = ::fsync(fd);
  ::close(fd);
  if (synced != 0) throw Error(path.string() + ": cannot flush to disk");
}

// Frames of the mirror from byte `offset` on that are complete (each read back
// and written again gives the very bytes on disk); returns the bytes they span.
std::uintmax_t complete_mirror_frames(const std::filesystem::path& mirror, std::uintmax_t offset,
                                      std::vector<TrainingRecord>& records) {
  std::ifstream input(mirror, std::ios::binary);
  if (!input) return offset;
  input.seekg(static_cast<std::streamoff>(offset));
  std::string tail((std::istreambuf_iterator<char>(input)), std::istreambuf_iterator<char>());
  std::istringstream stream(tail);
  ExtxyzReader reader(stream, mirror.string());
  std::uintmax_t end = offset;
  std::size_t used = 0;
  try {
    Structure frame;
    while (reader.next(frame)) {
      TrainingRecord record = record_from_mirror(frame, mirror.string());
      const std::string text = mirror_text(record);
      if (tail.compare(used, text.size(), text) != 0) break;  // not as it was written
      used += text.size();
      end += text.size();
      records.push_back(std::move(record));
    }
  } catch (const Error&) {
    // A frame cut short by a crash: everything before it stands.
  }
  return end;
}

void write_record(const hdf5::Group& root, const TrainingRecord& record) {
  const Structure& s = record.frame;
  const int n = s.size();
  std::vector<double> positions, forces, cell, stress;
  for (int i = 0; i < n; ++i)
    for (int d = 0; d < 3; ++d) {
      positions.push_back(s.positions(i, d));
      forces.push_back(s.forces ? (*s.forces)(i, d) : missing);
    }
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b) cell.push_back(s.cell(a, b));
  for (int k = 0; k < 6; ++k) stress.push_back(s.stress ? (*s.stress)[k] : missing);
  root.append("natoms", std::vector<int>{n});
  root.append("numbers", s.numbers);
  root.append("positions", positions, {3});
  root.append("forces", forces, {3});
  root.append("cells", cell, {3, 3});
  root.append("pbc", std::vector<int>{s.pbc[0], s.pbc[1], s.pbc[2]}, {3});
  root.append("energy", std::vector<double>{s.energy ? *s.energy : missing});
  root.append("stress", stress, {6});
  root.append("labels_used",
              std::vector<int>{record.labels.energy, record.labels.forces, record.labels.stress},
              {3});
  root.append("stage", std::vector<int>{record.stage});
  root.append("step", std::vector<int>{static_cast<int>(record.step)});
  root.append("max_std", std::vector<double>{record.max_std});
}

hdf5::File create_hdf5(const std::filesystem::path& path) {
  hdf5::File file = hdf5::File::create(path);
  file.set_attribute("format_version", training_database_format_version);
  file.set_attribute("kind", "otfgp training database");
  file.set_attribute("created", utc_now());
  file.set_attribute("frames", 0);
  file.set_attribute("mirror_bytes", 0.0);
  return file;
}

}  // namespace

std::vector<TrainingRecord> read_training_database(const std::filesystem::path& path) {
  const hdf5::File file = hdf5::File::open(path);
  if (!file.has_attribute("format_version") || !file.has_attribute("frames"))
    throw Error(path.string() + ": not an otfgp training database (no format_version)");
  const int version = file.int_attribute("format_version");
  if (version != training_database_format_version)
    throw Error(path.string() + ": training database format_version " + std::to_string(version) +
                ", this build reads " + std::to_string(training_database_format_version));
  const std::size_t frames = static_cast<std::size_t>(file.int_attribute("frames"));
  std::vector<TrainingRecord> records;
  if (frames == 0) return records;
  const FrameArrays arrays = FrameArrays::read(file);
  const auto& [natoms, numbers, pbc, labels, positions, cells, energy, forces, stress] = arrays;
  const std::vector<int> stage = file.read_ints("stage");
  const std::vector<int> step = file.read_ints("step");
  const std::vector<double> max_std = file.read_doubles("max_std");
  std::size_t atoms = 0;
  for (std::size_t f = 0; f < std::min(frames, natoms.size()); ++f) atoms += natoms[f];
  // Rows past `frames` are an append a crash interrupted; too few is damage.
  if (natoms.size() < frames || numbers.size() < atoms || positions.size() < 3 * atoms ||
      forces.size() < 3 * atoms || cells.size() < 9 * frames || pbc.size() < 3 * frames ||
      energy.size() < frames || stress.size() < 6 * frames || labels.size() < 3 * frames ||
      stage.size() < frames || step.size() < frames || max_std.size() < frames)
    throw Error(path.string() + ": datasets shorter than the " + std::to_string(frames) +
                " frames the file says it holds");
  std::size_t atom = 0;
  for (std::size_t f = 0; f < frames; ++f) {
    TrainingRecord record;
    record.frame = arrays.frame(f, atom);
    record.labels = arrays.labels_used(f);
    const int n = natoms[f];
    record.stage = stage[f];
    record.step = step[f];
    record.max_std = max_std[f];
    records.push_back(std::move(record));
    atom += n;
  }
  return records;
}

TrainingDatabase::TrainingDatabase(std::filesystem::path path, std::filesystem::path mirror)
    : path_(std::move(path)), mirror_(std::move(mirror)) {}

TrainingDatabase TrainingDatabase::create(const std::filesystem::path& path,
                                          const std::filesystem::path& mirror) {
  TrainingDatabase database(path, mirror);
  // The HDF5 file first: it is what marks an output folder as an otf run's.
  create_hdf5(path).close();
  std::error_code ignored;
  std::filesystem::remove(mirror, ignored);
  append_bytes(mirror, "");
  return database;
}

TrainingDatabase TrainingDatabase::open(const std::filesystem::path& path,
                                        const std::filesystem::path& mirror) {
  TrainingDatabase database(path, mirror);
  bool readable = false;
  try {
    database.records_ = read_training_database(path);
    const hdf5::File file = hdf5::File::open(path);
    database.mirror_bytes_ = static_cast<std::uintmax_t>(file.double_attribute("mirror_bytes"));
    readable = true;
  } catch (const Error& error) {
    if (!std::filesystem::exists(mirror)) throw;
    logger().warn("{}; rebuilding it from {}", error.what(), mirror.string());
  }
  if (!readable) {
    database.records_.clear();
    database.mirror_bytes_ = complete_mirror_frames(mirror, 0, database.records_);
    std::filesystem::resize_file(mirror, database.mirror_bytes_);
    database.rebuild_hdf5();
    return database;
  }
  const std::uintmax_t on_disk =
      std::filesystem::exists(mirror) ? std::filesystem::file_size(mirror) : 0;
  if (on_disk < database.mirror_bytes_)
    throw Error(mirror.string() + ": shorter than the training database says (" +
                std::to_string(on_disk) + " < " + std::to_string(database.mirror_bytes_) +
                " bytes)");
  // A frame that reached the mirror but not the HDF5 file is kept; a partial one is cut off.
  std::vector<TrainingRecord> extra;
  const std::uintmax_t end = complete_mirror_frames(mirror, database.mirror_bytes_, extra);
  if (end != on_disk) std::filesystem::resize_file(mirror, end);
  if (!extra.empty() || end != on_disk)
    logger().info("{}: repaired after an interrupted append ({} frame(s) recovered)", path.string(),
                  extra.size());
  if (!extra.empty()) {
    database.records_.insert(database.records_.end(), extra.begin(), extra.end());
    database.mirror_bytes_ = end;
    database.rebuild_hdf5();
  } else {
    // Rows beyond `frames` (an interrupted HDF5 append) must not linger under the next append.
    bool longer = false;
    {
      const hdf5::File file = hdf5::File::open(path);
      longer = file.contains("natoms") &&
               static_cast<int>(file.read_ints("natoms").size()) != database.size();
    }
    if (longer) database.rebuild_hdf5();
  }
  return database;
}

void TrainingDatabase::rebuild_hdf5() {
  // Only after a crash: the whole file once, written beside and renamed.
  const std::filesystem::path temporary = path_.string() + ".rebuild";
  {
    hdf5::File file = create_hdf5(temporary);
    for (const auto& record : records_) write_record(file, record);
    file.set_attribute("frames", size());
    file.set_attribute("mirror_bytes", static_cast<double>(mirror_bytes_));
    file.close();
  }
  std::filesystem::rename(temporary, path_);
}

void TrainingDatabase::append(const TrainingRecord& record) {
  TrainingRecord stored = record;
  stored.frame = mirror_frame(record);
  stored.frame.info.clear();
  const std::string text = mirror_text(record);
  append_bytes(mirror_, text);
  hdf5::File file = hdf5::File::open_for_writing(path_);
  write_record(file, stored);
  file.set_attribute("frames", size() + 1);
  file.set_attribute("mirror_bytes", static_cast<double>(mirror_bytes_ + text.size()));
  file.close();
  mirror_bytes_ += text.size();
  records_.push_back(std::move(stored));
}

}  // namespace otfgp::otf
