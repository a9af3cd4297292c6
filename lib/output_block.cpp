#include "output_block.hpp"

namespace wsgather {

void OutputBlock::append_reference(std::string_view bytes) {
    references_.push_back({text_.size(), bytes});
    referenced_bytes_ += bytes.size();
}

void OutputBlock::clear() {
    text_.clear();
    references_.clear();
    referenced_bytes_ = 0;
}

std::span<const std::string_view> OutputBlock::pieces() {
    pieces_.clear();
    std::string_view text = text_;
    std::size_t text_start = 0;
    auto add = [this](std::string_view piece) {
        if (!piece.empty()) pieces_.push_back(piece);
    };
    for (const Reference& reference : references_) {
        add(text.substr(text_start, reference.text_end - text_start));
        add(reference.bytes);
        text_start = reference.text_end;
    }
    add(text.substr(text_start));
    return pieces_;
}

}  // namespace wsgather
