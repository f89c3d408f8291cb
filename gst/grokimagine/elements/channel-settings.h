// SPDX-License-Identifier: LGPL-2.1-or-later
// What the user set on a grokimaginechannel itself (the job defaults live
// in its GrokImagineJobSettings), its checks before any job, and the GTypes
// its properties take.
#pragma once

#include <glib-object.h>

#include <optional>
#include <string>
#include <vector>

#include "core/channel-plan.h"
#include "core/download.h"
#include "core/error.h"

// Prompts queued and not yet played, by default: a text source or an
// application cannot grow the queue without bound.
constexpr guint kDefaultMaxQueued = 1000;

struct ChannelSettings {
  std::vector<std::string> prompts;
  bool is_live = false;
  bool loop = false;
  guint lookahead = 1;
  grokimagine::ChannelFiller filler = grokimagine::ChannelFiller::Hold;
  std::string slate;  // filler=slate: the image (path, file:// or data: URI)
  int width = 0;      // 0: from resolution and aspect-ratio
  int height = 0;
  int fps_n = 24;
  int fps_d = 1;
  grokimagine::ChannelContinuity continuity = grokimagine::ChannelContinuity::None;
  guint connections = grokimagine::Download::kDefaultConnections;  // each clip's download
  guint max_queued = kDefaultMaxQueued;
};

// The channel's own settings take every value a user can type (GObject
// would otherwise keep the old value with a warning, and the channel run
// with what was not asked): what is out of range is refused here, before
// any job.
std::optional<grokimagine::Error> check_channel_settings(const ChannelSettings &settings);

// The plan's rules from the settings; the budget's figures and whether
// prompts may still come are the caller's to add.
grokimagine::ChannelRules channel_rules(const ChannelSettings &settings);

GType grok_imagine_channel_continuity_get_type();
GType grok_imagine_channel_filler_get_type();
// The `filler` value's name ("hold", "slate", ...), as the property takes it.
const char *grok_imagine_channel_filler_name(grokimagine::ChannelFiller filler);

// gst-launch (and gst_util_set_object_arg) set a GStrv property through a
// GstValueTable, which GStreamer 1.22 has none of for GStrv: registers one,
// unless GStreamer brings its own.
void grok_imagine_register_prompt_list_value();
