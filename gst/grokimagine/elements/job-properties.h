// The job's properties, installed identically on every element that runs a
// job (and on the bins that wrap grokimaginesrc, which forward them by
// name), with one implementation of their storage.
#pragma once

#include <gst/gst.h>

#include "core/generation.h"

enum GrokImagineJobProperty {
  GROK_IMAGINE_PROP_PROVIDER = 1,
  GROK_IMAGINE_PROP_MODEL,
  GROK_IMAGINE_PROP_API_URL,
  GROK_IMAGINE_PROP_API_KEY,
  GROK_IMAGINE_PROP_PROMPT,
  GROK_IMAGINE_PROP_IMAGE,
  GROK_IMAGINE_PROP_RESOLUTION,
  GROK_IMAGINE_PROP_ASPECT_RATIO,
  GROK_IMAGINE_PROP_POLL_INTERVAL,
  GROK_IMAGINE_PROP_TIMEOUT,
  GROK_IMAGINE_PROP_REQUEST_ID,
  // Video only.
  GROK_IMAGINE_PROP_DURATION,
  GROK_IMAGINE_PROP_REFERENCE_IMAGES,
  GROK_IMAGINE_PROP_LOCATION,
  // Images only.
  GROK_IMAGINE_PROP_N,
  GROK_IMAGINE_PROP_OUTPUT_FORMAT,
  GROK_IMAGINE_PROP_MODE,
};

// The `provider` enum: auto, then one value per row of the provider table.
GType grok_imagine_provider_get_type(void);
#define GROK_IMAGINE_TYPE_PROVIDER (grok_imagine_provider_get_type())

// Defaults of a new element's settings for `kind`.
grokimagine::JobSettings grok_imagine_default_settings(grokimagine::MediaKind kind);

void grok_imagine_install_job_properties(GObjectClass *klass, grokimagine::MediaKind kind);

// Store and read a property of the job. Setting one that describes the job
// (prompt, image, duration, ...) forgets the previous request id.
void grok_imagine_set_job_property(grokimagine::JobSettings &settings, guint prop_id,
                                   const GValue *value);
void grok_imagine_get_job_property(const grokimagine::JobSettings &settings, guint prop_id,
                                   GValue *value);
