#pragma once
// The settings of an `oracle:` section that decide its labels, for a resumed
// run (otf, label) to refuse mixing labels of other settings into one model or
// file: "oracle.KEY: VALUE" lines sorted by key, nested maps as KEY.SUB,
// numbers normalised (16 and 16.0 are one value). Left out is what only runs
// the program or steers its SCF to the same answer, so that a run stopped by a
// broken set-up can be fixed and resumed: `command` (except for the `command`
// kind, where it is the calculation), `timeout`, `environment`, `pseudo_dir`,
// `data_dir`, SCF mixing, iteration limits and convergence thresholds, and
// QE's `input.electrons` namelist.

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "otfgp/core/config.hpp"
#include "otfgp/md/run.hpp"
#include "otfgp/oracle/oracle.hpp"

namespace otfgp::oracle {

// `made`: the oracle made from `section`; the keys of its label_files() get the
// FNV-1a fingerprint of the file's content instead of the path text (a moved
// file resumes; another file under the same name, or in another pseudo_dir,
// does not).
std::string label_settings(const ConfigSection& section, const Oracle& made);

// label_settings as builds before 2026-12-03 wrote them: the `command` kind's
// command line as the config writes it, not as the words it runs.
std::string label_settings_as_written(const ConfigSection& section, const Oracle& made);

// "KIND-fnv1a64-HEX" of label_settings: what a labelled frame records (one word,
// an extended-XYZ info value that needs no quotes).
std::string label_fingerprint(const ConfigSection& section, const Oracle& made);
// The same of settings text (label_settings's, or settings_as_recorded's).
std::string label_fingerprint(const std::string& kind, const std::string& settings);

// `now` as `recorded` would hold it, to compare the two: settings recorded
// before those files were (2026-12-02) hold no "oracle.files." lines, so
// `now` loses its own (the caller warns that the files' contents are not
// compared); a `command` kind's command line recorded as written (before
// 2026-12-03) replaces `now`'s when it runs the same words.
std::string settings_as_recorded(const std::string& recorded, const std::string& now);
// Whether settings_as_recorded left `now`'s file lines out (the caller warns).
bool file_contents_uncompared(const std::string& recorded, const std::string& now);

// `text` (label_settings's, or a checkpoint's settings holding them) with its
// oracle lines' aliases made canonical and the defaults of the keys it leaves
// out added (Oracle::label_defaults), its oracle lines sorted: two texts that
// give `made` the same settings give the same text. For comparing only: what
// is recorded stays as label_settings wrote it.
std::string with_label_defaults(const std::string& text, const Oracle& made);

// md::first_setting_change of settings texts holding label_settings (a label
// run's, a checkpoint's), naming a changed config key before the parameter-file
// contents it brings along (a new potential spec names other files).
std::optional<md::SettingChange> first_label_change(const std::string& before,
                                                    const std::string& now);
// The same of the two texts with_label_defaults, a key either text writes
// named first (smearing: none, not the degauss default it drops).
std::optional<md::SettingChange> first_label_change(const std::string& before,
                                                    const std::string& now, const Oracle& made);

}  // namespace otfgp::oracle
