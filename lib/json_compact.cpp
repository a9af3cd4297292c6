#include "json_compact.hpp"

#include "utf8.hpp"

namespace wsgather {
namespace {

// A recursive-descent reader over the grammar of RFC 8259 that writes each
// token to `out` as it validates it. Whitespace between tokens is the only
// thing it drops.
class Compactor {
public:
    Compactor(std::string_view text, std::string& out) : text_(text), out_(out) {}

    bool run() {
        skip_space();
        if (!value(0)) return false;
        skip_space();
        return pos_ == text_.size();
    }

private:
    bool at_end() const { return pos_ >= text_.size(); }
    char peek() const { return text_[pos_]; }

    void skip_space() {
        while (!at_end()) {
            char c = peek();
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
            ++pos_;
        }
    }

    // Copies the run of bytes from `start` to the current position.
    void emit_from(std::size_t start) { out_.append(text_.data() + start, pos_ - start); }

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
        out_.push_back('{');
        skip_space();
        if (!at_end() && peek() == '}') {
            ++pos_;
            out_.push_back('}');
            return true;
        }
        for (;;) {
            skip_space();
            if (at_end() || peek() != '"' || !string()) return false;
            skip_space();
            if (at_end() || peek() != ':') return false;
            ++pos_;
            out_.push_back(':');
            skip_space();
            if (!value(depth)) return false;
            skip_space();
            if (at_end()) return false;
            char c = text_[pos_++];
            out_.push_back(c);
            if (c == '}') return true;
            if (c != ',') return false;
        }
    }

    bool array(int depth) {
        if (depth > max_json_depth) return false;
        ++pos_;
        out_.push_back('[');
        skip_space();
        if (!at_end() && peek() == ']') {
            ++pos_;
            out_.push_back(']');
            return true;
        }
        for (;;) {
            skip_space();
            if (!value(depth)) return false;
            skip_space();
            if (at_end()) return false;
            char c = text_[pos_++];
            out_.push_back(c);
            if (c == ']') return true;
            if (c != ',') return false;
        }
    }

    bool literal(std::string_view word) {
        if (text_.substr(pos_, word.size()) != word) return false;
        pos_ += word.size();
        out_.append(word);
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
        if (peek() == '0') ++pos_;
        else if (!digits()) return false;
        if (!at_end() && peek() == '.') {
            ++pos_;
            if (!digits()) return false;
        }
        if (!at_end() && (peek() == 'e' || peek() == 'E')) {
            ++pos_;
            if (!at_end() && (peek() == '+' || peek() == '-')) ++pos_;
            if (!digits()) return false;
        }
        emit_from(start);
        return true;
    }

    static bool hex(char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    }

    bool string() {
        std::size_t start = pos_++;
        while (!at_end()) {
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
                case 'u':
                    if (pos_ + 4 >= text_.size()) return false;
                    for (std::size_t i = 1; i <= 4; ++i)
                        if (!hex(text_[pos_ + i])) return false;
                    pos_ += 5;
                    break;
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
    std::string& out_;
    std::size_t pos_ = 0;
};

}  // namespace

bool append_compact_json(std::string_view text, std::string& out) {
    std::size_t mark = out.size();
    if (Compactor(text, out).run()) return true;
    out.resize(mark);
    return false;
}

}  // namespace wsgather
