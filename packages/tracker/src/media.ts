import type { EventFields, Properties } from './types.ts';

/** The part of an HTMLVideoElement the tracker reads (a fake in tests). */
export interface VideoLike {
  currentTime: number;
  duration: number;
  videoWidth: number;
  videoHeight: number;
}

export const MILESTONES = [10, 25, 50, 75, 90];

interface Session {
  startedAt: number;
  /** Wall time the current stretch of playing began; undefined while not playing. */
  stretch: number | undefined;
  watchedMs: number;
  /** Watched time at which the next `interval` progress is due. */
  nextIntervalMs: number;
  reached: Set<number>;
  position: number;
  seekFrom: number | undefined;
}

/**
 * Video tracking for the retention curve and watch time. Per video, a session runs from the
 * first `playing` to `ended`, a new source or the page going away:
 * - `playback_start`; `playback_pause`; `playback_seek` (`from_s`, `to_s`); `quality_change`
 *   (the rendition's size changed: `from`, `to`, `width`, `height`);
 * - `playback_progress` every `progressIntervalS` of watching, at 10/25/50/75/90 % reached by
 *   playing (`percent`), and when playing pauses; `playback_stop` at the end;
 * every one with `position_s` and `duration_s`. The `started_at`/`ended_at` of the progress
 * and stop events are the stretches actually played, one after the other, so the service's
 * watch time (the sum of those intervals) counts each second once; `watched_s` is the session's
 * total so far, and the stop carries `session_started_at`.
 */
export class VideoSessions {
  readonly #emit: (type: string, fields: EventFields) => void;
  readonly #about: (video: VideoLike) => EventFields;
  readonly #now: () => number;
  readonly #intervalMs: number;
  readonly #sessions = new Map<VideoLike, Session>();
  readonly #sizes = new WeakMap<VideoLike, string>();

  constructor(options: {
    emit: (type: string, fields: EventFields) => void;
    about: (video: VideoLike) => EventFields;
    now: () => number;
    progressIntervalS: number;
  }) {
    this.#emit = options.emit;
    this.#about = options.about;
    this.#now = options.now;
    this.#intervalMs = options.progressIntervalS * 1000;
  }

  /** Feeds one media event (`playing`, `pause`, `timeupdate`, `seeking`, `seeked`, `ended`, `emptied`, `resize`). */
  handle(video: VideoLike, type: string): void {
    const s = this.#sessions.get(video);
    const now = this.#now();
    switch (type) {
      case 'playing':
        if (!s) {
          this.#sessions.set(video, { startedAt: now, stretch: now, watchedMs: 0, nextIntervalMs: this.#intervalMs, reached: new Set(), position: video.currentTime, seekFrom: undefined });
          this.#send(video, 'playback_start', {});
        } else s.stretch ??= now;
        return;
      case 'timeupdate':
        if (s) this.#tick(video, s, now);
        return;
      case 'pause':
        if (!s || s.stretch === undefined || video.currentTime >= video.duration) return;
        this.#progress(video, s, now, { reason: 'pause' });
        s.stretch = undefined;
        this.#send(video, 'playback_pause', {});
        return;
      case 'seeking':
        if (s) s.seekFrom ??= s.position;
        return;
      case 'seeked':
        if (s?.seekFrom !== undefined) {
          this.#send(video, 'playback_seek', { props: { from_s: round(s.seekFrom), to_s: round(video.currentTime) } });
          s.seekFrom = undefined;
          s.position = video.currentTime;
        }
        return;
      case 'ended':
      case 'emptied':
        this.stop(video, type);
        return;
      case 'resize':
        this.#resize(video);
        return;
    }
  }

