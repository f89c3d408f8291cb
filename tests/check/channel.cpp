// SPDX-License-Identifier: LGPL-2.1-or-later
// grokimaginechannel: prompts in, one continuous stream out. The schedule
// without a pipeline, then the element against the emulator: gapless
// playlists, cues from subparse, loop without new jobs, a failed clip
// skipped, live filler, stopping at any point.
#include <gst/check/gstcheck.h>

#include <glib/gstdio.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <mutex>
#include <set>
#include <tuple>

#include "assert-string.h"
#include "core/channel-plan.h"
#include "core/channel-schedule.h"
#include "core/channel-timeline.h"
#include "core/json.h"
#include "core/prompt-list.h"
#include "support.h"

namespace emu = grokimagine::emulator;
namespace json = grokimagine::json;
using grokimagine::ChannelSchedule;
using Kind = ChannelSchedule::Next::Kind;

// ---- The schedule ----

GST_START_TEST(test_schedule_lookahead_and_order) {
  ChannelSchedule schedule(1, false);
  fail_unless(schedule.add("a"));
  fail_unless(schedule.add("b"));
  fail_unless(schedule.add("c"));
  fail_if(schedule.add("   "));
  // The upcoming clip and one ahead.
  auto started = schedule.to_start();
  fail_unless_equals_int(started.size(), 2);
  fail_unless(schedule.to_start().empty());
  fail_unless(schedule.next(0).kind == Kind::Filler);  // generating
  schedule.ready(1);
  fail_unless(schedule.next(0).kind == Kind::Filler);  // in order: 0 first
  schedule.ready(0);
  auto next = schedule.next(0);
  fail_unless(next.kind == Kind::Clip && next.clip == 0);
  schedule.played(0);
  fail_unless_equals_int(schedule.to_start().at(0), 2);
  schedule.failed(1);  // skipped
  schedule.ready(2);
  fail_unless_equals_int(schedule.next(0).clip, 2);
  schedule.played(2);
  next = schedule.next(0);
  fail_unless(next.kind == Kind::Filler && next.starved);
  schedule.end_of_prompts();
  fail_unless(schedule.next(0).kind == Kind::End);
  fail_if(schedule.add("late"));
}
GST_END_TEST;

GST_START_TEST(test_schedule_cues_and_loop) {
  ChannelSchedule schedule(0, true);
  schedule.add("first", 0);
  schedule.add("second", 5 * GST_SECOND);
  schedule.to_start();
  schedule.ready(0);
  fail_unless_equals_int(schedule.next(0).clip, 0);
  schedule.played(0);
  schedule.to_start();
  schedule.ready(1);
  // Early for its cue: filler until then.
  auto next = schedule.next(2 * GST_SECOND);
  fail_unless(next.kind == Kind::Filler);
  fail_unless_equals_uint64(next.until, 5 * GST_SECOND);
  fail_unless_equals_int(schedule.next(5 * GST_SECOND).clip, 1);
  schedule.played(1);
  // Out of prompts: replay in order, forever.
  for (int expected : {0, 1, 0}) {
    next = schedule.next(9 * GST_SECOND);
    fail_unless(next.kind == Kind::Clip && next.replay);
    fail_unless_equals_int(next.clip, expected);
  }
}
GST_END_TEST;

GST_START_TEST(test_prompt_lists_as_gst_launch_writes_them) {
  using grokimagine::parse_prompt_list;
  auto items = parse_prompt_list("<A dog on a beach,A cat>");
  fail_unless(items && items->size() == 2);
  assert_equals_string(items->at(0).c_str(), "A dog on a beach");
  assert_equals_string(items->at(1).c_str(), "A cat");
  items = parse_prompt_list("< \"One, two\" , Three ,\"Say \\\"hi\\\"\">");
  fail_unless(items && items->size() == 3);
  assert_equals_string(items->at(0).c_str(), "One, two");
  assert_equals_string(items->at(1).c_str(), "Three");
  assert_equals_string(items->at(2).c_str(), "Say \"hi\"");
  fail_unless(parse_prompt_list(grokimagine::serialize_prompt_list(*items)) == items);
  fail_unless(parse_prompt_list("<>")->empty());
  fail_if(parse_prompt_list("no brackets").has_value());
  fail_if(parse_prompt_list("<\"unterminated>").has_value());
  // The element takes it as gst-launch gives it.
  GstElement *channel = gst_element_factory_make("grokimaginechannel", nullptr);
  gst_util_set_object_arg(G_OBJECT(channel), "prompts", "<A dog on a beach,A cat>");
  g_auto(GStrv) prompts = nullptr;
  g_object_get(channel, "prompts", &prompts, nullptr);
  fail_unless_equals_int(g_strv_length(prompts), 2);
  assert_equals_string(prompts[0], "A dog on a beach");
  gst_object_unref(channel);
}
GST_END_TEST;

GST_START_TEST(test_frame_size_from_resolution_and_ratio) {
  auto size = grokimagine::frame_size("480p", "16:9");
  fail_unless(size.width == 848 && size.height == 480);
  size = grokimagine::frame_size("720p", "9:16");
  fail_unless(size.width == 720 && size.height == 1280);
  size = grokimagine::frame_size("480p", "1:1");
  fail_unless(size.width == 480 && size.height == 480);
}
GST_END_TEST;

GST_START_TEST(test_timeline_frames_and_audio_meet_at_every_frame) {
  using grokimagine::ChannelTimeline;
  // 24 fps at 48 kHz: 2000 samples a frame.
  ChannelTimeline timeline(24, 1, 48000);
  fail_unless_equals_uint64(timeline.frame_time(1), 41666666);
  fail_unless_equals_uint64(timeline.samples_for_frames(1), 2000);
  fail_unless_equals_uint64(timeline.audio_missing(), 0);
  auto frame = timeline.add_frame();
  fail_unless_equals_uint64(frame.pts, 0);
  fail_unless_equals_uint64(frame.duration, 41666666);
  fail_unless_equals_uint64(timeline.audio_missing(), 2000);
  // A clip's audio comes in buffers that do not line up with frames: what
  // passes the frame's end waits for the next frame.
  fail_unless_equals_uint64(timeline.audio_to_take(1500), 1500);
  auto audio = timeline.add_samples(1500);
  fail_unless_equals_uint64(audio.pts, 0);
  fail_unless_equals_uint64(audio.duration, 31250000);
  fail_unless_equals_uint64(timeline.audio_to_take(1024), 500);
  timeline.add_samples(500);
  fail_unless_equals_uint64(timeline.audio_missing(), 0);
  fail_unless_equals_uint64(timeline.audio_to_take(524), 0);
  frame = timeline.add_frame();
  fail_unless_equals_uint64(frame.pts, 41666666);
  fail_unless_equals_uint64(timeline.position(), 83333333);
  fail_unless_equals_uint64(timeline.audio_missing(), 2000);

  // 30000/1001: frames and samples from their counts, so that nothing
  // drifts: audio per frame alternates (1601 or 1602 samples) and the sum
  // is exact.
  ChannelTimeline ntsc(30000, 1001, 48000);
  std::uint64_t durations = 0;
  std::uint64_t samples = 0;
  for (int i = 0; i < 30000; i++) {
    durations += ntsc.add_frame().duration;
    const std::uint64_t missing = ntsc.audio_missing();
    fail_unless(missing == 1601 || missing == 1602, "frame %d: %" G_GUINT64_FORMAT, i, missing);
    ntsc.add_samples(missing);
    samples += missing;
  }
  fail_unless_equals_uint64(durations, 1001 * GST_SECOND);
  fail_unless_equals_uint64(ntsc.position(), 1001 * GST_SECOND);
  fail_unless_equals_uint64(samples, 1001 * 48000);
  fail_unless_equals_uint64(ntsc.sample_time(ntsc.samples()), 1001 * GST_SECOND);
}
GST_END_TEST;

GST_START_TEST(test_timeline_audio_cut_at_an_extension) {
  using grokimagine::samples_before_cut;
  const std::uint64_t from = GST_SECOND / 2;
  // A buffer wholly after the cut keeps everything; wholly before, nothing.
  fail_unless_equals_uint64(samples_before_cut(from, from, 48000, 1024), 0);
  fail_unless_equals_uint64(samples_before_cut(from + 1, from, 48000, 1024), 0);
  fail_unless_equals_uint64(samples_before_cut(0, from, 48000, 1024), 1024);
  // A buffer across it: the samples before it, to the nearest one.
  fail_unless_equals_uint64(samples_before_cut(from - 10 * GST_MSECOND, from, 48000, 1024), 480);
  fail_unless_equals_uint64(samples_before_cut(from - 10416, from, 48000, 1024), 0);
  fail_unless_equals_uint64(samples_before_cut(from - 20834, from, 48000, 1024), 1);
}
GST_END_TEST;

// ---- The plan: the channel's rules over the schedule ----

using grokimagine::ChannelContinuity;
using grokimagine::ChannelFiller;
using grokimagine::ChannelPlan;
using grokimagine::ChannelRules;
using Step = grokimagine::ChannelStep::Kind;

// Plays every clip the plan says to start, in order, until it asks for
// something else; the clips played.
static std::vector<int> play_what_is_ready(ChannelPlan &plan, std::uint64_t position = 0) {
  std::vector<int> played;
  for (int guard = 0; guard < 100; guard++) {
    for (const auto &start : plan.to_start()) plan.clip_ready(start.clip);
    const auto step = plan.next(position);
    if (step.kind != Step::Play) break;
    played.push_back(step.clip);
    plan.clip_played(step.clip, step.replay);
  }
  return played;
}

GST_START_TEST(test_plan_a_playlist_that_runs_dry) {
  struct Row {
    const char *what;
    ChannelRules rules;
    Step after_the_last;
  };
  const Row rows[] = {
      // Nothing can add a prompt: the end.
      {"playlist", {}, Step::End},
      // The text pad may still bring prompts: wait for them.
      {"text pad linked", {.more_prompts_may_come = true}, Step::Wait},
      // Live never ends by itself: filler, for a wait.
      {"live", {.live = true}, Step::Filler},
      {"live, text pad linked", {.live = true, .more_prompts_may_come = true}, Step::Filler},
  };
  for (const Row &row : rows) {
    ChannelPlan plan(row.rules);
    plan.add_prompt("a");
    plan.add_prompt("b");
    const auto played = play_what_is_ready(plan);
    fail_unless(played == std::vector<int>({0, 1}), "%s", row.what);
    const auto step = plan.next(0);
    fail_unless(step.kind == row.after_the_last, "%s: step %d", row.what, int(step.kind));
    if (step.kind == Step::Filler) assert_equals_string(step.reason, "waiting");
  }
  // The prompts' end (the text pad's EOS) ends a playlist that waits.
  ChannelPlan plan({.more_prompts_may_come = true});
  fail_unless(plan.next(0).kind == Step::Wait);
  plan.end_of_prompts();
  fail_unless(plan.next(0).kind == Step::End);
}
GST_END_TEST;

