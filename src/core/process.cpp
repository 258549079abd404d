#include "otfgp/core/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "otfgp/core/error.hpp"
#include "otfgp/core/interrupt.hpp"

extern char** environ;

namespace otfgp {

namespace {

using Clock = std::chrono::steady_clock;

// After SIGTERM the group gets this long to exit before SIGKILL: enough for
// MPI launchers to pass the signal on, short enough that a hung code does not
// hold up the run.
constexpr std::chrono::milliseconds termination_grace{2000};
constexpr int poll_interval_ms = 50;

// A file descriptor closed on scope exit.
class Descriptor {
 public:
  Descriptor() = default;
  explicit Descriptor(int fd) : fd_(fd) {}
  ~Descriptor() { reset(); }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

bool is_executable_file(const std::filesystem::path& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode) &&
         ::access(path.c_str(), X_OK) == 0;
}

std::string describe(const std::vector<std::string>& arguments) {
  std::string text;
  for (const auto& word : arguments) text += (text.empty() ? "" : " ") + word;
  return text;
}

// The inherited environment with `overrides` added or replacing entries.
std::vector<std::string> build_environment(const std::map<std::string, std::string>& overrides) {
  std::vector<std::string> entries;
  for (char** entry = environ; entry && *entry; ++entry) {
    const std::string text(*entry);
    const std::string key = text.substr(0, text.find('='));
    if (overrides.count(key) == 0) entries.push_back(text);
  }
  for (const auto& [key, value] : overrides) entries.push_back(key + "=" + value);
  return entries;
}

std::vector<char*> pointers(std::vector<std::string>& words) {
  std::vector<char*> result;
  for (auto& word : words) result.push_back(word.data());
  result.push_back(nullptr);
  return result;
}

// Keeps the last `limit` bytes written to it.
class Tail {
 public:
  explicit Tail(std::size_t limit) : limit_(limit) {}
  void append(const char* data, std::size_t size) {
    text_.append(data, size);
    if (text_.size() > 2 * limit_ + 4096) text_.erase(0, text_.size() - limit_);
  }
  std::string text() const {
    return text_.size() > limit_ ? text_.substr(text_.size() - limit_) : text_;
  }

 private:
  std::size_t limit_;
  std::string text_;
};

// Reads what is available on a non-blocking pipe; false once it is closed.
bool drain(int fd, Tail& tail) {
  char buffer[4096];
  while (true) {
    const ssize_t count = ::read(fd, buffer, sizeof buffer);
    if (count > 0) {
      tail.append(buffer, static_cast<std::size_t>(count));
      continue;
    }
    if (count == 0) return false;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK;
  }
}

int status_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Only async-signal-safe calls between fork and exec: the parent may run
// other threads (Kokkos, OpenMP). `parent`: otfgp's pid.
[[noreturn]] void exec_child(pid_t parent, const char* program, char* const* argv,
                             char* const* envp, const char* working_directory, int stdin_fd,
                             int stdout_fd, int stderr_fd, int error_fd) {
  ::setpgid(0, 0);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int signal : {SIGINT, SIGTERM, SIGPIPE, SIGQUIT, SIGXFSZ}) ::signal(signal, SIG_DFL);
  // When otfgp dies without stopping the program (kill -9, the OOM killer),
  // the program gets SIGTERM rather than run on as an orphan that holds the
  // cores (pw.x, cp2k and mpirun stop on it; mpirun takes its ranks along).
  // After SIGTERM's default action is back: a signal that came earlier would
  // only set otfgp's interrupt flag here. A parent already gone before this
  // line: no signal would come.
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != parent) ::_exit(127);
  if (::dup2(stdin_fd, STDIN_FILENO) < 0 || ::dup2(stdout_fd, STDOUT_FILENO) < 0 ||
      ::dup2(stderr_fd, STDERR_FILENO) < 0 ||
      (working_directory[0] != '\0' && ::chdir(working_directory) != 0)) {
    const int error = errno;
    [[maybe_unused]] const ssize_t ignored = ::write(error_fd, &error, sizeof error);
    ::_exit(127);
  }
  ::execve(program, argv, envp);
  const int error = errno;
  [[maybe_unused]] const ssize_t ignored = ::write(error_fd, &error, sizeof error);
  ::_exit(127);
}

