// SPDX-License-Identifier: LGPL-2.1-or-later
// The emulator suites' shared helpers and checks (emulator-checks.h).
#include "emulator-checks.h"

#include <gio/gio.h>

#include <glib/gstdio.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

namespace emulator_checks {

Http::Http() : session_(soup_session_new()) {
  soup_session_set_proxy_resolver(session_.get(), nullptr);
}

Response Http::request(const char *method, const std::string &url, const Headers &headers,
                       const std::string &body, const char *body_type) {
  Response response;
  GObjectPtr<SoupMessage> message(soup_message_new(method, url.c_str()));
  if (!message) {
    response.error = "bad URL " + url;
    return response;
  }
  SoupMessageHeaders *request_headers = soup_message_get_request_headers(message.get());
  for (const auto &[name, value] : headers) {
    soup_message_headers_replace(request_headers, name.c_str(), value.c_str());
  }
  if (!body.empty()) {
    g_autoptr(GBytes) bytes = g_bytes_new(body.data(), body.size());
    soup_message_set_request_body_from_bytes(message.get(), body_type, bytes);
  }
  g_autoptr(GError) error = nullptr;
  g_autoptr(GBytes) data =
      soup_session_send_and_read(session_.get(), message.get(), nullptr, &error);
  if (data == nullptr) {
    response.error = error->message;
    return response;
  }
  response.status = soup_message_get_status(message.get());
  gsize size = 0;
  const auto *bytes = static_cast<const char *>(g_bytes_get_data(data, &size));
  response.body.assign(bytes != nullptr ? bytes : "", size);
  SoupMessageHeaders *response_headers = soup_message_get_response_headers(message.get());
  const char *content_type = soup_message_headers_get_one(response_headers, "Content-Type");
  const char *content_range = soup_message_headers_get_one(response_headers, "Content-Range");
  response.content_type = content_type ? content_type : "";
  response.content_range = content_range ? content_range : "";
  if (soup_message_headers_get_encoding(response_headers) == SOUP_ENCODING_CONTENT_LENGTH) {
    response.content_length = soup_message_headers_get_content_length(response_headers);
  }
  soup_message_headers_foreach(
      response_headers,
      [](const char *name, const char *value, gpointer headers) {
        g_autofree gchar *lower = g_ascii_strdown(name, -1);
        (*static_cast<std::map<std::string, std::string> *>(headers))[lower] = value;
      },
      &response.headers);
  return response;
}

std::string read_file(const std::string &path) {
  g_autofree gchar *contents = nullptr;
  gsize length = 0;
  if (!g_file_get_contents(path.c_str(), &contents, &length, nullptr)) return "";
  return std::string(contents, length);
}

std::string json_string(const std::string &text, const char *name) {
  return Json(text).str(("$." + std::string(name)).c_str());
}

bool contains(const std::string &text, const std::string &part) {
  return text.find(part) != std::string::npos;
}

bool starts_with(const std::string &text, const std::string &prefix) {
  return text.compare(0, prefix.size(), prefix) == 0;
}

bool ends_with(const std::string &text, const std::string &suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string base64_decode(const std::string &text) {
  gsize length = 0;
  g_autofree guchar *data = g_base64_decode(text.c_str(), &length);
  return std::string(reinterpret_cast<const char *>(data), length);
}

PollOutcome poll_until_done(Http &http, const std::string &status_url) {
  PollOutcome outcome;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    const gint64 started = g_get_monotonic_time();
    const Response response = http.get_with_key(status_url);
    outcome.slowest_poll_ms =
        std::max(outcome.slowest_poll_ms, (g_get_monotonic_time() - started) / 1000);
    const std::string status = json_string(response.body, "status");
    if (outcome.statuses_seen.empty() || outcome.statuses_seen.back() != status) {
      outcome.statuses_seen.push_back(status);
    }
    outcome.final_status = status;
    outcome.final_http = response.status;
    outcome.final_body = response.body;
    if (response.status != 200 || status == "COMPLETED" || status == "FAILED") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return outcome;
}

std::string joined(const std::vector<std::string> &items) {
  std::string text;
  for (const std::string &item : items) text += (text.empty() ? "" : " -> ") + item;
  return text;
}

namespace {

struct StreamTally {
  std::atomic<int> buffers{0};
  std::atomic<guint64> duration{0};
};

GstPadProbeReturn tally_buffer(GstPad *, GstPadProbeInfo *info, gpointer data) {
  auto *tally = static_cast<StreamTally *>(data);
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER(info);
  ++tally->buffers;
  if (GST_BUFFER_DURATION_IS_VALID(buffer)) tally->duration += GST_BUFFER_DURATION(buffer);
  return GST_PAD_PROBE_OK;
}

void tally_sink(GstElement *pipeline, const char *sink_name, StreamTally *tally) {
  g_autoptr(GstElement) sink = gst_bin_get_by_name(GST_BIN(pipeline), sink_name);
  g_autoptr(GstPad) pad = gst_element_get_static_pad(sink, "sink");
  gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, tally_buffer, tally, nullptr);
}

// Caps negotiated on a named element's sink pad (as qtdemux announced them).
GstCaps *sink_caps(GstElement *pipeline, const char *element_name) {
  g_autoptr(GstElement) element = gst_bin_get_by_name(GST_BIN(pipeline), element_name);
  g_autoptr(GstPad) pad = gst_element_get_static_pad(element, "sink");
  return gst_pad_get_current_caps(pad);
}

}  // namespace

GstElement *parse_pipeline(const char *description, std::string *error) {
  g_autoptr(GError) parse_error = nullptr;
  GstElement *pipeline = gst_parse_launch(description, &parse_error);
  if (pipeline == nullptr) {
    *error = parse_error->message;
    return nullptr;
  }
  if (g_object_is_floating(pipeline)) gst_object_ref_sink(pipeline);
  return pipeline;
}

std::string play_to_eos(GstElement *pipeline, GstClockTime timeout) {
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  g_autoptr(GstBus) bus = gst_element_get_bus(pipeline);
  g_autoptr(GstMessage) message = gst_bus_timed_pop_filtered(
      bus, timeout, static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  if (message == nullptr) return "timed out";
  if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR) {
    g_autoptr(GError) play_error = nullptr;
    gst_message_parse_error(message, &play_error, nullptr);
    return play_error->message;
  }
  return "";
}

ClipInfo inspect_clip(const std::string &path) {
  ClipInfo info;
  g_autoptr(GstElement) pipeline = parse_pipeline(
      "filesrc name=source ! qtdemux name=demux"
      " demux.video_0 ! queue ! h264parse name=video_parse ! avdec_h264"
      " ! fakesink name=video_sink sync=false"
      " demux.audio_0 ! queue ! aacparse name=audio_parse ! avdec_aac"
      " ! fakesink name=audio_sink sync=false",
      &info.error);
  if (pipeline == nullptr) return info;
  {
    g_autoptr(GstElement) source = gst_bin_get_by_name(GST_BIN(pipeline), "source");
    g_object_set(source, "location", path.c_str(), nullptr);
  }
  StreamTally video;
  StreamTally audio;
  tally_sink(pipeline, "video_sink", &video);
  tally_sink(pipeline, "audio_sink", &audio);

  info.error = play_to_eos(pipeline, 60 * GST_SECOND);
  if (info.error.empty()) {
    info.played = true;
    g_autoptr(GstCaps) video_caps = sink_caps(pipeline, "video_parse");
    g_autoptr(GstCaps) audio_caps = sink_caps(pipeline, "audio_parse");
    if (video_caps != nullptr) {
      const GstStructure *s = gst_caps_get_structure(video_caps, 0);
      info.video_is_h264 = gst_structure_has_name(s, "video/x-h264");
      gst_structure_get_int(s, "width", &info.width);
      gst_structure_get_int(s, "height", &info.height);
      gst_structure_get_fraction(s, "framerate", &info.fps_n, &info.fps_d);
    }
    if (audio_caps != nullptr) {
      const GstStructure *s = gst_caps_get_structure(audio_caps, 0);
      int mpegversion = 0;
      gst_structure_get_int(s, "mpegversion", &mpegversion);
      info.audio_is_aac = gst_structure_has_name(s, "audio/mpeg") && mpegversion == 4;
      gst_structure_get_int(s, "rate", &info.audio_rate);
      gst_structure_get_int(s, "channels", &info.audio_channels);
    }
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  info.video_frames = video.buffers;
  info.video_duration = video.duration;
  info.audio_duration = audio.duration;
  return info;
}

ImageInfo inspect_image(const std::string &bytes) {
  ImageInfo info;
  g_autofree gchar *path = nullptr;
  const int fd = g_file_open_tmp("emulator-image-XXXXXX", &path, nullptr);
  if (fd < 0) {
    info.error = "no temporary file";
    return info;
  }
  g_close(fd, nullptr);
  if (!g_file_set_contents(path, bytes.data(), static_cast<gssize>(bytes.size()), nullptr)) {
    g_remove(path);
    info.error = "cannot write the temporary file";
    return info;
  }
  g_autoptr(GstElement) pipeline = parse_pipeline(
      "filesrc name=source ! queue ! typefind name=type ! decodebin ! videoconvert"
      " ! fakesink name=sink sync=false",
      &info.error);
  if (pipeline == nullptr) {
    g_remove(path);
    return info;
  }
  {
    g_autoptr(GstElement) source = gst_bin_get_by_name(GST_BIN(pipeline), "source");
    g_autoptr(GstElement) type = gst_bin_get_by_name(GST_BIN(pipeline), "type");
    g_object_set(source, "location", path, nullptr);
    g_signal_connect(type, "have-type",
                     G_CALLBACK(+[](GstElement *, guint, GstCaps *caps, std::string *media_type) {
                       *media_type = gst_structure_get_name(gst_caps_get_structure(caps, 0));
                     }),
                     &info.media_type);
  }
  info.error = play_to_eos(pipeline, 30 * GST_SECOND);
  if (info.error.empty()) {
    info.decoded = true;
    g_autoptr(GstCaps) raw = sink_caps(pipeline, "sink");
    if (raw != nullptr) {
      const GstStructure *s = gst_caps_get_structure(raw, 0);
      gst_structure_get_int(s, "width", &info.width);
      gst_structure_get_int(s, "height", &info.height);
    }
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  g_remove(path);
  return info;
}

std::string check_image_download(Http &http, const std::string &url, const char *content_type,
                                 emu::FrameSize size) {
  const Response image = http.request("GET", url);
  fail_unless(image.status == 200 && image.content_type == content_type, "GET %s: %u %s",
              url.c_str(), image.status, image.content_type.c_str());
  fail_unless(image.content_length == static_cast<goffset>(image.body.size()),
              "GET %s: Content-Length %" G_GOFFSET_FORMAT " for %zu bytes", url.c_str(),
              image.content_length, image.body.size());
  const ImageInfo info = inspect_image(image.body);
  fail_unless(info.decoded && info.media_type == content_type && info.width == size.width &&
                  info.height == size.height,
              "%s: %s %dx%d, want %s %dx%d (%s)", url.c_str(), info.media_type.c_str(), info.width,
              info.height, content_type, size.width, size.height, info.error.c_str());
  return image.body;
}

RawResponse raw_get(const std::string &base_url, const std::string &path,
                    const std::string &extra_headers) {
  RawResponse response;
  const std::string host_and_port = base_url.substr(std::string("http://").size());
  GObjectPtr<GSocketClient> client(g_socket_client_new());
  g_socket_client_set_timeout(client.get(), 5);
  g_autoptr(GError) error = nullptr;
  GObjectPtr<GSocketConnection> connection(
      g_socket_client_connect_to_host(client.get(), host_and_port.c_str(), 80, nullptr, &error));
  if (!connection) return response;
  const std::string request =
      "GET " + path + " HTTP/1.1\r\nHost: " + host_and_port + "\r\n" + extra_headers + "\r\n";
  GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(connection.get()));
  if (!g_output_stream_write_all(out, request.data(), request.size(), nullptr, nullptr, nullptr))
    return response;
  GInputStream *in = g_io_stream_get_input_stream(G_IO_STREAM(connection.get()));
  std::string received;
  char buffer[16384];
  while (true) {
    g_autoptr(GError) read_error = nullptr;
    const gssize got = g_input_stream_read(in, buffer, sizeof buffer, nullptr, &read_error);
    if (got == 0) response.closed = true;
    if (got <= 0) break;
    received.append(buffer, static_cast<std::size_t>(got));
  }
  const auto head_end = received.find("\r\n\r\n");
  if (head_end == std::string::npos) return response;
  response.head = received.substr(0, head_end + 2);
  response.body = received.substr(head_end + 4);
  g_autofree gchar *lower = g_ascii_strdown(response.head.c_str(), -1);
  const std::string lowered = lower;
  const auto length_at = lowered.find("content-length:");
  if (length_at != std::string::npos) {
    response.announced_length = g_ascii_strtoll(
        response.head.c_str() + length_at + std::strlen("content-length:"), nullptr, 10);
  }
  return response;
}

emu::Options timed(emu::Provider provider, unsigned queued_ms, unsigned generation_ms) {
  emu::Options options;
  options.provider = provider;
  options.queued_ms = queued_ms;
  options.generation_ms = generation_ms;
  return options;
}

SegmindJob run_segmind_job(Http &http, emu::Emulator &emulator, const char *model,
                           const std::string &body) {
  SegmindJob job;
  job.submitted = http.post_json(emulator.api_url() + "/v2/" + model, body);
  fail_unless(job.submitted.status == 200, "submit answered %u %s", job.submitted.status,
              job.submitted.body.c_str());
  job.poll = poll_until_done(http, json_string(job.submitted.body, "status_url"));
  return job;
}

std::string run_job(Http &http, emu::Emulator &emulator, const std::string &body,
                    std::string *output_url, PollOutcome *poll) {
  const SegmindJob job = run_segmind_job(http, emulator, "grok-imagine-video", body);
  const Response &submitted = job.submitted;
  const std::string request_id = json_string(submitted.body, "request_id");
  fail_unless(!request_id.empty(), "no request_id in %s", submitted.body.c_str());
  fail_unless(json_string(submitted.body, "status") == "QUEUED", "submit answered %s",
              submitted.body.c_str());
  const std::string response_url = emulator.api_url() + "/v2/requests/" + request_id;
  fail_unless(json_string(submitted.body, "status_url") == response_url + "/status",
              "status_url in %s, want %s/status", submitted.body.c_str(), response_url.c_str());
  fail_unless(json_string(submitted.body, "response_url") == response_url,
              "response_url in %s, want %s", submitted.body.c_str(), response_url.c_str());
  if (poll != nullptr) *poll = job.poll;
  fail_unless(job.poll.final_status == "COMPLETED", "job %s ended %u %s (%s)", request_id.c_str(),
              job.poll.final_http, job.poll.final_body.c_str(),
              joined(job.poll.statuses_seen).c_str());
  const Response result = http.get_with_key(response_url);
  fail_unless(result.status == 200, "result answered %u %s", result.status, result.body.c_str());
  fail_unless(json_string(result.body, "status") == "COMPLETED", "result %s", result.body.c_str());
  *output_url = json_string(result.body, "output");
  fail_unless(*output_url == emulator.cdn_url() + "/videos/" + request_id + ".mp4",
              "output %s of %s", output_url->c_str(), request_id.c_str());
  return request_id;
}

void check_clip(const std::string &path, int width, int height, int duration_s) {
  const ClipInfo info = inspect_clip(path);
  fail_unless(info.played, "%s did not play: %s", path.c_str(), info.error.c_str());
  g_print("clip %s: H.264 %dx%d @ %d/%d fps, %d frames (%.3f s); AAC %d Hz x%d, decoded %.3f s\n",
          path.c_str(), info.width, info.height, info.fps_n, info.fps_d, info.video_frames,
          static_cast<double>(info.video_duration) / GST_SECOND, info.audio_rate,
          info.audio_channels, static_cast<double>(info.audio_duration) / GST_SECOND);
  fail_unless(info.video_is_h264, "%s: video is not H.264", path.c_str());
  fail_unless(info.width == width && info.height == height, "%s: %dx%d, want %dx%d", path.c_str(),
              info.width, info.height, width, height);
  fail_unless(info.fps_n == 24 && info.fps_d == 1, "%s: %d/%d fps, want 24/1", path.c_str(),
              info.fps_n, info.fps_d);
  fail_unless(info.video_frames == duration_s * 24, "%s: %d frames, want %d", path.c_str(),
              info.video_frames, duration_s * 24);
  fail_unless(info.audio_is_aac && info.audio_rate == 48000 && info.audio_channels == 2,
              "%s: audio AAC %d, %d Hz x%d, want AAC 48000 Hz x2", path.c_str(), info.audio_is_aac,
              info.audio_rate, info.audio_channels);
  const gint64 audio_error_ms =
      (static_cast<gint64>(info.audio_duration) - duration_s * static_cast<gint64>(GST_SECOND)) /
      static_cast<gint64>(GST_MSECOND);
  fail_unless(audio_error_ms > -50 && audio_error_ms < 50,
              "%s: audio off its %d s by %" G_GINT64_FORMAT " ms", path.c_str(), duration_s,
              audio_error_ms);
}

void check_downloads(Http &http, emu::Emulator &emulator, const std::string &request_id,
                     const std::string &output_url) {
  const std::string clip = read_file(emulator.clip_path(request_id));
  const goffset size = static_cast<goffset>(clip.size());
  fail_unless(size > 1000, "clip of %" G_GOFFSET_FORMAT " bytes", size);

  // The key must never reach the CDN.
  const int keyed_before = emulator.counters().cdn_requests_with_key;
  fail_unless(http.get_with_key(output_url).status == 403, "CDN GET with x-api-key not refused");
  fail_unless(
      http.request("GET", output_url, {{"Authorization", "Bearer emulator-key"}}).status == 403,
      "CDN GET with a Bearer key not refused");
  fail_unless(emulator.counters().cdn_requests_with_key == keyed_before + 2,
              "%d CDN requests with the key, want %d", emulator.counters().cdn_requests_with_key,
              keyed_before + 2);

  const Response whole = http.request("GET", output_url, {{"User-Agent", "emulator-selftest"}});
  fail_unless(whole.status == 200 && whole.body == clip && whole.content_length == size,
              "GET: %u, %zu bytes, Content-Length %" G_GOFFSET_FORMAT " (clip %" G_GOFFSET_FORMAT
              ")",
              whole.status, whole.body.size(), whole.content_length, size);
  fail_unless(whole.content_type == "video/mp4", "Content-Type %s", whole.content_type.c_str());
  bool saw_user_agent = false;
  for (const std::string &header : emulator.cdn_request_headers()) {
    saw_user_agent = saw_user_agent || header == "User-Agent: emulator-selftest";
  }
  fail_unless(saw_user_agent, "the CDN did not report the User-Agent");

  const Response head = http.request("HEAD", output_url);
  fail_unless(head.status == 200 && head.body.empty() && head.content_length == size,
              "HEAD: %u, %zu bytes, Content-Length %" G_GOFFSET_FORMAT, head.status,
              head.body.size(), head.content_length);

  const Response middle = http.request("GET", output_url, {{"Range", "bytes=100-199"}});
  fail_unless(middle.status == 206 && middle.body == clip.substr(100, 100),
              "Range bytes=100-199: %u, %zu bytes", middle.status, middle.body.size());
  fail_unless(middle.content_range == "bytes 100-199/" + std::to_string(size),
              "Range bytes=100-199: Content-Range %s", middle.content_range.c_str());
  fail_unless(middle.content_length == 100,
              "Range bytes=100-199: Content-Length %" G_GOFFSET_FORMAT, middle.content_length);
  g_print("Range bytes=100-199: %u, Content-Range: %s, %zu bytes\n", middle.status,
          middle.content_range.c_str(), middle.body.size());

  const goffset resume_at = size - 1000;
  const Response tail =
      http.request("GET", output_url, {{"Range", "bytes=" + std::to_string(resume_at) + "-"}});
  fail_unless(tail.status == 206 && tail.body == clip.substr(static_cast<std::size_t>(resume_at)),
              "Range bytes=%" G_GOFFSET_FORMAT "-: %u, %zu bytes", resume_at, tail.status,
              tail.body.size());
  fail_unless(tail.content_range == "bytes " + std::to_string(resume_at) + "-" +
                                        std::to_string(size - 1) + "/" + std::to_string(size),
              "Range bytes=%" G_GOFFSET_FORMAT "-: Content-Range %s", resume_at,
              tail.content_range.c_str());
  g_print("Range bytes=%" G_GOFFSET_FORMAT "-: %u, Content-Range: %s, %zu bytes\n", resume_at,
          tail.status, tail.content_range.c_str(), tail.body.size());

  const Response suffix = http.request("GET", output_url, {{"Range", "bytes=-10"}});
  fail_unless(suffix.status == 206 && suffix.body == clip.substr(clip.size() - 10),
              "Range bytes=-10: %u, %zu bytes", suffix.status, suffix.body.size());
  const Response past_end =
      http.request("GET", output_url, {{"Range", "bytes=" + std::to_string(size) + "-"}});
  fail_unless(past_end.status == 416 && past_end.content_range == "bytes */" + std::to_string(size),
              "Range past the end: %u, Content-Range %s", past_end.status,
              past_end.content_range.c_str());
  const Response several = http.request("GET", output_url, {{"Range", "bytes=0-9,20-29"}});
  fail_unless(several.status == 200 && several.body == clip, "two ranges: %u, %zu bytes",
              several.status, several.body.size());

  // A connection dropped mid-body: full Content-Length announced, 1000 bytes
  // sent, then EOF.
  emulator.add_fault({emu::Phase::Download, 0, "", 0, 1000, 1});
  const std::string path = output_url.substr(emulator.cdn_url().size());
  const RawResponse cut = raw_get(emulator.cdn_url(), path);
  fail_unless(cut.head.rfind("HTTP/1.1 200", 0) == 0, "truncate_at=1000: head %s",
              cut.head.c_str());
  fail_unless(cut.announced_length == size,
              "truncate_at=1000: announced Content-Length %" G_GOFFSET_FORMAT,
              cut.announced_length);
  fail_unless(cut.body.size() == 1000 && cut.body == clip.substr(0, 1000),
              "truncate_at=1000: received %zu bytes", cut.body.size());
  fail_unless(cut.closed, "truncate_at=1000: no EOF");
  g_print("truncate_at=1000: announced Content-Length %" G_GOFFSET_FORMAT
          ", received %zu bytes, then %s\n",
          cut.announced_length, cut.body.size(), cut.closed ? "EOF" : "no EOF");
  // Resuming after the cut: a ranged request can be cut too (206, the
  // range's length announced) and then completed.
  emulator.add_fault({emu::Phase::Download, 0, "", 0, 10, 1});
  const RawResponse cut_range = raw_get(emulator.cdn_url(), path, "Range: bytes=1000-\r\n");
  fail_unless(cut_range.head.rfind("HTTP/1.1 206", 0) == 0, "truncate_at=10 on bytes=1000-: %s",
              cut_range.head.c_str());
  fail_unless(cut_range.announced_length == size - 1000,
              "truncate_at=10 on bytes=1000-: announced %" G_GOFFSET_FORMAT,
              cut_range.announced_length);
  fail_unless(cut_range.body == clip.substr(1000, 10) && cut_range.closed,
              "truncate_at=10 on bytes=1000-: received %zu bytes, then %s", cut_range.body.size(),
              cut_range.closed ? "EOF" : "no EOF");
  g_print("truncate_at=10 on bytes=1000-: %s, announced %" G_GOFFSET_FORMAT
          ", received %zu bytes\n",
          cut_range.head.substr(0, cut_range.head.find('\r')).c_str(), cut_range.announced_length,
          cut_range.body.size());
  const Response rest = http.request("GET", output_url, {{"Range", "bytes=1000-"}});
  fail_unless(rest.status == 206 && clip.substr(0, 1000) + rest.body == clip,
              "resume at 1000: %u, %zu bytes", rest.status, rest.body.size());

  // A plain error fault, then normal service.
  emulator.add_fault({emu::Phase::Download, 503, "", 0, -1, 1});
  const Response unavailable = http.request("GET", output_url);
  fail_unless(unavailable.status == 503 && !json_string(unavailable.body, "error").empty(),
              "503 fault: %u %s", unavailable.status, unavailable.body.c_str());
  fail_unless(http.request("GET", output_url).status == 200, "no normal service after the fault");
}

const char *provider_name(emu::Provider provider) {
  switch (provider) {
    case emu::Provider::Segmind:
      return "segmind";
    case emu::Provider::Xai:
      return "xai";
    case emu::Provider::Aimlapi:
      return "aimlapi";
    case emu::Provider::Reapi:
      return "reapi";
  }
  return "?";
}

void check_foreign_paths(Http &http, emu::Emulator &emulator,
                         const std::function<bool(const Json &)> &is_not_found) {
  struct Path {
    emu::Provider owner;
    const char *method;
    const char *path;
  };
  const Path paths[] = {
      {emu::Provider::Segmind, "POST", "/v2/grok-imagine-video"},
      {emu::Provider::Segmind, "POST", "/v1/grok-imagine-video-1.5-preview"},
      {emu::Provider::Segmind, "POST", "/v2/grok-imagine-image"},
      {emu::Provider::Segmind, "GET", "/v2/requests/some-id/status"},
      {emu::Provider::Segmind, "GET", "/v2/requests/some-id"},
      {emu::Provider::Xai, "POST", "/v1/videos/generations"},
      {emu::Provider::Xai, "POST", "/v1/images/generations"},
      {emu::Provider::Xai, "GET", "/v1/videos/some-id"},
      {emu::Provider::Aimlapi, "POST", "/v2/video/generations"},
      {emu::Provider::Aimlapi, "GET", "/v2/video/generations?generation_id=some-id"},
      {emu::Provider::Reapi, "POST", "/api/v1/videos/generations"},
      {emu::Provider::Reapi, "GET", "/api/v1/tasks/some-id"},
  };
  const Headers both_keys = {{"x-api-key", kKey}, {"Authorization", std::string("Bearer ") + kKey}};
  const emu::Counters before = emulator.counters();
  int refused = 0;
  for (const Path &path : paths) {
    if (path.owner == emulator.options().provider) continue;
    const Response response =
        http.request(path.method, emulator.api_url() + path.path, both_keys,
                     std::strcmp(path.method, "POST") == 0 ? R"({"prompt": "x"})" : "");
    fail_unless(response.status == 404 && is_not_found(Json(response.body)), "%s %s on %s: %u %s",
                path.method, path.path, provider_name(emulator.options().provider), response.status,
                response.body.c_str());
    ++refused;
  }
  const emu::Counters after = emulator.counters();
  fail_unless(after.submits_total == before.submits_total, "%d submits counted for other paths",
              after.submits_total - before.submits_total);
  fail_unless(after.status_polls == before.status_polls, "%d polls counted for other paths",
              after.status_polls - before.status_polls);
  g_print("%s: %d other providers' paths answered 404\n",
          provider_name(emulator.options().provider), refused);
}

gint64 time_of(const std::function<void()> &request) {
  const gint64 started = g_get_monotonic_time();
  request();
  return (g_get_monotonic_time() - started) / 1000;
}

BearerPoll poll_bearer(Http &http, const std::string &url,
                       const std::function<bool(const std::string &status)> &pending,
                       const std::function<void(const Json &)> &on_pending) {
  BearerPoll poll;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    poll.final = http.get_bearer(url);
    const Json json(poll.final.body);
    const std::string status = json.str("$.status");
    if (poll.statuses.empty() || poll.statuses.back() != status) poll.statuses.push_back(status);
    if (poll.final.status != 200 || !pending(status)) break;
    if (on_pending) on_pending(json);
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return poll;
}

}  // namespace emulator_checks
