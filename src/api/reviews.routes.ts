import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { UgcService } from '../services/ugc.service.ts';
import { principalOf } from './auth.ts';
import { FilmParams, IdParams, NoContent, Page, answer, problems } from './common.schema.ts';
import { NewReviewBody, Review, ReviewPatchBody, ReviewsQuery, VoteBody } from './ugc.schema.ts';

const reviews: FastifyPluginAsyncTypebox<{ ugc: UgcService }> = (app, { ugc }) => {
  const tags = ['reviews'];
  app.post(
    '/films/:film_id/reviews',
    {
      schema: {
        tags,
        summary: 'Review a film (one review per user and film)',
        params: FilmParams,
        body: NewReviewBody,
        response: { 201: answer('Review created', Review), ...problems(400, 401, [409, 'The caller has already reviewed this film']) },
      },
    },
    async (request, reply) => reply.code(201).send(await ugc.createReview(principalOf(request), request.params.film_id.toLowerCase(), request.body)),
  );

  app.get(
    '/films/:film_id/reviews',
    {
      schema: {
        tags,
        summary: 'Reviews of a film; top = upvotes - downvotes',
        params: FilmParams,
        querystring: ReviewsQuery,
        response: { 200: answer("A page of the film's reviews", Page(Review)), ...problems(400, 401) },
      },
    },
    (request) =>
      ugc.listReviews(request.params.film_id.toLowerCase(), request.query.sort ?? 'newest', {
        limit: request.query.limit ?? 20,
        cursor: request.query.cursor,
      }),
  );

  app.get(
    '/reviews/:id',
    { schema: { tags, summary: 'One review', params: IdParams, response: { 200: answer('The review', Review), ...problems(400, 401, [404, 'No such review']) } } },
    (request) => ugc.getReview(request.params.id),
  );

  app.patch(
    '/reviews/:id',
    {
      schema: { tags, summary: 'Edit one’s own review', params: IdParams, body: ReviewPatchBody, response: {
          200: answer('The review as edited', Review),
          ...problems(400, 401, [403, 'Only the author can edit a review'], [404, 'No such review']),
        },
      },
    },
    (request) => ugc.updateReview(principalOf(request), request.params.id, request.body),
  );

  app.delete(
    '/reviews/:id',
    {
      schema: {
        tags,
        summary: 'Delete a review (its author or an admin)',
        params: IdParams,
        response: { 204: answer('Review deleted', NoContent), ...problems(400, 401, [403, 'Neither the author nor an admin'], [404, 'No such review']) },
      },
    },
    async (request, reply) => {
      await ugc.deleteReview(principalOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.put(
    '/reviews/:id/vote',
    {
      schema: {
        tags,
        summary: 'Vote a review up (1) or down (-1); not one’s own',
        params: IdParams,
        body: VoteBody,
        response: { 200: answer('The review with its vote counts', Review), ...problems(400, 401, [403, "The caller's own review"], [404, 'No such review']) },
      },
    },
    (request) => ugc.vote(principalOf(request), request.params.id, request.body.value),
  );

  app.delete(
    '/reviews/:id/vote',
    {
      schema: {
        tags,
        summary: 'Withdraw one’s vote',
        params: IdParams,
        response: { 204: answer('Vote withdrawn', NoContent), ...problems(400, 401, [404, 'No such review, or the caller has not voted on it']) },
      },
    },
    async (request, reply) => {
      await ugc.unvote(principalOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );
  return Promise.resolve();
};

export default reviews;
