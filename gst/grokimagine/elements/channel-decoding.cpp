// SPDX-License-Identifier: LGPL-2.1-or-later
#include "channel-decoding.h"

#include "element-errors.h"

#include <string>

GST_DEBUG_CATEGORY_EXTERN(grok_imagine_channel_debug);
#define GST_CAT_DEFAULT grok_imagine_channel_debug

GstCaps *ChannelFormat::video_caps() const {
  return gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "I420", "width", G_TYPE_INT,
                             width, "height", G_TYPE_INT, height, "framerate", GST_TYPE_FRACTION,
                             fps_n, fps_d, "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, nullptr);
}

GstCaps *ChannelFormat::audio_caps() const {
  return gst_caps_new_simple("audio/x-raw", "format", G_TYPE_STRING, "S16LE", "rate", G_TYPE_INT,
                             kRate, "channels", G_TYPE_INT, kChannels, "layout", G_TYPE_STRING,
                             "interleaved", nullptr);
}

// One stream kind's chain. Its pads and bin hold it (qdata), so that a
// pad's function never outlives what it uses.
struct ChannelDecoding::Chain {
  bool video;
  std::shared_ptr<ChannelEvents> events;
  GstElement *bin = nullptr;  // owned by the channel while the decoding lives
  GstElement *queue = nullptr, *convert = nullptr;
  // videorate, between `scale` and `filter` only for a clip whose frame
  // rate is not the channel's: it keeps each frame to decide on the next
  // and pushes a copy, which would send every frame's memory back to the
  // decoder's pool still shared, to be dropped there and allocated anew
  // (as playbin3 does, clips at the channel's rate go through without).
  // Only on the queue's streaming thread.
  GstElement *scale = nullptr, *rate = nullptr, *filter = nullptr;
  bool rate_linked = false;
  // Made for the first clip's caps, remade for a clip whose caps it does
  // not take; only on the queue's streaming thread.
  GstElement *decoder = nullptr;
  grokimagine::GObjectPtr<GstPad> feed;  // into the queue; clips' gates push through it
  grokimagine::GObjectPtr<GstPad> out;   // from the capsfilter: the fed clip's queue
  grokimagine::GObjectPtr<GstCaps> format;
  // Held by a gate while it pushes, and by feed() while it switches clips:
  // nothing of the clip before enters after the flush.
  std::mutex feeding;
  // Under the events lock.
  std::shared_ptr<ClipStreams> fed;
  bool flushing = false;  // between FLUSH_START and FLUSH_STOP at `out`
  // The fed clip's cut: set by feed() while nothing flows, read by the
  // probe on the converter's sink pad.
  StreamCut cut{0, CutRule::kStartsBefore};

  GstFlowReturn receive(GstBuffer *buffer);
  bool receive_event(GstEvent *event);
  GstPadProbeReturn on_caps(GstCaps *caps);
  void use_rate(bool needed);
};

namespace {

template <typename T>
GQuark quark_of() {
  static const GQuark quark = g_quark_from_static_string(typeid(T).name());
  return quark;
}

// `object` holds `held` (a shared_ptr) until it is finalized.
template <typename T>
void attach(gpointer object, std::shared_ptr<T> held) {
  g_object_set_qdata_full(G_OBJECT(object), quark_of<T>(), new std::shared_ptr<T>(std::move(held)),
                          [](gpointer data) { delete static_cast<std::shared_ptr<T> *>(data); });
}

template <typename T>
std::shared_ptr<T> attached(gpointer object) {
  auto *held =
      static_cast<std::shared_ptr<T> *>(g_object_get_qdata(G_OBJECT(object), quark_of<T>()));
  return held ? *held : nullptr;
}

// The highest ranked decoder taking `caps`, as decodebin3 picks one.
GstElement *make_decoder(GstCaps *caps, bool video) {
  GList *all = gst_element_factory_list_get_elements(
      GST_ELEMENT_FACTORY_TYPE_DECODER |
          (video ? GST_ELEMENT_FACTORY_TYPE_MEDIA_VIDEO : GST_ELEMENT_FACTORY_TYPE_MEDIA_AUDIO),
      GST_RANK_MARGINAL);
  GList *fit = gst_element_factory_list_filter(all, caps, GST_PAD_SINK, gst_caps_is_fixed(caps));
  fit = g_list_sort(fit, gst_plugin_feature_rank_compare_func);
  GstElement *decoder =
      fit ? gst_element_factory_create(GST_ELEMENT_FACTORY(fit->data), nullptr) : nullptr;
  gst_plugin_feature_list_free(fit);
  gst_plugin_feature_list_free(all);
  return decoder;
}

// A pad answering that it takes the channel's format.
gboolean query_format(GstPad *pad, GstObject *parent, GstQuery *query, GstCaps *format) {
  switch (GST_QUERY_TYPE(query)) {
    case GST_QUERY_CAPS: {
      GstCaps *filter = nullptr;
      gst_query_parse_caps(query, &filter);
      g_autoptr(GstCaps) result =
          filter ? gst_caps_intersect_full(filter, format, GST_CAPS_INTERSECT_FIRST)
                 : gst_caps_ref(format);
      gst_query_set_caps_result(query, result);
      return TRUE;
    }
    case GST_QUERY_ACCEPT_CAPS: {
      GstCaps *offered = nullptr;
      gst_query_parse_accept_caps(query, &offered);
      gst_query_set_accept_caps_result(query, gst_caps_is_subset(offered, format));
      return TRUE;
    }
    default:
      return gst_pad_query_default(pad, parent, query);
  }
}

using Chain = ChannelDecoding::Chain;

}  // namespace