  /** Ends the video's session with `playback_stop` (also used when the page goes away). */
  stop(video: VideoLike, reason: string): void {
    const s = this.#sessions.get(video);
    if (!s) return;
    this.#sessions.delete(video);
    const now = this.#now();
    const stretch = this.#close(s, now);
    this.#send(video, 'playback_stop', {
      stretch,
      props: { reason, watched_s: round(s.watchedMs / 1000), session_started_at: new Date(s.startedAt).toISOString() },
    });
  }

  stopAll(reason: string): void {
    for (const video of [...this.#sessions.keys()]) this.stop(video, reason);
  }

  #tick(video: VideoLike, s: Session, now: number): void {
    const previous = s.position;
    const position = video.currentTime;
    if (s.seekFrom === undefined) s.position = position;
    const duration = video.duration;
    let crossed: number[] = [];
    // Milestones reached by playing past them (several in one step of a short clip), not by a seek jumping over them.
    if (Number.isFinite(duration) && duration > 0 && s.seekFrom === undefined && position - previous < 2) {
      crossed = MILESTONES.filter((p) => !s.reached.has(p) && previous < (duration * p) / 100 && position >= (duration * p) / 100);
      for (const p of crossed) s.reached.add(p);
    }
    // Every N seconds of watching, counted across pauses; a milestone report at that moment is the one report.
    const watched = s.stretch === undefined ? s.watchedMs : s.watchedMs + now - s.stretch;
    const due = s.stretch !== undefined && watched >= s.nextIntervalMs;
    while (s.nextIntervalMs <= watched) s.nextIntervalMs += this.#intervalMs;
    for (const percent of crossed) this.#progress(video, s, now, { reason: 'milestone', percent });
    if (crossed.length === 0 && due) this.#progress(video, s, now, { reason: 'interval' });
  }

  #progress(video: VideoLike, s: Session, now: number, props: Properties): void {
    const stretch = this.#close(s, now);
    s.stretch = now;
    this.#send(video, 'playback_progress', { stretch, props: { ...props, watched_s: round(s.watchedMs / 1000) } });
  }

  /** Ends the current stretch of playing: its interval, added to the session's watched time. */
  #close(s: Session, now: number): [number, number] | undefined {
    if (s.stretch === undefined) return undefined;
    const interval: [number, number] = [s.stretch, now];
    s.watchedMs += now - s.stretch;
    s.stretch = undefined;
    return interval;
  }

  #resize(video: VideoLike): void {
    if (video.videoWidth === 0) return;
    const size = `${video.videoWidth}x${video.videoHeight}`;
    const before = this.#sizes.get(video);
    this.#sizes.set(video, size);
    if (before !== undefined && before !== size) {
      this.#send(video, 'quality_change', { props: { from: before, to: size, width: video.videoWidth, height: video.videoHeight } });
    }
  }

  #send(video: VideoLike, type: string, extra: { stretch?: [number, number] | undefined; props?: Properties }): void {
    const about = this.#about(video);
    const properties: Properties = { ...about.properties, position_s: round(video.currentTime), ...extra.props };
    if (Number.isFinite(video.duration)) properties.duration_s = round(video.duration);
    const interval = extra.stretch ? { started_at: new Date(extra.stretch[0]).toISOString(), ended_at: new Date(extra.stretch[1]).toISOString() } : {};
    this.#emit(type, { ...about, ...interval, properties });
  }
}

/** Seconds to the millisecond: the API stores numbers as sent. */
const round = (seconds: number): number => Math.round(seconds * 1000) / 1000;

export const MEDIA_EVENTS = ['playing', 'pause', 'timeupdate', 'seeking', 'seeked', 'ended', 'emptied', 'resize'];

/** Media events do not bubble, but they do pass the document in the capture phase: one listener each for every video. */
export function watchVideos(doc: Document, sessions: VideoSessions): () => void {
  const on = (event: Event): void => {
    const target = event.target;
    if (target instanceof HTMLVideoElement) sessions.handle(target, event.type);
  };
  for (const type of MEDIA_EVENTS) doc.addEventListener(type, on, true);
  return () => {
    for (const type of MEDIA_EVENTS) doc.removeEventListener(type, on, true);
  };
}
