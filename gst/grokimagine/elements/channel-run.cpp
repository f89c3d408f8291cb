// SPDX-License-Identifier: LGPL-2.1-or-later
#include "channel-run.h"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/video/video.h>

#include <algorithm>

#include "element-errors.h"
#include "core/image-set.h"
#include "core/local-file.h"
#include "core/request.h"
#include "grokimaginesrc.h"

GST_DEBUG_CATEGORY_EXTERN(grok_imagine_channel_debug);
#define GST_CAT_DEFAULT grok_imagine_channel_debug

using grokimagine::ChannelContinuity;
using grokimagine::ChannelFiller;
using grokimagine::ChannelStep;

grokimagine::Request extension_request(grokimagine::Request request, const std::string &video) {
  request.operation = grokimagine::Operation::Extend;
  request.video = video;
  request.continuation_only = true;
  request.image.clear();
  request.reference_images.clear();
  request.keyframes.clear();
  request.reference_audios.clear();
  return request;
}

// continuity=extend: every clip after the first is an extension of the one
// before it, so the provider must extend videos and the job's settings
// must suit an extension too (its model, its duration).
static std::optional<grokimagine::Error> check_extensions(const grokimagine::Generation &check,
                                                          ExtensionInputLimits *limits) {
  const grokimagine::Provider &provider = check.provider();
  const auto range = provider.extension_input();
  if (!range)
    return grokimagine::invalid_setting(std::string("Property 'continuity' is extend, but ") +
                                        provider.name() +
                                        " does not extend videos (provider=xai does). Nothing "
                                        "was sent.");
  const grokimagine::Request extension =
      extension_request(check.settings().request, "request:previous-clip");
  if (auto error = provider.validate(extension)) {
    error->message =
        "Property 'continuity' is extend, so each clip after the first extends the one "
        "before it: " +
        error->message + " Nothing was sent.";
    return error;
  }
  limits->min_length = GstClockTime(range->min_s * GST_SECOND);
  limits->max_length = GstClockTime(range->max_s * GST_SECOND);
  return std::nullopt;
}

// filler=preview: every clip comes with a still from the provider's image
// model, checked as its job would be (a stand-in prompt; the channel's
// aspect ratio), and priced when the channel has a budget.
static std::optional<grokimagine::Error> check_previews(const grokimagine::JobSettings &job,
                                                        const grokimagine::Generation &check,
                                                        double *estimate_usd) {
  const grokimagine::Provider &provider = check.provider();
  if (!provider.default_model(grokimagine::MediaKind::Image)) {
    std::string makers;
    for (const grokimagine::Provider *maker : grokimagine::all_providers())
      if (maker->default_model(grokimagine::MediaKind::Image))
        makers += std::string(makers.empty() ? "" : ", ") + maker->name();
    return grokimagine::invalid_setting(
        std::string("Property 'filler' is preview, but ") + provider.name() +
        " has no image model to make the stills (" + makers + " have one). Nothing was sent.");
  }
  grokimagine::JobSettings still = preview_settings(job, "channel");
  still.provider = provider.name();
  // The channel's budget covers the stills: their price must be known.
  still.budget_usd = job.budget_usd;
  grokimagine::Generation stills;
  if (auto error = stills.prepare(still)) {
    error->message = "Property 'filler' is preview, so each clip comes with a still from " +
                     std::string(provider.name()) + "'s image model: " + error->message;
    return error;
  }
  *estimate_usd = stills.cost().value_or(0);
  return std::nullopt;
}

std::optional<grokimagine::Error> check_channel(const ChannelSettings &settings,
                                                grokimagine::JobSettings job,
                                                grokimagine::Generation &check,
                                                ChannelChecked *checked) {
  // Each prompt is checked as it is queued (a long one is skipped, not the
  // channel): the settings are checked with a stand-in.
  job.request.prompt = "channel";
  if (auto error = check.prepare(job)) return error;
  if (auto error = check_channel_settings(settings)) return error;
  if (settings.continuity == ChannelContinuity::LastFrame &&
      g_str_equal(check.provider().name(), "reapi"))
    return grokimagine::invalid_setting(
        "Property 'continuity' is last-frame, but reapi takes images only as public http(s) "
        "URLs, and a frame of the stream has none.");
  if (settings.filler == ChannelFiller::Preview)
    if (auto error = check_previews(job, check, &checked->preview_estimate_usd)) return error;
  if (settings.continuity == ChannelContinuity::Extend)
    return check_extensions(check, &checked->extension_limits);
  return std::nullopt;
}

void ChannelRun::set_format(const ChannelSettings &settings, const grokimagine::JobSettings &job) {
  const auto size = grokimagine::frame_size(job.request.resolution, job.request.aspect_ratio);
  format.width = settings.width > 0 ? settings.width : size.width;
  format.height = settings.height > 0 ? settings.height : size.height;
  format.fps_n = settings.fps_n;
  format.fps_d = settings.fps_d;
  timeline = grokimagine::ChannelTimeline(settings.fps_n, settings.fps_d, ChannelFormat::kRate);
  decoding = std::make_unique<ChannelDecoding>(GST_BIN(element), events, format);
}

// The frame as a PNG data: URI, the image a continued clip starts from.
static std::string frame_as_png_uri(const ChannelFormat &format, GstBuffer *frame) {
  g_autoptr(GstCaps) raw = format.video_caps();
  g_autoptr(GstSample) sample = gst_sample_new(frame, raw, nullptr, nullptr);
  g_autoptr(GstCaps) png = gst_caps_new_empty_simple("image/png");
  g_autoptr(GError) error = nullptr;
  g_autoptr(GstSample) converted = gst_video_convert_sample(sample, png, 5 * GST_SECOND, &error);
  if (!converted) return {};
  GstMapInfo map;
  GstBuffer *buffer = gst_sample_get_buffer(converted);
  if (!gst_buffer_map(buffer, &map, GST_MAP_READ)) return {};
  g_autofree gchar *base64 = g_base64_encode(map.data, map.size);
  gst_buffer_unmap(buffer, &map);
  return std::string("data:image/png;base64,") + base64;
}