void make_pipe(int fds[2], const std::string& what) {
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw Error("cannot create a pipe to run " + what + ": " + std::strerror(errno));
}

}  // namespace

std::optional<std::filesystem::path> find_executable(
    const std::string& program, const std::optional<std::string>& search_path) {
  if (program.empty()) return std::nullopt;
  if (program.find('/') != std::string::npos) {
    if (is_executable_file(program)) return std::filesystem::path(program);
    return std::nullopt;
  }
  const char* path = std::getenv("PATH");
  const std::string directories = search_path ? *search_path
                                  : path      ? path
                                              : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= directories.size()) {
    const std::size_t end = std::min(directories.find(':', start), directories.size());
    const std::string directory = directories.substr(start, end - start);
    const std::filesystem::path candidate =
        std::filesystem::path(directory.empty() ? "." : directory) / program;
    // Absolute: the child changes to its working directory before exec.
    if (is_executable_file(candidate)) return std::filesystem::absolute(candidate);
    start = end + 1;
  }
  return std::nullopt;
}

std::vector<std::string> split_command(const std::string& command) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = '\0';
  for (char c : command) {
    if (quote != '\0') {
      if (c == quote)
        quote = '\0';
      else
        word += c;
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      if (in_word) words.push_back(word);
      word.clear();
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (quote != '\0') throw Error("unterminated quote in command '" + command + "'");
  if (in_word) words.push_back(word);
  return words;
}

std::string join_command(const std::vector<std::string>& words) {
  std::string text;
  for (const std::string& word : words) {
    if (!text.empty()) text += ' ';
    const bool plain = !word.empty() && std::none_of(word.begin(), word.end(), [](char c) {
      return c == '\'' || c == '"' || std::isspace(static_cast<unsigned char>(c));
    });
    if (plain) {
      text += word;
      continue;
    }
    text += '\'';
    for (char c : word) text += c == '\'' ? std::string("'\"'\"'") : std::string(1, c);
    text += '\'';
  }
  return text;
}

namespace {

// The program to run, after checking that it and the working directory exist.
std::filesystem::path runnable_program(const std::vector<std::string>& arguments,
                                       const ProcessOptions& options, const std::string& what) {
  if (arguments.empty()) throw Error("run_process: empty command");
  // The child gets the PATH of `environment`; the program is looked up there
  // too, or a PATH meant to pick a build would run another one of that name.
  const auto path = options.environment.find("PATH");
  const bool own_path = path != options.environment.end();
  const auto program =
      find_executable(arguments[0], own_path ? std::optional(path->second) : std::nullopt);
  if (!program)
    throw Error("cannot run '" + what + "': program '" + arguments[0] +
                (arguments[0].find('/') != std::string::npos ? "' not found or not executable"
                 : own_path ? "' not found on the PATH it is given (" + path->second + ")"
                            : "' not found on PATH"));
  if (!options.working_directory.empty() &&
      !std::filesystem::is_directory(options.working_directory))
    throw Error("cannot run '" + what + "': working directory " +
                options.working_directory.string() + " does not exist");
  return *program;
}

// The error pipe closes on a successful exec (close-on-exec) or carries errno:
// throws, after reaping the child, when the exec failed.
void check_exec(pid_t pid, const Descriptor& error_read, const std::string& what,
                const std::string& working_directory) {
  int exec_error = 0;
  ssize_t got;
  do got = ::read(error_read.get(), &exec_error, sizeof exec_error);
  while (got < 0 && errno == EINTR);
  if (got != static_cast<ssize_t>(sizeof exec_error)) return;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  throw Error("cannot run '" + what + "'" +
              (working_directory.empty() ? "" : " in " + working_directory) + ": " +
              std::strerror(exec_error));
}

// Waits for the child, collecting the tail of its stderr; past the deadline or
// on an interrupt, SIGTERM to its group and SIGKILL after a grace period.
// Returns the signal that interrupted the run (0 if none); sets timed_out.
int supervise(pid_t pid, const Descriptor& stderr_read, std::optional<Clock::time_point> deadline,
              Tail& tail, bool& stderr_open, ProcessResult& result) {
  std::optional<Clock::time_point> terminated_at;  // when SIGTERM went to the group
  int interrupted_by = 0;
  while (true) {
    // WNOWAIT leaves the exited child a zombie, so that its pid (the group's
    // id) cannot be reused before the group is killed below.
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        info.si_pid == pid)
      return interrupted_by;

    const auto now = Clock::now();
    if (!terminated_at) {
      const bool expired = deadline && now >= *deadline;
      if (expired || interrupt_requested()) {
        if (expired)
          result.timed_out = true;
        else
          interrupted_by = interrupt_signal();
        ::kill(-pid, SIGTERM);
        terminated_at = now;
      }
    } else if (now - *terminated_at >= termination_grace) {
      ::kill(-pid, SIGKILL);
    }

    if (stderr_open) {
      pollfd entry{stderr_read.get(), POLLIN, 0};
      const int ready = ::poll(&entry, 1, poll_interval_ms);
      if (ready > 0) stderr_open = drain(stderr_read.get(), tail);
    } else {
      ::usleep(poll_interval_ms * 1000);
    }
  }
}

}  // namespace

