import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { EventLog } from '../ports/event-log.ts';
import { principalOf } from './auth.ts';
import { NoContent, problems } from './common.schema.ts';

const TopicName = Type.String({ pattern: '^[a-zA-Z0-9._-]{1,249}$', description: 'Kafka topic name rules' });
const Topic = Type.Object({ name: Type.String(), partitions: Type.Integer(), replication_factor: Type.Integer() });
const NameParams = Type.Object({ name: TopicName }, { additionalProperties: false });

const CreateTopicBody = Type.Object(
  {
    name: TopicName,
    partitions: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    replication_factor: Type.Optional(Type.Integer({ minimum: 1, maximum: 32 })),
    config: Type.Optional(Type.Record(Type.String({ pattern: '^[a-z0-9.]{1,128}$' }), Type.String({ maxLength: 1024 }), { description: 'Topic configs, e.g. retention.ms' })),
  },
  { additionalProperties: false },
);

const MessageBody = Type.Object(
  {
    value: Type.Union([Type.String(), Type.Object({}, { additionalProperties: true })], { description: 'A string, or an object sent as JSON' }),
    key: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: "Defaults to the caller's user id" })),
  },
  { additionalProperties: false },
);

/** Admin access to the event log's streams, which Kafka calls topics. */
const topics: FastifyPluginAsyncTypebox<{ log: EventLog; defaultPartitions: number }> = (app, { log, defaultPartitions }) => {
  const tags = ['topics'];
  app.addHook('preParsing', app.requireAdmin);

  app.get(
    '/topics',
    { schema: { tags, summary: 'List topics', response: { 200: Type.Object({ items: Type.Array(Topic) }), ...problems(401, 403, 503) } } },
    async () => ({
      items: (await log.listStreams()).map((s) => ({ name: s.name, partitions: s.partitions, replication_factor: s.replicationFactor })),
    }),
  );

  app.post(
    '/topics',
    { schema: { tags, summary: 'Create a topic', body: CreateTopicBody, response: { 201: Topic, ...problems(400, 401, 403, 409, 503) } } },
    async (request, reply) => {
      const { name, partitions = defaultPartitions, replication_factor: replicationFactor = 1, config = {} } = request.body;
      await log.createStream(name, { partitions, replicationFactor, config });
      return reply.code(201).send({ name, partitions, replication_factor: replicationFactor });
    },
  );

  app.delete(
    '/topics/:name',
    { schema: { tags, summary: 'Delete a topic', params: NameParams, response: { 204: NoContent, ...problems(400, 401, 403, 404, 503) } } },
    async (request, reply) => {
      await log.deleteStream(request.params.name);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/topics/:name/messages',
    {
      schema: {
        tags,
        summary: 'Write one raw message; 202 once acknowledged',
        params: NameParams,
        body: MessageBody,
        response: { 202: Type.Object({ accepted: Type.Integer() }), ...problems(400, 401, 403, 404, 503) },
      },
    },
    async (request, reply) => {
      const { value, key = principalOf(request).userId } = request.body;
      await log.append(request.params.name, [{ key, value: Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)) }]);
      return reply.code(202).send({ accepted: 1 });
    },
  );
  return Promise.resolve();
};

export default topics;