GST_START_TEST(test_plan_filler_or_replay) {
  struct Row {
    const char *what;
    ChannelRules rules;
    Step before_anything;   // a clip generating, nothing played yet
    Step after_one_played;  // the second clip still generating
    bool replay;
  };
  const Row rows[] = {
      {"not live: wait for the clip", {}, Step::Wait, Step::Wait, false},
      {"live hold", {.live = true}, Step::Filler, Step::Filler, false},
      {"live black",
       {.live = true, .filler = ChannelFiller::Black},
       Step::Filler,
       Step::Filler,
       false},
      // Replays what played; before anything has, a frame of filler.
      {"live loop", {.live = true, .filler = ChannelFiller::Loop}, Step::Filler, Step::Play, true},
      {"live preview",
       {.live = true, .filler = ChannelFiller::Preview},
       Step::Filler,
       Step::Filler,
       false},
  };
  for (const Row &row : rows) {
    ChannelPlan plan(row.rules);
    plan.add_prompt("a");
    plan.add_prompt("b");
    const auto starts = plan.to_start();
    fail_unless_equals_int(starts.size(), 2);
    auto step = plan.next(0);
    fail_unless(step.kind == row.before_anything, "%s", row.what);
    // Filler says which clip it waits for (a preview shows that clip's still).
    if (step.kind == Step::Filler)
      fail_unless(step.filler == row.rules.filler && step.awaited == 0, "%s", row.what);
    plan.clip_ready(0);
    step = plan.next(0);
    fail_unless(step.kind == Step::Play && step.clip == 0 && !step.replay, "%s", row.what);
    plan.clip_played(0, false);
    step = plan.next(GST_SECOND);
    fail_unless(step.kind == row.after_one_played, "%s", row.what);
    if (step.kind == Step::Filler) fail_unless_equals_int(step.awaited, 1);
    fail_unless_equals_int(step.replay, row.replay);
    if (row.replay) fail_unless(step.clip == 0 && step.covers_wait, "%s", row.what);
    // Once the clip is ready it plays, replay or not.
    plan.clip_ready(1);
    step = plan.next(GST_SECOND);
    fail_unless(step.kind == Step::Play && step.clip == 1 && !step.replay, "%s", row.what);
  }
  // A cue ahead is covered by filler, live or not, ready or not.
  ChannelPlan plan({});
  plan.add_prompt("at five", 5 * GST_SECOND);
  plan.to_start();
  plan.clip_ready(0);
  auto step = plan.next(GST_SECOND);
  fail_unless(step.kind == Step::Filler && step.awaited == 0);
  assert_equals_string(step.reason, "cue");
  fail_unless(plan.next(5 * GST_SECOND).kind == Step::Play);
}
GST_END_TEST;

GST_START_TEST(test_plan_releases_files_nothing_will_play) {
  struct Row {
    const char *what;
    ChannelRules rules;
    // After clip 0 and then clip 1 played: results and inputs released.
    std::vector<int> results_0, inputs_0, results_1, inputs_1;
  };
  const Row rows[] = {
      {"each clip once", {}, {0}, {0}, {1}, {1}},
      {"loop replays them", {.loop = true}, {}, {}, {}, {}},
      {"filler=loop replays them", {.live = true, .filler = ChannelFiller::Loop}, {}, {}, {}, {}},
      // A result stays while a later clip may extend it: clip 0 until clip
      // 1's result is whole, and the latest whole one always.
      {"extend", {.continuity = ChannelContinuity::Extend}, {}, {0}, {0}, {1}},
  };
  for (const Row &row : rows) {
    ChannelPlan plan(row.rules);
    plan.add_prompt("a");
    plan.add_prompt("b");
    auto starts = plan.to_start();
    fail_unless_equals_int(starts.at(0).clip, 0);
    plan.clip_ready(0);
    plan.clip_whole(0);
    fail_unless(plan.next(0).kind == Step::Play);
    auto release = plan.clip_played(0, false);
    fail_unless(release.results == row.results_0, "%s: results after 0", row.what);
    fail_unless(release.inputs == row.inputs_0, "%s: inputs after 0", row.what);
    starts = plan.to_start();
    if (row.rules.continuity == ChannelContinuity::Extend) {
      // Clip 1 extends clip 0, started once clip 0's result was whole.
      fail_unless(starts.size() == 1 && starts[0].continues == 0, "%s", row.what);
    }
    plan.clip_ready(1);
    plan.clip_whole(1);
    fail_unless_equals_int(plan.next(0).clip, 1);
    release = plan.clip_played(1, false);
    fail_unless(release.results == row.results_1, "%s: results after 1", row.what);
    fail_unless(release.inputs == row.inputs_1, "%s: inputs after 1", row.what);
    fail_unless_equals_int(plan.last_played(), 1);
    // A replay releases nothing and is not "the last played".
    if (row.rules.loop) {
      const auto step = plan.next(0);
      fail_unless(step.kind == Step::Play && step.replay);
      fail_unless(plan.clip_played(step.clip, true).results.empty());
      fail_unless_equals_int(plan.last_played(), 1);
    }
  }
}
GST_END_TEST;

GST_START_TEST(test_plan_budget_counts_what_clips_cost) {
  struct Row {
    const char *what;
    ChannelRules rules;
    // What each clip reports it cost once started: 0 nothing, < 0 paid by
    // an earlier run.
    std::vector<double> reported;
    int started;
    double committed;
  };
  const Row rows[] = {
      {"no budget", {.lookahead = 1, .clip_estimate_usd = 0.05}, {0, 0, 0, 0}, 4, 0.20},
      {"two fit, started together",
       {.lookahead = 16, .budget_usd = 0.12, .clip_estimate_usd = 0.05},
       {0, 0, 0, 0},
       2,
       0.10},
      // The provider's figure replaces the estimate: $0.10 + $0.05 would
      // fit in $0.16, but the next clip will cost $0.10 too.
      {"reported above the estimate",
       {.lookahead = 0, .budget_usd = 0.16, .clip_estimate_usd = 0.05},
       {0.10, 0.10, 0.10, 0.10},
       1,
       0.10},
      // Clips in flight are expected to cost what the others reported.
      {"in flight at the highest reported",
       {.lookahead = 1, .budget_usd = 0.25, .clip_estimate_usd = 0.05},
       {0.10, 0.10, 0.10, 0.10},
       2,
       0.20},
      {"reported below the estimate",
       {.lookahead = 0, .budget_usd = 0.08, .clip_estimate_usd = 0.05},
       {0.03, 0.03, 0.03, 0.03},
       2,
       0.06},
      {"paid by an earlier run",
       {.lookahead = 0, .budget_usd = 0.06, .clip_estimate_usd = 0.05},
       {-1, 0, 0, 0},
       2,
       0.05},
      {"spent before this run",
       {.lookahead = 16, .budget_usd = 0.12, .clip_estimate_usd = 0.05, .spent_before_usd = 0.05},
       {0, 0, 0, 0},
       1,
       0.10},
      // filler=preview: each clip's still is paid too ($0.07 a clip).
      {"with a preview each",
       {.filler = ChannelFiller::Preview,
        .lookahead = 16,
        .budget_usd = 0.15,
        .clip_estimate_usd = 0.05,
        .preview_estimate_usd = 0.02},
       {0, 0, 0, 0},
       2,
       0.14},
      {"a preview price without filler=preview",
       {.lookahead = 16,
        .budget_usd = 0.15,
        .clip_estimate_usd = 0.05,
        .preview_estimate_usd = 0.02},
       {0, 0, 0, 0},
       3,
       0.15},
  };
  for (const Row &row : rows) {
    ChannelPlan plan(row.rules);
    for (const char *prompt : {"a", "b", "c", "d"}) plan.add_prompt(prompt);
    int started = 0;
    for (int guard = 0; guard < 100; guard++) {
      for (const auto &start : plan.to_start()) {
        started++;
        const double cost = row.reported.at(std::size_t(start.clip));
        if (cost < 0) plan.clip_paid_before(start.clip);
        if (cost > 0) plan.clip_cost(start.clip, cost);
        plan.clip_ready(start.clip);
      }
      const auto step = plan.next(0);
      if (step.kind != Step::Play) break;
      plan.clip_played(step.clip, step.replay);
    }
    fail_unless_equals_int(started, row.started);
    fail_unless(G_APPROX_VALUE(plan.committed_usd(), row.committed, 1e-9), "%s: committed %f",
                row.what, plan.committed_usd());
    const bool over = row.started < 4;
    fail_unless_equals_int(plan.budget_reached(), over);
    // Once reached, the playlist ends with what was made: no prompt is
    // taken any more.
    if (over) {
      fail_unless(plan.add_prompt("e").has_value(), "%s", row.what);
      fail_unless(plan.next(0).kind == Step::End, "%s", row.what);
    }
  }
}
GST_END_TEST;

GST_START_TEST(test_plan_caps_the_queue) {
  ChannelPlan plan({.lookahead = 0, .more_prompts_may_come = true, .max_queued = 2});
  fail_if(plan.add_prompt("a"));
  fail_if(plan.add_prompt("b"));
  auto refused = plan.add_prompt("c");
  fail_unless(refused.has_value());
  assert_equals_string(refused->message.c_str(),
                       "the queue holds 2 prompts not yet played (max-queued)");
  fail_unless(plan.add_prompt(" ").has_value());
  // A clip that plays makes room.
  fail_unless_equals_int(plan.to_start().at(0).clip, 0);
  plan.clip_ready(0);
  fail_unless_equals_int(plan.next(0).clip, 0);
  plan.clip_played(0, false);
  fail_if(plan.add_prompt("c"));
  fail_unless_equals_int(plan.schedule().unplayed(), 2);
}
GST_END_TEST;

GST_START_TEST(test_plan_last_frame_generates_nothing_ahead) {
  ChannelPlan plan({.continuity = ChannelContinuity::LastFrame, .lookahead = 3});
  plan.add_prompt("a");
  plan.add_prompt("b");
  plan.add_prompt("c");
  // Each clip starts from the frame the one before it ended on.
  auto starts = plan.to_start();
  fail_unless(starts.size() == 1 && starts[0].clip == 0);
  plan.clip_ready(0);
  fail_unless(plan.to_start().empty());
  fail_unless_equals_int(plan.next(0).clip, 0);
  plan.clip_played(0, false);
  starts = plan.to_start();
  fail_unless(starts.size() == 1 && starts[0].clip == 1);
  fail_unless(!starts[0].continues);
}
GST_END_TEST;

// ---- The element ----

// What left the channel's pads, and its messages.
GST_START_TEST(test_schedule_chained_clips) {
  // Each clip continues the one before it: it starts once that one's
  // result is whole, however far the lookahead reaches.
  ChannelSchedule schedule(3, false, true);
  for (const char *prompt : {"a", "b", "c", "d"}) schedule.add(prompt);
  auto started = schedule.to_start();
  fail_unless(started.size() == 1 && started[0] == 0);
  fail_unless(!schedule.continues(0));
  schedule.ready(0);  // decoding: not whole yet
  fail_unless(schedule.to_start().empty());
  schedule.whole(0);
  started = schedule.to_start();
  fail_unless(started.size() == 1 && started[0] == 1);
  fail_unless_equals_int(*schedule.continues(1), 0);
  // A failed clip is passed over: the next continues the last whole one.
  schedule.failed(1);
  started = schedule.to_start();
  fail_unless(started.size() == 1 && started[0] == 2);
  fail_unless_equals_int(*schedule.continues(2), 0);
}
GST_END_TEST;

GST_START_TEST(test_extension_input_starts_at_a_keyframe) {
  using grokimagine::extension_input_start;
  const std::uint64_t s = GST_SECOND;
  // Keyframes every second of a 10 s result whose own part starts at 4.5 s:
  // from the keyframe before it, 6 s.
  std::vector<std::uint64_t> every_second;
  for (std::uint64_t t = 0; t < 10; t++) every_second.push_back(t * s);
  fail_unless_equals_uint64(
      *extension_input_start(every_second, 4500 * GST_MSECOND, 10 * s, 2 * s, 15 * s), 4 * s);
  // On a keyframe (to a millisecond): from there.
  fail_unless_equals_uint64(
      *extension_input_start(every_second, 6 * s - 500 * GST_USECOND, 10 * s, 2 * s, 15 * s),
      6 * s);
  // Too long from there (a 20 s clip played whole): the longest that fits.
  std::vector<std::uint64_t> twenty;
  for (std::uint64_t t = 0; t < 20; t++) twenty.push_back(t * s);
  fail_unless_equals_uint64(*extension_input_start(twenty, 0, 20 * s, 2 * s, 15 * s), 5 * s);
  // One keyframe only, 1 s from the end: nothing fits.
  fail_if(extension_input_start({9 * s}, 9 * s, 10 * s, 2 * s, 15 * s).has_value());
}
GST_END_TEST;

