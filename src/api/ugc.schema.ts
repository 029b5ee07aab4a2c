import { Type } from 'typebox';
import { Timestamp, Uuid } from './common.schema.ts';

/** Request and response bodies of likes, bookmarks and reviews. */
export const LikeBody = Type.Object(
  {
    score: Type.Optional(Type.Integer({ minimum: 0, maximum: 10 })),
    like: Type.Optional(Type.Boolean({ description: 'true = 10, false = 0' })),
  },
  { additionalProperties: false, minProperties: 1, maxProperties: 1, description: '`{"score": 0..10}` or `{"like": true|false}`', examples: [{ score: 8 }] },
);

export const Like = Type.Object({ film_id: Uuid, user_id: Type.String(), score: Type.Integer(), created_at: Timestamp, updated_at: Timestamp });

export const LikeSummary = Type.Object({
  film_id: Uuid,
  likes: Type.Integer({ description: 'ratings of 6 and above' }),
  dislikes: Type.Integer({ description: 'ratings of 5 and below' }),
  count: Type.Integer(),
  average_score: Type.Union([Type.Number(), Type.Null()]),
});

export const BookmarkBody = Type.Object(
  {
    film_id: Type.Optional(Uuid),
    // A host is required: ajv's `uri` format takes `http://` alone.
    url: Type.Optional(Type.String({ format: 'uri', pattern: '^[hH][tT][tT][pP][sS]?://[^/?#\\s@:]', maxLength: 2048, examples: ['https://example.com/films/arrival'] })),
    title: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
  },
  {
    additionalProperties: false,
    anyOf: [{ required: ['film_id'] }, { required: ['url'] }],
    description: 'At least one of film_id and url.',
    examples: [{ film_id: '3fa85f64-5717-4562-b3fc-2c963f66afa6', title: 'Watch on Friday' }],
  },
);

export const Bookmark = Type.Object({
  id: Uuid,
  film_id: Type.Union([Uuid, Type.Null()]),
  url: Type.Union([Type.String(), Type.Null()]),
  title: Type.Union([Type.String(), Type.Null()]),
  created_at: Timestamp,
});

const ReviewText = Type.String({ minLength: 1, maxLength: 5000, description: 'Plain text, stored and returned exactly as sent.' });
const ReviewScore = Type.Integer({ minimum: 0, maximum: 10 });

export const NewReviewBody = Type.Object(
  { text: ReviewText, score: Type.Optional(ReviewScore) },
  { additionalProperties: false, examples: [{ text: 'Slow first act, then it never lets go.', score: 8 }] },
);

export const ReviewPatchBody = Type.Object(
  { text: Type.Optional(ReviewText), score: Type.Optional(Type.Union([ReviewScore, Type.Null()], { description: 'null clears it' })) },
  { additionalProperties: false, minProperties: 1, examples: [{ score: 9 }] },
);

export const Review = Type.Object({
  id: Uuid,
  film_id: Uuid,
  user_id: Type.String(),
  text: Type.String(),
  score: Type.Union([Type.Integer(), Type.Null()]),
  created_at: Timestamp,
  updated_at: Timestamp,
  upvotes: Type.Integer(),
  downvotes: Type.Integer(),
});

export const ReviewsQuery = Type.Object(
  {
    sort: Type.Optional(Type.Union([Type.Literal('newest'), Type.Literal('oldest'), Type.Literal('top')], { default: 'newest' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
  },
  { additionalProperties: false },
);

export const VoteBody = Type.Object(
  { value: Type.Union([Type.Literal(1), Type.Literal(-1)], { description: '1 = helpful, -1 = not helpful' }) },
  { additionalProperties: false, examples: [{ value: 1 }] },
);
