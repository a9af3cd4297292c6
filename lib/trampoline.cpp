#include "trampoline.hpp"

namespace wsgather::trampoline_detail {

Queue& this_thread_queue() {
    thread_local Queue queue;
    return queue;
}

}  // namespace wsgather::trampoline_detail
