#include "redact.hpp"

#include <doctest/doctest.h>

using namespace wsgather;

TEST_CASE("credential headers are secret in any case, others only when named") {
    std::vector<std::string> named{"X-Api-Key"};
    for (const char* name : {"Authorization", "authorization", "PROXY-AUTHORIZATION", "Cookie", "set-cookie"})
        CHECK(is_secret_header(name, {}));
    CHECK(is_secret_header("x-api-key", named));
    CHECK_FALSE(is_secret_header("X-Api-Key", {}));
    CHECK_FALSE(is_secret_header("Authorization-Hint", {}));
}

TEST_CASE("a secret header's value is shown as ***") {
    CHECK(printable_header("Cookie", "a=1", {}) == "Cookie: ***");
    CHECK(printable_header("X-Plain", "v", {}) == "X-Plain: v");
    CHECK(printable_header("x-key", "", {"X-Key"}) == "x-key: ***");
}