// A slate clip plays whole each time it covers a wait (as filler=loop's
// replays do): a longer one would hold back a clip that is ready.
constexpr double kMaxSlateClipSeconds = 10;
constexpr std::uint64_t kMaxSlateClipBytes = 64 * 1024 * 1024;

// The local file `slate` names (a path or a file:// URI); none for a data:
// URI or another scheme.
static std::optional<std::string> local_slate_path(const std::string &slate) {
  if (g_ascii_strncasecmp(slate.c_str(), "file:", 5) == 0) {
    g_autofree gchar *path = g_filename_from_uri(slate.c_str(), nullptr, nullptr);
    if (path) return std::string(path);
    return std::nullopt;
  }
  if (slate.find("://") != std::string::npos || g_ascii_strncasecmp(slate.c_str(), "data:", 5) == 0)
    return std::nullopt;
  return slate;
}

// A slate that is a clip: copied (read once, at start) to loop from there.
static std::optional<grokimagine::Error> load_slate_clip(ChannelRun &run, const std::string &slate,
                                                         const std::string &bytes) {
  const std::string path = run.clips_dir + "/slate.mp4";
  if (!g_file_set_contents(path.c_str(), bytes.data(), gssize(bytes.size()), nullptr))
    return grokimagine::invalid_setting("Property 'slate': cannot copy '" + slate + "' into " +
                                        run.clips_dir + ".");
  const auto seconds = grokimagine::mp4_duration(path);
  if (!seconds.ok() || *seconds > kMaxSlateClipSeconds) {
    g_autofree gchar *length = g_strdup_printf("%.1f", seconds.ok() ? *seconds : 0);
    return grokimagine::invalid_setting(
        "Property 'slate' is '" + slate + "': " +
        (seconds.ok() ? std::string("a ") + length + " s clip"
                      : "its length cannot be read (" + seconds.error().message + ")") +
        "; a slate clip is an MP4 of at most 10 s (it plays whole each time it covers a wait).");
  }
  run.slate_clip = path;
  GST_INFO_OBJECT(run.element, "slate: %s, a %.1f s clip, looped", slate.c_str(), *seconds);
  return std::nullopt;
}

// A slate as it is given: an http(s) URL is fetched now (once: nothing
// the channel shows later depends on the network), a local file read
// (once: load_slate tells an image from a clip by its bytes), a data: URI
// decoded. Its bytes, or why not.
static grokimagine::Result<std::string> read_slate(const ChannelRun &run,
                                                   const std::string &slate) {
  if (g_ascii_strncasecmp(slate.c_str(), "http://", 7) == 0 ||
      g_ascii_strncasecmp(slate.c_str(), "https://", 8) == 0) {
    auto fetched = grokimagine::fetch_media(slate, run.job.timing, run.job.log_id,
                                            kMaxSlateClipBytes, "slate", run.stopped.get());
    if (!fetched.ok() && fetched.error().kind == grokimagine::ErrorKind::Cancelled) return fetched;
    if (!fetched.ok())
      return grokimagine::invalid_setting("Property 'slate': cannot fetch '" + slate +
                                          "': " + fetched.error().message + ".");
    return fetched;
  }
  if (auto path = local_slate_path(slate)) {
    auto bytes =
        grokimagine::read_regular_file(*path, kMaxSlateClipBytes, grokimagine::Symlinks::Follow);
    if (!bytes.ok())
      return grokimagine::invalid_setting("Property 'slate': cannot read '" + slate +
                                          "': " + bytes.error().message + ".");
    return bytes;
  }
  // A data: URI (or a scheme it refuses), checked as `image` is.
  auto image = grokimagine::resolve_image(slate, "slate");
  if (!image.ok()) return image.error();
  return std::move(image->data);
}

// filler=slate: reads `slate` (a local file, a data: URI of an image, or
// an http(s) URL fetched now): an image becomes a frame of the output's
// format, letter-boxed; a short clip is copied into clips_dir, to loop. An
// error naming the property when it is neither. Once, by the streaming
// task's first step, before any job: a stop cuts the fetch and the decode,
// which a state change could not.
static std::optional<grokimagine::Error> load_slate(ChannelRun &run) {
  const std::string &slate = run.slate_source;
  auto bytes = read_slate(run, slate);
  if (!bytes.ok()) return bytes.error();
  const std::string type = grokimagine::sniff_media_type(*bytes);
  if (g_str_has_prefix(type.c_str(), "video/")) return load_slate_clip(run, slate, *bytes);
  if (!g_str_has_prefix(type.c_str(), "image/"))
    return grokimagine::invalid_setting(
        "Property 'slate' is '" + slate + "': " + (type.empty() ? "its content" : type) +
        " is neither an image nor a clip. It takes an image (a local path, a file:// URI, an "
        "http(s) URL or a data: URI) or a clip of at most 10 s (an MP4).");
  // Decoded and scaled once, here, at the output's size.
  g_autoptr(GstCaps) raw = run.format.video_caps();
  gst_structure_remove_field(gst_caps_get_structure(raw, 0), "framerate");  // an image has none
  auto decoded = decode_still(*bytes, type, raw, run.stopped.get());
  if (g_cancellable_is_cancelled(run.stopped.get())) return grokimagine::Error::cancelled();
  if (!decoded.ok())
    return grokimagine::invalid_setting("Property 'slate': cannot decode '" + slate + "' (" + type +
                                        "): " + decoded.error().message + ".");
  run.slate = std::move(*decoded);
  GST_INFO_OBJECT(run.element, "slate: %s (%s) at %dx%d", slate.c_str(), type.c_str(),
                  run.format.width, run.format.height);
  return std::nullopt;
}

// ---- Pushing on the timeline ----

// The pipeline's running time now, or NONE without a clock.
static GstClockTime running_time(ChannelRun &run) {
  g_autoptr(GstClock) clock = gst_element_get_clock(run.element);
  if (!clock) return GST_CLOCK_TIME_NONE;
  const GstClockTime now = gst_clock_get_time(clock);
  const GstClockTime base = gst_element_get_base_time(run.element);
  return now > base ? now - base : 0;
}

static bool stopping(ChannelRun &run) {
  std::lock_guard<std::mutex> lock(run.events->lock);
  return run.events->stopping;
}

