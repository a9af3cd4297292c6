// OutputBlock: copied text and referenced bytes come out in the order added.
#include "output_block.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

using namespace wsgather;

namespace {

std::vector<std::string> pieces_of(OutputBlock& block) {
    std::vector<std::string> out;
    for (std::string_view piece : block.pieces()) out.emplace_back(piece);
    return out;
}

}  // namespace

TEST_CASE("output block keeps text and references in order, without copying the references") {
    const std::string first = "FIRST", second = "SECOND";
    OutputBlock block;
    block.text() += "a:";
    block.append_reference(first);
    block.text() += ";b:";
    block.append_reference(second);
    block.text() += "\n";
    CHECK(block.size() == 2 + 5 + 3 + 6 + 1);
    CHECK(pieces_of(block) == std::vector<std::string>{"a:", "FIRST", ";b:", "SECOND", "\n"});
    std::span<const std::string_view> pieces = block.pieces();
    CHECK(pieces[1].data() == first.data());
    CHECK(pieces[3].data() == second.data());
}

TEST_CASE("output block leaves out empty pieces") {
    const std::string a = "A", b = "B";
    OutputBlock block;
    CHECK(block.empty());
    CHECK(block.pieces().empty());
    block.append_reference(a);
    block.append_reference(b);
    block.append_reference("");
    CHECK(pieces_of(block) == std::vector<std::string>{"A", "B"});
    block.text() += "x";
    CHECK(pieces_of(block) == std::vector<std::string>{"A", "B", "x"});
}

TEST_CASE("output block is empty after clear and can be filled again") {
    const std::string payload = "payload";
    OutputBlock block;
    block.text() += "head ";
    block.append_reference(payload);
    block.clear();
    CHECK(block.empty());
    CHECK(block.size() == 0);
    CHECK(block.pieces().empty());
    block.text() += "again";
    CHECK(pieces_of(block) == std::vector<std::string>{"again"});
}
