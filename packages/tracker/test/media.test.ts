import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type VideoLike, VideoSessions } from '../src/media.ts';
import type { EventFields } from '../src/types.ts';

const FILM = 'd9fb3d50-7415-4779-b780-824659acf34e';

function player(duration = 100) {
  let now = Date.parse('2026-01-01T12:00:00.000Z');
  const video: VideoLike = { currentTime: 0, duration, videoWidth: 0, videoHeight: 0 };
  const events: { type: string; fields: EventFields }[] = [];
  const sessions = new VideoSessions({
    emit: (type, fields) => events.push({ type, fields }),
    about: () => ({ element: { kind: 'film', id: FILM }, film_id: FILM }),
    now: () => now,
    progressIntervalS: 10,
  });
  /** Plays for `seconds` of wall time and media time, with timeupdate every 250 ms. */
  const play = (seconds: number) => {
    for (let i = 0; i < seconds * 4; i++) {
      now += 250;
      video.currentTime += 0.25;
      sessions.handle(video, 'timeupdate');
    }
  };
  const wait = (ms: number) => (now += ms);
  return { video, events, sessions, play, wait, at: () => now };
}

const types = (events: { type: string }[]) => events.map((e) => e.type);
const prop = (e: { fields: EventFields } | undefined, name: string) => e?.fields.properties?.[name];
const seconds = (e: { fields: EventFields }) => (Date.parse(e.fields.ended_at ?? '') - Date.parse(e.fields.started_at ?? '')) / 1000;

describe('tracker: video sessions', () => {
  it('start, progress every N s and at 10/25/50/75/90 %, stop at the end, with position and duration', () => {
    const p = player(100);
    p.sessions.handle(p.video, 'playing');
    p.play(100);
    p.sessions.handle(p.video, 'pause');
    p.sessions.handle(p.video, 'ended');
    const progress = p.events.filter((e) => e.type === 'playback_progress');
    assert.equal(p.events[0]?.type, 'playback_start');
    assert.equal(prop(p.events[0], 'position_s'), 0);
    assert.equal(prop(p.events[0], 'duration_s'), 100);
    assert.deepEqual(progress.filter((e) => prop(e, 'reason') === 'milestone').map((e) => [prop(e, 'percent'), prop(e, 'position_s')]), [[10, 10], [25, 25], [50, 50], [75, 75], [90, 90]]);
    // A report every 10 s watched; at 10, 50 and 90 s the milestone report is that report.
    assert.deepEqual(progress.map((e) => prop(e, 'watched_s')).filter((w) => Number(w) % 10 === 0), [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    assert.deepEqual(types(p.events).slice(-1), ['playback_stop'], 'no pause reported at the end');
    const stop = p.events.at(-1);
    assert.equal(prop(stop, 'reason'), 'ended');
    assert.equal(prop(stop, 'watched_s'), 100);
    assert.equal(prop(stop, 'session_started_at'), '2026-01-01T12:00:00.000Z');
    for (const e of p.events) assert.equal(e.fields.film_id, FILM);
    // The intervals of progress and stop are the stretches played: they add up to the watch time.
    const intervals = p.events.filter((e) => e.type === 'playback_progress' || e.type === 'playback_stop').filter((e) => e.fields.started_at);
    assert.equal(intervals.reduce((sum, e) => sum + seconds(e), 0), 100);
  });

  it('a pause closes the stretch; the time paused is not watch time', () => {
    const p = player(600);
    p.sessions.handle(p.video, 'playing');
    p.play(4);
    p.sessions.handle(p.video, 'pause');
    p.wait(60_000);
    p.sessions.handle(p.video, 'playing');
    p.play(3);
    p.sessions.stopAll('pagehide');
    assert.deepEqual(types(p.events), ['playback_start', 'playback_progress', 'playback_pause', 'playback_stop']);
    assert.equal(prop(p.events[1], 'reason'), 'pause');
    assert.equal(seconds(p.events[1] as { fields: EventFields }), 4);
    assert.equal(seconds(p.events[3] as { fields: EventFields }), 3);
    assert.equal(prop(p.events[3], 'watched_s'), 7);
    assert.equal(prop(p.events[3], 'reason'), 'pagehide');
  });

  it('reports seeks, and milestones only when played through, not jumped over', () => {
    const p = player(100);
    p.sessions.handle(p.video, 'playing');
    p.play(5);
    p.sessions.handle(p.video, 'seeking');
    p.video.currentTime = 80;
    p.sessions.handle(p.video, 'timeupdate');
    p.sessions.handle(p.video, 'seeked');
    p.play(1);
    const seek = p.events.find((e) => e.type === 'playback_seek');
    assert.equal(prop(seek, 'from_s'), 5);
    assert.equal(prop(seek, 'to_s'), 80);
    const percents = p.events.map((e) => prop(e, 'percent')).filter((x) => x !== undefined);
    assert.deepEqual(percents, [], 'neither 10 % nor 25/50/75 % was played');
    p.play(10);
    assert.deepEqual(p.events.map((e) => prop(e, 'percent')).filter((x) => x !== undefined), [90]);
  });

  it('reports a change of rendition size as quality_change, not the first size', () => {
    const p = player(100);
    Object.assign(p.video, { videoWidth: 640, videoHeight: 360 });
    p.sessions.handle(p.video, 'resize');
    assert.equal(p.events.length, 0);
    Object.assign(p.video, { videoWidth: 1280, videoHeight: 720, currentTime: 12 });
    p.sessions.handle(p.video, 'resize');
    assert.equal(p.events[0]?.type, 'quality_change');
    assert.deepEqual(p.events[0]?.fields.properties, { position_s: 12, duration_s: 100, from: '640x360', to: '1280x720', width: 1280, height: 720 });
  });

  it('reports every milestone of a short clip, even several in one step', () => {
    const p = player(1);
    p.sessions.handle(p.video, 'playing');
    p.play(1);
    assert.deepEqual(p.events.filter((e) => prop(e, 'reason') === 'milestone').map((e) => prop(e, 'percent')), [10, 25, 50, 75, 90]);
  });

  it('a new source ends the session; an unknown duration (live) is left out', () => {
    const p = player(Number.POSITIVE_INFINITY);
    p.sessions.handle(p.video, 'playing');
    p.play(1);
    p.sessions.handle(p.video, 'emptied');
    assert.deepEqual(types(p.events), ['playback_start', 'playback_stop']);
    assert.equal(prop(p.events[1], 'duration_s'), undefined);
    p.sessions.handle(p.video, 'timeupdate');
    assert.equal(p.events.length, 2, 'no session after the stop');
  });
});