// Live: waits on the pipeline clock until the running time reaches `when`
// (the buffer's time), first for PLAYING, as GstBaseSrc's live sources do.
// False when stopping.
static bool wait_until(ChannelRun &run, GstClockTime when) {
  while (true) {
    GstClockID id = nullptr;
    {
      std::unique_lock<std::mutex> lock(run.events->lock);
      run.events->wake.wait(lock, [&] { return run.events->stopping || run.pipeline_playing; });
      if (run.events->stopping) return false;
      g_autoptr(GstClock) clock = gst_element_get_clock(run.element);
      if (!clock) return true;  // no clock to follow: as fast as downstream takes it
      id = gst_clock_new_single_shot_id(clock, gst_element_get_base_time(run.element) + when);
      run.clock_wait = id;
    }
    const GstClockReturn waited = gst_clock_id_wait(id, nullptr);
    {
      std::lock_guard<std::mutex> lock(run.events->lock);
      run.clock_wait = nullptr;
    }
    gst_clock_id_unref(id);
    // UNSCHEDULED: a stop, or a pause (then wait for PLAYING again).
    if (waited != GST_CLOCK_UNSCHEDULED) return true;
  }
}

// Pushes `buffer` (owned) at timeline time `pts` on `appsrc`; false when the
// stream is over (stopping, flushing, not linked). With `keep`, what was
// pushed is kept there too (a reference).
static bool push(ChannelRun &run, GstElement *appsrc, GstBuffer *buffer, GstClockTime pts,
                 GstClockTime duration, bool live, BufferPtr *keep = nullptr) {
  buffer = gst_buffer_make_writable(buffer);
  if (live) {
    if (run.live_base == GST_CLOCK_TIME_NONE) {
      if (!wait_until(run, 0)) {
        gst_buffer_unref(buffer);
        return false;
      }
      run.live_base = running_time(run);
    }
    pts += run.live_base;
    if (!wait_until(run, pts)) {
      gst_buffer_unref(buffer);
      return false;
    }
  }
  GST_BUFFER_PTS(buffer) = pts;
  GST_BUFFER_DTS(buffer) = GST_CLOCK_TIME_NONE;
  GST_BUFFER_DURATION(buffer) = duration;
  if (keep) keep->reset(gst_buffer_ref(buffer));
  const GstFlowReturn ret = gst_app_src_push_buffer(GST_APP_SRC(appsrc), buffer);
  if (ret != GST_FLOW_OK) GST_DEBUG_OBJECT(run.element, "push: %s", gst_flow_get_name(ret));
  return ret == GST_FLOW_OK;
}

static bool push_frame(ChannelRun &run, GstBuffer *frame, bool live) {
  const auto span = run.timeline.add_frame();
  // The last frame (for filler=hold, continuity=last-frame) is the one
  // pushed, not a second reference taken before: with one, the frame would
  // be copied to be stamped, and the decoder's pool, getting back a buffer
  // whose memory the copy still shares, would drop it and allocate (and
  // page in) a new frame for every frame.
  return push(run, run.video_src, frame, span.pts, span.duration, live, &run.last_frame);
}

// Pushes audio from `buffer` (owned; null for silence) up to where the
// frames pushed end. What of it reaches past goes to `*rest` (the next
// frame's audio begins with it), or is dropped without `rest`.
static bool push_audio(ChannelRun &run, GstBuffer *buffer, bool live, GstBuffer **rest = nullptr) {
  const guint64 missing = run.timeline.audio_missing();
  if (!buffer && missing == 0) return true;
  if (!buffer) {
    buffer = gst_buffer_new_allocate(nullptr, missing * ChannelFormat::kBytesPerFrame, nullptr);
    gst_buffer_memset(buffer, 0, 0, missing * ChannelFormat::kBytesPerFrame);
  }
  const gsize size = gst_buffer_get_size(buffer);
  const guint64 take = run.timeline.audio_to_take(size / ChannelFormat::kBytesPerFrame);
  const gsize used = take * ChannelFormat::kBytesPerFrame;
  if (used < size && rest)
    *rest = take == 0 ? gst_buffer_ref(buffer)
                      : gst_buffer_copy_region(buffer, GST_BUFFER_COPY_ALL, used, size - used);
  if (take == 0) {
    gst_buffer_unref(buffer);
    return true;
  }
  if (used < size) {
    GstBuffer *cut = gst_buffer_copy_region(buffer, GST_BUFFER_COPY_ALL, 0, used);
    gst_buffer_unref(buffer);
    buffer = cut;
  }
  const auto span = run.timeline.add_samples(take);
  return push(run, run.audio_src, buffer, span.pts, span.duration, live);
}

static void post_element_message(ChannelRun &run, GstStructure *s) {
  gst_element_post_message(run.element, gst_message_new_element(GST_OBJECT(run.element), s));
}

static GstClockTime timeline_running_time(const ChannelRun &run, GstClockTime timeline) {
  return run.live_base == GST_CLOCK_TIME_NONE ? timeline : run.live_base + timeline;
}

static bool play_clip(ChannelRun &run, ChannelClip &clip, bool replay, bool live,
                      bool slate = false);
static void retire(ChannelRun &run, std::unique_ptr<ChannelClip> clip);

// The slate clip, read from its copy, up to its gates: made ahead, so that
// it is ready when a wait begins.
static std::unique_ptr<ChannelClip> make_slate_clip(const ChannelRun &run) {
  GstElement *file = gst_element_factory_make("filesrc", nullptr);
  g_object_set(file, "location", run.slate_clip.c_str(), nullptr);
  return std::make_unique<ChannelClip>(GST_BIN(run.element), run.events, -1, "slate", file,
                                       *run.decoding, 0, nullptr);
}

// filler=slate with a clip: it plays whole, silenced, then is made again
// for the next time. False when the channel must stop.
static bool play_slate_clip(ChannelRun &run, bool live) {
  std::unique_ptr<ChannelClip> clip = std::move(run.slate_next);
  if (!clip) clip = make_slate_clip(run);
  if (!play_clip(run, *clip, true, live, true)) return false;
  retire(run, std::move(clip));
  if (!run.slate_clip.empty()) run.slate_next = make_slate_clip(run);
  return true;
}