struct Seen {
  std::mutex mutex;
  guint64 frames = 0;
  guint64 samples = 0;
  GstClockTime video_next = 0;  // where the next video buffer must start
  GstClockTime audio_next = 0;
  int video_gaps = 0;  // buffers not starting where the previous ended
  int audio_gaps = 0;
  int width = 0, height = 0;
  std::vector<GstClockTime> black_frames;  // PTS of I420 frames all black (luma 16)
  // Frames of the red 4:3 slate letter-boxed into 848x480: red in the
  // middle (luma 81 in BT.601), black bars at the sides.
  int slate_frames = 0;
  std::vector<std::string> filler_kinds;  // `kind` of each grokimagine-filler that starts
  std::vector<std::string> clip_prompts;
  std::vector<GstClockTime> clip_times;
  std::vector<bool> clip_replays;
  std::vector<guint64> clip_durations;
  std::vector<double> clip_spent;  // spent-usd of each grokimagine-clip
  std::vector<int> clip_indexes;
  std::vector<std::string> clip_request_ids;
  int budget_messages = 0;
  double budget_spent = -1;  // spent-usd of the last grokimagine-budget
  std::vector<std::string> filler_reasons;
  std::vector<std::string> warnings;
  // grokimagine-moderated: "clip prompt request-id" each.
  std::vector<std::string> moderated;
  std::vector<std::string> failovers;  // grokimagine-failover: "from>to"
  // Each frame's PTS and a print of its row 100 (the luma, weighted by
  // position: a picture that moves sideways prints otherwise).
  std::vector<std::pair<GstClockTime, guint64>> frame_prints;
  // grokimagine-preview: clip index, request id and cost-usd of each.
  std::vector<std::tuple<int, std::string, double>> previews;
  // The left channel's rising zero crossings: the emulator's clips carry a
  // 440 Hz tone, so 440 a second when no audio is lost or repeated.
  guint64 rising = 0;
  gint16 last_sample = 0;
};

static GstPadProbeReturn count_buffer(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
  auto *seen = static_cast<Seen *>(data);
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER(info);
  const bool video = g_str_equal(GST_PAD_NAME(pad), "video");
  std::lock_guard<std::mutex> lock(seen->mutex);
  GstClockTime &next = video ? seen->video_next : seen->audio_next;
  const bool first = video ? seen->frames == 0 : seen->samples == 0;
  if (!first && GST_BUFFER_PTS(buffer) != next) (video ? seen->video_gaps : seen->audio_gaps)++;
  next = GST_BUFFER_PTS(buffer) + GST_BUFFER_DURATION(buffer);
  if (video) {
    seen->frames++;
    GstMapInfo map;
    if (gst_buffer_map(buffer, &map, GST_MAP_READ)) {
      // The luma plane is the first 848x480 bytes (the default size).
      bool black = map.size >= 848 * 480;
      for (gsize at = 0; black && at < 848 * 480; at++) black = map.data[at] == 16;
      if (black) seen->black_frames.push_back(GST_BUFFER_PTS(buffer));
      if (map.size >= 848 * 480) {
        const guint8 middle = map.data[240 * 848 + 424], side = map.data[240 * 848 + 10];
        seen->slate_frames += middle >= 75 && middle <= 87 && side == 16;
        guint64 print = 0;
        for (guint64 x = 0; x < 848; x++) print += (x + 1) * map.data[100 * 848 + x];
        seen->frame_prints.emplace_back(GST_BUFFER_PTS(buffer), print);
      }
      gst_buffer_unmap(buffer, &map);
    }
    if (!seen->width) {
      g_autoptr(GstCaps) caps = gst_pad_get_current_caps(pad);
      GstStructure *s = gst_caps_get_structure(caps, 0);
      gst_structure_get_int(s, "width", &seen->width);
      gst_structure_get_int(s, "height", &seen->height);
    }
  } else {
    seen->samples += gst_buffer_get_size(buffer) / 4;
    GstMapInfo map;
    if (gst_buffer_map(buffer, &map, GST_MAP_READ)) {
      const auto *samples = reinterpret_cast<const gint16 *>(map.data);
      for (gsize i = 0; i + 1 < map.size / 2; i += 2) {
        if (seen->last_sample < 0 && samples[i] >= 0) seen->rising++;
        seen->last_sample = samples[i];
      }
      gst_buffer_unmap(buffer, &map);
    }
  }
  return GST_PAD_PROBE_OK;
}

static GstElement *make_channel(const emu::Emulator &emulator, GstElement *pipeline, Seen *seen,
                                bool sync = false) {
  GstElement *channel = gst_element_factory_make("grokimaginechannel", "channel");
  fail_unless(channel != nullptr);
  gst_util_set_object_arg(G_OBJECT(channel), "provider", "segmind");
  g_object_set(channel, "api-url", emulator.api_url().c_str(), "api-key",
               emulator.options().api_key.c_str(), "poll-interval", 100u, "duration", 1, nullptr);
  gst_bin_add(GST_BIN(pipeline), channel);
  for (const char *pad_name : {"video", "audio"}) {
    GstElement *sink = gst_element_factory_make("fakesink", nullptr);
    g_object_set(sink, "sync", sync, nullptr);
    gst_bin_add(GST_BIN(pipeline), sink);
    fail_unless(gst_element_link_pads(channel, pad_name, sink, "sink"));
    g_autoptr(GstPad) pad = gst_element_get_static_pad(channel, pad_name);
    gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, count_buffer, seen, nullptr);
  }
  return channel;
}

// A channel on an xai emulator (its API under /v1, as xAI's).
static GstElement *make_xai_channel(const emu::Emulator &emulator, GstElement *pipeline, Seen *seen,
                                    bool sync = false) {
  GstElement *channel = make_channel(emulator, pipeline, seen, sync);
  gst_util_set_object_arg(G_OBJECT(channel), "provider", "xai");
  g_object_set(channel, "api-url", (emulator.api_url() + "/v1").c_str(), nullptr);
  return channel;
}

static emu::Options xai_options() {
  emu::Options options = test::quick_options();
  options.provider = emu::Provider::Xai;
  return options;
}

static void observe(Seen *seen, GstMessage *message) {
  std::lock_guard<std::mutex> lock(seen->mutex);
  if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_WARNING) {
    g_autoptr(GError) error = nullptr;
    gst_message_parse_warning(message, &error, nullptr);
    seen->warnings.push_back(error->message);
    return;
  }
  const GstStructure *s = gst_message_get_structure(message);
  if (GST_MESSAGE_TYPE(message) != GST_MESSAGE_ELEMENT || !s) return;
  if (gst_structure_has_name(s, "grokimagine-clip")) {
    guint64 at = 0;
    gst_structure_get_uint64(s, "running-time", &at);
    seen->clip_prompts.push_back(gst_structure_get_string(s, "prompt"));
    seen->clip_times.push_back(at);
    guint64 duration = 0;
    gst_structure_get_uint64(s, "duration", &duration);
    seen->clip_durations.push_back(duration);
    gboolean replay = FALSE;
    gst_structure_get_boolean(s, "replay", &replay);
    seen->clip_replays.push_back(replay);
    double spent = -1;
    gst_structure_get_double(s, "spent-usd", &spent);
    seen->clip_spent.push_back(spent);
    int index = -1;
    gst_structure_get_int(s, "index", &index);
    seen->clip_indexes.push_back(index);
    const gchar *id = gst_structure_get_string(s, "request-id");
    seen->clip_request_ids.push_back(id ? id : "");
  } else if (gst_structure_has_name(s, "grokimagine-budget")) {
    seen->budget_messages++;
    gst_structure_get_double(s, "spent-usd", &seen->budget_spent);
  } else if (gst_structure_has_name(s, "grokimagine-filler")) {
    seen->filler_reasons.push_back(gst_structure_get_string(s, "reason"));
    if (const gchar *kind = gst_structure_get_string(s, "kind")) seen->filler_kinds.push_back(kind);
  } else if (gst_structure_has_name(s, "grokimagine-moderated")) {
    int clip = -1;
    gst_structure_get_int(s, "clip", &clip);
    seen->moderated.push_back(std::to_string(clip) + " " + gst_structure_get_string(s, "prompt") +
                              " " + gst_structure_get_string(s, "request-id"));
  } else if (gst_structure_has_name(s, "grokimagine-failover")) {
    seen->failovers.push_back(std::string(gst_structure_get_string(s, "from")) + ">" +
                              gst_structure_get_string(s, "to"));
  } else if (gst_structure_has_name(s, "grokimagine-preview")) {
    int clip = -1;
    double cost = -1;
    gst_structure_get_int(s, "clip", &clip);
    gst_structure_get_double(s, "cost-usd", &cost);
    const gchar *id = gst_structure_get_string(s, "request-id");
    seen->previews.emplace_back(clip, id ? id : "", cost);
  }
}

static test::RunResult run(GstElement *pipeline, Seen *seen, int timeout_s = 60) {
  return test::run_pipeline(pipeline, timeout_s, [seen](GstMessage *m) { observe(seen, m); });
}

static void set_prompts(GstElement *channel, const char *serialized) {
  gst_util_set_object_arg(G_OBJECT(channel), "prompts", serialized);
}

