// The writer's output block: lines formatted and not yet written. Most of a
// line is copied into the block's text; a large payload that goes out
// unchanged is only referenced where it lies, in the channel's batch, and
// handed to writev from there. That saves the one copy of it the writer
// would otherwise make (W3, 16 KiB messages, docs/performance.md).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace wsgather {

class OutputBlock {
public:
    // Below this size a payload is copied: a copy of it costs less than the
    // extra iovec entries, and small lines would fill writev's 1,024 entries.
    static constexpr std::size_t reference_min_bytes = 2048;

    // Where formatted bytes are appended.
    std::string& text() { return text_; }
    // Adds `bytes` after the text so far, without copying them: they must
    // stay valid and unchanged until clear().
    void append_reference(std::string_view bytes);

    std::size_t size() const { return text_.size() + referenced_bytes_; }
    bool empty() const { return size() == 0; }
    void clear();

    // The block in order, as pieces of text and referenced bytes, for writev;
    // valid until the block changes.
    std::span<const std::string_view> pieces();

private:
    struct Reference {
        std::size_t text_end;  // the text before it ends here
        std::string_view bytes;
    };

    std::string text_;
    std::vector<Reference> references_;
    std::size_t referenced_bytes_ = 0;
    std::vector<std::string_view> pieces_;
};

}  // namespace wsgather