// filler=preview: the still of clip `awaited`, once there. Under the
// events lock.
static const ChannelPreview *ready_preview(const ChannelRun &run, int awaited) {
  const auto found = run.previews.find(awaited);
  if (found == run.previews.end()) return nullptr;
  const auto &result = found->second->result();
  return result && result->still ? found->second.get() : nullptr;
}

// One frame of filler (and the audio under it). With filler=preview, the
// still of clip `awaited` once it is there, the last frame until then.
static bool push_filler_frame(ChannelRun &run, ChannelFiller filler, bool live, const char *reason,
                              int awaited = -1) {
  const ChannelPreview *preview = nullptr;
  if (filler == ChannelFiller::Preview) {
    std::lock_guard<std::mutex> lock(run.events->lock);
    preview = ready_preview(run, awaited);
  }
  const ChannelFiller kind = filler != ChannelFiller::Preview ? filler
                             : preview                        ? filler
                                                              : ChannelFiller::Hold;
  if (!run.in_filler || kind != run.filler_kind) {
    // A wait begins, or what covers it changes (a preview's still arrives).
    if (!run.in_filler) run.filler_started = run.timeline.position();
    run.in_filler = true;
    run.filler_kind = kind;
    if (kind == ChannelFiller::Preview) run.preview_since = run.timeline.position();
    GST_INFO_OBJECT(run.element, "filler (%s, %s) from %" GST_TIME_FORMAT, reason,
                    grok_imagine_channel_filler_name(kind), GST_TIME_ARGS(run.timeline.position()));
    post_element_message(
        run, gst_structure_new("grokimagine-filler", "reason", G_TYPE_STRING, reason, "kind",
                               G_TYPE_STRING, grok_imagine_channel_filler_name(kind),
                               "running-time", G_TYPE_UINT64,
                               timeline_running_time(run, run.timeline.position()), nullptr));
  }
  if (kind == ChannelFiller::Slate && !run.slate_clip.empty()) return play_slate_clip(run, live);
  GstBuffer *frame = nullptr;
  // A replay that covers a wait (loop) begins with the last frame.
  if (preview) {
    frame = preview->frame(run.timeline.position() - run.preview_since);
  } else if ((kind == ChannelFiller::Hold || kind == ChannelFiller::Loop) && run.last_frame) {
    frame = gst_buffer_copy(run.last_frame.get());
  } else if (kind == ChannelFiller::Slate && run.slate) {
    frame = gst_buffer_copy(run.slate.get());
  } else {
    if (!run.black) {
      // I420 black: Y at 16, U and V at 128. Made once; each frame shares it.
      GstVideoInfo info;
      g_autoptr(GstCaps) caps = run.format.video_caps();
      gst_video_info_from_caps(&info, caps);
      const gsize luma = GST_VIDEO_INFO_PLANE_OFFSET(&info, 1);
      run.black.reset(gst_buffer_new_allocate(nullptr, GST_VIDEO_INFO_SIZE(&info), nullptr));
      gst_buffer_memset(run.black.get(), 0, 16, luma);
      gst_buffer_memset(run.black.get(), luma, 128, GST_VIDEO_INFO_SIZE(&info) - luma);
    }
    frame = gst_buffer_copy(run.black.get());
  }
  if (!push_frame(run, frame, live)) return false;
  return push_audio(run, nullptr, live);
}

static void end_filler(ChannelRun &run) {
  if (!run.in_filler) return;
  run.in_filler = false;
  const GstClockTime now = run.timeline.position();
  post_element_message(
      run, gst_structure_new("grokimagine-filler", "reason", G_TYPE_STRING, "ended", "running-time",
                             G_TYPE_UINT64, timeline_running_time(run, now), "duration",
                             G_TYPE_UINT64, now - run.filler_started, nullptr));
}

// ---- Clips ----

// Where clip `index`'s own part starts in its file: after the input it
// extends (continuity=extend), else 0.
static GstClockTime own_part_start(const ChannelRun &run, int index) {
  const auto known = run.own_part_start.find(index);
  return known == run.own_part_start.end() ? 0 : known->second;
}

// Clip `index`'s whole result, on disk while it may play again (or be
// extended); and (continuity=extend) the input its job extends.
static std::string clip_path(const ChannelRun &run, int index) {
  return run.clips_dir + "/clip-" + std::to_string(index) + ".mp4";
}

static std::string extension_input_path(const ChannelRun &run, int index) {
  return run.clips_dir + "/input-" + std::to_string(index) + ".mp4";
}

// continuity=extend: clip `index`'s input, the end of clip `from`'s result,
// written on a thread of its own (remuxing takes tens of milliseconds,
// which a live channel's worker cannot spend between two frames).
static void prepare_extension_input(const std::shared_ptr<ChannelEvents> &events, ChannelRun &run,
                                    int index, int from) {
  ExtensionInputTask &task = run.preparing[index];
  task.from = from;
  task.writer =
      std::thread([events, source = clip_path(run, from), dest = extension_input_path(run, index),
                   played_from = own_part_start(run, from), limits = run.extension_limits,
                   cancelled = task.cancelled, done = task.result] {
        ExtensionInputTask::Result result =
            write_extension_input(source, played_from, limits, dest, cancelled.get());
        std::unique_lock<std::mutex> lock(events->lock);
        *done = std::move(result);
        events->changed(lock);
      });
}

// Makes `job` (clip `index`) extend clip `from` with the input written for
// it (`length` long): operation=extend, only the new seconds played.
static void use_extension_input(ChannelRun &run, grokimagine::JobSettings &job, int index, int from,
                                GstClockTime length) {
  GST_INFO_OBJECT(run.element,
                  "clip %d extends clip %d: %" GST_TIME_FORMAT " of it from %" GST_TIME_FORMAT,
                  index, from, GST_TIME_ARGS(length), GST_TIME_ARGS(own_part_start(run, from)));
  job.request = extension_request(job.request, extension_input_path(run, index));
  run.own_part_start[index] = length;
}