// Plays `pipeline` until `clips` clips have started (any error fails the
// test, as do `timeout_s` seconds), then stops it and drops it.
static void play_until_clips(GstElement *pipeline, Seen *seen, std::size_t clips, int timeout_s) {
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  g_autoptr(GstBus) bus = gst_element_get_bus(pipeline);
  const gint64 deadline = g_get_monotonic_time() + timeout_s * G_USEC_PER_SEC;
  while (seen->clip_prompts.size() < clips) {
    fail_unless(g_get_monotonic_time() < deadline, "only %zu clips played",
                seen->clip_prompts.size());
    g_autoptr(GstMessage) message = gst_bus_timed_pop(bus, 100 * GST_MSECOND);
    if (message) {
      fail_if(GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR);
      observe(seen, message);
    }
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
}

GST_START_TEST(test_playlist_is_one_gapless_stream) {
  emu::Emulator emulator(test::quick_options());
  GstElement *pipeline = gst_pipeline_new(nullptr);
  Seen seen;
  GstElement *channel = make_channel(emulator, pipeline, &seen);
  set_prompts(channel, "<\"A dog\",\"A cat\",\"A heron\">");
  test::RunResult result = run(pipeline, &seen);
  gst_object_unref(pipeline);
  fail_unless(result.eos, "%s", result.error_text().c_str());
  // Three 1 s clips at 24 fps: 72 frames, and exactly as much audio.
  fail_unless_equals_int(seen.frames, 72);
  fail_unless_equals_int(seen.samples, 3 * 48000);
  fail_unless_equals_int(seen.video_gaps, 0);
  fail_unless_equals_int(seen.audio_gaps, 0);
  fail_unless_equals_uint64(seen.video_next, 3 * GST_SECOND);
  fail_unless_equals_uint64(seen.audio_next, 3 * GST_SECOND);
  fail_unless(seen.width == 848 && seen.height == 480);
  // The clips' sound whole: a frame's audio that reaches past the frame is
  // the next frame's, not dropped (which raised the tone by 2%: 1353). Each
  // clip's tone starts afresh: a few crossings more at the seams.
  fail_unless(seen.rising >= 3 * 440 - 3 && seen.rising <= 3 * 440 + 8,
              "%" G_GUINT64_FORMAT " rising zero crossings in 3 s of a 440 Hz tone", seen.rising);
  fail_unless_equals_int(seen.clip_prompts.size(), 3);
  assert_equals_string(seen.clip_prompts[2].c_str(), "A heron");
  fail_unless_equals_uint64(seen.clip_times[1], GST_SECOND);
  fail_unless_equals_uint64(seen.clip_times[2], 2 * GST_SECOND);
  fail_unless_equals_uint64(seen.clip_durations[0], GST_SECOND);
  fail_unless_equals_int(emulator.counters().submits_total, 3);
  // Each clip says which job made it.
  const auto submits = emulator.submits();
  for (int i = 0; i < 3; i++) {
    fail_unless_equals_int(seen.clip_indexes[i], i);
    fail_unless(std::count_if(submits.begin(), submits.end(),
                              [&](const emu::SubmitRecord &submit) {
                                return submit.request_id == seen.clip_request_ids[i];
                              }) == 1,
                "clip %d: request-id '%s'", i, seen.clip_request_ids[i].c_str());
  }
  // The job messages of each clip reach the channel's bus.
  fail_unless(std::count(result.job_statuses.begin(), result.job_statuses.end(), "SUBMITTED") == 3);
}
GST_END_TEST;

// Clips made at 24 fps on a 30 fps channel: converted (videorate), each
// second of clip thirty frames, the sound as long.
GST_START_TEST(test_clips_of_another_frame_rate_are_converted) {
  emu::Emulator emulator(test::quick_options());
  GstElement *pipeline = gst_pipeline_new(nullptr);
  Seen seen;
  GstElement *channel = make_channel(emulator, pipeline, &seen);
  gst_util_set_object_arg(G_OBJECT(channel), "framerate", "30/1");
  set_prompts(channel, "<\"A dog\",\"A cat\">");
  test::RunResult result = run(pipeline, &seen);
  gst_object_unref(pipeline);
  fail_unless(result.eos, "%s", result.error_text().c_str());
  fail_unless_equals_int(seen.frames, 60);
  fail_unless_equals_int(seen.samples, 2 * 48000);
  fail_unless_equals_int(seen.video_gaps, 0);
  fail_unless_equals_int(seen.audio_gaps, 0);
  fail_unless_equals_uint64(seen.video_next, 2 * GST_SECOND);
  fail_unless_equals_uint64(seen.clip_times[1], GST_SECOND);
}
GST_END_TEST;

GST_START_TEST(test_text_cues_from_subparse) {
  emu::Emulator emulator(test::quick_options());
  test::TempDir dir;
  const std::string srt = dir.path("story.srt");
  fail_unless(g_file_set_contents(srt.c_str(),
                                  "1\n00:00:00,000 --> 00:00:01,000\nA <i>dog</i> runs\n\n"
                                  "2\n00:00:03,000 --> 00:00:04,000\nA cat &amp; a dog\n\n",
                                  -1, nullptr));
  GstElement *pipeline = gst_pipeline_new(nullptr);
  Seen seen;
  GstElement *channel = make_channel(emulator, pipeline, &seen);
  GstElement *file = gst_element_factory_make("filesrc", nullptr);
  GstElement *parse = gst_element_factory_make("subparse", nullptr);
  g_object_set(file, "location", srt.c_str(), nullptr);
  gst_bin_add_many(GST_BIN(pipeline), file, parse, nullptr);
  fail_unless(gst_element_link(file, parse));
  fail_unless(gst_element_link_pads(parse, nullptr, channel, "text"));
  test::RunResult result = run(pipeline, &seen);
  gst_object_unref(pipeline);
  fail_unless(result.eos, "%s", result.error_text().c_str());
  fail_unless_equals_int(seen.clip_prompts.size(), 2);
  // Markup stripped; the second clip at its cue, filler before it.
  assert_equals_string(seen.clip_prompts[0].c_str(), "A dog runs");
  assert_equals_string(seen.clip_prompts[1].c_str(), "A cat & a dog");
  fail_unless_equals_uint64(seen.clip_times[1], 3 * GST_SECOND);
  fail_unless(std::find(seen.filler_reasons.begin(), seen.filler_reasons.end(), "cue") !=
              seen.filler_reasons.end());
  fail_unless_equals_int(seen.frames, 4 * 24);
  fail_unless_equals_int(seen.samples, 4 * 48000);
  fail_unless_equals_int(seen.video_gaps + seen.audio_gaps, 0);
}
GST_END_TEST;

GST_START_TEST(test_loop_replays_without_new_jobs) {
  emu::Emulator emulator(test::quick_options());
  GstElement *pipeline = gst_pipeline_new(nullptr);
  Seen seen;
  GstElement *channel = make_channel(emulator, pipeline, &seen);
  set_prompts(channel, "<\"One\",\"Two\">");
  g_object_set(channel, "loop", TRUE, nullptr);
  play_until_clips(pipeline, &seen, 5, 60);
  fail_unless_equals_int(emulator.counters().submits_total, 2);
  const std::vector<std::string> expected = {"One", "Two", "One", "Two", "One"};
  fail_unless(std::equal(expected.begin(), expected.end(), seen.clip_prompts.begin()));
  fail_unless_equals_int(seen.video_gaps + seen.audio_gaps, 0);
}
GST_END_TEST;

GST_START_TEST(test_failed_clip_is_skipped_with_a_warning) {
  emu::Options options = test::quick_options();
  options.generation_ms = 800;
  emu::Emulator emulator(options);
  GstElement *pipeline = gst_pipeline_new(nullptr);
  Seen seen;
  GstElement *channel = make_channel(emulator, pipeline, &seen);
  set_prompts(channel, "<\"Fine\",\"Refused\",\"Fine again\">");
  // One clip at a time, so the fault meets the second clip's job.
  g_object_set(channel, "lookahead", 0u, nullptr);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  test::wait_until([&] { return emulator.counters().submits_total >= 2; }, std::chrono::seconds(30),
                   "the second clip's submit");
  // Segmind fails a job with HTTP 422 on its status.
  emulator.add_fault(
      emu::Fault{emu::Phase::Status, 422, "{\"error\":\"content blocked\"}", 0, -1, 1});
  test::RunResult result = run(pipeline, &seen);
  gst_object_unref(pipeline);
  fail_unless(result.eos, "%s", result.error_text().c_str());
  const std::vector<std::string> expected = {"Fine", "Fine again"};
  fail_unless(seen.clip_prompts == expected);
  fail_unless(seen.warnings.size() == 1, "%s", seen.warnings.back().c_str());
  const std::string failed_id = emulator.submits().at(1).request_id;
  fail_unless(test::contains(seen.warnings[0], "Clip 1 (\"Refused\") failed"), "%s",
              seen.warnings[0].c_str());
  fail_unless(test::contains(seen.warnings[0], failed_id), "%s", seen.warnings[0].c_str());
  fail_unless_equals_int(seen.frames, 48);
  fail_unless_equals_int(seen.video_gaps + seen.audio_gaps, 0);
}
GST_END_TEST;

// A moderated clip is skipped with its own message (the cue's prompt and
// request id); the channel goes on with the next prompt. With a fallback
// provider, that clip comes from it instead.
GST_START_TEST(test_moderated_clip_is_skipped_with_its_message) {
  emu::Options options = xai_options();
  options.moderate_prompts_with = "forbidden";
  emu::Emulator emulator(options);
  GstElement *pipeline = gst_pipeline_new(nullptr);
  Seen seen;
  GstElement *channel = make_xai_channel(emulator, pipeline, &seen);
  set_prompts(channel, "<\"Fine\",\"A forbidden scene\",\"Fine again\">");
  test::RunResult result = run(pipeline, &seen);
  gst_object_unref(pipeline);
  fail_unless(result.eos, "%s", result.error_text().c_str());
  const std::vector<std::string> expected = {"Fine", "Fine again"};
  fail_unless(seen.clip_prompts == expected);
  fail_unless_equals_int(seen.moderated.size(), 1);
  std::string moderated_id;
  for (const auto &submit : emulator.submits())
    if (test::contains(submit.body, "forbidden")) moderated_id = submit.request_id;
  fail_if(moderated_id.empty());
  const std::string expected_message = "1 A forbidden scene " + moderated_id;
  assert_equals_string(seen.moderated[0].c_str(), expected_message.c_str());
  fail_unless_equals_int(seen.frames, 48);
  fail_unless_equals_int(seen.video_gaps + seen.audio_gaps, 0);

  // The same channel with segmind as its fallback: three clips, the second
  // from segmind, one submit there.
  emu::Emulator segmind(test::quick_options());
  g_setenv("SEGMIND_API_KEY", segmind.options().api_key.c_str(), TRUE);
  g_setenv("GROKIMAGINE_SEGMIND_API_URL", segmind.api_url().c_str(), TRUE);
  GstElement *second = gst_pipeline_new(nullptr);
  Seen failed_over;
  channel = make_xai_channel(emulator, second, &failed_over);
  set_prompts(channel, "<\"Fine\",\"A forbidden scene\",\"Fine again\">");
  gst_util_set_object_arg(G_OBJECT(channel), "fallback-providers", "<segmind>");
  g_object_set(channel, "failover-cooldown", 0u, nullptr);
  result = run(second, &failed_over);
  gst_object_unref(second);
  g_unsetenv("SEGMIND_API_KEY");
  g_unsetenv("GROKIMAGINE_SEGMIND_API_URL");
  fail_unless(result.eos, "%s", result.error_text().c_str());
  fail_unless_equals_int(failed_over.clip_prompts.size(), 3);
  fail_unless(failed_over.moderated.empty());
  fail_unless(failed_over.failovers == std::vector<std::string>{"xai>segmind"});
  fail_unless_equals_int(segmind.counters().submits_total, 1);
  fail_unless(test::contains(segmind.submits().at(0).body, "A forbidden scene"));
  fail_unless_equals_int(failed_over.frames, 72);
}
GST_END_TEST;

// A live channel playing in real time, each clip generated only once the
// one before plays (lookahead 0), waits covered by `filler`.
static GstElement *make_live_channel(const emu::Emulator &emulator, GstElement *pipeline,
                                     Seen *seen, const char *prompts, const char *filler) {
  GstElement *channel = make_channel(emulator, pipeline, seen, true);
  set_prompts(channel, prompts);
  g_object_set(channel, "is-live", TRUE, "lookahead", 0u, nullptr);
  gst_util_set_object_arg(G_OBJECT(channel), "filler", filler);
  return channel;
}

// filler=slate: the operator's image (4:3, red) covers the wait for the
// first clip, letter-boxed into the 16:9 output, with silence; the filler
// message says which kind covered it. Without an image, or with one that
// is not, the channel is refused before any job.
GST_START_TEST(test_slate_covers_the_wait) {
  emu::Options options = test::quick_options();
  options.generation_ms = 1500;
  emu::Emulator emulator(options);
  const std::string slate = test::make_png(320, 240, "red");
  GstElement *pipeline = gst_pipeline_new(nullptr);
  Seen seen;
  GstElement *channel = make_live_channel(emulator, pipeline, &seen, "<\"Slow one\">", "slate");
  g_object_set(channel, "slate", slate.c_str(), nullptr);
  play_until_clips(pipeline, &seen, 1, 40);
  g_unlink(slate.c_str());
  // At least a second of slate before the clip (1.5 s of generation).
  fail_unless(seen.slate_frames >= 24, "%d slate frames", seen.slate_frames);
  fail_unless(seen.black_frames.empty(), "%zu black frames", seen.black_frames.size());
  fail_unless(!seen.filler_kinds.empty());
  assert_equals_string(seen.filler_kinds[0].c_str(), "slate");
  fail_unless_equals_int(seen.video_gaps + seen.audio_gaps, 0);

  const std::string text = slate + ".txt";
  fail_unless(g_file_set_contents(text.c_str(), "not an image", -1, nullptr));
  for (const std::string &bad : {std::string(), std::string("/nonexistent/card.png"), text}) {
    GstElement *refused_pipeline = gst_pipeline_new(nullptr);
    Seen refused_seen;
    GstElement *refused =
        make_live_channel(emulator, refused_pipeline, &refused_seen, "<\"Never\">", "slate");
    if (!bad.empty()) g_object_set(refused, "slate", bad.c_str(), nullptr);
    test::RunResult result = run(refused_pipeline, &refused_seen);
    gst_object_unref(refused_pipeline);
    fail_unless(test::contains(result.error_text(), "'slate'"), "%s: %s", bad.c_str(),
                result.error_text().c_str());
  }
  g_unlink(text.c_str());
  fail_unless_equals_int(emulator.counters().submits_total, 1);
}
GST_END_TEST;

// A slate at a URL that takes the request and never answers: the fetch
// runs in the streaming task, so the state change returns at once and a
// stop cuts it (it was made during READY -> PAUSED, which nothing could
// cut: PLAYING took request-timeout x retries). Nothing is submitted.
GST_START_TEST(test_stop_cuts_the_slate_fetch) {
  emu::Emulator emulator(test::quick_options());
  g_autoptr(GSocket) silent =
      g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, nullptr);
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any_port = g_inet_socket_address_new(loopback, 0);
  fail_unless(g_socket_bind(silent, any_port, TRUE, nullptr) && g_socket_listen(silent, nullptr));
  g_autoptr(GSocketAddress) bound = g_socket_get_local_address(silent, nullptr);
  const guint port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
  GstElement *pipeline = gst_pipeline_new(nullptr);
  Seen seen;
  GstElement *channel = make_live_channel(emulator, pipeline, &seen, "<\"Never\">", "slate");
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/card.png";
  g_object_set(channel, "slate", url.c_str(), "request-timeout", 60u, nullptr);
  const gint64 before = g_get_monotonic_time();
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  // The fetch is out: its connection waits to be accepted.
  test::wait_until([&] { return g_socket_condition_check(silent, G_IO_IN) != 0; },
                   std::chrono::seconds(20), "the slate's request");
  gst_element_set_state(pipeline, GST_STATE_NULL);
  const gint64 took_ms = (g_get_monotonic_time() - before) / 1000;
  gst_object_unref(pipeline);
  fail_unless(took_ms < 15000, "PLAYING then NULL took %" G_GINT64_FORMAT " ms", took_ms);
  fail_unless_equals_int(emulator.counters().submits_total, 0);
}
GST_END_TEST;

