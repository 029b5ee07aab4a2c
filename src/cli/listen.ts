import { listenError } from './errors.ts';

/** What `listen` uses of a Fastify instance (whatever its logger and type provider). */
interface Listener {
  log: { level: string };
  listen(options: { host: string; port: number }): Promise<string>;
}

/**
 * `app.listen`, with the address in the caller's own start-up line only: Fastify logs "Server
 * listening at" once per interface address and has no option to turn that off (its maintainers
 * suggest silencing its logger for the call, fastify/help#641; `app.log` is Fastify's own child
 * logger, so nothing else is silenced). A bind failure becomes a CliError naming the port and the
 * variable that moves it. Resolves with the first URL (127.0.0.1 first when listening on 0.0.0.0).
 */
export async function listen(app: Listener, where: { host: string; port: number; variable: string; who: string }): Promise<string> {
  const level = app.log.level;
  app.log.level = 'silent';
  try {
    return await app.listen({ host: where.host, port: where.port });
  } catch (err) {
    throw listenError(err, where) ?? err;
  } finally {
    app.log.level = level;
  }
}
