#include "json_compact.hpp"

#include "utf8.hpp"

#include <cmath>
#include <cstdlib>
#include <optional>

namespace wsgather {
namespace {

// A recursive-descent reader over the grammar of RFC 8259. With Copy, it
// writes each token to `out` as it validates it, and whitespace between
// tokens is the only thing it drops; without, it only validates, and notes
// whether there was whitespace to drop.
template <bool Copy>
class Reader {
public:
    Reader(std::string_view text, std::string* out) : text_(text), out_(out) {}

    bool run() {
        skip_space();
        if (!value(0)) return false;
        skip_space();
        return pos_ == text_.size();
    }

    bool spaced() const { return spaced_; }

private:
    bool at_end() const { return pos_ >= text_.size(); }
    char peek() const { return text_[pos_]; }

    void skip_space() {
        std::size_t start = pos_;
        while (!at_end()) {
            char c = peek();
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
            ++pos_;
        }
        if (pos_ != start) spaced_ = true;
    }

    void emit(char c) {
        if constexpr (Copy) out_->push_back(c);
    }
    void emit(std::string_view bytes) {
        if constexpr (Copy) out_->append(bytes);
    }
    // Copies the run of bytes from `start` to the current position.
    void emit_from(std::size_t start) { emit(text_.substr(start, pos_ - start)); }

    bool value(int depth) {
        if (at_end()) return false;
        switch (peek()) {
        case '{': return object(depth + 1);
        case '[': return array(depth + 1);
        case '"': return string();
        case 't': return literal("true");
        case 'f': return literal("false");
        case 'n': return literal("null");
        default: return number();
        }
    }

    bool object(int depth) {
        if (depth > max_json_depth) return false;
        ++pos_;
        emit('{');
        skip_space();
        if (!at_end() && peek() == '}') {
            ++pos_;
            emit('}');
            return true;
        }
        for (;;) {
            skip_space();
            if (at_end() || peek() != '"' || !string()) return false;
            skip_space();
            if (at_end() || peek() != ':') return false;
            ++pos_;
            emit(':');
            skip_space();
            if (!value(depth)) return false;
            skip_space();
            if (at_end()) return false;
            char c = text_[pos_++];
            emit(c);
            if (c == '}') return true;
            if (c != ',') return false;
        }
    }

    bool array(int depth) {
        if (depth > max_json_depth) return false;
        ++pos_;
        emit('[');
        skip_space();
        if (!at_end() && peek() == ']') {
            ++pos_;
            emit(']');
            return true;
        }
        for (;;) {
            skip_space();
            if (!value(depth)) return false;
            skip_space();
            if (at_end()) return false;
            char c = text_[pos_++];
            emit(c);
            if (c == ']') return true;
            if (c != ',') return false;
        }
    }

    bool literal(std::string_view word) {
        if (text_.substr(pos_, word.size()) != word) return false;
        pos_ += word.size();
        emit(word);
        return true;
    }

    bool digits() {
        std::size_t start = pos_;
        while (!at_end() && peek() >= '0' && peek() <= '9') ++pos_;
        return pos_ > start;
    }

    bool number() {
        std::size_t start = pos_;
        if (!at_end() && peek() == '-') ++pos_;
        if (at_end()) return false;
        std::size_t integer_start = pos_;
        if (peek() == '0') ++pos_;
        else if (!digits()) return false;
        bool long_integer = pos_ - integer_start > 308;
        if (!at_end() && peek() == '.') {
            ++pos_;
            if (!digits()) return false;
        }
        bool exponent = !at_end() && (peek() == 'e' || peek() == 'E');
        if (exponent) {
            ++pos_;
            if (!at_end() && (peek() == '+' || peek() == '-')) ++pos_;
            if (!digits()) return false;
        }
        // 1e400 is valid JSON, but strict parsers (nlohmann, serde_json, Go)
        // refuse a number beyond a double's range, and with it the whole
        // line: such a message is written as text. Only a number with an
        // exponent or over 308 digits can be that large.
        if ((exponent || long_integer) && beyond_double(text_.substr(start, pos_ - start))) return false;
        emit_from(start);
        return true;
    }

    static bool beyond_double(std::string_view number) {
        // strtod reads the C locale's '.': wsgather never calls setlocale.
        return std::isinf(std::strtod(std::string(number).c_str(), nullptr));
    }

    // The code unit of the \uXXXX escape whose 'u' is at `at`.
    std::optional<unsigned> escaped_unit(std::size_t at) const {
        if (at + 4 >= text_.size()) return std::nullopt;
        unsigned unit = 0;
        for (std::size_t i = 1; i <= 4; ++i) {
            char c = text_[at + i];
            unsigned digit = c >= '0' && c <= '9'   ? unsigned(c - '0')
                             : c >= 'a' && c <= 'f' ? unsigned(c - 'a' + 10)
                             : c >= 'A' && c <= 'F' ? unsigned(c - 'A' + 10)
                                                    : 16u;
            if (digit == 16) return std::nullopt;
            unit = unit * 16 + digit;
        }
        return unit;
    }

    bool string() {
        std::size_t start = pos_++;
        while ((pos_ = skip_plain_json(text_, pos_)) < text_.size()) {
            auto c = static_cast<unsigned char>(peek());
            if (c == '"') {
                ++pos_;
                emit_from(start);
                return true;
            }
            if (c < 0x20) return false;
            if (c == '\\') {
                if (++pos_ >= text_.size()) return false;
                switch (peek()) {
                case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                    ++pos_;
                    break;
                case 'u': {
                    // RFC 8259 allows a lone surrogate, but strict parsers
                    // (nlohmann::json among them) reject it: such text is
                    // written as "text" so every line parses everywhere.
                    auto unit = escaped_unit(pos_);
                    if (!unit) return false;
                    pos_ += 5;
                    if (*unit >= 0xDC00 && *unit <= 0xDFFF) return false;
                    if (*unit >= 0xD800 && *unit <= 0xDBFF) {
                        if (text_.substr(pos_, 2) != "\\u") return false;
                        auto low = escaped_unit(pos_ + 1);
                        if (!low || *low < 0xDC00 || *low > 0xDFFF) return false;
                        pos_ += 6;
                    }
                    break;
                }
                default:
                    return false;
                }
                continue;
            }
            std::size_t length = utf8_sequence_length(text_, pos_);
            if (length == 0) return false;
            pos_ += length;
        }
        return false;
    }

    std::string_view text_;
    std::string* out_;
    std::size_t pos_ = 0;
    bool spaced_ = false;
};

}  // namespace

bool append_compact_json(std::string_view text, std::string& out) {
    std::size_t mark = out.size();
    if (Reader<true>(text, &out).run()) return true;
    out.resize(mark);
    return false;
}

JsonShape check_json(std::string_view text) {
    Reader<false> reader(text, nullptr);
    if (!reader.run()) return JsonShape::invalid;
    return reader.spaced() ? JsonShape::spaced : JsonShape::compact;
}

}  // namespace wsgather
