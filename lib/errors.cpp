// ringo::errc's error category.
#include <ringo/errors.hpp>

namespace ringo {
namespace {

struct category final : std::error_category {
    const char* name() const noexcept override { return "ringo"; }
    std::string message(int c) const override {
        switch (static_cast<errc>(c)) {
        case errc::canceled: return "context canceled";
        case errc::deadline_exceeded: return "context deadline exceeded";
        case errc::eof: return "EOF";
        case errc::closed: return "use of closed network connection";
        case errc::bad_address: return "bad network address (want host:port, [ipv6]:port or :port)";
        case errc::bad_port: return "invalid port (want a number from 0 to 65535)";
        case errc::no_such_host: return "no such host";
        }
        return "unknown ringo error " + std::to_string(c);
    }
};

}  // namespace

const std::error_category& ringo_category() noexcept {
    static const category c;
    return c;
}

}  // namespace ringo
