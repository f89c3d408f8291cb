// SPDX-License-Identifier: LGPL-2.1-or-later
#include "channel-settings.h"

#include <gst/gst.h>

#include <utility>

#include "core/prompt-list.h"
#include "core/request.h"

using grokimagine::ChannelContinuity;
using grokimagine::ChannelFiller;

std::optional<grokimagine::Error> check_channel_settings(const ChannelSettings &settings) {
  constexpr guint kMaxLookahead = 16;  // each clip ahead is a paid job
  constexpr int kMinSide = 16, kMaxSide = 8192;
  constexpr int kMaxFps = 240;
  if (settings.lookahead > kMaxLookahead)
    return grokimagine::invalid_setting("Property 'lookahead' is " +
                                        std::to_string(settings.lookahead) + ": at most " +
                                        std::to_string(kMaxLookahead) + " clips ahead.");
  for (const auto &[name, side] : {std::pair{"width", settings.width}, {"height", settings.height}})
    if (side != 0 && (side < kMinSide || side > kMaxSide))
      return grokimagine::invalid_setting(std::string("Property '") + name + "' is " +
                                          std::to_string(side) + ": 0 (from resolution and " +
                                          "aspect-ratio) or " + std::to_string(kMinSide) + " to " +
                                          std::to_string(kMaxSide) + ".");
  if (settings.fps_n <= 0 || settings.fps_d <= 0 ||
      gint64(settings.fps_n) > gint64(kMaxFps) * settings.fps_d)
    return grokimagine::invalid_setting(
        "Property 'framerate' is " + std::to_string(settings.fps_n) + "/" +
        std::to_string(settings.fps_d) + ": above 0 and at most " + std::to_string(kMaxFps) + ".");
  if (settings.filler == ChannelFiller::Slate && settings.slate.empty())
    return grokimagine::invalid_setting(
        "Property 'filler' is slate, but 'slate' is not set: give it an image or a clip of at "
        "most 10 s (an MP4), as a local path, a file:// URI or an http(s) URL.");
  return grokimagine::Download::check_connections(settings.connections);
}

const char *grok_imagine_channel_filler_name(ChannelFiller filler) {
  g_autoptr(GEnumClass) values =
      static_cast<GEnumClass *>(g_type_class_ref(grok_imagine_channel_filler_get_type()));
  const GEnumValue *value = g_enum_get_value(values, int(filler));
  return value ? value->value_nick : "";
}

grokimagine::ChannelRules channel_rules(const ChannelSettings &settings) {
  grokimagine::ChannelRules rules;
  rules.live = settings.is_live;
  rules.loop = settings.loop;
  rules.filler = settings.filler;
  rules.continuity = settings.continuity;
  rules.lookahead = settings.lookahead;
  rules.max_queued = settings.max_queued;
  return rules;
}

GType grok_imagine_channel_continuity_get_type() {
  static GType type = 0;
  if (g_once_init_enter(&type)) {
    static const GEnumValue values[] = {
        {int(ChannelContinuity::None), "Each clip from its own prompt", "none"},
        {int(ChannelContinuity::LastFrame),
         "Each clip starts from the previous clip's last frame (its image); a clip is then "
         "generated once the previous one has played",
         "last-frame"},
        {int(ChannelContinuity::Extend),
         "Each clip extends the previous one and only its new seconds play: one continuous "
         "shot (xai); a clip is generated once the previous one's result is whole",
         "extend"},
        {0, nullptr, nullptr}};
    g_once_init_leave(&type, g_enum_register_static("GrokImagineChannelContinuity", values));
  }
  return type;
}

GType grok_imagine_channel_filler_get_type() {
  static GType type = 0;
  if (g_once_init_enter(&type)) {
    static const GEnumValue values[] = {
        {int(ChannelFiller::Hold), "The last frame, with silence", "hold"},
        {int(ChannelFiller::Black), "Black, with silence", "black"},
        {int(ChannelFiller::Slate),
         "The card in 'slate' (an image, or a short clip looped), letter-boxed to the output, with "
         "silence",
         "slate"},
        {int(ChannelFiller::Loop), "Replay what has played (the last frame before anything has)",
         "loop"},
        {int(ChannelFiller::Preview),
         "A still of the awaited clip's prompt from the provider's image model (a paid job), "
         "panning slowly, with silence (the last frame until it is there)",
         "preview"},
        {0, nullptr, nullptr}};
    g_once_init_leave(&type, g_enum_register_static("GrokImagineChannelFiller", values));
  }
  return type;
}

void grok_imagine_register_prompt_list_value() {
  GValue probe = G_VALUE_INIT;
  g_value_init(&probe, G_TYPE_STRV);
  const bool known = gst_value_deserialize(&probe, "<a>");
  g_value_unset(&probe);
  if (known) return;
  static GstValueTable table = {
      G_TYPE_STRV,
      [](const GValue *a, const GValue *b) -> gint {
        return g_strv_equal(static_cast<const gchar *const *>(g_value_get_boxed(a)),
                            static_cast<const gchar *const *>(g_value_get_boxed(b)))
                   ? GST_VALUE_EQUAL
                   : GST_VALUE_UNORDERED;
      },
      [](const GValue *value) -> gchar * {
        std::vector<std::string> items;
        if (auto strv = static_cast<const gchar *const *>(g_value_get_boxed(value)))
          for (; *strv; strv++) items.push_back(*strv);
        return g_strdup(grokimagine::serialize_prompt_list(items).c_str());
      },
      [](GValue *dest, const gchar *text) -> gboolean {
        auto items = grokimagine::parse_prompt_list(text);
        if (!items) return FALSE;
        GStrv strv = g_new0(gchar *, items->size() + 1);
        for (std::size_t i = 0; i < items->size(); i++) strv[i] = g_strdup((*items)[i].c_str());
        g_value_take_boxed(dest, strv);
        return TRUE;
      }};
  gst_value_register(&table);
}
