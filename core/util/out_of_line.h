// A value kept out of line, allocated only once something is written to it:
// for parts of a record that most instances leave at their defaults. Over
// 10,000 stage models, the keys few stages use (templates, conditions,
// gate requirements) were ~250 bytes each, inline and empty (issue 17).
//
// Value semantics: copies are deep, and an unallocated value compares equal
// to a default-constructed T. get() never allocates; mut() allocates on
// first use. Not thread-safe for writes (like the T it holds).
#pragma once

#include <memory>

namespace wrt {

template <typename T>
class OutOfLine {
 public:
  OutOfLine() = default;
  OutOfLine(const OutOfLine& o) : p_(o.p_ ? std::make_unique<T>(*o.p_) : nullptr) {}
  OutOfLine& operator=(const OutOfLine& o) {
    if (this != &o) p_ = o.p_ ? std::make_unique<T>(*o.p_) : nullptr;
    return *this;
  }
  OutOfLine(OutOfLine&&) noexcept = default;
  OutOfLine& operator=(OutOfLine&&) noexcept = default;
  ~OutOfLine() = default;

  // The value, or a shared default when nothing was written.
  const T& get() const {
    static const T kDefault{};
    return p_ ? *p_ : kDefault;
  }
  // Reading through it as through a T: rec.results->findings, or passing
  // it where a const T& is wanted.
  const T* operator->() const { return &get(); }
  operator const T&() const { return get(); }  // NOLINT(google-explicit-constructor): reads as the T
  // Stores a whole value; one equal to the default keeps nothing allocated.
  OutOfLine& operator=(T v) {
    if (v == T{})
      p_.reset();
    else if (p_)
      *p_ = std::move(v);
    else
      p_ = std::make_unique<T>(std::move(v));
    return *this;
  }
  // The value, for writing.
  T& mut() {
    if (!p_) p_ = std::make_unique<T>();
    return *p_;
  }
  // Drops the allocation when the value is back to its default.
  void shrink() {
    if (p_ && *p_ == T{}) p_.reset();
  }
  bool operator==(const OutOfLine& o) const { return get() == o.get(); }

 private:
  std::unique_ptr<T> p_;
};

}  // namespace wrt
