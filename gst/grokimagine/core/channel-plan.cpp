// SPDX-License-Identifier: LGPL-2.1-or-later
#include "channel-plan.h"

#include "request.h"

#include <algorithm>

namespace grokimagine {

namespace {

// Clips continued from a last frame wait for the previous one to play:
// nothing is generated ahead. Extensions wait only for the previous result
// (the schedule chains them).
unsigned effective_lookahead(const ChannelRules &rules) {
  return rules.continuity == ChannelContinuity::LastFrame ? 0 : rules.lookahead;
}

}  // namespace

ChannelPlan::ChannelPlan(const ChannelRules &rules)
    : rules_(rules),
      schedule_(effective_lookahead(rules), rules.loop,
                rules.continuity == ChannelContinuity::Extend) {}

std::string queue_full(std::size_t max_queued) {
  return "the queue holds " + std::to_string(max_queued) + " prompts not yet played (max-queued)";
}

std::optional<Error> ChannelPlan::add_prompt(const std::string &prompt,
                                             std::optional<std::uint64_t> cue) {
  if (rules_.max_queued > 0 && schedule_.unplayed() >= rules_.max_queued)
    return invalid_setting(queue_full(rules_.max_queued));
  if (schedule_.prompts_ended())
    return invalid_setting(
        "no prompt is taken any more (the prompts ended, or the budget is reached)");
  if (!schedule_.add(prompt, cue)) return invalid_setting("it is empty");
  return std::nullopt;
}

std::vector<ChannelPlan::Start> ChannelPlan::to_start() {
  std::vector<Start> starts;
  const bool chained = rules_.continuity == ChannelContinuity::Extend;
  for (int index : schedule_.to_start()) {
    // A clip's job is paid once its submit leaves: the budget is checked
    // before, against the worst case of what is committed.
    constexpr double kCentFraction = 1e-9;  // float sums of exact prices
    if (rules_.budget_usd > 0 && committed_usd() + expected_clip_usd() + expected_preview_usd() >
                                     rules_.budget_usd + kCentFraction)
      budget_reached_ = true;
    if (budget_reached_) {
      schedule_.failed(index);
      continue;
    }
    started_[index];
    starts.push_back(
        {index, schedule_.clip(index).prompt, chained ? schedule_.continues(index) : std::nullopt});
  }
  if (budget_reached_) {
    // What is generated still plays; nothing else is made.
    for (std::size_t i = 0; i < schedule_.size(); i++)
      if (schedule_.clip(int(i)).state == ScheduledClip::State::Waiting) schedule_.failed(int(i));
    schedule_.end_of_prompts();
  }
  return starts;
}

void ChannelPlan::clip_cost(int index, double usd) {
  const auto clip = started_.find(index);
  if (clip == started_.end() || clip->second.paid_before) return;
  clip->second.reported = usd;
  highest_reported_usd_ = std::max(highest_reported_usd_, usd);
}

void ChannelPlan::clip_paid_before(int index) {
  const auto clip = started_.find(index);
  if (clip == started_.end()) return;
  clip->second.reported.reset();
  clip->second.paid_before = true;
}

void ChannelPlan::preview_cost(int index, double usd) {
  const auto clip = started_.find(index);
  if (clip != started_.end()) clip->second.preview = usd;
}

double ChannelPlan::expected_preview_usd() const {
  return rules_.filler == ChannelFiller::Preview ? rules_.preview_estimate_usd : 0;
}

double ChannelPlan::expected_clip_usd() const {
  return std::max(rules_.clip_estimate_usd, highest_reported_usd_);
}

double ChannelPlan::committed_usd() const {
  double usd = rules_.spent_before_usd;
  for (const auto &[index, cost] : started_) {
    if (!cost.paid_before) usd += cost.reported.value_or(expected_clip_usd());
    usd += cost.preview.value_or(expected_preview_usd());
  }
  return usd;
}

ChannelStep ChannelPlan::next(std::uint64_t position) {
  ChannelSchedule::Next next = schedule_.next(position);
  // A playlist that nothing can add to ends when it runs dry (queue-prompt
  // can still add clips until then).
  if (!rules_.live && next.starved && !rules_.more_prompts_may_come) {
    schedule_.end_of_prompts();
    next = schedule_.next(position);
  }
  ChannelStep step;
  switch (next.kind) {
    case ChannelSchedule::Next::Kind::Clip:
      step.kind = ChannelStep::Kind::Play;
      step.clip = next.clip;
      step.replay = next.replay;
      return step;
    case ChannelSchedule::Next::Kind::End:
      if (!rules_.live) {
        step.kind = ChannelStep::Kind::End;
        return step;
      }
      break;  // live: the stream goes on, with filler
    case ChannelSchedule::Next::Kind::Filler:
      break;
  }
  // Live and waiting: replay what has played (filler=loop), clip by clip.
  if (rules_.live && rules_.filler == ChannelFiller::Loop && last_played_ >= 0 &&
      next.until <= position) {
    step.kind = ChannelStep::Kind::Play;
    step.clip = last_played_;
    step.replay = true;
    step.covers_wait = true;
    return step;
  }
  // A cue ahead, or live: the timeline must go on. Otherwise wait for the
  // clip that is coming.
  if (next.until > position || rules_.live) {
    step.kind = ChannelStep::Kind::Filler;
    step.filler = rules_.filler;
    step.reason = next.until > position ? "cue" : "waiting";
    step.awaited = next.awaited;
    return step;
  }
  step.kind = ChannelStep::Kind::Wait;
  return step;
}

ChannelRelease ChannelPlan::clip_played(int index, bool replay) {
  schedule_.played(index);
  ChannelRelease release;
  if (replay) return release;
  last_played_ = index;
  // What may play again stays: every result with loop or filler=loop.
  if (rules_.loop || rules_.filler == ChannelFiller::Loop) return release;
  release.inputs.push_back(index);
  kept_results_.push_back(index);
  // With continuity=extend a result stays until a later one is whole: until
  // then the next clip may still extend it (a clip after a failed one
  // extends the last whole result).
  int latest_whole = -1;
  if (rules_.continuity == ChannelContinuity::Extend)
    for (int i = int(schedule_.size()) - 1; i >= 0 && latest_whole < 0; i--)
      if (schedule_.clip(i).whole) latest_whole = i;
  auto releasable = [&](int kept) {
    const bool may_be_extended =
        rules_.continuity == ChannelContinuity::Extend && kept >= latest_whole;
    if (!may_be_extended) release.results.push_back(kept);
    return !may_be_extended;
  };
  kept_results_.erase(std::remove_if(kept_results_.begin(), kept_results_.end(), releasable),
                      kept_results_.end());
  return release;
}

}  // namespace grokimagine
