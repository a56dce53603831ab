// The OpenMP wait policy of every program on the CPU backend: passive (a thread with no
// work sleeps) unless the user chose one with OMP_WAIT_POLICY or GOMP_SPINCOUNT.
//
// Why: libgomp's default spins an idle thread for up to ~300k pauses (milliseconds) at
// every barrier. On a machine shared with another busy process, a spinning thread takes
// the core from the thread it waits for: a UNet step fell to a fifth of its speed with a
// build beside it. Passive costs a few percent on an idle machine (README, "Sharing the
// machine", has the figures).
//
// libgomp reads the policy once, in its constructor, before main; and libc's own
// constructor resets the environment to the one the kernel passed, so a variable set
// earlier in the process is lost. The program therefore re-executes itself once, from
// its .preinit_array (before any library's constructor has run), with the variable
// added. The pid, arguments and open files stay the same.
#include <alloca.h>
#include <unistd.h>

#include <cstring>

namespace {

bool names_variable(const char* entry, const char* name) {
  const size_t n = std::strlen(name);
  return std::strncmp(entry, name, n) == 0 && entry[n] == '=';
}

}  // namespace

extern "C" void sd_openmp_wait_policy(int, char** argv, char** envp) {
  size_t count = 0;
  for (; envp[count] != nullptr; ++count)
    if (names_variable(envp[count], "OMP_WAIT_POLICY") || names_variable(envp[count], "GOMP_SPINCOUNT")) return;
  static char passive[] = "OMP_WAIT_POLICY=passive";
  // No allocation this early: libc is not initialised yet.
  char** env = static_cast<char**>(alloca((count + 2) * sizeof(char*)));
  std::memcpy(env, envp, count * sizeof(char*));
  env[count] = passive;
  env[count + 1] = nullptr;
  execve("/proc/self/exe", argv, env);
  // Only reached when the exec failed (no /proc): libgomp's default policy then.
}

__attribute__((section(".preinit_array"), used)) static void (*const sd_openmp_wait_policy_entry)(int, char**,
                                                                                                   char**) =
    sd_openmp_wait_policy;