GstFlowReturn Chain::receive(GstBuffer *buffer) {
  std::unique_lock<std::mutex> lock(events->lock);
  const std::shared_ptr<ClipStreams> clip = fed;
  auto gone = [&] {
    return flushing || events->stopping || !clip || clip->flushing || fed != clip;
  };
  events->wake.wait(
      lock, [&] { return gone() || clip->stream(video).queue.size() < clip->stream(video).limit; });
  if (gone()) {
    gst_buffer_unref(buffer);
    return GST_FLOW_FLUSHING;
  }
  GST_LOG_OBJECT(bin, "decoded %" GST_PTR_FORMAT, buffer);
  clip->stream(video).queue.push_back(buffer);
  events->changed(lock);
  return GST_FLOW_OK;
}

bool Chain::receive_event(GstEvent *event) {
  std::unique_lock<std::mutex> lock(events->lock);
  switch (GST_EVENT_TYPE(event)) {
    case GST_EVENT_EOS:
      if (fed) fed->stream(video).eos = true;
      break;
    case GST_EVENT_FLUSH_START:
      flushing = true;
      break;
    case GST_EVENT_FLUSH_STOP:
      flushing = false;
      break;
    default:
      break;
  }
  gst_event_unref(event);
  events->changed(lock);
  return true;
}

void Chain::use_rate(bool needed) {
  if (needed == rate_linked) return;
  GST_INFO_OBJECT(bin, "%s videorate", needed ? "through" : "without");
  if (needed) {
    // From NULL: nothing of the clip it last timed comes out again.
    gst_element_set_state(rate, GST_STATE_NULL);
    gst_element_unlink(scale, filter);
    gst_element_link_many(scale, rate, filter, nullptr);
    gst_element_sync_state_with_parent(rate);
  } else {
    gst_element_unlink_many(scale, rate, filter, nullptr);
    gst_element_link(scale, filter);
  }
  rate_linked = needed;
}