// filler=preview: while the clip generates (2.5 s), a still of its prompt
// from the image model (0.2 s) covers the wait, panning: frames that are
// not black, and not all the same, before the clip; the still is a paid
// job (one more submit, its price in spent-usd). A provider without an
// filler=slate with a short clip (0.5 s, red, 4:3, with a tone) at a URL:
// fetched once, it loops while the clip generates (2 s), letter-boxed, and
// its tone is not heard; a clip over 10 s is refused at start.
GST_START_TEST(test_slate_clip_loops) {
  emu::Options options = test::quick_options();
  options.generation_ms = 2000;
  emu::Emulator emulator(options);
  test::TempDir dir;
  auto write_clip = [&](const char *name, int frames) {
    const std::string path = dir.path(name);
    const std::string description =
        "videotestsrc pattern=red num-buffers=" + std::to_string(frames) +
        " ! video/x-raw,width=320,height=240,framerate=24/1 ! videoconvert ! x264enc "
        "speed-preset=ultrafast ! h264parse ! mp4mux name=m ! filesink location=" +
        path + " audiotestsrc freq=440 num-buffers=" + std::to_string(frames * 2) +
        " samplesperbuffer=1000 ! audio/x-raw,rate=48000 ! audioconvert ! avenc_aac ! aacparse ! "
        "m.";
    GstElement *writer = gst_parse_launch(description.c_str(), nullptr);
    fail_unless(writer != nullptr);
    test::RunResult written = test::run_pipeline(writer, 120);
    gst_object_unref(writer);
    fail_unless(written.eos, "%s", written.error_text().c_str());
    return path;
  };
  const std::string slate = write_clip("slate.mp4", 12);
  // Given as a URL: fetched once, at start.
  test::FileServer server("/ident.mp4", "video/mp4", test::read_file(slate));
  GstElement *pipeline = gst_pipeline_new(nullptr);
  Seen seen;
  GstElement *channel = make_live_channel(emulator, pipeline, &seen, "<\"Slow one\">", "slate");
  g_object_set(channel, "slate", (server.url() + "/ident.mp4").c_str(), nullptr);
  play_until_clips(pipeline, &seen, 1, 40);
  fail_unless_equals_int(server.requests(), 1);
  // Over a second of slate before the clip: the 12-frame clip looped.
  fail_unless(seen.slate_frames >= 30, "%d slate frames", seen.slate_frames);
  fail_unless(!seen.filler_kinds.empty());
  assert_equals_string(seen.filler_kinds[0].c_str(), "slate");
  fail_unless_equals_int(seen.video_gaps + seen.audio_gaps, 0);
  // The slate's 440 Hz tone is silenced: what is heard is the clip's, which
  // has barely started (its tone is 440 rising crossings a second).
  fail_unless(seen.rising < 300, "%" G_GUINT64_FORMAT " rising crossings", seen.rising);

  const std::string long_clip = write_clip("long.mp4", 24 * 11);
  GstElement *refused_pipeline = gst_pipeline_new(nullptr);
  Seen refused_seen;
  GstElement *refused =
      make_live_channel(emulator, refused_pipeline, &refused_seen, "<\"Never\">", "slate");
  g_object_set(refused, "slate", long_clip.c_str(), nullptr);
  test::RunResult result = run(refused_pipeline, &refused_seen);
  gst_object_unref(refused_pipeline);
  fail_unless(test::contains(result.error_text(), "a slate clip is an MP4 of at most 10 s"), "%s",
              result.error_text().c_str());
  fail_unless_equals_int(emulator.counters().submits_total, 1);
}
GST_END_TEST;

// image model is refused before any job.
GST_START_TEST(test_preview_covers_the_wait) {
  emu::Options options = test::quick_options();
  // Long enough that the still (its job, download and decode: over a
  // second under ASan on a busy machine, where 2.5 s left 23 frames) leaves
  // a second of preview before the clip.
  options.generation_ms = 4000;
  options.image_generation_ms = 200;
  emu::Emulator emulator(options);
  test::TempDir dir;
  const std::string prices = dir.path("prices.txt");
  fail_unless(g_file_set_contents(
      prices.c_str(), "segmind grok-imagine-video * 0.07\nsegmind grok-imagine-image * 0.02\n", -1,
      nullptr));
  GstElement *pipeline = gst_pipeline_new(nullptr);
  Seen seen;
  GstElement *channel =
      make_live_channel(emulator, pipeline, &seen, "<\"A lighthouse in a storm\">", "preview");
  g_object_set(channel, "prices", prices.c_str(), "budget", 1.0, nullptr);
  gst_object_ref(channel);
  play_until_clips(pipeline, &seen, 1, 40);
  double spent = -1;
  g_object_get(channel, "spent-usd", &spent, nullptr);
  gst_object_unref(channel);

  fail_unless(std::find(seen.filler_kinds.begin(), seen.filler_kinds.end(), "preview") !=
                  seen.filler_kinds.end(),
              "no preview filler");
  const GstClockTime clip_start = seen.clip_times.at(0);
  std::set<guint64> prints;
  int preview_frames = 0;
  for (const auto &[pts, print] : seen.frame_prints) {
    if (pts >= clip_start || std::count(seen.black_frames.begin(), seen.black_frames.end(), pts))
      continue;
    preview_frames++;
    prints.insert(print);
  }
  // At least a second of preview before the clip, and the picture moves.
  fail_unless(preview_frames >= 24, "%d preview frames before the clip", preview_frames);
  fail_unless(prints.size() >= 2, "the preview does not pan (%zu prints)", prints.size());
  fail_unless_equals_int(seen.previews.size(), 1);
  fail_unless_equals_int(std::get<0>(seen.previews[0]), 0);
  fail_if(std::get<1>(seen.previews[0]).empty(), "the preview's request id");
  fail_unless(std::fabs(std::get<2>(seen.previews[0]) - 0.02) < 1e-9);
  // The clip and its still, each once.
  fail_unless_equals_int(emulator.counters().submits_total, 2);
  fail_unless(std::fabs(spent - 0.09) < 1e-9, "spent-usd %f", spent);
  fail_unless_equals_int(seen.video_gaps + seen.audio_gaps, 0);

  GstElement *refused_pipeline = gst_pipeline_new(nullptr);
  Seen refused_seen;
  GstElement *refused =
      make_live_channel(emulator, refused_pipeline, &refused_seen, "<\"Never\">", "preview");
  gst_util_set_object_arg(G_OBJECT(refused), "provider", "reapi");
  g_object_set(refused, "duration", 6, nullptr);
  test::RunResult result = run(refused_pipeline, &refused_seen);
  gst_object_unref(refused_pipeline);
  fail_unless(test::contains(result.error_text(),
                             "Property 'filler' is preview, but reapi has no "
                             "image model"),
              "%s", result.error_text().c_str());
  fail_unless_equals_int(emulator.counters().submits_total, 2);
}
GST_END_TEST;

GST_START_TEST(test_live_filler_covers_slow_generation) {
  emu::Options options = test::quick_options();
  options.generation_ms = 2000;
  emu::Emulator emulator(options);
  GstElement *pipeline = gst_pipeline_new(nullptr);
  Seen seen;
  GstElement *channel = make_live_channel(emulator, pipeline, &seen, "<\"Slow one\">", "hold");
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  g_autoptr(GstBus) bus = gst_element_get_bus(pipeline);
  const gint64 deadline = g_get_monotonic_time() + 40 * G_USEC_PER_SEC;
  bool queued = false;
  while (seen.clip_prompts.size() < 2) {
    fail_unless(g_get_monotonic_time() < deadline, "%zu clips", seen.clip_prompts.size());
    g_autoptr(GstMessage) message = gst_bus_timed_pop(bus, 100 * GST_MSECOND);
    if (message) {
      fail_if(GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR);
      observe(&seen, message);
    }
    // A prompt arriving while it plays.
    if (!queued && !seen.clip_prompts.empty()) {
      gboolean accepted = FALSE;
      g_signal_emit_by_name(channel, "queue-prompt", "Queued later", &accepted);
      fail_unless(accepted);
      g_signal_emit_by_name(channel, "queue-prompt", "", &accepted);
      fail_if(accepted);
      queued = true;
    }
  }
  const gint64 before = g_get_monotonic_time();
  gst_element_set_state(pipeline, GST_STATE_NULL);
  fail_unless((g_get_monotonic_time() - before) / 1000 < 15000, "NULL hangs");
  gst_object_unref(pipeline);
  // The wait for each clip was covered, then ended by the clip.
  fail_unless(std::count(seen.filler_reasons.begin(), seen.filler_reasons.end(), "waiting") >= 2);
  fail_unless(std::count(seen.filler_reasons.begin(), seen.filler_reasons.end(), "ended") >= 2);
  assert_equals_string(seen.clip_prompts[1].c_str(), "Queued later");
  fail_unless(seen.clip_times[0] >= GST_SECOND, "the first clip came at once?");
  fail_unless_equals_int(seen.video_gaps + seen.audio_gaps, 0);
  fail_unless_equals_int(emulator.counters().submits_total, 2);
}
GST_END_TEST;

