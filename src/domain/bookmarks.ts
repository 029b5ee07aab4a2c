export interface Bookmark {
  id: string;
  user_id: string;
  film_id: string | null;
  url: string | null;
  title: string | null;
  created_at: string;
}

/** At least one of `film_id` and `url` is set; the API schema guarantees it. */
export interface NewBookmark {
  id: string;
  user_id: string;
  film_id: string | null;
  url: string | null;
  title: string | null;
  created_at: string;
}