// Clip `index`'s job: the channel's settings with its prompt, kept on disk
// for replays and extensions; what becomes of it lands in `facts`.
static GrokImagineClipJob clip_job(const ChannelRun &run, int index, const std::string &prompt,
                                   const std::shared_ptr<ClipJobFacts> &facts) {
  GrokImagineClipJob job;
  job.settings = run.job;
  job.settings.request.prompt = prompt;
  job.settings.location = clip_path(run, index);
  // The channel keeps its own budget over all clips (ChannelPlan); a
  // budget shared with other machines (budget-scope) is also each clip's,
  // checked in the store as the clip's job is claimed.
  if (job.settings.budget_scope.empty()) job.settings.budget_usd = 0;
  job.connections = run.connections;
  if (run.plan.rules().continuity == ChannelContinuity::LastFrame && index > 0 && run.last_frame) {
    // Continued from what the viewer saw last: the previous clip's last frame.
    const std::string image = frame_as_png_uri(run.format, run.last_frame.get());
    if (!image.empty()) job.settings.request.image = image;
  }
  job.observer.submitted = [facts](const std::string &id) { facts->submitted(id); };
  job.observer.paid_before = [facts](const std::string &id) { facts->paid_before(id); };
  job.observer.cost = [facts](double usd, bool reported) { facts->cost(usd, reported); };
  job.downloaded = [facts] { facts->downloaded(); };
  return job;
}

// The clip's source: its job, or, replaying, its file.
static GstElement *make_clip_source(const ChannelRun &run, int index, bool replay,
                                    GrokImagineClipJob job) {
  if (replay) {
    GstElement *file = gst_element_factory_make("filesrc", nullptr);
    g_object_set(file, "location", clip_path(run, index).c_str(), nullptr);
    return file;
  }
  GstElement *source = gst_element_factory_make("grokimaginesrc", nullptr);
  gst_grok_imagine_src_set_clip_job(GST_GROK_IMAGINE_SRC(source), std::move(job));
  return source;
}

static std::unique_ptr<ChannelClip> make_clip(ChannelRun &run, int index, const std::string &prompt,
                                              bool replay) {
  const auto &events = run.events;
  auto facts = replay ? nullptr : std::make_shared<ClipJobFacts>(events);
  GstElement *source = make_clip_source(
      run, index, replay, replay ? GrokImagineClipJob{} : clip_job(run, index, prompt, facts));
  return std::make_unique<ChannelClip>(GST_BIN(run.element), events, index, prompt, source,
                                       *run.decoding, own_part_start(run, index), facts);
}

std::string clip_request_id(const ChannelClip &clip) {
  return clip.facts() ? clip.facts()->request_id() : "";
}

// A clip's error (its first, held in the clip) ends that clip (a warning),
// or the channel when every clip would fail the same way (no key, a refused
// key, no credits, bad settings). False when the channel must end. Its
// job's messages reach the application on their own, through the bin.
static bool handle_clip_error(ChannelRun &run, const ChannelClip &clip, GstMessage *message,
                              const std::string &request_id) {
  g_autoptr(GError) error = nullptr;
  g_autofree gchar *debug = nullptr;
  gst_message_parse_error(message, &error, &debug);
  const GstStructure *details = nullptr;
  gst_message_parse_error_details(message, &details);
  const gchar *reason = details ? gst_structure_get_string(details, "reason") : nullptr;
  const bool every_clip =
      g_error_matches(error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_AUTHORIZED) ||
      g_strcmp0(reason, "invalid-settings") == 0;
  if (every_clip) {
    // The clip's error as it is (domain, code, reason, request id): what a
    // single source would have said.
    GstStructure *info = details ? gst_structure_copy(details) : gst_structure_new_empty("details");
    gst_structure_set(info, "clip", G_TYPE_INT, clip.index(), nullptr);
    if (!reason) gst_structure_set(info, "reason", G_TYPE_STRING, "clip-failed", nullptr);
    GROK_IMAGINE_POST_MESSAGE(
        run.element, GST_MESSAGE_ERROR, error->domain, error->code, error->message,
        "clip " + std::to_string(clip.index()) + ": " + (debug ? debug : ""), info);
    return false;
  }
  // A moderated clip is its own event: the operator may want that prompt
  // out of the schedule. The channel goes on with the next one.
  if (g_strcmp0(reason, "moderated") == 0)
    gst_element_post_message(
        run.element,
        gst_message_new_element(
            GST_OBJECT(run.element),
            gst_structure_new("grokimagine-moderated", "clip", G_TYPE_INT, clip.index(), "prompt",
                              G_TYPE_STRING, clip.prompt().c_str(), "request-id", G_TYPE_STRING,
                              request_id.c_str(), nullptr)));
  GstStructure *info =
      gst_structure_new("details", "clip", G_TYPE_INT, clip.index(), "request-id", G_TYPE_STRING,
                        request_id.empty() ? nullptr : request_id.c_str(), "reason", G_TYPE_STRING,
                        reason ? reason : "clip-failed", nullptr);
  GROK_IMAGINE_POST_MESSAGE(run.element, GST_MESSAGE_WARNING, GST_RESOURCE_ERROR,
                            GST_RESOURCE_ERROR_FAILED,
                            "Clip " + std::to_string(clip.index()) + " (\"" + clip.prompt() +
                                "\") failed and is skipped: " + error->message,
                            debug ? debug : "", info);
  return true;
}

static void start_clips(ChannelRun &run);

// The part of `buffer` (S16 interleaved, at ChannelFormat::kRate) from
// `from` on, as a new reference; null when it all comes before.
static GstBuffer *audio_from(GstBuffer *buffer, GstClockTime from) {
  if (!from || !GST_BUFFER_PTS_IS_VALID(buffer)) return gst_buffer_ref(buffer);
  const gsize size = gst_buffer_get_size(buffer);
  const guint64 before = grokimagine::samples_before_cut(
      GST_BUFFER_PTS(buffer), from, ChannelFormat::kRate, size / ChannelFormat::kBytesPerFrame);
  if (before == 0) return gst_buffer_ref(buffer);
  const gsize offset = gsize(before) * ChannelFormat::kBytesPerFrame;
  if (offset >= size) return nullptr;
  return gst_buffer_copy_region(buffer, GST_BUFFER_COPY_ALL, offset, size - offset);
}

// What a clip has for the channel next: a buffer of one of its streams
// (null when that stream ended), or its error.
struct ClipTake {
  GstBuffer *buffer = nullptr;
  GstMessage *error = nullptr;  // a new reference
  std::string request_id;
};

