#pragma once
// The user's folders as the XDG conventions and `~` name them, for the caches this
// project shares with other tools (the Hugging Face Hub's) and its own.
#include <string>

namespace sd::io {

// $HOME, else the password database's home, else "/".
std::string home_dir();

// "~" and "~/..." with the home folder put in; any other path unchanged.
std::string expand_user(const std::string& path);

// $XDG_CACHE_HOME when set, else ~/.cache.
std::string user_cache_dir();

}  // namespace sd::io
