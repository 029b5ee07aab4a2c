/** A user's rating of a film, 0..10. Scores of 6 and above count as likes, 5 and below as dislikes. */
export interface Like {
  film_id: string;
  user_id: string;
  score: number;
  created_at: string;
  updated_at: string;
}

export interface LikeSummary {
  film_id: string;
  likes: number;
  dislikes: number;
  count: number;
  average_score: number | null;
}

export const LIKE_THRESHOLD = 6;
export const MIN_SCORE = 0;
export const MAX_SCORE = 10;

/** `{"like": true}` is a 10 and `{"like": false}` a 0, so both forms share one scale. */
export function scoreOf(input: { score: number } | { like: boolean }): number {
  return 'score' in input ? input.score : input.like ? MAX_SCORE : MIN_SCORE;
}

/** Rounded to two decimals so every store reports the same number. */
export function roundAverage(sum: number, count: number): number | null {
  return count === 0 ? null : Math.round((sum / count) * 100) / 100;
}
