// SPDX-License-Identifier: LGPL-2.1-or-later
// reAPI (seed 004): Authorization: Bearer KEY; errors as
// {"error": {"code": <int>, "message": "...", "request_id": "req_..."}}.
//   POST /api/v1/videos/generations -> 200 {id: "task_<hex>", model, status: "processing",
//   created_at} GET  /api/v1/tasks/{id}          -> the same envelope; completed fills
//   output.video_urls,
//                                       failed fills error {code, message}
#include "emulator-debug.h"
#include "emulator-internal.h"

#define GST_CAT_DEFAULT grokimagine_emulator_debug

namespace grokimagine::emulator {
namespace {

constexpr const char *kModel = "grok-imagine-1.0-video";
constexpr glong kMaxPromptChars = 4000;
constexpr gint64 kMinDuration = 6;
constexpr gint64 kMaxDuration = 30;
constexpr int kDefaultDuration = 6;
constexpr std::size_t kMaxImageUrls = 7;

// Error codes: the seed documents the 2000x ones; the others are made up.
constexpr gint64 kCodeAuth = 10001;
constexpr gint64 kCodeNotFound = 10004;
constexpr gint64 kCodeHttp = 10000;  // injected faults
constexpr gint64 kCodePromptMissing = 20002;
constexpr gint64 kCodeInvalid = 20003;
constexpr gint64 kCodePromptTooLong = 20007;

const std::initializer_list<const char *> kSizes = {"16:9", "9:16", "1:1", "3:2", "2:3"};
const std::initializer_list<const char *> kQualities = {"480p", "720p"};

std::string envelope(gint64 code, const std::string &message) {
  return JsonWriter()
      .begin_object("error")
      .add("code", code)
      .add("message", message)
      .add("request_id", "req_" + random_hex().substr(0, 24))
      .end_object()
      .finish();
}

void respond_error(SoupServerMessage *msg, guint status, gint64 code, const std::string &message) {
  respond(msg, status, envelope(code, message));
}

void unauthorized(SoupServerMessage *msg) {
  respond_error(msg, SOUP_STATUS_UNAUTHORIZED, kCodeAuth,
                "invalid or missing API key: send Authorization: Bearer <key>");
}

struct Refusal {
  gint64 code = kCodeInvalid;
  std::string message;
};

bool refuse(Refusal *refusal, gint64 code, const std::string &message) {
  refusal->code = code;
  refusal->message = "grok-imagine: " + message;
  return false;
}

std::string quoted_or_type(JsonNode *node) {
  return holds_string(node) ? "\"" + std::string(json_node_get_string(node)) + "\""
                            : json_type_name(node);
}

struct Request {
  ImageInputs inputs;
  JobSpec spec;
};

bool parse_request(JsonObject *object, Request *request, Refusal *refusal) {
  JsonNode *model = member(object, "model");
  if (model == nullptr || !holds_string(model) ||
      json_node_get_string(model) != std::string(kModel)) {
    return refuse(refusal, kCodeInvalid,
                  std::string("model must be \"") + kModel + "\", got " +
                      (model == nullptr ? "nothing" : quoted_or_type(model)));
  }
  if (JsonNode *urls = member(object, "image_urls")) {
    if (!JSON_NODE_HOLDS_ARRAY(urls)) {
      return refuse(
          refusal, kCodeInvalid,
          "image_urls must be an array of public http(s) URLs, got " + json_type_name(urls));
    }
    JsonArray *array = json_node_get_array(urls);
    const guint length = json_array_get_length(array);
    if (length > kMaxImageUrls) {
      return refuse(refusal, kCodeInvalid,
                    "image_urls accepts at most " + std::to_string(kMaxImageUrls) +
                        " entries, got " + std::to_string(length));
    }
    for (guint index = 0; index < length; ++index) {
      JsonNode *url = json_array_get_element(array, index);
      ImageInput input;
      input.field = "image_urls[" + std::to_string(index) + "]";
      // No data: URIs, no bare base64: URLs only. Loopback http URLs stand
      // in for public ones in the tests.
      if (!holds_string(url) || classify_image(json_node_get_string(url), ImageRules{false, false},
                                               &input) != ImageProblem::None) {
        return refuse(refusal, kCodeInvalid, "image_urls entries must be public http(s) URLs");
      }
      request->inputs.references.push_back(input);
    }
  }
  std::string prompt;
  if (JsonNode *node = member(object, "prompt")) {
    if (!holds_string(node)) {
      return refuse(refusal, kCodeInvalid, "prompt must be a string, got " + json_type_name(node));
    }
    prompt = json_node_get_string(node);
  }
  if (trimmed(prompt).empty() && request->inputs.references.empty()) {
    return refuse(refusal, kCodePromptMissing,
                  "prompt is required when image_urls is empty (text-to-video)");
  }
  const glong prompt_chars = g_utf8_strlen(prompt.c_str(), -1);
  if (prompt_chars > kMaxPromptChars) {
    return refuse(refusal, kCodePromptTooLong,
                  "prompt exceeds " + std::to_string(kMaxPromptChars) + " characters (got " +
                      std::to_string(prompt_chars) + ")");
  }
  std::string size = "16:9";
  if (JsonNode *node = member(object, "size")) {
    if (!holds_string(node) || !is_one_of(json_node_get_string(node), kSizes)) {
      return refuse(
          refusal, kCodeInvalid,
          "invalid size " + quoted_or_type(node) + " (allowed: " + joined(kSizes, " / ") + ")");
    }
    size = json_node_get_string(node);
  }
  int duration_s = kDefaultDuration;
  if (JsonNode *node = member(object, "duration")) {
    if (!holds_integer(node)) {
      return refuse(refusal, kCodeInvalid,
                    "duration must be an integer number of seconds, got " + json_type_name(node));
    }
    const gint64 seconds = json_node_get_int(node);
    if (seconds < kMinDuration || seconds > kMaxDuration) {
      return refuse(refusal, kCodeInvalid,
                    "duration must be " + std::to_string(kMinDuration) + "-" +
                        std::to_string(kMaxDuration) + " seconds, got " + std::to_string(seconds));
    }
    duration_s = static_cast<int>(seconds);
  }
  std::string quality = "480p";
  if (JsonNode *node = member(object, "quality")) {
    // Lowercase is canonical; other cases are taken too.
    g_autofree gchar *lower =
        holds_string(node) ? g_ascii_strdown(json_node_get_string(node), -1) : nullptr;
    if (lower == nullptr || !is_one_of(lower, kQualities)) {
      return refuse(refusal, kCodeInvalid,
                    "invalid quality " + quoted_or_type(node) +
                        " (allowed: " + joined(kQualities, " / ") + ")");
    }
    quality = lower;
  }
  // With image_urls the real service takes the ratio from the first image;
  // the emulator keeps `size`.
  request->spec = video_spec(kModel, prompt, duration_s, frame_size(quality, size));
  return true;
}

const char *status_name(JobStatus status) {
  switch (status) {
    case JobStatus::Queued:
    case JobStatus::Processing:
      return "processing";
    case JobStatus::Completed:
      return "completed";
    case JobStatus::Failed:
    case JobStatus::Moderated:
    case JobStatus::Expired:
      return "failed";
  }
  return "failed";
}

class ReapiProfile : public Profile {
 public:
  explicit ReapiProfile(Core &core) : core_(core) {}