ProcessResult run_process(const std::vector<std::string>& arguments,
                          const ProcessOptions& options) {
  const std::string what = arguments.empty() ? std::string() : describe(arguments);
  const std::filesystem::path program = runnable_program(arguments, options, what);

  // Everything the child needs is prepared before fork.
  std::vector<std::string> argument_words = arguments;
  std::vector<char*> argv = pointers(argument_words);
  std::vector<std::string> environment_words = build_environment(options.environment);
  std::vector<char*> envp = pointers(environment_words);
  const std::string program_path = program.string();
  const std::string working_directory = options.working_directory.string();

  const std::string stdin_path = options.stdin_file ? options.stdin_file->string() : "/dev/null";
  Descriptor stdin_fd(::open(stdin_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (stdin_fd.get() < 0)
    throw Error("cannot run '" + what + "': cannot open its input " + stdin_path + ": " +
                std::strerror(errno));
  const std::string stdout_path = options.stdout_file ? options.stdout_file->string() : "/dev/null";
  Descriptor stdout_fd(::open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (stdout_fd.get() < 0)
    throw Error("cannot run '" + what + "': cannot open its output " + stdout_path + ": " +
                std::strerror(errno));
  int stderr_pipe[2], error_pipe[2];
  make_pipe(stderr_pipe, what);
  Descriptor stderr_read(stderr_pipe[0]), stderr_write(stderr_pipe[1]);
  make_pipe(error_pipe, what);
  Descriptor error_read(error_pipe[0]), error_write(error_pipe[1]);

  const auto start = Clock::now();
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw Error("cannot run '" + what + "': fork failed: " + std::strerror(errno));
  if (pid == 0)
    exec_child(parent, program_path.c_str(), argv.data(), envp.data(), working_directory.c_str(),
               stdin_fd.get(), stdout_fd.get(), stderr_write.get(), error_write.get());

  // Also here, so that a kill of the group right after fork reaches the child.
  ::setpgid(pid, pid);
  stdin_fd.reset();
  stdout_fd.reset();
  stderr_write.reset();
  error_write.reset();
  check_exec(pid, error_read, what, working_directory);

  ::fcntl(stderr_read.get(), F_SETFL, O_NONBLOCK);
  Tail tail(options.stderr_tail_bytes);
  bool stderr_open = true;
  ProcessResult result;
  std::optional<Clock::time_point> deadline;
  if (options.timeout)
    deadline = start + std::chrono::duration_cast<Clock::duration>(*options.timeout);
  const int interrupted_by = supervise(pid, stderr_read, deadline, tail, stderr_open, result);
  // Nothing of the group may outlive the call: helpers left behind (MPI
  // daemons, a shell's background jobs) are killed with it.
  int status = 0;
  ::kill(-pid, SIGKILL);
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (stderr_open) drain(stderr_read.get(), tail);

  result.exit_status = status_code(status);
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  result.stderr_tail = tail.text();
  if (interrupted_by != 0)
    throw InterruptedError(interrupted_by, "interrupted while running '" + what + "'");
  return result;
}

}  // namespace otfgp
