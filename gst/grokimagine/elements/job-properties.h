// SPDX-License-Identifier: LGPL-2.1-or-later
// The job's properties, installed identically on every element that runs a
// job (and on the bins that wrap grokimaginesrc, which forward them by
// name), with one implementation of their storage.
#pragma once

#include <gst/gst.h>

#include <atomic>
#include <mutex>

#include "core/generation.h"
#include "core/gobject-ptr.h"

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
  GROK_IMAGINE_PROP_REQUEST_TIMEOUT,
  GROK_IMAGINE_PROP_RETRIES,
  GROK_IMAGINE_PROP_RETRY_BACKOFF,
  GROK_IMAGINE_PROP_ALLOW_INSECURE_HTTP,
  GROK_IMAGINE_PROP_JOURNAL,
  GROK_IMAGINE_PROP_STORE,
  GROK_IMAGINE_PROP_REUSE,
  GROK_IMAGINE_PROP_BUDGET,
  GROK_IMAGINE_PROP_BUDGET_SCOPE,
  GROK_IMAGINE_PROP_PRICES,
  GROK_IMAGINE_PROP_SPENT_USD,
  // Video only.
  GROK_IMAGINE_PROP_CACHE_SIZE,
  GROK_IMAGINE_PROP_DURATION,
  GROK_IMAGINE_PROP_REFERENCE_IMAGES,
  GROK_IMAGINE_PROP_LOCATION,
  GROK_IMAGINE_PROP_MAX_SIZE,
  GROK_IMAGINE_PROP_OPERATION,
  GROK_IMAGINE_PROP_VIDEO,
  GROK_IMAGINE_PROP_OUTPUT,
  GROK_IMAGINE_PROP_KEYFRAMES,
  GROK_IMAGINE_PROP_REFERENCE_AUDIOS,
  GROK_IMAGINE_PROP_GENERATE_AUDIO,
  // Images only.
  GROK_IMAGINE_PROP_N,
  GROK_IMAGINE_PROP_OUTPUT_FORMAT,
  GROK_IMAGINE_PROP_MODE,
  GROK_IMAGINE_PROP_FALLBACK_PROVIDERS,
  GROK_IMAGINE_PROP_FAILOVER_COOLDOWN,
  GROK_IMAGINE_PROP_FALLBACK_ADAPT,
  GROK_IMAGINE_PROP_ON_MODERATION,
  GROK_IMAGINE_N_JOB_PROPERTIES  // elements number their own properties from here
};

// The `provider` enum: auto, then one value per row of the provider table.
GType grok_imagine_provider_get_type(void);
#define GROK_IMAGINE_TYPE_PROVIDER (grok_imagine_provider_get_type())
// The `reuse` enum: unfinished, always, never.
GType grok_imagine_reuse_get_type(void);
#define GROK_IMAGINE_TYPE_REUSE (grok_imagine_reuse_get_type())

// The `on-moderation` enum: fallback, fail.
GType grok_imagine_on_moderation_get_type(void);
#define GROK_IMAGINE_TYPE_ON_MODERATION (grok_imagine_on_moderation_get_type())

// The `operation` enum: generate, extend, edit.
GType grok_imagine_operation_get_type(void);
#define GROK_IMAGINE_TYPE_OPERATION (grok_imagine_operation_get_type())
// The `output` enum: full, continuation.
GType grok_imagine_output_get_type(void);
#define GROK_IMAGINE_TYPE_OUTPUT (grok_imagine_output_get_type())

// Defaults of a new element's settings for `kind`.
grokimagine::JobSettings grok_imagine_default_settings(grokimagine::MediaKind kind);

enum GrokImagineJobScope {
  GROK_IMAGINE_ONE_JOB,    // an element that runs one job
  GROK_IMAGINE_EACH_CLIP,  // a channel: the defaults of each clip's job
};
void grok_imagine_install_job_properties(GObjectClass *klass, grokimagine::MediaKind kind,
                                         GrokImagineJobScope scope = GROK_IMAGINE_ONE_JOB);

// Store and read a property of the job; false for a property that is not
// one of the job's.
bool grok_imagine_set_job_property(grokimagine::JobSettings &settings, guint prop_id,
                                   const GValue *value);
bool grok_imagine_get_job_property(const grokimagine::JobSettings &settings, guint prop_id,
                                   GValue *value);
// Whether the property describes the job (prompt, image, duration, ...), as
// opposed to how it is run: changing it makes another job.
bool grok_imagine_describes_job(guint prop_id);

// A job element's settings (its properties, the request id once known),
// kept across threads, with the little that goes with them: what its jobs
// have cost (spent-usd, against `budget`) and the cancellable its unlock()
// fires.
class GrokImagineJobSettings {
 public:
  explicit GrokImagineJobSettings(grokimagine::MediaKind kind)
      : settings_(grok_imagine_default_settings(kind)) {}

  // Job properties change only in NULL or READY (GST_PARAM_MUTABLE_READY):
  // a running job would not follow them, and its messages and tags would
  // report a prompt that is not the job's. Refused with a warning.
  void set_property(GstElement *element, guint prop_id, const GValue *value, GParamSpec *pspec);
  void get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec) {
    std::lock_guard<std::mutex> lock(lock_);
    if (prop_id == GROK_IMAGINE_PROP_SPENT_USD)
      g_value_set_double(value, spent_usd_);
    else if (!grok_imagine_get_job_property(settings_, prop_id, value))
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
  }
  // What this element's jobs have cost (US dollars), against `budget`.
  double spent_usd() {
    std::lock_guard<std::mutex> lock(lock_);
    return spent_usd_;
  }
  void add_spent_usd(double usd) {
    std::lock_guard<std::mutex> lock(lock_);
    spent_usd_ += usd;
  }
  grokimagine::JobSettings settings() {
    std::lock_guard<std::mutex> lock(lock_);
    return settings_;
  }
  // The id of the job this element submitted (or resumed). Unlike one the
  // user set, a new job description forgets it.
  void remember_request_id(const std::string &id) {
    std::lock_guard<std::mutex> lock(lock_);
    settings_.request_id = id;
    request_id_learned_ = true;
  }

  // EOS sent to the element (gst-launch -e, an application ending the
  // stream): a submit then in flight is followed to its answer.
  void set_eos_requested(bool requested) { eos_requested_ = requested; }
  bool eos_requested() const { return eos_requested_; }

  grokimagine::GObjectPtr<GCancellable> cancellable() {
    std::lock_guard<std::mutex> lock(lock_);
    return cancellable_;
  }
  void cancel() { g_cancellable_cancel(cancellable().get()); }
  void renew_cancellable() {
    std::lock_guard<std::mutex> lock(lock_);
    cancellable_ = grokimagine::GObjectPtr<GCancellable>::adopt(g_cancellable_new());
  }

 private:
  std::mutex lock_;
  grokimagine::JobSettings settings_;
  bool request_id_learned_ = false;
  double spent_usd_ = 0;
  std::atomic<bool> eos_requested_{false};
  grokimagine::GObjectPtr<GCancellable> cancellable_ =
      grokimagine::GObjectPtr<GCancellable>::adopt(g_cancellable_new());
};