  void handle(SoupServerMessage *msg, const std::string &method, const char *path,
              GHashTable *) override {
    const std::vector<std::string> segments = path_segments(path);
    const bool api_v1 = segments.size() == 4 && segments[0] == "api" && segments[1] == "v1";
    if (method == SOUP_METHOD_POST && api_v1 && segments[2] == "videos" &&
        segments[3] == "generations") {
      core_.receive_submit(
          msg, path, std::nullopt,
          [this](PausedPtr paused, const std::string &body, std::size_t record_index) {
            process_submit(std::move(paused), body, record_index);
          });
      return;
    }
    if (method == SOUP_METHOD_GET && api_v1 && segments[2] == "tasks") {
      const std::string task_id = segments[3];
      core_.receive_poll(msg, Phase::Status, [this, task_id](SoupServerMessage *polled) {
        answer_poll(polled, task_id);
      });
      return;
    }
    respond_error(msg, SOUP_STATUS_NOT_FOUND, kCodeNotFound, "no route for " + method + " " + path);
  }

  std::string fault_body(guint status) const override {
    return envelope(kCodeHttp + status, status_phrase(status));
  }

  std::optional<std::string> credential(SoupServerMessage *msg) const override {
    return bearer_key(msg);
  }

  void refuse_credential(SoupServerMessage *msg) const override { unauthorized(msg); }

 private:
  void process_submit(PausedPtr paused, const std::string &body, std::size_t record_index) {
    SoupServerMessage *msg = paused->get();
    JsonBody json;
    std::string error;
    if (!json.parse(body, &error)) {
      respond_error(msg, SOUP_STATUS_BAD_REQUEST, kCodeInvalid, "grok-imagine: body " + error);
      return;
    }
    Request request;
    Refusal refusal;
    if (!parse_request(json.object(), &request, &refusal)) {
      respond_error(msg, SOUP_STATUS_BAD_REQUEST, refusal.code, refusal.message);
      return;
    }
    request.spec.id = core_.request_id("task_" + random_hex());
    request.spec.outcome = core_.planned_outcome(false, request.spec.prompt);
    core_.accept_job(
        std::move(paused), record_index, request.inputs, request.spec,
        [this](const JobSpec &spec) {
          const std::optional<JobView> view = core_.view_job(spec.id);
          return JsonWriter()
              .add("id", spec.id)
              .add("model", spec.model)
              .add("status", status_name(JobStatus::Processing))
              .add("created_at", view ? view->created_unix : 0)
              .finish();
        },
        [](PausedPtr refused, const std::string &field, const std::string &reason) {
          respond_error(refused->get(), SOUP_STATUS_BAD_REQUEST, kCodeInvalid,
                        "grok-imagine: " + field + ": " + reason);
        });
  }

  void answer_poll(SoupServerMessage *msg, const std::string &task_id) {
    const std::optional<JobView> view = core_.view_job(task_id);
    if (!view) {
      respond_error(msg, SOUP_STATUS_NOT_FOUND, kCodeNotFound, "task " + task_id + " not found");
      return;
    }
    JsonWriter json;
    json.add("id", view->id)
        .add("model", view->model)
        .add("status", status_name(view->status))
        .add("created_at", view->created_unix);
    if (view->status == JobStatus::Completed) {
      json.begin_object("output")
          .begin_array("video_urls")
          .add_element(core_.media_url(*view, 0))
          .end_array()
          .end_object()
          .add_null("error");
    } else if (is_terminal(view->status)) {
      json.add_null("output")
          .begin_object("error")
          .add("code", "generation_failed")
          .add("message", view->error.empty() ? "generation failed" : view->error)
          .end_object();
    } else {
      json.add_null("output").add_null("error");
    }
    respond(msg, SOUP_STATUS_OK, json.finish());
  }

  Core &core_;
};

}  // namespace

std::unique_ptr<Profile> make_reapi_profile(Core &core) {
  return std::make_unique<ReapiProfile>(core);
}

}  // namespace grokimagine::emulator
