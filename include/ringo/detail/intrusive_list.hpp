// ringo/detail/intrusive_list.hpp - the one list of the runtime: run queues,
// the task registry, channel and sync wait queues, the semaphore's waiters
// and a context's children are all doubly-linked intrusive lists of nodes
// that live in the tasks' frames or records, so queueing never allocates and
// unlinking any node is O(1).
//
// Not thread-safe: the owner's lock or thread guards a list and the hooks of
// the nodes in it.
#pragma once

namespace ringo::detail {

// The links a node keeps for one list it may be on.
template <class T>
struct list_hook {
    T* prev = nullptr;
    T* next = nullptr;
};

template <class T, list_hook<T> T::*Hook>
class intrusive_list {
public:
    bool empty() const noexcept { return head_ == nullptr; }
    T* front() const noexcept { return head_; }
    // The node after n (null at the end): for walking a list, or a chain
    // that take_all() returned.
    static T* next(const T* n) noexcept { return (n->*Hook).next; }

    void push_back(T* n) noexcept {
        (n->*Hook).prev = tail_;
        (n->*Hook).next = nullptr;
        (tail_ != nullptr ? (tail_->*Hook).next : head_) = n;
        tail_ = n;
    }
    void push_front(T* n) noexcept { insert_before(head_, n); }
    // Links n in front of pos (at the back if pos is null).
    void insert_before(T* pos, T* n) noexcept {
        if (pos == nullptr) {
            push_back(n);
            return;
        }
        T* before = (pos->*Hook).prev;
        (n->*Hook).prev = before;
        (n->*Hook).next = pos;
        (before != nullptr ? (before->*Hook).next : head_) = n;
        (pos->*Hook).prev = n;
    }
    T* pop_front() noexcept {
        T* n = head_;
        if (n != nullptr)
            remove(n);
        return n;
    }
    // Unlinks n, which must be on this list.
    void remove(T* n) noexcept {
        list_hook<T>& h = n->*Hook;
        (h.prev != nullptr ? (h.prev->*Hook).next : head_) = h.next;
        (h.next != nullptr ? (h.next->*Hook).prev : tail_) = h.prev;
        h.prev = h.next = nullptr;
    }
    // Empties the list and returns its nodes as a chain, front first, to
    // walk with next() (their prev links are stale).
    T* take_all() noexcept {
        T* chain = head_;
        head_ = tail_ = nullptr;
        return chain;
    }
    // Forgets every node (runtime teardown; their links are stale).
    void clear() noexcept { head_ = tail_ = nullptr; }

private:
    T* head_ = nullptr;
    T* tail_ = nullptr;
};

}  // namespace ringo::detail