// Waits for the next buffer of `clip`'s video or audio, its end or the
// clip's error; false when the channel stops.
static bool take_from_clip(ChannelRun &run, ChannelClip &clip, bool video, ClipTake *take) {
  std::unique_lock<std::mutex> lock(run.events->lock);
  run.events->wake.wait(lock, [&] {
    return run.events->stopping || clip.error() || clip.waiting(video) || clip.ended(video);
  });
  if (run.events->stopping) return false;
  if (clip.error()) {
    take->error = gst_message_ref(clip.error());
    take->request_id = clip_request_id(clip);
    return true;
  }
  take->buffer = clip.take(video);
  run.events->changed(lock);  // room in the clip's queue
  return true;
}

// The slate clip cannot be played (filler=slate): said once, and black
// covers the waits from now on. True: the channel goes on.
static bool slate_failed(ChannelRun &run, GstMessage *message) {
  g_autoptr(GError) error = nullptr;
  g_autofree gchar *debug = nullptr;
  gst_message_parse_error(message, &error, &debug);
  GROK_IMAGINE_ELEMENT_WARNING(
      run.element, STREAM, DECODE, "slate-failed",
      ("The slate clip cannot be played (%s): black covers the waits instead.", error->message),
      ("%s", debug ? debug : ""));
  run.slate_clip.clear();
  return true;
}

// Plays clip `index` from its decoder: every frame, and its audio made
// exactly as long. False when the channel must stop. The operator's slate
// clip (`slate`) plays the same way, unannounced and with its sound
// silenced.
static bool play_clip(ChannelRun &run, ChannelClip &clip, bool replay, bool live, bool slate) {
  const int index = clip.index();
  const GstClockTime start = run.timeline.position();
  std::string id;
  {
    std::lock_guard<std::mutex> lock(run.events->lock);
    id = clip_request_id(clip);
  }
  // An extension's file begins with the input it extends, which has played.
  const GstClockTime skip = slate ? 0 : own_part_start(run, index);
  GstClockTime duration = clip.duration();
  // Not known yet to the demuxer's queries: the length the job asked for.
  if (!GST_CLOCK_TIME_IS_VALID(duration) || duration <= skip)
    duration = GstClockTime(run.job.request.duration) * GST_SECOND;
  else
    duration -= skip;
  clip.feed(*run.decoding);
  if (slate) {
    GST_DEBUG_OBJECT(run.element, "slate clip starts at %" GST_TIME_FORMAT, GST_TIME_ARGS(start));
  } else {
    GST_INFO_OBJECT(run.element, "clip %d%s starts at %" GST_TIME_FORMAT, index,
                    replay ? " (replay)" : "", GST_TIME_ARGS(start));
    post_element_message(
        run, gst_structure_new("grokimagine-clip", "index", G_TYPE_INT, index, "prompt",
                               G_TYPE_STRING, clip.prompt().c_str(), "request-id", G_TYPE_STRING,
                               id.empty() ? nullptr : id.c_str(), "running-time", G_TYPE_UINT64,
                               timeline_running_time(run, start), "duration", G_TYPE_UINT64,
                               duration, "replay", G_TYPE_BOOLEAN, replay, "spent-usd",
                               G_TYPE_DOUBLE, run.job_settings.spent_usd(), nullptr));
  }
  auto failed = [&](GstMessage *error, const std::string &request_id) {
    return slate ? slate_failed(run, error) : handle_clip_error(run, clip, error, request_id);
  };
  bool audio_done = false;
  // Audio that came with a frame but reaches past it: the next frame's.
  g_autoptr(GstBuffer) rest = nullptr;
  while (true) {
    ClipTake frame;
    if (!take_from_clip(run, clip, true, &frame)) return false;
    if (frame.error) {
      g_autoptr(GstMessage) error = frame.error;
      return failed(error, frame.request_id);
    }
    if (!frame.buffer) break;
    // Extensions: the next clip starts once this one's result is whole.
    if (run.plan.rules().continuity == ChannelContinuity::Extend) start_clips(run);
    if (!push_frame(run, frame.buffer, live)) return false;
    // Audio up to the end of this frame, so that neither stream runs ahead.
    if (rest && !push_audio(run, g_steal_pointer(&rest), live, &rest)) return false;
    while (!audio_done && run.timeline.audio_missing() > 0) {
      bool has_audio;
      {
        std::lock_guard<std::mutex> lock(run.events->lock);
        has_audio = clip.has_audio();
      }
      if (!has_audio) break;
      ClipTake audio;
      if (!take_from_clip(run, clip, false, &audio)) return false;
      if (audio.error) {
        g_autoptr(GstMessage) error = audio.error;
        return failed(error, audio.request_id);
      }
      if (!audio.buffer) {
        audio_done = true;
        break;
      }
      GstBuffer *own_audio = audio_from(audio.buffer, skip);
      gst_buffer_unref(audio.buffer);
      if (own_audio && slate) {
        // Taken as it comes (the clip's decoding must not block), heard as silence.
        own_audio = gst_buffer_make_writable(own_audio);
        gst_buffer_memset(own_audio, 0, 0, gst_buffer_get_size(own_audio));
      }
      if (own_audio && !push_audio(run, own_audio, live, &rest)) return false;
    }
    // A clip whose audio is shorter than its video (or has none): silence
    // under the rest.
    if (run.timeline.audio_missing() > 0 && !push_audio(run, nullptr, live)) return false;
  }
  if (GST_IS_GROK_IMAGINE_SRC(clip.source()))
    gst_grok_imagine_src_deliver(GST_GROK_IMAGINE_SRC(clip.source()));
  return !stopping(run);
}

// ---- The worker ----

// The plan is shared with the text pad and queue-prompt: only touched
// under the lock, which is never held while posting a message.

// The channel's budget is reached: no more jobs. What is generated still
// plays; then the channel ends, or (live) goes on with filler or loop.
static void post_budget_reached(ChannelRun &run, double committed_usd) {
  const double budget = run.job_settings.settings().budget_usd;
  GST_INFO_OBJECT(run.element, "budget of $%.2f reached ($%.2f spent or committed): no more jobs",
                  budget, committed_usd);
  post_element_message(
      run, gst_structure_new("grokimagine-budget", "budget-usd", G_TYPE_DOUBLE, budget, "spent-usd",
                             G_TYPE_DOUBLE, committed_usd, nullptr));
}

