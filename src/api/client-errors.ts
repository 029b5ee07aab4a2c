import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../observability/logger.ts';
import { problemBody } from './errors.ts';

/**
 * Requests Node's HTTP parser refuses before Fastify sees them (headers too large, a bad
 * request line, a request too slow to arrive) are answered as Problem Details with an
 * `X-Request-Id` too, like every other error; Node's default is a bare status line.
 * Fastify's `clientErrorHandler` server option.
 */
export function clientErrorHandler(logger: Logger) {
  return (err: NodeJS.ErrnoException & { rawPacket?: unknown }, socket: Socket): void => {
    // A connection the client dropped has nobody to answer.
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const id = randomUUID();
    const detail =
      status === 431 ? 'The request headers are too large.' : status === 408 ? 'The request did not arrive in time.' : 'The request is not valid HTTP.';
    const body = JSON.stringify(problemBody(status, id, detail));
    logger.info({ 'http.request.id': id, 'http.response.status_code': status, 'error.code': err.code }, 'client error');
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${id}\r\nConnection: close\r\n\r\n${body}`,
    );
  };
}
