// SPDX-License-Identifier: LGPL-2.1-or-later
#include "download-progress.h"

#include <algorithm>

#include "cancellable.h"

namespace grokimagine {

void ByteRanges::add(std::uint64_t begin, std::uint64_t end) {
  if (begin >= end) return;
  // Merge with every range touching [begin, end).
  auto it = ranges_.upper_bound(begin);
  if (it != ranges_.begin() && std::prev(it)->second >= begin) --it;
  while (it != ranges_.end() && it->first <= end) {
    begin = std::min(begin, it->first);
    end = std::max(end, it->second);
    bytes_ -= it->second - it->first;
    it = ranges_.erase(it);
  }
  ranges_.emplace(begin, end);
  bytes_ += end - begin;
}

void ByteRanges::remove(std::uint64_t begin, std::uint64_t end) {
  if (begin >= end) return;
  auto it = ranges_.upper_bound(begin);
  if (it != ranges_.begin() && std::prev(it)->second > begin) --it;
  while (it != ranges_.end() && it->first < end) {
    const auto [first, last] = *it;
    bytes_ -= last - first;
    it = ranges_.erase(it);
    // What lies outside [begin, end) stays.
    if (first < begin) {
      ranges_.emplace(first, begin);
      bytes_ += begin - first;
    }
    if (last > end) {
      ranges_.emplace(end, last);
      bytes_ += last - end;
    }
  }
}

bool ByteRanges::covers(std::uint64_t begin, std::uint64_t end) const {
  return begin >= end || run_end(begin) >= end;
}

std::uint64_t ByteRanges::run_end(std::uint64_t offset) const {
  auto it = ranges_.upper_bound(offset);
  if (it == ranges_.begin()) return offset;
  --it;
  return it->second > offset ? it->second : offset;
}

std::optional<std::pair<std::uint64_t, std::uint64_t>> ByteRanges::first_gap(
    std::uint64_t from, std::uint64_t limit) const {
  const std::uint64_t begin = run_end(from);
  if (begin >= limit) return std::nullopt;
  auto next = ranges_.upper_bound(begin);
  const std::uint64_t end = next == ranges_.end() ? limit : std::min(next->first, limit);
  return std::pair(begin, end);
}

DownloadProgress::Wait DownloadProgress::wait_for(std::uint64_t begin, std::uint64_t end,
                                                  GCancellable *cancellable) {
  CancelWakeup wakeup(cancellable, mutex_, changed_);
  std::unique_lock<std::mutex> lock(mutex_);
  wanted_ = begin;
  auto outcome = [&]() -> std::optional<Wait> {
    const std::uint64_t stop = size_ ? std::min(end, *size_) : end;
    // The end only once the download is over: `location` is named by then.
    if (finished_ && begin >= stop) return Wait::End;
    if (begin < stop && on_disk_.covers(begin, stop)) return Wait::Ready;
    if (failed_) return Wait::Failed;
    if (g_cancellable_is_cancelled(cancellable)) return Wait::Cancelled;
    return std::nullopt;
  };
  std::optional<Wait> result;
  changed_.wait(lock, [&] { return (result = outcome()).has_value(); });
  return *result;
}

std::uint64_t DownloadProgress::available_from(std::uint64_t offset) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return on_disk_.run_end(offset) - offset;
}

std::uint64_t DownloadProgress::received() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return on_disk_.bytes();
}

std::optional<std::uint64_t> DownloadProgress::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return size_;
}

bool DownloadProgress::finished() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return finished_;
}

std::uint64_t DownloadProgress::wanted() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return wanted_;
}

Error DownloadProgress::error() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return error_;
}

std::string DownloadProgress::error_body() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return error_body_;
}

void DownloadProgress::set_size(std::uint64_t size) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    size_ = size;
  }
  changed_.notify_all();
}

void DownloadProgress::add(std::uint64_t offset, std::uint64_t size) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    on_disk_.add(offset, offset + size);
  }
  changed_.notify_all();
}

void DownloadProgress::mark_finished() {
  std::function<void()> callback;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    callback = std::move(finished_callback_);
  }
  // Before readers can see the end: what the callback says (the element's
  // "Clip downloaded") then reaches the bus before the end of stream they
  // go on to, never after it.
  if (callback) callback();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    size_ = on_disk_.run_end(0);
    finished_ = true;
    // One given meanwhile runs below (its order then is not promised).
    callback = std::move(finished_callback_);
  }
  changed_.notify_all();
  if (callback) callback();
}

void DownloadProgress::on_finished(std::function<void()> callback) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!finished_) {
      if (!failed_) finished_callback_ = std::move(callback);
      return;
    }
  }
  callback();
}

void DownloadProgress::mark_failed(Error error, std::string body) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    failed_ = true;
    error_ = std::move(error);
    error_body_ = std::move(body);
    finished_callback_ = nullptr;
  }
  changed_.notify_all();
}

}  // namespace grokimagine