// Waits, bounded, until `done` holds, handing every bus message to `seen`.
static void play_until(GstElement *pipeline, Seen *seen, const std::function<bool()> &done,
                       int timeout_s = 40) {
  g_autoptr(GstBus) bus = gst_element_get_bus(pipeline);
  const gint64 deadline = g_get_monotonic_time() + gint64(timeout_s) * G_USEC_PER_SEC;
  while (!done()) {
    fail_unless(g_get_monotonic_time() < deadline, "not reached within %d s", timeout_s);
    g_autoptr(GstMessage) message = gst_bus_timed_pop(bus, 100 * GST_MSECOND);
    if (!message) continue;
    fail_if(GST_MESSAGE_TYPE(message) == GST_MESSAGE_ERROR);
    observe(seen, message);
  }
}

// filler=black: the wait for a clip after one has played is black, not
// the last frame held.
GST_START_TEST(test_live_filler_black) {
  emu::Options options = test::quick_options();
  options.generation_ms = 2000;
  emu::Emulator emulator(options);
  GstElement *pipeline = gst_pipeline_new(nullptr);
  Seen seen;
  make_live_channel(emulator, pipeline, &seen, "<\"First\",\"Second\">", "black");
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  // Until the second clip's first frame has passed (frames reach the pad
  // after the message that announces the clip).
  play_until(pipeline, &seen, [&] {
    std::lock_guard<std::mutex> lock(seen.mutex);
    return seen.clip_times.size() >= 2 && seen.video_next > seen.clip_times[1];
  });
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
  // Between the two clips (the second is generated once the first plays:
  // lookahead 0), every frame is black.
  const GstClockTime first_ends = seen.clip_times[0] + GST_SECOND;
  const int between =
      int(gst_util_uint64_scale_round(seen.clip_times[1] - first_ends, 24, GST_SECOND));
  fail_unless(between >= 12, "only %d frames between the clips", between);
  const int black =
      int(std::count_if(seen.black_frames.begin(), seen.black_frames.end(), [&](GstClockTime pts) {
        return pts >= first_ends && pts < seen.clip_times[1];
      }));
  fail_unless_equals_int(black, between);
  fail_unless_equals_int(seen.video_gaps + seen.audio_gaps, 0);
}
GST_END_TEST;

GST_START_TEST(test_live_filler_loop_replays_what_played) {
  emu::Options options = test::quick_options();
  options.generation_ms = 2500;
  emu::Emulator emulator(options);
  GstElement *pipeline = gst_pipeline_new(nullptr);
  Seen seen;
  GstElement *channel = make_live_channel(emulator, pipeline, &seen, "<\"First\">", "loop");
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  bool queued = false;
  play_until(pipeline, &seen, [&] {
    if (!queued && !seen.clip_prompts.empty()) {
      gboolean accepted = FALSE;
      g_signal_emit_by_name(channel, "queue-prompt", "Second", &accepted);
      queued = true;
    }
    return std::find(seen.clip_prompts.begin(), seen.clip_prompts.end(), "Second") !=
           seen.clip_prompts.end();
  });
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
  // While Second was generated, First played again: a replay, not a job.
  fail_unless(seen.clip_prompts.size() >= 3);
  fail_unless(seen.clip_replays[1]);
  assert_equals_string(seen.clip_prompts[1].c_str(), "First");
  fail_unless_equals_int(emulator.counters().submits_total, 2);
  fail_unless_equals_int(seen.video_gaps + seen.audio_gaps, 0);
}
GST_END_TEST;

// A live channel that reaches its budget never stops abruptly: what was
// generated plays, then filler goes on.
GST_START_TEST(test_live_channel_over_budget_goes_on_with_filler) {
  emu::Emulator emulator(xai_options());
  GstElement *pipeline = gst_pipeline_new(nullptr);
  Seen seen;
  GstElement *channel = make_xai_channel(emulator, pipeline, &seen, true);
  g_object_set(channel, "budget", 0.07, "is-live", TRUE, nullptr);
  set_prompts(channel, "<\"One\",\"Two\">");
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  // The clip (1 s), then filler for a second at least.
  play_until(pipeline, &seen, [&] {
    std::lock_guard<std::mutex> lock(seen.mutex);
    return seen.frames >= 48 && seen.filler_reasons.size() >= 3;
  });
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
  fail_unless_equals_int(emulator.counters().submits_total, 1);
  fail_unless_equals_int(seen.budget_messages, 1);
  fail_unless_equals_int(seen.clip_prompts.size(), 1);
  std::string reasons;
  for (const auto &reason : seen.filler_reasons) reasons += reason + " ";
  fail_unless(std::count(seen.filler_reasons.begin(), seen.filler_reasons.end(), "waiting") >= 2,
              "filler before and after the clip: %s", reasons.c_str());
  fail_unless_equals_int(seen.video_gaps + seen.audio_gaps, 0);
}
GST_END_TEST;

// generate-audio=false (xai): silent clips, and the audio pad still carries
// exactly as much (silence) as the video.
GST_START_TEST(test_silent_clips_keep_the_audio_in_step) {
  emu::Emulator emulator(xai_options());
  GstElement *pipeline = gst_pipeline_new(nullptr);
  Seen seen;
  GstElement *channel = make_xai_channel(emulator, pipeline, &seen);
  g_object_set(channel, "generate-audio", FALSE, "connections", 2u, nullptr);
  set_prompts(channel, "<\"A dog\",\"A cat\">");
  test::RunResult result = run(pipeline, &seen);
  gst_object_unref(pipeline);
  fail_unless(result.eos, "%s", result.error_text().c_str());
  const auto submits = emulator.submits();
  fail_unless_equals_int(submits.size(), 2);
  for (const auto &submit : submits) fail_if(submit.generate_audio);
  fail_unless_equals_int(seen.frames, 48);
  fail_unless_equals_int(seen.samples, 2 * 48000);
  fail_unless_equals_int(seen.video_gaps + seen.audio_gaps, 0);
  fail_unless_equals_int(seen.rising, 0);
}
GST_END_TEST;

// Clips are decoded inside the channel's bin, on its clock: a DOT dump of
// the running pipeline shows each clip's source and decoder.
GST_START_TEST(test_clips_show_in_a_dot_dump) {
  emu::Emulator emulator(test::quick_options());
  GstElement *pipeline = gst_pipeline_new(nullptr);
  Seen seen;
  // Synced sinks: the clip plays for its second, and is still there when
  // the bus message that it started is looked at (however slow the build).
  GstElement *channel = make_channel(emulator, pipeline, &seen, true);
  set_prompts(channel, "<\"A dog\",\"A cat\">");
  std::string dot;
  bool same_clock = false;
  test::RunResult result = test::run_pipeline(pipeline, 60, [&](GstMessage *message) {
    observe(&seen, message);
    const GstStructure *s = gst_message_get_structure(message);
    if (dot.empty() && s && gst_structure_has_name(s, "grokimagine-clip")) {
      g_autofree gchar *data =
          gst_debug_bin_to_dot_data(GST_BIN(pipeline), GST_DEBUG_GRAPH_SHOW_ALL);
      dot = data;
      g_autoptr(GstElement) clip = gst_bin_get_by_name(GST_BIN(channel), "clip-0");
      g_autoptr(GstClock) clip_clock = clip ? gst_element_get_clock(clip) : nullptr;
      g_autoptr(GstClock) clock = gst_element_get_clock(pipeline);
      same_clock = clip && clip_clock == clock &&
                   gst_element_get_base_time(clip) == gst_element_get_base_time(pipeline);
    }
  });
  gst_object_unref(pipeline);
  fail_unless(result.eos, "%s", result.error_text().c_str());
  // Each clip parses its job's result; the channel's decoding, which the
  // clips are fed to in turn, decodes and scales.
  for (const char *part : {"clip-0", "grokimaginesrc", "parsebin", "decoding-video", "videoscale",
                           "decoding-audio", "audioresample"})
    fail_unless(test::contains(dot, part), "no %s in the DOT dump", part);
  fail_unless(same_clock, "clip-0 is not on the pipeline's clock and base time");
  fail_unless_equals_int(seen.clip_prompts.size(), 2);
}
GST_END_TEST;

GST_START_TEST(test_budget_covers_the_whole_channel) {
  emu::Emulator emulator(xai_options());
  GstElement *pipeline = gst_pipeline_new(nullptr);
  Seen seen;
  GstElement *channel = make_xai_channel(emulator, pipeline, &seen);
  g_object_set(channel, "budget", 0.12, nullptr);
  set_prompts(channel, "<\"One\",\"Two\",\"Three\",\"Four\">");
  test::RunResult result = run(pipeline, &seen);
  double spent = 0;
  g_object_get(channel, "spent-usd", &spent, nullptr);
  gst_object_unref(pipeline);
  fail_unless(result.eos, "%s", result.error_text().c_str());
  // $0.05 a clip (1 s at 480p): two fit in $0.12, a third would not.
  fail_unless_equals_int(emulator.counters().submits_total, 2);
  fail_unless_equals_int(seen.clip_prompts.size(), 2);
  fail_unless_equals_int(seen.budget_messages, 1);
  fail_unless(G_APPROX_VALUE(spent, 0.10, 1e-9), "spent %f", spent);
  // Each clip starts with its own job counted.
  for (std::size_t i = 0; i < seen.clip_spent.size(); i++)
    fail_unless(seen.clip_spent[i] >= 0.05 * double(i + 1) - 1e-9 && seen.clip_spent[i] <= spent,
                "clip %d: spent-usd %f", int(i), seen.clip_spent[i]);

  // The budget breaks inside the clips started together (the playing one
  // and the lookahead): those that fit are still generated and played.
  emu::Emulator tight(xai_options());
  pipeline = gst_pipeline_new(nullptr);
  Seen one;
  channel = make_xai_channel(tight, pipeline, &one);
  g_object_set(channel, "budget", 0.07, "lookahead", 1u, nullptr);
  set_prompts(channel, "<\"One\",\"Two\">");
  result = run(pipeline, &one);
  g_object_get(channel, "spent-usd", &spent, nullptr);
  gst_object_unref(pipeline);
  fail_unless(result.eos, "%s", result.error_text().c_str());
  fail_unless_equals_int(tight.counters().submits_total, 1);
  fail_unless_equals_int(one.clip_prompts.size(), 1);
  fail_unless_equals_int(one.budget_messages, 1);
  fail_unless(G_APPROX_VALUE(spent, 0.05, 1e-9), "spent %f", spent);
}
GST_END_TEST;