// On the queue's streaming thread, before the caps reach the decoder.
GstPadProbeReturn Chain::on_caps(GstCaps *caps) {
  if (video) {
    // The channel's rate, as the clip's stream says it: no videorate.
    const GstStructure *clip = gst_caps_get_structure(caps, 0);
    const GstStructure *channel = gst_caps_get_structure(format.get(), 0);
    int clip_n = 0, clip_d = 0, channel_n = 0, channel_d = 0;
    const bool same_rate =
        gst_structure_get_fraction(clip, "framerate", &clip_n, &clip_d) &&
        gst_structure_get_fraction(channel, "framerate", &channel_n, &channel_d) && clip_n > 0 &&
        gst_util_fraction_compare(clip_n, clip_d, channel_n, channel_d) == 0;
    use_rate(!same_rate);
  }
  if (decoder) {
    g_autoptr(GstPad) sink = gst_element_get_static_pad(decoder, "sink");
    if (gst_pad_query_accept_caps(sink, caps)) return GST_PAD_PROBE_OK;
    GST_INFO_OBJECT(bin, "%s does not take %" GST_PTR_FORMAT ": replaced",
                    GST_ELEMENT_NAME(decoder), caps);
    gst_element_unlink_many(queue, decoder, convert, nullptr);
    gst_element_set_state(decoder, GST_STATE_NULL);
    gst_bin_remove(GST_BIN(bin), std::exchange(decoder, nullptr));
  }
  decoder = make_decoder(caps, video);
  if (!decoder) {
    // The clip fails (its error), the channel goes on.
    g_autofree gchar *text = gst_caps_to_string(caps);
    GROK_IMAGINE_ELEMENT_ERROR(bin, CORE, MISSING_PLUGIN, "missing-plugin",
                               ("No decoder for %s.", text), (nullptr));
    return GST_PAD_PROBE_OK;
  }
  GST_INFO_OBJECT(bin, "decoding with %s", GST_ELEMENT_NAME(decoder));
  gst_bin_add(GST_BIN(bin), decoder);
  gst_element_link_many(queue, decoder, convert, nullptr);
  gst_element_sync_state_with_parent(decoder);
  return GST_PAD_PROBE_OK;
}

