// SPDX-License-Identifier: LGPL-2.1-or-later
#include <gst/gst.h>

#include "core/log.h"
#include "elements/grokimaginechannel.h"
#include "elements/grokimagineimagesrc.h"
#include "elements/grokimaginesrc.h"
#include "elements/grokimaginevideosrc.h"

static gboolean plugin_init(GstPlugin *plugin) {
  grokimagine::init_logging();
  gboolean registered = FALSE;
  registered |= GST_ELEMENT_REGISTER(grokimaginesrc, plugin);
  registered |= GST_ELEMENT_REGISTER(grokimaginevideosrc, plugin);
  registered |= GST_ELEMENT_REGISTER(grokimagineimagesrc, plugin);
  registered |= GST_ELEMENT_REGISTER(grokimaginechannel, plugin);
  return registered;
}

GST_PLUGIN_DEFINE(
    GST_VERSION_MAJOR, GST_VERSION_MINOR, grokimagine,
    "Generate video clips and images with Grok Imagine (xAI, Segmind, AI/ML API, reAPI)",
    plugin_init, VERSION, "LGPL", GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
