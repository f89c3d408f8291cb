// Everything grokimaginesrc does, minus GObject: check the settings, run the
// job, then serve the clip's bytes from the download as they arrive.
#pragma once

#include <gio/gio.h>

#include <memory>
#include <optional>
#include <string>

#include "download.h"
#include "job.h"

namespace grokimagine {

struct ClipSettings {
  std::string provider = "segmind";
  VideoRequest request;
  std::string api_url;     // empty: the provider's default
  std::string api_key;     // empty: from the provider's environment variable
  std::string request_id;  // resume this job instead of submitting
  std::string location;    // keep the MP4 here too
  JobTiming timing;
};

class ClipSource {
 public:
  // Checks the settings and reads local inputs; nothing is sent. On success
  // the source is ready to run().
  std::optional<Error> prepare(const ClipSettings &settings);

  const Provider &provider() const { return *provider_; }
  const ClipSettings &settings() const { return settings_; }

  // Submits (or resumes) and waits for the video URL, then starts the
  // download. Errors after the submit carry the request id.
  std::optional<Error> run(GCancellable *cancellable, const JobEvents &events);

  const std::string &request_id() const { return request_id_; }
  Download *download() const { return download_.get(); }

 private:
  const Provider *provider_ = nullptr;
  ClipSettings settings_;
  ImageInput image_;
  std::string request_id_;
  std::unique_ptr<Download> download_;
};

}  // namespace grokimagine