ChannelDecoding::ChannelDecoding(GstBin *channel, std::shared_ptr<ChannelEvents> events,
                                 const ChannelFormat &format)
    : events_(std::move(events)), channel_(grokimagine::GObjectPtr<GstBin>::ref(channel)) {
  for (bool video : {false, true}) {
    auto chain = std::make_shared<Chain>();
    chain->video = video;
    chain->events = events_;
    chain->format =
        grokimagine::GObjectPtr<GstCaps>::adopt(video ? format.video_caps() : format.audio_caps());
    chain->bin = gst_bin_new(video ? "decoding-video" : "decoding-audio");
    attach(chain->bin, chain);
    chain->queue = gst_element_factory_make("queue", nullptr);
    // The demuxer interleaves the streams on one thread: each stream may
    // run this far ahead of the other before the demuxer waits.
    g_object_set(chain->queue, "max-size-buffers", 0, "max-size-bytes", 0, "max-size-time",
                 guint64(3 * GST_SECOND), nullptr);
    chain->convert = gst_element_factory_make(video ? "videoconvert" : "audioconvert", nullptr);
    // No noise added where the decoder's samples are finer than 16 bits:
    // the same clip sounds the same, bit for bit, wherever it plays.
    if (!video) gst_util_set_object_arg(G_OBJECT(chain->convert), "dithering", "none");
    // videoscale keeps the clip's aspect ratio, adding borders (letter- or
    // pillar-boxing); videorate (use_rate) makes a clip of another frame
    // rate the channel's.
    GstElement *scale = chain->scale =
        gst_element_factory_make(video ? "videoscale" : "audioresample", nullptr);
    GstElement *filter = chain->filter = gst_element_factory_make("capsfilter", nullptr);
    g_object_set(filter, "caps", chain->format.get(), nullptr);
    gst_bin_add_many(GST_BIN(chain->bin), chain->queue, chain->convert, scale, filter, nullptr);
    gst_element_link_many(chain->convert, scale, filter, nullptr);
    if (video) {
      chain->rate = gst_element_factory_make("videorate", nullptr);
      gst_bin_add(GST_BIN(chain->bin), chain->rate);
    }

    g_autoptr(GstPad) queue_src = gst_element_get_static_pad(chain->queue, "src");
    gst_pad_add_probe(
        queue_src, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
        [](GstPad *, GstPadProbeInfo *info, gpointer data) {
          GstEvent *event = GST_PAD_PROBE_INFO_EVENT(info);
          if (GST_EVENT_TYPE(event) != GST_EVENT_CAPS) return GST_PAD_PROBE_OK;
          GstCaps *caps = nullptr;
          gst_event_parse_caps(event, &caps);
          return static_cast<Chain *>(data)->on_caps(caps);
        },
        chain.get(), nullptr);
    // Dropped here, before videorate: held in the clip's queues, they
    // would stall the decoding of the other stream.
    g_autoptr(GstPad) convert_sink = gst_element_get_static_pad(chain->convert, "sink");
    gst_pad_add_probe(
        convert_sink,
        GstPadProbeType(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
        [](GstPad *pad, GstPadProbeInfo *info, gpointer data) {
          auto *cut = &static_cast<Chain *>(data)->cut;
          return cut->at ? grok_imagine_cut_probe(pad, info, cut) : GST_PAD_PROBE_OK;
        },
        chain.get(), nullptr);

    // The pads at both ends have no parent: across the bins, by design.
    chain->feed = grokimagine::GObjectPtr<GstPad>::adopt(GST_PAD(
        gst_object_ref_sink(gst_pad_new(video ? "feed-video" : "feed-audio", GST_PAD_SRC))));
    gst_pad_set_active(chain->feed.get(), TRUE);
    g_autoptr(GstPad) queue_sink = gst_element_get_static_pad(chain->queue, "sink");
    gst_pad_link_full(chain->feed.get(), queue_sink, GST_PAD_LINK_CHECK_NOTHING);

    chain->out = grokimagine::GObjectPtr<GstPad>::adopt(
        GST_PAD(gst_object_ref_sink(gst_pad_new(video ? "video" : "audio", GST_PAD_SINK))));
    attach(chain->out.get(), chain);
    gst_pad_set_chain_function(chain->out.get(), [](GstPad *pad, GstObject *, GstBuffer *buffer) {
      return attached<Chain>(pad)->receive(buffer);
    });
    gst_pad_set_event_function(chain->out.get(),
                               [](GstPad *pad, GstObject *, GstEvent *event) -> gboolean {
                                 return attached<Chain>(pad)->receive_event(event);
                               });
    gst_pad_set_query_function(
        chain->out.get(), [](GstPad *pad, GstObject *parent, GstQuery *query) -> gboolean {
          return query_format(pad, parent, query, attached<Chain>(pad)->format.get());
        });
    gst_pad_set_active(chain->out.get(), TRUE);
    g_autoptr(GstPad) filter_src = gst_element_get_static_pad(filter, "src");
    gst_pad_link_full(filter_src, chain->out.get(), GST_PAD_LINK_CHECK_NOTHING);

    gst_bin_add(channel, chain->bin);
    chains_[video] = std::move(chain);
  }
}

ChannelDecoding::~ChannelDecoding() {
  for (const auto &chain : chains_) {
    gst_element_set_state(chain->bin, GST_STATE_NULL);
    gst_bin_remove(channel_.get(), chain->bin);
    for (GstPad *pad : {chain->feed.get(), chain->out.get()}) gst_pad_set_active(pad, FALSE);
  }
}

namespace {

// What a gate holds: its clip and the chain it feeds.
struct Gate {
  std::shared_ptr<ClipStreams> clip;
  std::shared_ptr<Chain> chain;
  bool sticky_sent = false;  // the gate's streaming thread's
};

// Waits until the gate's clip is fed (true) or done with (false), with
// `what` (a buffer, an EOS) counted as waiting at the gate.
bool wait_to_be_fed(Gate &gate) {
  ClipStreams &clip = *gate.clip;
  std::unique_lock<std::mutex> lock(clip.events->lock);
  if (!clip.fed && !clip.flushing) {
    clip.stream(gate.chain->video).at_gate = true;
    clip.events->changed(lock);
    lock.lock();
  }
  clip.events->wake.wait(lock, [&] { return clip.fed || clip.flushing || clip.events->stopping; });
  return clip.fed && !clip.flushing && !clip.events->stopping;
}

// Pushes `what` into the chain (under its feeding lock: never after the
// clip stopped being fed), after the stream's sticky events the first time.
template <typename Push>
GstFlowReturn push_fed(Gate &gate, GstPad *pad, Push push) {
  Chain &chain = *gate.chain;
  std::lock_guard<std::mutex> feeding(chain.feeding);
  {
    std::lock_guard<std::mutex> lock(chain.events->lock);
    if (chain.fed != gate.clip || gate.clip->flushing) return GST_FLOW_FLUSHING;
  }
  if (!gate.sticky_sent) {
    gate.sticky_sent = true;
    gst_pad_sticky_events_foreach(
        pad,
        [](GstPad *, GstEvent **event, gpointer feed) -> gboolean {
          if (GST_EVENT_TYPE(*event) != GST_EVENT_EOS)
            gst_pad_push_event(GST_PAD(feed), gst_event_ref(*event));
          return TRUE;
        },
        chain.feed.get());
  }
  return push(chain.feed.get());
}

}  // namespace

GstPad *ChannelDecoding::make_gate(bool video, const std::shared_ptr<ClipStreams> &clip) const {
  GstPad *pad = gst_pad_new(video ? "video" : "audio", GST_PAD_SINK);
  attach(pad, std::make_shared<Gate>(Gate{clip, chains_[video]}));
  gst_pad_set_chain_function(pad, [](GstPad *pad, GstObject *, GstBuffer *buffer) {
    Gate &gate = *attached<Gate>(pad);
    if (!wait_to_be_fed(gate)) {
      gst_buffer_unref(buffer);
      return GST_FLOW_FLUSHING;
    }
    return push_fed(gate, pad, [buffer](GstPad *feed) { return gst_pad_push(feed, buffer); });
  });
  gst_pad_set_event_function(pad, [](GstPad *pad, GstObject *, GstEvent *event) -> gboolean {
    Gate &gate = *attached<Gate>(pad);
    bool fed;
    {
      std::lock_guard<std::mutex> lock(gate.clip->events->lock);
      fed = gate.clip->fed;
    }
    // Before the clip is fed, its stream's sticky events wait on this pad
    // (they go first when it is); an end waits like a buffer.
    if (GST_EVENT_TYPE(event) == GST_EVENT_EOS && !fed) fed = wait_to_be_fed(gate);
    if (!fed || !GST_EVENT_IS_SERIALIZED(event)) {
      gst_event_unref(event);
      return TRUE;
    }
    return push_fed(gate, pad, [event](GstPad *feed) {
             return gst_pad_push_event(feed, event) ? GST_FLOW_OK : GST_FLOW_ERROR;
           }) == GST_FLOW_OK;
  });
  // Any caps: the parsers keep the demuxer's format, which the decoder
  // chosen for it takes.
  gst_pad_set_query_function(pad, [](GstPad *pad, GstObject *parent, GstQuery *query) -> gboolean {
    switch (GST_QUERY_TYPE(query)) {
      case GST_QUERY_CAPS: {
        GstCaps *filter = nullptr;
        gst_query_parse_caps(query, &filter);
        g_autoptr(GstCaps) any = gst_caps_new_any();
        gst_query_set_caps_result(query, filter ? filter : any);
        return TRUE;
      }
      case GST_QUERY_ACCEPT_CAPS:
        gst_query_set_accept_caps_result(query, TRUE);
        return TRUE;
      default:
        return gst_pad_query_default(pad, parent, query);
    }
  });
  gst_pad_set_active(pad, TRUE);
  return pad;
}

void ChannelDecoding::feed(const std::shared_ptr<ClipStreams> &clip) {
  std::shared_ptr<ClipStreams> before;
  {
    std::unique_lock<std::mutex> lock(events_->lock);
    before = chains_[true]->fed;
    if (before) {
      before->fed = false;
      before->flushing = true;
    }
    events_->changed(lock);
  }
  for (const auto &chain : chains_) {
    // What the chain holds of the clip before (a frame in the decoder, the
    // one videorate keeps to close a segment) goes: the next clip starts
    // clean, from its own first frame.
    if (before) gst_pad_push_event(chain->feed.get(), gst_event_new_flush_start());
    std::lock_guard<std::mutex> feeding(chain->feeding);
    if (before) gst_pad_push_event(chain->feed.get(), gst_event_new_flush_stop(TRUE));
    std::unique_lock<std::mutex> lock(events_->lock);
    chain->fed = clip;
    chain->cut = clip->stream(chain->video).cut;
    chain->flushing = false;
  }
  std::unique_lock<std::mutex> lock(events_->lock);
  clip->fed = true;
  events_->changed(lock);
}

std::shared_ptr<ClipStreams> ChannelDecoding::clip_of(GstMessage *message) {
  GstObject *object =
      GST_MESSAGE_SRC(message) ? GST_OBJECT(gst_object_ref(GST_MESSAGE_SRC(message))) : nullptr;
  std::shared_ptr<Chain> chain;
  while (object && !chain) {
    if (GST_IS_BIN(object)) chain = attached<Chain>(object);
    GstObject *parent = gst_object_get_parent(object);
    gst_object_unref(object);
    object = parent;
  }
  if (object) gst_object_unref(object);
  if (!chain) return nullptr;
  std::lock_guard<std::mutex> lock(chain->events->lock);
  return chain->fed;
}