// What clips' jobs said since the last look: what this run paid goes to
// spent-usd, and with whether an earlier run paid, to the budget; a whole
// result may be extended (continuity=extend). Under the lock.
static void note_job_facts(ChannelRun &run) {
  auto note = [&](const ChannelClip &clip) {
    if (!clip.facts()) return;  // a replay
    const ClipJobFacts::News news = clip.facts()->take_news();
    if (news.paid_before) run.plan.clip_paid_before(clip.index());
    if (news.cost) run.job_settings.add_spent_usd(*news.cost);
    if (news.cost && news.cost_reported) run.plan.clip_cost(clip.index(), *news.cost);
    if (news.downloaded) run.plan.clip_whole(clip.index());
  };
  for (const auto &[index, clip] : run.clips) note(*clip);
  if (run.playing) note(*run.playing);
}

// filler=preview: clip `index`'s still is made while the clip is.
static void start_preview(ChannelRun &run, int index, const std::string &prompt) {
  if (run.plan.rules().filler != ChannelFiller::Preview) return;
  GST_INFO_OBJECT(run.element, "making clip %d's preview", index);
  run.previews[index] =
      std::make_unique<ChannelPreview>(run.events, preview_settings(run.job, prompt), run.format);
}

// A preview's result, to say on the bus once the lock is left.
struct PreviewNews {
  int clip;
  std::string prompt, request_id, error;
  double cost_usd;
};

// What previews finished since the last look: their cost goes to
// spent-usd and the budget. Under the lock.
static void note_previews(ChannelRun &run, std::vector<PreviewNews> *news) {
  for (const auto &[index, preview] : run.previews) {
    if (!preview->news()) continue;
    const ChannelPreview::Result &result = *preview->result();
    run.plan.preview_cost(index, result.cost_usd);
    if (result.cost_usd > 0) run.job_settings.add_spent_usd(result.cost_usd);
    news->push_back({index, run.plan.schedule().clip(index).prompt, result.request_id,
                     result.still ? "" : result.error, result.cost_usd});
  }
}

static void post_preview_news(ChannelRun &run, const std::vector<PreviewNews> &news) {
  for (const PreviewNews &preview : news) {
    if (!preview.error.empty()) {
      GROK_IMAGINE_ELEMENT_WARNING(
          run.element, RESOURCE, FAILED, "preview-failed",
          ("The preview of clip %d (\"%s\") failed: %s. The last frame covers "
           "the wait instead.",
           preview.clip, preview.prompt.c_str(), preview.error.c_str()),
          ("request-id %s", preview.request_id.c_str()));
      continue;
    }
    post_element_message(
        run,
        gst_structure_new("grokimagine-preview", "clip", G_TYPE_INT, preview.clip, "prompt",
                          G_TYPE_STRING, preview.prompt.c_str(), "request-id", G_TYPE_STRING,
                          preview.request_id.c_str(), "cost-usd", G_TYPE_DOUBLE, preview.cost_usd,
                          "spent-usd", G_TYPE_DOUBLE, run.job_settings.spent_usd(), nullptr));
  }
}

// Previews whose clip is over (played, or failed) go once their job is
// (they are kept while it runs: a submit that left is followed to its end).
static void drop_previews(ChannelRun &run) {
  std::vector<std::unique_ptr<ChannelPreview>> done;
  {
    std::lock_guard<std::mutex> lock(run.events->lock);
    for (auto it = run.previews.begin(); it != run.previews.end();) {
      const auto state = run.plan.schedule().clip(it->first).state;
      const bool over = state == grokimagine::ScheduledClip::State::Played ||
                        state == grokimagine::ScheduledClip::State::Failed;
      if (over && it->second->noted()) {
        done.push_back(std::move(it->second));
        it = run.previews.erase(it);
      } else {
        ++it;
      }
    }
  }
}

// continuity=extend: the clips whose input is written start their jobs (a
// clip whose input could not be made is generated from its prompt alone).
static void start_prepared_clips(ChannelRun &run) {
  for (auto it = run.preparing.begin(); it != run.preparing.end();) {
    ExtensionInputTask &task = it->second;
    const int index = it->first;
    std::optional<ExtensionInputTask::Result> input;
    std::string prompt;
    {
      std::lock_guard<std::mutex> lock(run.events->lock);
      input = *task.result;
      prompt = run.plan.schedule().clip(index).prompt;
    }
    if (!input) {
      ++it;
      continue;
    }
    // Its cost was committed when its input was asked for: a budget
    // reached since then does not stop it.
    GST_INFO_OBJECT(run.element, "generating clip %d: %s", index, prompt.c_str());
    auto facts = std::make_shared<ClipJobFacts>(run.events);
    GrokImagineClipJob job = clip_job(run, index, prompt, facts);
    if (!input->ok())
      GROK_IMAGINE_ELEMENT_WARNING(run.element, RESOURCE, FAILED, "extension-input-failed",
                                   ("Clip %d cannot extend clip %d (%s): it is generated from its "
                                    "prompt alone.",
                                    index, task.from, input->error().message.c_str()),
                                   (nullptr));
    else
      use_extension_input(run, job.settings, index, task.from, input->value());
    run.clips[index] = std::make_unique<ChannelClip>(
        GST_BIN(run.element), run.events, index, prompt, make_clip_source(run, index, false, job),
        *run.decoding, own_part_start(run, index), facts);
    start_preview(run, index, prompt);
    it = run.preparing.erase(it);
  }
}

