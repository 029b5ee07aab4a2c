import { MongoClient } from 'mongodb';
import type { Collection, Db, IndexDescription } from 'mongodb';
import type { Review, VoteValue } from '../../domain/reviews.ts';
import { KeyedLock } from './mongo-keyed-lock.ts';
import { INDEXES, reviewFromDoc, voteDelta } from './mongo-ugc-schema.ts';
import type { BookmarkDoc, LikeDoc, ReviewDoc, VoteDoc } from './mongo-ugc-schema.ts';

/**
 * Connection set-up and the review-counter writes of MongoUgcStore.
 */

/** A connected client with the store's typed collections, indexes in place. */
export interface Connection {
  client: MongoClient;
  db: Db;
  likes: Collection<LikeDoc>;
  bookmarks: Collection<BookmarkDoc>;
  reviews: Collection<ReviewDoc>;
  votes: Collection<VoteDoc>;
  /** Only on FerretDB, see reviewWrite. */
  reviewLock: KeyedLock | null;
}

/** Connects and creates the indexes (idempotent: a no-op when they exist). */
export async function openConnection(url: string, database: string): Promise<Connection> {
  // Fail fast: a request should get a 503 within ~2 s rather than wait out the driver's
  // default 30 s server selection while a node is down or an election runs.
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 2000, appName: 'ugc-service' });
  try {
    await client.connect();
    const db = client.db(database);
    const info = await db.admin().buildInfo();
    await Promise.all(Object.entries(INDEXES).map(([name, indexes]) => createIndexes(db, name, indexes)));
    return {
      client,
      db,
      likes: db.collection<LikeDoc>('likes'),
      bookmarks: db.collection<BookmarkDoc>('bookmarks'),
      reviews: db.collection<ReviewDoc>('reviews'),
      votes: db.collection<VoteDoc>('review_votes'),
      reviewLock: 'ferretdbVersion' in info ? new KeyedLock() : null,
    };
  } catch (err) {
    await client.close().catch(() => undefined);
    throw err;
  }
}

/**
 * One index per createIndexes command: FerretDB 1.24 panics and drops the connection when one
 * command lists several indexes that all exist already (every start after the first). MongoDB
 * treats each existing one as a no-op either way; new indexes on a big collection are a
 * migration, not something to build at start-up.
 */
async function createIndexes(db: Db, collection: string, indexes: readonly IndexDescription[]): Promise<void> {
  for (const index of indexes) await db.collection(collection).createIndexes([index]);
}

/**
 * MongoDB applies each single-document update atomically, so review writes need no lock.
 * FerretDB 1.x does not: it reads the document, applies the operators and writes the whole
 * document back, so concurrent `$inc`s are lost (measured: 100 parallel `$inc` -> 4..19) and a
 * text edit can overwrite a counter. On FerretDB the writes to one review are therefore queued
 * in this process; several processes sharing one FerretDB can still lose counts.
 */
export function reviewWrite<T>(conn: Connection, reviewId: string, write: () => Promise<T>): Promise<T> {
  return conn.reviewLock === null ? write() : conn.reviewLock.run(reviewId, write);
}

/** Moves the review's counters by a vote change; deletes the vote if the review is gone. */
export async function applyVote(
  { reviews, votes }: Connection,
  reviewId: string,
  userId: string,
  before: VoteValue | null,
  after: VoteValue | null,
): Promise<Review | null> {
  const { upvotes, downvotes } = voteDelta(before, after);
  const doc =
    upvotes === 0 && downvotes === 0
      ? await reviews.findOne({ _id: reviewId })
      : await reviews.findOneAndUpdate(
          { _id: reviewId },
          { $inc: { upvotes, downvotes, rating: upvotes - downvotes } },
          { returnDocument: 'after' },
        );
  if (doc === null) {
    // Deleted after our check: its deleteMany may have run before our vote was written.
    await votes.deleteOne({ review_id: reviewId, user_id: userId });
    return null;
  }
  return reviewFromDoc(doc);
}
