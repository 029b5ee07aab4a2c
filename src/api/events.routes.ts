import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { EventsService } from '../services/events.service.ts';
import { principalOf } from './auth.ts';
import { answer, problems } from './common.schema.ts';
import { Accepted, EventsBody } from './events.schema.ts';

const events: FastifyPluginAsyncTypebox<{ events: EventsService }> = (app, { events: service }) => {
  app.post(
    '/events',
    {
      config: { tokenInBody: true },
      schema: {
        tags: ['events'],
        summary: 'Send one behaviour event or a batch',
        description:
          'All or nothing: one invalid event rejects the request and nothing is written. `202` only once the events are durably in the event log. `Content-Encoding: gzip` accepted. The same JSON as `text/plain` (a beacon) is accepted too, with the JWT in a top-level `access_token` field instead of the Authorization header.',
        body: EventsBody,
        consumes: ['application/json', 'text/plain'],
        response: { 202: answer('Accepted: every event is durably in the event log', Accepted), ...problems(400, 401, 413, 415, 429, 503) },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const accepted = await service.ingest(
        principalOf(request).userId,
        'events' in body ? { batch: true, sent_at: body.sent_at, events: body.events } : { batch: false, event: body },
      );
      // Carried into the access log line, so dashboards count events, not requests.
      request.log = request.log.child({ 'ugc.events_accepted': accepted });
      return reply.code(202).send({ accepted });
    },
  );
  return Promise.resolve();
};

export default events;
