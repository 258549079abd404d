#pragma once
// Writes a file so that readers never see it half-written: the text goes to a
// temporary file beside the target, renamed over it by commit(). Without
// commit() (an error on the way) the temporary is removed and the target is
// left as it was.

#include <filesystem>
#include <fstream>
#include <string>

namespace otfgp {

// Throws otfgp::Error now, before long work, when `target` could not be written later.
void check_writable(const std::filesystem::path& target);

// Makes the output folder `folder` (and its parents) unless it is one;
// otfgp::Error naming `role` ("output folder") and the cause otherwise: a
// file of that name, a symbolic link to a folder that does not exist, no
// permission.
void make_output_folder(const std::filesystem::path& folder, const std::string& role);

// Where writing `target` lands: a symbolic link (or a chain of them) is
// followed to the file it names, existing or not, as a shell's `>` does.
std::filesystem::path through_links(const std::filesystem::path& target);

// Why a write failed, for a message: strerror of `error_number` ("No space left
// on device", "File too large"), or "disk full?" when the C library left none.
std::string write_failure(int error_number);

// The hidden temporary beside `target` that this process writes before the
// rename: "DIR/.NAME.tmpPID".
std::filesystem::path temporary_path(const std::filesystem::path& target);
// Whether the file name `name` is such a temporary (".NAME.tmpPID"): of the
// file named `target_name`, or, with an empty one, of any file.
bool is_temporary_name(const std::string& name, const std::string& target_name = "");
// Removes the temporaries of `target` left by processes that no longer run
// (killed mid-write): every writer calls it, so leftovers never accumulate.
void remove_stale_temporaries(const std::filesystem::path& target);

// The one write-to-a-temporary-then-rename: a hidden temporary path beside
// `target` (same file system, so the rename is atomic; beside the file a
// symbolic link names, which is replaced and the link kept) for any writer (a
// stream, HDF5), and commit() renames it over the target. Without commit()
// (an error on the way) the temporary is removed and the target is left as
// it was.
class ReplacingFile {
 public:
  // Throws otfgp::Error (see check_writable) when the target cannot be written.
  explicit ReplacingFile(std::filesystem::path target);
  ~ReplacingFile();
  ReplacingFile(const ReplacingFile&) = delete;
  ReplacingFile& operator=(const ReplacingFile&) = delete;

  const std::filesystem::path& target() const { return target_; }
  // The file the rename replaces: the target, or what its symbolic link names.
  const std::filesystem::path& destination() const { return destination_; }
  const std::filesystem::path& temporary() const { return temporary_; }
  // Renames the temporary over the target; throws otfgp::Error naming the target.
  void commit();

 private:
  std::filesystem::path target_, destination_;
  std::filesystem::path temporary_;
  bool committed_ = false;
};

// Text through a ReplacingFile.
class OutputFile {
 public:
  // Throws otfgp::Error when the directory is not writable.
  explicit OutputFile(std::filesystem::path target, std::ios::openmode mode = std::ios::out);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  std::ostream& stream() { return stream_; }
  // Flushes and closes the temporary, throwing otfgp::Error on a write error:
  // a verb with several outputs finishes them all before it commits any, so
  // that a full disk leaves all of them as they were.
  void finish();
  // finish() (unless done), then renames into place.
  void commit();

 private:
  ReplacingFile file_;
  std::ofstream stream_;
  bool finished_ = false;
};

}  // namespace otfgp