// The provider's figure, not the price table's, is what the budget counts:
// xAI bills twice the published price here, so after one clip ($0.10, not
// $0.05) a second would take $0.16 past it.
GST_START_TEST(test_budget_counts_the_reported_cost) {
  emu::Options options = xai_options();
  options.cost_scale = 2;
  emu::Emulator emulator(options);
  GstElement *pipeline = gst_pipeline_new(nullptr);
  Seen seen;
  GstElement *channel = make_xai_channel(emulator, pipeline, &seen);
  g_object_set(channel, "budget", 0.16, "lookahead", 0u, nullptr);
  set_prompts(channel, "<\"One\",\"Two\",\"Three\">");
  test::RunResult result = run(pipeline, &seen);
  double spent = 0;
  g_object_get(channel, "spent-usd", &spent, nullptr);
  gst_object_unref(pipeline);
  fail_unless(result.eos, "%s", result.error_text().c_str());
  fail_unless_equals_int(emulator.counters().submits_total, 1);
  fail_unless_equals_int(seen.clip_prompts.size(), 1);
  fail_unless_equals_int(seen.budget_messages, 1);
  fail_unless(G_APPROX_VALUE(seen.budget_spent, 0.10, 1e-9), "budget spent %f", seen.budget_spent);
  fail_unless(G_APPROX_VALUE(spent, 0.10, 1e-9), "spent %f", spent);
}
GST_END_TEST;

// A prompt longer than the provider takes, or past max-queued, is skipped
// with a warning naming it, and never sent.
GST_START_TEST(test_long_prompts_and_a_full_queue_are_skipped) {
  emu::Emulator emulator(test::quick_options());
  GstElement *pipeline = gst_pipeline_new(nullptr);
  Seen seen;
  GstElement *channel = make_channel(emulator, pipeline, &seen);
  const std::string long_prompt(5000, 'a');
  const gchar *prompts[] = {"One", long_prompt.c_str(), "Two", nullptr};
  g_object_set(channel, "prompts", prompts, "max-queued", 2u, nullptr);
  fail_unless(gst_element_set_state(pipeline, GST_STATE_PAUSED) != GST_STATE_CHANGE_FAILURE);
  fail_unless(gst_element_get_state(pipeline, nullptr, nullptr, 30 * GST_SECOND) ==
              GST_STATE_CHANGE_SUCCESS);
  // Prerolled: "One" is playing, "Two" generated: the queue is full.
  gboolean accepted = TRUE;
  g_signal_emit_by_name(channel, "queue-prompt", "Three", &accepted);
  fail_if(accepted);
  test::RunResult result = run(pipeline, &seen);
  gst_object_unref(pipeline);
  fail_unless(result.eos, "%s", result.error_text().c_str());
  fail_unless(seen.clip_prompts == std::vector<std::string>({"One", "Two"}));
  fail_unless_equals_int(emulator.counters().submits_total, 2);
  fail_unless_equals_int(seen.warnings.size(), 2);
  assert_equals_string(seen.warnings[0].c_str(),
                       "Prompt 2 of 'prompts' is skipped: it has 5000 bytes: at most 4096 are "
                       "sent to segmind.");
  assert_equals_string(seen.warnings[1].c_str(),
                       "A prompt from queue-prompt is skipped: the queue holds 2 prompts not yet "
                       "played (max-queued)");
}
GST_END_TEST;

// A channel with no prompts, no text and nothing queued ends at once: it
// says why, rather than end as if something had played.
GST_START_TEST(test_channel_with_nothing_to_play_warns) {
  emu::Emulator emulator(test::quick_options());
  GstElement *pipeline = gst_pipeline_new(nullptr);
  Seen seen;
  make_channel(emulator, pipeline, &seen);
  test::RunResult result = run(pipeline, &seen);
  gst_object_unref(pipeline);
  fail_unless(result.eos, "%s", result.error_text().c_str());
  fail_unless_equals_int(seen.frames, 0);
  fail_unless_equals_int(seen.warnings.size(), 1);
  fail_unless(test::contains(seen.warnings[0], "Nothing to play: no prompts."), "%s",
              seen.warnings[0].c_str());
  fail_unless_equals_int(emulator.counters().submits_total, 0);
}
GST_END_TEST;

// A budget GLib would refuse (NaN) does not leave the channel without one.
GST_START_TEST(test_channel_refuses_a_non_finite_budget) {
  emu::Emulator emulator(test::quick_options());
  GstElement *pipeline = gst_pipeline_new(nullptr);
  Seen seen;
  GstElement *channel = make_channel(emulator, pipeline, &seen);
  gst_util_set_object_arg(G_OBJECT(channel), "budget", "nan");
  set_prompts(channel, "<\"One\",\"Two\">");
  test::RunResult result = run(pipeline, &seen);
  gst_object_unref(pipeline);
  fail_unless(test::contains(result.error_text(), "Property 'budget' is nan"), "%s",
              result.error_text().c_str());
  fail_unless_equals_int(emulator.counters().submits_total, 0);
}
GST_END_TEST;

GST_START_TEST(test_continuity_last_frame) {
  emu::Emulator emulator(test::quick_options());
  GstElement *pipeline = gst_pipeline_new(nullptr);
  Seen seen;
  GstElement *channel = make_channel(emulator, pipeline, &seen);
  set_prompts(channel, "<\"A dog runs\",\"The dog stops\">");
  gst_util_set_object_arg(G_OBJECT(channel), "continuity", "last-frame");
  test::RunResult result = run(pipeline, &seen);
  gst_object_unref(pipeline);
  fail_unless(result.eos, "%s", result.error_text().c_str());
  const auto submits = emulator.submits();
  fail_unless_equals_int(submits.size(), 2);
  fail_unless_equals_int(submits[0].image_bytes, -1);
  // The second job starts from a frame of the stream: the channel's size.
  auto body = json::parse_object(submits[1].body);
  fail_unless(body.ok(), "%s", body.ok() ? "" : body.error().message.c_str());
  gsize length = 0;
  g_autofree guchar *png = g_base64_decode(json::string_at(body->get(), "image").c_str(), &length);
  const auto [width, height] = test::decoded_image_size(std::string((char *)png, length));
  fail_unless(width == 848 && height == 480, "%dx%d", width, height);
  // Generated once the first had played (after its job was done): no
  // lookahead can help here.
  const auto jobs = emulator.job_times();
  fail_unless(jobs.at(0).completed_us != 0 && submits[1].received_us > jobs.at(0).completed_us);
  fail_unless_equals_int(seen.frames, 48);
  fail_unless_equals_int(seen.video_gaps + seen.audio_gaps, 0);

  // reapi takes no inline image: refused before any job.
  emu::Emulator reapi(test::quick_options());
  pipeline = gst_pipeline_new(nullptr);
  Seen refused;
  channel = make_channel(reapi, pipeline, &refused);
  gst_util_set_object_arg(G_OBJECT(channel), "provider", "reapi");
  gst_util_set_object_arg(G_OBJECT(channel), "continuity", "last-frame");
  g_object_set(channel, "duration", 6, nullptr);
  set_prompts(channel, "<A,B>");
  result = run(pipeline, &refused);
  gst_object_unref(pipeline);
  fail_unless(test::contains(result.error_text(), "Property 'continuity' is last-frame"), "%s",
              result.error_text().c_str());
}
GST_END_TEST;

GST_START_TEST(test_continuity_extend) {
  emu::Emulator emulator(xai_options());
  GstElement *pipeline = gst_pipeline_new(nullptr);
  Seen seen;
  GstElement *channel = make_xai_channel(emulator, pipeline, &seen);
  gst_util_set_object_arg(G_OBJECT(channel), "continuity", "extend");
  g_object_set(channel, "duration", 2, nullptr);
  set_prompts(channel, "<\"A dog runs\",\"The dog jumps\",\"The dog sleeps\">");
  test::RunResult result = run(pipeline, &seen);
  gst_object_unref(pipeline);
  fail_unless(result.eos, "%s", result.error_text().c_str());
  const auto submits = emulator.submits();
  fail_unless_equals_int(submits.size(), 3);
  assert_equals_string(submits[0].path.c_str(), "/v1/videos/generations");
  for (std::size_t i = 1; i < 3; i++) {
    // Each job extends the previous job's result: its own part (2 s, from
    // a keyframe), copied from the file that job made.
    assert_equals_string(submits[i].path.c_str(), "/v1/videos/extensions");
    assert_equals_string(submits[i].video_from_request_id.c_str(),
                         submits[i - 1].request_id.c_str());
    fail_unless(std::abs(submits[i].video_seconds - 2.0) < 0.05, "job %zu extends %.3f s", i,
                submits[i].video_seconds);
  }
  // Chained: a job starts once the previous one's result is there.
  const auto jobs = emulator.job_times();
  fail_unless(submits[2].received_us > jobs.at(1).completed_us);
  // Only the new seconds play: 2 s a clip, no frame of an input again (the
  // count would show it), one timeline without gaps.
  fail_unless_equals_int(seen.frames, 3 * 2 * 24);
  fail_unless_equals_int(seen.samples, 3 * 2 * 48000);
  fail_unless_equals_int(seen.video_gaps + seen.audio_gaps, 0);
  fail_unless_equals_int(seen.clip_times.size(), 3);
  for (int i = 0; i < 3; i++) {
    fail_unless_equals_uint64(seen.clip_times[i], guint64(i) * 2 * GST_SECOND);
    fail_unless_equals_uint64(seen.clip_durations[i], 2 * GST_SECOND);
  }
}
GST_END_TEST;

// The journal knows a continued clip again: its input, remuxed anew on the
// next run, is the same bytes (mp4mux's header times zeroed), so its job
// is found, not paid again.
GST_START_TEST(test_continuity_extend_rerun_pays_nothing_twice) {
  emu::Emulator emulator(xai_options());
  test::TempDir dir;
  const std::string journal = dir.path("journal");
  for (int run_index = 0; run_index < 2; run_index++) {
    GstElement *pipeline = gst_pipeline_new(nullptr);
    Seen seen;
    GstElement *channel = make_xai_channel(emulator, pipeline, &seen);
    gst_util_set_object_arg(G_OBJECT(channel), "continuity", "extend");
    gst_util_set_object_arg(G_OBJECT(channel), "reuse", "always");
    g_object_set(channel, "duration", 2, "journal", journal.c_str(), nullptr);
    set_prompts(channel, "<\"A dog runs\",\"The dog jumps\",\"The dog sleeps\">");
    test::RunResult result = run(pipeline, &seen);
    double spent = -1;
    g_object_get(channel, "spent-usd", &spent, nullptr);
    gst_object_unref(pipeline);
    fail_unless(result.eos, "%s", result.error_text().c_str());
    fail_unless_equals_int(seen.frames, 3 * 2 * 24);
    // What xAI reports for the three jobs; the replay spends nothing.
    fail_unless(run_index == 0 ? spent > 0.30 : spent == 0.0, "run %d spent %f", run_index, spent);
    if (run_index == 1)
      fail_unless(
          std::count(result.job_statuses.begin(), result.job_statuses.end(), "CACHED") == 3,
          "the second run replayed %d clips",
          int(std::count(result.job_statuses.begin(), result.job_statuses.end(), "CACHED")));
    // A second apart at least: mp4mux's times would differ.
    if (run_index == 0) g_usleep(G_USEC_PER_SEC);
  }
  fail_unless_equals_int(emulator.counters().submits_total, 3);
}
GST_END_TEST;

