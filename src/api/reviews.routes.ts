import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { UgcService } from '../services/ugc.service.ts';
import { principalOf } from './auth.ts';
import { FilmParams, IdParams, NoContent, Page, problems } from './common.schema.ts';
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
        response: { 201: Review, ...problems(400, 401, 409) },
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
        response: { 200: Page(Review), ...problems(400, 401) },
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
    { schema: { tags, summary: 'One review', params: IdParams, response: { 200: Review, ...problems(400, 401, 404) } } },
    (request) => ugc.getReview(request.params.id),
  );

  app.patch(
    '/reviews/:id',
    {
      schema: { tags, summary: 'Edit one’s own review', params: IdParams, body: ReviewPatchBody, response: { 200: Review, ...problems(400, 401, 403, 404) } },
    },
    (request) => ugc.updateReview(principalOf(request), request.params.id, request.body),
  );

  app.delete(
    '/reviews/:id',
    { schema: { tags, summary: 'Delete a review (its author or an admin)', params: IdParams, response: { 204: NoContent, ...problems(400, 401, 403, 404) } } },
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
        response: { 200: Review, ...problems(400, 401, 403, 404) },
      },
    },
    (request) => ugc.vote(principalOf(request), request.params.id, request.body.value),
  );

  app.delete(
    '/reviews/:id/vote',
    { schema: { tags, summary: 'Withdraw one’s vote', params: IdParams, response: { 204: NoContent, ...problems(400, 401, 404) } } },
    async (request, reply) => {
      await ugc.unvote(principalOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );
  return Promise.resolve();
};

export default reviews;
