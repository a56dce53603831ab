// The environment every program on the CPU backend runs with, unless the user set the
// same variables:
// - OpenMP's passive wait policy (OMP_WAIT_POLICY=passive; a user's OMP_WAIT_POLICY or
//   GOMP_SPINCOUNT is kept). libgomp's default spins an idle thread for up to ~300k
//   pauses (milliseconds) at every barrier. On a machine shared with another busy
//   process, a spinning thread takes the core from the thread it waits for: a UNet step
//   fell to a fifth of its speed with a build beside it. Passive costs a few percent on
//   an idle machine (README, "Sharing the machine", has the figures).
// - malloc on transparent huge pages (GLIBC_TUNABLES=glibc.malloc.hugetlb=1; a user's
//   GLIBC_TUNABLES is kept). The tensor pool maps its large blocks on huge pages itself;
//   the ~850 weights under 1 MB come from malloc, and on the virtual machines this runs
//   on, every 4 KB page touched for the first time costs about 12 us: loading SD1.5 in
//   bf16 takes a fifth less time with huge pages (README has the figures).
//
// libgomp and malloc read these once, before main; and libc's own constructor resets the
// environment to the one the kernel passed, so a variable set earlier in the process is
// lost. The program therefore re-executes itself once, from its .preinit_array (before
// any library's constructor has run), with the variables added. The pid, arguments and
// open files stay the same.
#include <alloca.h>
#include <unistd.h>

#include <cstring>

namespace {

bool names_variable(const char* entry, const char* name) {
  const size_t n = std::strlen(name);
  return std::strncmp(entry, name, n) == 0 && entry[n] == '=';
}

}  // namespace

extern "C" void sd_startup_environment(int, char** argv, char** envp) {
  size_t count = 0;
  bool wait_policy = false, tunables = false;
  for (; envp[count] != nullptr; ++count) {
    wait_policy = wait_policy || names_variable(envp[count], "OMP_WAIT_POLICY") ||
                  names_variable(envp[count], "GOMP_SPINCOUNT");
    tunables = tunables || names_variable(envp[count], "GLIBC_TUNABLES");
  }
  if (wait_policy && tunables) return;
  static char passive[] = "OMP_WAIT_POLICY=passive";
  static char huge_pages[] = "GLIBC_TUNABLES=glibc.malloc.hugetlb=1";
  // No allocation this early: libc is not initialised yet.
  char** env = static_cast<char**>(alloca((count + 3) * sizeof(char*)));
  std::memcpy(env, envp, count * sizeof(char*));
  if (!wait_policy) env[count++] = passive;
  if (!tunables) env[count++] = huge_pages;
  env[count] = nullptr;
  execve("/proc/self/exe", argv, env);
  // Only reached when the exec failed (no /proc): libgomp's and malloc's defaults then.
}

__attribute__((section(".preinit_array"), used)) static void (*const sd_startup_environment_entry)(int, char**,
                                                                                                    char**) =
    sd_startup_environment;
