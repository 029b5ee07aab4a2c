import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { UgcService } from '../services/ugc.service.ts';
import { principalOf } from './auth.ts';
import { IdParams, NoContent, Page, PageQuery, answer, problems } from './common.schema.ts';
import { Bookmark, BookmarkBody } from './ugc.schema.ts';

const bookmarks: FastifyPluginAsyncTypebox<{ ugc: UgcService }> = (app, { ugc }) => {
  const tags = ['bookmarks'];
  app.post(
    '/bookmarks',
    {
      schema: {
        tags,
        summary: 'Bookmark a film or a URL',
        description: 'The same film or URL again returns the existing bookmark with 200.',
        body: BookmarkBody,
        response: { 200: answer('Already bookmarked: the existing bookmark', Bookmark), 201: answer('Bookmark created', Bookmark), ...problems(400, 401) },
      },
    },
    async (request, reply) => {
      const { bookmark, created } = await ugc.addBookmark(principalOf(request), request.body);
      return reply.code(created ? 201 : 200).send(bookmark);
    },
  );

  app.get(
    '/bookmarks',
    { schema: { tags, summary: "The caller's bookmarks, newest first", querystring: PageQuery, response: { 200: answer("A page of the caller's bookmarks", Page(Bookmark)), ...problems(400, 401) } } },
    (request) => ugc.listBookmarks(principalOf(request), { limit: request.query.limit ?? 20, cursor: request.query.cursor }),
  );

  app.delete(
    '/bookmarks/:id',
    {
      schema: {
        tags,
        summary: 'Delete one of the caller’s bookmarks',
        params: IdParams,
        response: { 204: answer('Bookmark deleted', NoContent), ...problems(400, 401, [404, 'The caller has no such bookmark']) },
      },
    },
    async (request, reply) => {
      await ugc.deleteBookmark(principalOf(request), request.params.id);
      return reply.code(204).send(null);
    },
  );
  return Promise.resolve();
};

export default bookmarks;
