#pragma once
// The EXIF block A1111 stores generation parameters in (internal to src/io): a TIFF
// structure with one IFD0 entry pointing at an Exif IFD holding one UserComment, as
// piexif.dump({"Exif": {UserComment: UserComment.dump(text, encoding="unicode")}}) makes.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sd::io::detail {

// "Exif\0\0" followed by the big-endian TIFF block; the comment is UTF-8 in, stored as
// "UNICODE\0" + UTF-16BE.
std::vector<uint8_t> exif_with_user_comment(const std::string& utf8);

// The UserComment of a TIFF block (with or without the "Exif\0\0" prefix) as UTF-8, or
// nullopt when there is none or the structure is not valid. Reads only inside `size`.
std::optional<std::string> user_comment_of_exif(const uint8_t* data, size_t size);

}  // namespace sd::io::detail
