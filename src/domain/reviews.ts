export interface Review {
  id: string;
  film_id: string;
  user_id: string;
  text: string;
  score: number | null;
  created_at: string;
  updated_at: string;
  upvotes: number;
  downvotes: number;
}

export type NewReview = Omit<Review, 'upvotes' | 'downvotes'>;

export interface ReviewPatch {
  text?: string | undefined;
  /** `null` clears the score. */
  score?: number | null | undefined;
}

export type ReviewSort = 'newest' | 'oldest' | 'top';
export type VoteValue = 1 | -1;
