import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ConflictError } from '../domain/errors.ts';
import type { EventLog } from '../ports/event-log.ts';
import { adminOnly, principalOf } from './auth.ts';
import { NoContent, answer, problems } from './common.schema.ts';

// Kafka's rules (org.apache.kafka.common.internals.Topic#validate): 1..249 of [a-zA-Z0-9._-], and not "." or "..".
// The example is the name the docs page pre-fills everywhere: create, write to, delete, in that order.
const TopicName = Type.String({
  pattern: '^(?!\\.{1,2}$)[a-zA-Z0-9._-]{1,249}$',
  description: 'Kafka topic name rules: 1..249 of [a-zA-Z0-9._-], not "." or ".."',
  examples: ['experiments'],
});
const Topic = Type.Object({ name: Type.String(), partitions: Type.Integer(), replication_factor: Type.Integer() });
const NameParams = Type.Object({ name: TopicName }, { additionalProperties: false });

/**
 * Kafka's topic-level configs (Kafka 4). `propertyNames`, not a record's `patternProperties`:
 * those let a key that does not match the pattern through with any value.
 */
const TOPIC_CONFIGS = [
  'cleanup.policy', 'compression.gzip.level', 'compression.lz4.level', 'compression.type', 'compression.zstd.level',
  'delete.retention.ms', 'file.delete.delay.ms', 'flush.messages', 'flush.ms', 'follower.replication.throttled.replicas',
  'index.interval.bytes', 'leader.replication.throttled.replicas', 'local.retention.bytes', 'local.retention.ms',
  'max.compaction.lag.ms', 'max.message.bytes', 'message.timestamp.after.max.ms', 'message.timestamp.before.max.ms',
  'message.timestamp.type', 'min.cleanable.dirty.ratio', 'min.compaction.lag.ms', 'min.insync.replicas', 'preallocate',
  'remote.log.copy.disable', 'remote.log.delete.on.disable', 'remote.storage.enable', 'retention.bytes', 'retention.ms',
  'segment.bytes', 'segment.index.bytes', 'segment.jitter.ms', 'segment.ms', 'unclean.leader.election.enable',
];
const TopicConfig = Type.Unsafe<Record<string, string>>({
  type: 'object',
  propertyNames: { enum: TOPIC_CONFIGS },
  additionalProperties: { type: 'string', minLength: 1, maxLength: 1024 },
  description: 'Kafka topic configs by name, values as strings, e.g. `{"retention.ms": "86400000"}`',
});

const CreateTopicBody = Type.Object(
  {
    name: TopicName,
    partitions: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    replication_factor: Type.Optional(Type.Integer({ minimum: 1, maximum: 32 })),
    config: Type.Optional(TopicConfig),
  },
  { additionalProperties: false, examples: [{ name: 'experiments', partitions: 3, config: { 'retention.ms': '86400000' } }] },
);

const MessageBody = Type.Object(
  {
    value: Type.Union([Type.String(), Type.Object({}, { additionalProperties: true })], { description: 'A string, or an object sent as JSON' }),
    key: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: "Defaults to the caller's user id" })),
  },
  { additionalProperties: false, examples: [{ key: 'user_123', value: { experiment: 'new-player', variant: 'b' } }] },
);

export interface TopicsOptions {
  log: EventLog;
  defaultPartitions: number;
  /** The service's own streams (events and dead letters): deleting one loses acknowledged events. */
  ownStreams: readonly string[];
}

/** Admin access to the event log's streams, which Kafka calls topics. */
const topics: FastifyPluginAsyncTypebox<TopicsOptions> = (app, { log, defaultPartitions, ownStreams }) => {
  const tags = ['topics'];
  adminOnly(app);

  app.get(
    '/topics',
    { schema: { tags, summary: 'List topics', response: { 200: answer('The topics', Type.Object({ items: Type.Array(Topic) })), ...problems(401, 403, 503) } } },
    async () => ({
      items: (await log.listStreams()).map((s) => ({ name: s.name, partitions: s.partitions, replication_factor: s.replicationFactor })),
    }),
  );

  app.post(
    '/topics',
    { schema: { tags, summary: 'Create a topic', body: CreateTopicBody, response: { 201: answer('Topic created', Topic), ...problems(400, 401, 403, [409, 'A topic of this name exists'], 503) } } },
    async (request, reply) => {
      const { name, partitions = defaultPartitions, replication_factor: replicationFactor = 1, config = {} } = request.body;
      await log.createStream(name, { partitions, replicationFactor, config });
      return reply.code(201).send({ name, partitions, replication_factor: replicationFactor });
    },
  );

  app.delete(
    '/topics/:name',
    {
      schema: {
        tags,
        summary: 'Delete a topic',
        description: "The service's own events and dead-letter topics cannot be deleted (409).",
        params: NameParams,
        response: {
          204: answer('Topic deleted', NoContent),
          ...problems(400, 401, 403, [404, 'No such topic'], [409, "One of the service's own topics"], 503),
        },
      },
    },
    async (request, reply) => {
      if (ownStreams.includes(request.params.name)) {
        throw new ConflictError(`Topic "${request.params.name}" is one of the service's own streams (events or dead letters); deleting it would lose acknowledged events.`);
      }
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
        response: { 202: answer('Written and acknowledged', Type.Object({ accepted: Type.Integer() })), ...problems(400, 401, 403, [404, 'No such topic'], 503) },
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
