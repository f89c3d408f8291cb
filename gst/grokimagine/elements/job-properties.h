// The job's properties, installed identically on grokimaginesrc and on the
// bins that wrap it (which forward them to their grokimaginesrc by name).
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

enum GrokImagineJobProperty {
  GROK_IMAGINE_PROP_PROVIDER = 1,
  GROK_IMAGINE_PROP_MODEL,
  GROK_IMAGINE_PROP_API_URL,
  GROK_IMAGINE_PROP_API_KEY,
  GROK_IMAGINE_PROP_PROMPT,
  GROK_IMAGINE_PROP_IMAGE,
  GROK_IMAGINE_PROP_DURATION,
  GROK_IMAGINE_PROP_RESOLUTION,
  GROK_IMAGINE_PROP_ASPECT_RATIO,
  GROK_IMAGINE_PROP_POLL_INTERVAL,
  GROK_IMAGINE_PROP_TIMEOUT,
  GROK_IMAGINE_PROP_REQUEST_ID,
  GROK_IMAGINE_PROP_LOCATION,
  GROK_IMAGINE_N_JOB_PROPERTIES
};

#define GROK_IMAGINE_DEFAULT_DURATION 6
#define GROK_IMAGINE_DEFAULT_RESOLUTION "480p"
#define GROK_IMAGINE_DEFAULT_ASPECT_RATIO "16:9"
#define GROK_IMAGINE_DEFAULT_POLL_INTERVAL_MS 2000
#define GROK_IMAGINE_DEFAULT_TIMEOUT_S 900

// The `provider` enum, one value per row of the provider table.
GType grok_imagine_provider_get_type(void);
#define GROK_IMAGINE_TYPE_PROVIDER (grok_imagine_provider_get_type())

void grok_imagine_install_job_properties(GObjectClass *klass);

G_END_DECLS
