import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { UgcService } from '../services/ugc.service.ts';
import { principalOf } from './auth.ts';
import { FilmParams, NoContent, Page, PageQuery, answer, problems } from './common.schema.ts';
import { Like, LikeBody, LikeSummary } from './ugc.schema.ts';

const likes: FastifyPluginAsyncTypebox<{ ugc: UgcService }> = (app, { ugc }) => {
  const tags = ['likes'];
  app.put(
    '/films/:film_id/like',
    {
      schema: {
        tags,
        summary: 'Rate a film (0..10), or like/dislike it',
        params: FilmParams,
        body: LikeBody,
        response: { 200: answer('Rating replaced', Like), 201: answer('Rating created', Like), ...problems(400, 401) },
      },
    },
    async (request, reply) => {
      const { like, created } = await ugc.rate(principalOf(request), request.params.film_id.toLowerCase(), request.body);
      return reply.code(created ? 201 : 200).send(like);
    },
  );

  app.get(
    '/films/:film_id/like',
    {
      schema: {
        tags,
        summary: "The caller's rating of a film",
        params: FilmParams,
        response: { 200: answer("The caller's rating", Like), ...problems(400, 401, [404, 'The caller has not rated this film']) },
      },
    },
    (request) => ugc.getLike(principalOf(request), request.params.film_id.toLowerCase()),
  );

  app.delete(
    '/films/:film_id/like',
    {
      schema: {
        tags,
        summary: "Remove the caller's rating",
        params: FilmParams,
        response: { 204: answer('Rating removed', NoContent), ...problems(400, 401, [404, 'The caller has not rated this film']) },
      },
    },
    async (request, reply) => {
      await ugc.unrate(principalOf(request), request.params.film_id.toLowerCase());
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/films/:film_id/likes/summary',
    { schema: { tags, summary: 'Likes, dislikes and average score of a film', params: FilmParams, response: { 200: answer("The film's likes summary", LikeSummary), ...problems(400, 401) } } },
    (request) => ugc.likeSummary(request.params.film_id.toLowerCase()),
  );

  app.get(
    '/users/me/likes',
    { schema: { tags, summary: "The caller's ratings, newest first", querystring: PageQuery, response: { 200: answer("A page of the caller's ratings", Page(Like)), ...problems(400, 401) } } },
    (request) => ugc.listLikes(principalOf(request), { limit: request.query.limit ?? 20, cursor: request.query.cursor }),
  );
  return Promise.resolve();
};

export default likes;
