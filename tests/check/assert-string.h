// SPDX-License-Identifier: LGPL-2.1-or-later
#pragma once

#include <gst/check/gstcheck.h>

#include <string>

// fail_unless_equals_string keeps a pointer past the end of the full
// expression, which dangles for temporaries; this holds copies.
#define assert_str_eq(actual, expected)                                                    \
  do {                                                                                     \
    const std::string actual_ = (actual);                                                  \
    const std::string expected_ = (expected);                                              \
    fail_unless(actual_ == expected_, "'%s' != '%s'", actual_.c_str(), expected_.c_str()); \
  } while (0)