static void start_clips(ChannelRun &run) {
  std::vector<grokimagine::ChannelPlan::Start> starting;
  bool budget_reached_now = false;
  double committed_usd = 0;
  std::vector<PreviewNews> previews;
  {
    std::lock_guard<std::mutex> lock(run.events->lock);
    note_job_facts(run);
    note_previews(run, &previews);
    const bool budget_reached_before = run.plan.budget_reached();
    starting = run.plan.to_start();
    budget_reached_now = !budget_reached_before && run.plan.budget_reached();
    committed_usd = run.plan.committed_usd();
  }
  post_preview_news(run, previews);
  if (budget_reached_now) post_budget_reached(run, committed_usd);
  for (const auto &clip : starting) {
    if (clip.continues) {
      GST_INFO_OBJECT(run.element, "clip %d: writing its input from clip %d", clip.clip,
                      *clip.continues);
      prepare_extension_input(run.events, run, clip.clip, *clip.continues);
      continue;
    }
    GST_INFO_OBJECT(run.element, "generating clip %d: %s", clip.clip, clip.prompt.c_str());
    run.clips[clip.clip] = make_clip(run, clip.clip, clip.prompt, false);
    start_preview(run, clip.clip, clip.prompt);
  }
  start_prepared_clips(run);
}

// A clip done with goes once no state change of the channel runs: torn
// down under the channel's state lock, so that a state change (the
// application reacting to a clip's error, say) never finds it half gone
// and sets it back to READY. If one holds the lock now, the clip waits for
// the next step, or for the run's end.
static void retire(ChannelRun &run, std::unique_ptr<ChannelClip> clip) {
  if (clip) run.retired.push_back(std::move(clip));
  if (run.retired.empty() || !GST_STATE_TRYLOCK(run.element)) return;
  run.retired.clear();
  GST_STATE_UNLOCK(run.element);
}

// Marks clips ready or failed from what they hold; false when an error ends
// the channel.
static bool settle_clips(ChannelRun &run) {
  struct Failed {
    int index;
    GstMessage *error;  // a new reference
    std::string request_id;
  };
  std::vector<Failed> failed;
  {
    std::lock_guard<std::mutex> lock(run.events->lock);
    for (const auto &[index, clip] : run.clips) {
      if (clip->error())
        failed.push_back({index, gst_message_ref(clip->error()), clip_request_id(*clip)});
      else if (clip->ready())
        run.plan.clip_ready(index);
    }
  }
  bool go_on = true;
  for (Failed &clip : failed) {
    g_autoptr(GstMessage) error = clip.error;
    go_on = go_on && handle_clip_error(run, *run.clips.at(clip.index), error, clip.request_id);
    {
      std::lock_guard<std::mutex> lock(run.events->lock);
      run.plan.clip_failed(clip.index);
    }
    retire(run, std::move(run.clips.at(clip.index)));
    run.clips.erase(clip.index);
  }
  return go_on;
}

// The files of played clips that nothing will play again go, to free the
// disk.
static void release_files(const ChannelRun &run, const grokimagine::ChannelRelease &release) {
  for (int index : release.inputs) g_unlink(extension_input_path(run, index).c_str());
  for (int index : release.results) g_unlink(clip_path(run, index).c_str());
}

// Plays what the plan says comes next, once (a clip, a frame of filler),
// or waits until something changes. False when the channel is over: EOS,
// a stop, an error.
bool channel_run_step(ChannelRun &run) {
  {
    std::lock_guard<std::mutex> lock(run.events->lock);
    if (run.events->stopping) return false;
    // What changes from here on wakes a wait below.
    run.changes_seen = run.events->changes;
  }
  if (run.plan.rules().filler == ChannelFiller::Slate && !run.slate_tried) {
    run.slate_tried = true;
    if (auto error = load_slate(run)) {
      if (error->kind != grokimagine::ErrorKind::Cancelled)
        GROK_IMAGINE_POST_ERROR(run.element, *error);
      return false;
    }
  }
  const bool live = run.plan.rules().live;
  retire(run, nullptr);
  drop_previews(run);
  start_clips(run);
  if (!settle_clips(run)) return false;
  ChannelStep step;
  std::string prompt;
  {
    std::lock_guard<std::mutex> lock(run.events->lock);
    step = run.plan.next(run.timeline.position());
    if (step.clip >= 0) prompt = run.plan.schedule().clip(step.clip).prompt;
  }
  switch (step.kind) {
    case ChannelStep::Kind::Play: {
      // A replay that covers a wait (filler=loop) is filler: it begins one.
      if (!step.covers_wait)
        end_filler(run);
      else if (!run.in_filler && !push_filler_frame(run, ChannelFiller::Loop, live, "waiting"))
        return false;
      std::unique_ptr<ChannelClip> clip;
      if (step.replay) {
        clip = make_clip(run, step.clip, prompt, true);
      } else {
        clip = std::move(run.clips[step.clip]);
        run.clips.erase(step.clip);
      }
      {
        std::lock_guard<std::mutex> lock(run.events->lock);
        run.playing = std::move(clip);
      }
      // Cut short, it stays: one more job whose clip did not play (finish_channel).
      if (!play_clip(run, *run.playing, step.replay, live)) return false;
      grokimagine::ChannelRelease release;
      {
        std::lock_guard<std::mutex> lock(run.events->lock);
        clip = std::move(run.playing);
        release = run.plan.clip_played(step.clip, step.replay);
      }
      retire(run, std::move(clip));
      release_files(run, release);
      return true;
    }
    case ChannelStep::Kind::End: {
      end_filler(run);
      bool nothing_played;
      {
        std::lock_guard<std::mutex> lock(run.events->lock);
        nothing_played = run.plan.schedule().size() == 0;
      }
      // An EOS at once, with no clip, reads as a broken pipeline.
      if (nothing_played)
        GROK_IMAGINE_ELEMENT_WARNING(
            run.element, RESOURCE, SETTINGS, "no-prompts",
            ("Nothing to play: no prompts. Set 'prompts', link the 'text' pad, or "
             "call queue-prompt before the channel plays."),
            ("the channel ends with no clip"));
      GST_INFO_OBJECT(run.element, "no more prompts: EOS");
      gst_app_src_end_of_stream(GST_APP_SRC(run.video_src));
      gst_app_src_end_of_stream(GST_APP_SRC(run.audio_src));
      return false;
    }
    case ChannelStep::Kind::Filler:
      return push_filler_frame(run, step.filler, live, step.reason, step.awaited);
    case ChannelStep::Kind::Wait: {
      std::unique_lock<std::mutex> lock(run.events->lock);
      run.events->wake.wait(
          lock, [&] { return run.events->stopping || run.events->changes != run.changes_seen; });
      return !run.events->stopping;
    }
  }
  return false;
}