// continuity=extend needs a provider that extends, and settings an
// extension takes: refused before any job.
GST_START_TEST(test_continuity_extend_refused_before_any_job) {
  struct Case {
    emu::Provider provider;
    const char *name;
    int duration;
    const char *expected;
  };
  for (const Case &c :
       {Case{emu::Provider::Segmind, "segmind", 2,
             "Property 'continuity' is extend, but segmind does not extend videos"},
        Case{emu::Provider::Xai, "xai", 12,
             "Property 'continuity' is extend, so each clip after the first extends the one "
             "before it: Property 'duration' is 12"}}) {
    emu::Options options = test::quick_options();
    options.provider = c.provider;
    emu::Emulator emulator(options);
    GstElement *pipeline = gst_pipeline_new(nullptr);
    Seen seen;
    GstElement *channel = make_channel(emulator, pipeline, &seen);
    gst_util_set_object_arg(G_OBJECT(channel), "provider", c.name);
    gst_util_set_object_arg(G_OBJECT(channel), "continuity", "extend");
    if (c.provider == emu::Provider::Xai)
      g_object_set(channel, "api-url", (emulator.api_url() + "/v1").c_str(), nullptr);
    g_object_set(channel, "duration", c.duration, nullptr);
    set_prompts(channel, "<A,B>");
    test::RunResult result = run(pipeline, &seen);
    gst_object_unref(pipeline);
    fail_unless(test::contains(result.error_text(), c.expected), "%s", result.error_text().c_str());
    fail_unless_equals_int(emulator.counters().submits_total, 0);
  }
}
GST_END_TEST;

GST_START_TEST(test_null_from_any_point_is_prompt) {
  emu::Options options = test::quick_options();
  options.generation_ms = 700;
  emu::Emulator emulator(options);
  for (int delay_ms : {0, 30, 200, 600, 1200, 2000}) {
    GstElement *pipeline = gst_pipeline_new(nullptr);
    Seen seen;
    GstElement *channel = make_channel(emulator, pipeline, &seen, true);
    set_prompts(channel, "<\"A\",\"B\",\"C\">");
    g_object_set(channel, "is-live", delay_ms % 400 == 0, nullptr);
    gst_element_set_state(pipeline, GST_STATE_PLAYING);
    g_usleep(gulong(delay_ms) * 1000);
    const gint64 before = g_get_monotonic_time();
    gst_element_set_state(pipeline, GST_STATE_NULL);
    const gint64 took_ms = (g_get_monotonic_time() - before) / 1000;
    // A hang detector, not a timing: sanitizer builds load plugins slowly.
    fail_unless(took_ms < 15000, "NULL after %d ms took %" G_GINT64_FORMAT " ms", delay_ms,
                took_ms);
    gst_object_unref(pipeline);
  }
}
GST_END_TEST;

// Stopped while clips made ahead wait to play (the first one cut short):
// they are named on the bus (grokimagine-unplayed, posted on the way to
// READY), and the next run resumes them from the journal instead of paying
// again, though their downloads were complete.
GST_START_TEST(test_stopped_channel_leaves_unplayed_jobs_to_resume) {
  emu::Emulator emulator(test::quick_options());
  test::TempDir dir;
  const std::string journal = dir.path("journal");
  const char *prompts = "<\"A\",\"B\",\"C\">";
  GstElement *pipeline = gst_pipeline_new(nullptr);
  Seen seen;
  GstElement *channel = make_channel(emulator, pipeline, &seen);
  set_prompts(channel, prompts);
  g_object_set(channel, "lookahead", 2u, "journal", journal.c_str(), nullptr);
  g_autoptr(GstBus) bus = gst_element_get_bus(pipeline);
  // PAUSED: the jobs run and the clips download, but nothing plays past the
  // first frame, however slow the machine.
  gst_element_set_state(pipeline, GST_STATE_PAUSED);
  // Until the three jobs are done (all started at once) and their clips
  // fetched (what the emulator saw: the worker, blocked on the first frame,
  // does not pass the clips' messages on), and a little more for the bytes
  // to land.
  auto completed = [&] {
    const auto jobs = emulator.job_times();
    return std::count_if(jobs.begin(), jobs.end(),
                         [](const emu::JobTimes &job) { return job.completed_us != 0; });
  };
  test::wait_until([&] { return completed() >= 3 && emulator.counters().downloads >= 3; },
                   std::chrono::seconds(100), "three jobs completed and downloading");
  g_usleep(500 * 1000);
  fail_unless(seen.frames <= 1, "%" G_GUINT64_FORMAT " frames played", seen.frames);
  gst_element_set_state(pipeline, GST_STATE_READY);
  std::vector<std::string> unplayed;
  while (GstMessage *message = gst_bus_pop(bus)) {
    const GstStructure *s = gst_message_get_structure(message);
    if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_ELEMENT &&
        gst_structure_has_name(s, "grokimagine-unplayed"))
      unplayed.push_back(gst_structure_get_string(s, "request-id"));
    gst_message_unref(message);
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
  fail_unless_equals_int(unplayed.size(), 3);
  const auto submits = emulator.submits();
  for (const std::string &id : unplayed)
    fail_unless(std::count_if(submits.begin(), submits.end(),
                              [&](const emu::SubmitRecord &r) { return r.request_id == id; }) == 1,
                "unplayed job '%s' was not submitted", id.c_str());

  pipeline = gst_pipeline_new(nullptr);
  Seen again;
  channel = make_channel(emulator, pipeline, &again);
  set_prompts(channel, prompts);
  g_object_set(channel, "lookahead", 2u, "journal", journal.c_str(), nullptr);
  test::RunResult result = run(pipeline, &again);
  gst_object_unref(pipeline);
  fail_unless(result.eos, "%s", result.error_text().c_str());
  fail_unless_equals_int(again.frames, 72);
  fail_unless_equals_int(emulator.counters().submits_total, 3);
  fail_unless(std::count(result.job_statuses.begin(), result.job_statuses.end(), "RESUMED") == 3);
}
GST_END_TEST;

// A refused key fails every clip: the channel ends with the clip's own
// error (its domain, code and reason), as a single source would.
GST_START_TEST(test_refused_key_ends_the_channel) {
  emu::Emulator emulator(test::quick_options());
  GstElement *pipeline = gst_pipeline_new(nullptr);
  Seen seen;
  GstElement *channel = make_channel(emulator, pipeline, &seen);
  g_object_set(channel, "api-key", "not-the-key", nullptr);
  set_prompts(channel, "<\"A\",\"B\",\"C\">");
  test::RunResult result = run(pipeline, &seen);
  gst_object_unref(pipeline);
  fail_if(result.eos);
  fail_unless(result.error_domain() == GST_RESOURCE_ERROR);
  fail_unless_equals_int(result.error_code(), GST_RESOURCE_ERROR_NOT_AUTHORIZED);
  assert_str_eq(result.error_detail("reason"), "not-authorized");
  fail_unless_equals_int(emulator.counters().submits_accepted, 0);
  fail_unless_equals_int(seen.frames, 0);
}
GST_END_TEST;

GST_START_TEST(test_bad_settings_refused_before_any_job) {
  emu::Emulator emulator(test::quick_options());
  // As gst-launch sets them: out of range is refused, not clamped or kept
  // at the default with a warning.
  const std::pair<const char *, const char *> cases[] = {
      {"duration=99", "Property 'duration' is 99"},
      {"lookahead=20", "Property 'lookahead' is 20: at most 16 clips ahead."},
      {"width=9000",
       "Property 'width' is 9000: 0 (from resolution and aspect-ratio) or 16 to 8192."},
      {"height=-4", "Property 'height' is -4"},
      {"framerate=0/1", "Property 'framerate' is 0/1: above 0 and at most 240."},
      {"framerate=500/1", "Property 'framerate' is 500/1"},
      {"connections=0", "Property 'connections' is 0: it takes 1 to 16."},
  };
  for (const auto &[setting, expected] : cases) {
    GstElement *pipeline = gst_pipeline_new(nullptr);
    Seen seen;
    GstElement *channel = make_channel(emulator, pipeline, &seen);
    set_prompts(channel, "<\"A\">");
    const std::string assignment = setting;
    const std::size_t equals = assignment.find('=');
    gst_util_set_object_arg(G_OBJECT(channel), assignment.substr(0, equals).c_str(),
                            assignment.substr(equals + 1).c_str());
    test::RunResult result = run(pipeline, &seen);
    gst_object_unref(pipeline);
    fail_unless(test::contains(result.error_text(), expected), "%s: %s", setting,
                result.error_text().c_str());
    fail_unless(result.error_detail("reason") == "invalid-settings", "%s", setting);
  }
  fail_unless_equals_int(emulator.counters().submits_total, 0);
}
GST_END_TEST;

static Suite *channel_suite() {
  Suite *suite = suite_create("channel");
  TCase *schedule = tcase_create("schedule");
  tcase_add_test(schedule, test_schedule_lookahead_and_order);
  tcase_add_test(schedule, test_schedule_cues_and_loop);
  tcase_add_test(schedule, test_schedule_chained_clips);
  tcase_add_test(schedule, test_extension_input_starts_at_a_keyframe);
  tcase_add_test(schedule, test_prompt_lists_as_gst_launch_writes_them);
  tcase_add_test(schedule, test_frame_size_from_resolution_and_ratio);
  tcase_add_test(schedule, test_timeline_frames_and_audio_meet_at_every_frame);
  tcase_add_test(schedule, test_timeline_audio_cut_at_an_extension);
  tcase_add_test(schedule, test_plan_a_playlist_that_runs_dry);
  tcase_add_test(schedule, test_plan_filler_or_replay);
  tcase_add_test(schedule, test_plan_releases_files_nothing_will_play);
  tcase_add_test(schedule, test_plan_last_frame_generates_nothing_ahead);
  tcase_add_test(schedule, test_plan_budget_counts_what_clips_cost);
  tcase_add_test(schedule, test_plan_caps_the_queue);
  suite_add_tcase(suite, schedule);
  TCase *element = tcase_create("element");
  tcase_set_timeout(element, 120);
  tcase_add_test(element, test_playlist_is_one_gapless_stream);
  tcase_add_test(element, test_clips_of_another_frame_rate_are_converted);
  tcase_add_test(element, test_text_cues_from_subparse);
  tcase_add_test(element, test_loop_replays_without_new_jobs);
  tcase_add_test(element, test_failed_clip_is_skipped_with_a_warning);
  tcase_add_test(element, test_moderated_clip_is_skipped_with_its_message);
  tcase_add_test(element, test_slate_covers_the_wait);
  tcase_add_test(element, test_slate_clip_loops);
  tcase_add_test(element, test_stop_cuts_the_slate_fetch);
  tcase_add_test(element, test_preview_covers_the_wait);
  tcase_add_test(element, test_live_filler_covers_slow_generation);
  tcase_add_test(element, test_live_filler_loop_replays_what_played);
  tcase_add_test(element, test_budget_covers_the_whole_channel);
  tcase_add_test(element, test_clips_show_in_a_dot_dump);
  tcase_add_test(element, test_channel_refuses_a_non_finite_budget);
  tcase_add_test(element, test_channel_with_nothing_to_play_warns);
  tcase_add_test(element, test_budget_counts_the_reported_cost);
  tcase_add_test(element, test_long_prompts_and_a_full_queue_are_skipped);
  tcase_add_test(element, test_silent_clips_keep_the_audio_in_step);
  tcase_add_test(element, test_live_channel_over_budget_goes_on_with_filler);
  tcase_add_test(element, test_live_filler_black);
  tcase_add_test(element, test_continuity_last_frame);
  tcase_add_test(element, test_continuity_extend);
  tcase_add_test(element, test_continuity_extend_refused_before_any_job);
  tcase_add_test(element, test_continuity_extend_rerun_pays_nothing_twice);
  tcase_add_test(element, test_null_from_any_point_is_prompt);
  tcase_add_test(element, test_stopped_channel_leaves_unplayed_jobs_to_resume);
  tcase_add_test(element, test_bad_settings_refused_before_any_job);
  tcase_add_test(element, test_refused_key_ends_the_channel);
  suite_add_tcase(suite, element);
  return suite;
}

GST_CHECK_MAIN(channel);
