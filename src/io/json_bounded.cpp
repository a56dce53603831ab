#include "io/json_bounded.h"

#include <string>
#include <vector>

#include "core/error.h"

namespace sd::io {

namespace {

using nlohmann::json;

// Builds the document from nlohmann's SAX events, counting as it goes. Containers on the
// stack stay valid: only the innermost one grows while it is open.
class BoundedBuilder : public nlohmann::json_sax<json> {
 public:
  explicit BoundedBuilder(const JsonLimits& limits) : limits_(limits) {}

  json take() { return std::move(root_); }
  // The limit that stopped the parse (empty when the input itself was malformed).
  const std::string& refusal() const { return refusal_; }

  bool null() override { return add(json(nullptr)); }
  bool boolean(bool v) override { return add(json(v)); }
  bool number_integer(number_integer_t v) override { return add(json(v)); }
  bool number_unsigned(number_unsigned_t v) override { return add(json(v)); }
  bool number_float(number_float_t v, const string_t&) override { return add(json(v)); }
  bool string(string_t& v) override { return check_string(v) && add(json(std::move(v))); }
  bool binary(binary_t&) override { return refuse("binary values are not JSON"); }
  bool key(string_t& v) override {
    if (!count() || !check_string(v)) return false;
    key_ = std::move(v);
    return true;
  }
  bool start_object(std::size_t) override { return open(json::object()); }
  bool start_array(std::size_t) override { return open(json::array()); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) override {
    error_ = ex.what();
    error_id_ = ex.id;
    return false;
  }

  const std::string& error() const { return error_; }
  int error_id() const { return error_id_; }

 private:
  bool refuse(std::string why) {
    refusal_ = std::move(why);
    return false;
  }
  bool count() {
    if (++values_ <= limits_.max_values) return true;
    return refuse("has more than " + std::to_string(limits_.max_values) + " values");
  }
  bool check_string(const string_t& v) {
    if (v.size() <= limits_.max_string_bytes) return true;
    return refuse("has a string longer than " + std::to_string(limits_.max_string_bytes) + " bytes");
  }
  // Places `v` in the open container (or as the root); returns where it went.
  json* place(json&& v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return &root_;
    }
    json& top = *stack_.back();
    if (top.is_array()) {
      top.push_back(std::move(v));
      return &top.back();
    }
    json& slot = top[key_];
    slot = std::move(v);
    return &slot;
  }
  bool add(json&& v) {
    if (!count()) return false;
    place(std::move(v));
    return true;
  }
  bool open(json&& container) {
    if (!count()) return false;
    if (int(stack_.size()) >= limits_.max_depth)
      return refuse("nests deeper than " + std::to_string(limits_.max_depth) + " levels");
    stack_.push_back(place(std::move(container)));
    return true;
  }
  bool close() {
    stack_.pop_back();
    return true;
  }

  const JsonLimits& limits_;
  json root_;
  std::vector<json*> stack_;
  string_t key_;
  size_t values_ = 0;
  std::string refusal_;
  std::string error_;
  int error_id_ = 0;
};

// nlohmann's "[json.exception.parse_error.101] parse error at line 1, column 9: syntax
// error while parsing value - invalid literal; last read: '<token>'" without the prefix
// and the token, which may be megabytes of the input.
std::string syntax_problem(std::string what) {
  if (auto at = what.find("] "); at != std::string::npos) what = what.substr(at + 2);
  if (auto at = what.find("; last read"); at != std::string::npos) what = what.substr(0, at);
  constexpr size_t kMaxChars = 160;  // a number token in the message may be long
  if (what.size() > kMaxChars) what = what.substr(0, kMaxChars) + "...";
  return what;
}

}  // namespace

json parse_json_bounded(std::string_view text, const JsonLimits& limits) {
  // nlohmann's lexer takes a NUL byte for the end of the input and would accept
  // `{"a":1}\0<anything>`; JSON has no place for one (inside a string it is escaped).
  if (const size_t nul = text.find('\0'); nul != std::string_view::npos)
    throw Error("not valid JSON: a NUL byte at offset " + std::to_string(nul));
  BoundedBuilder builder(limits);
  const bool ok = json::sax_parse(text.begin(), text.end(), &builder, nlohmann::detail::input_format_t::json, true);
  if (ok) return builder.take();
  if (!builder.refusal().empty()) throw Error("the JSON " + builder.refusal());
  // 406: a number the lexer read but a double cannot hold ("number overflow parsing '1e400'").
  if (builder.error_id() == 406) throw Error("the JSON has a number out of range: " + syntax_problem(builder.error()));
  throw Error("not valid JSON: " + syntax_problem(builder.error()));
}

}  // namespace sd::io
