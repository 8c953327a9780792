/** Every HTTP error leaves as `{ error: { code, message } }` with a code from the catalog. */
import type { FastifyInstance, FastifyError } from 'fastify';
import { CodedError, type ErrorBody } from '../../protocol/errors';
import { RateLimitedError } from '../limits/AddressLimits';

/** Installs the error and not-found handlers on `app`. */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | CodedError, request, reply) => {
    if (err instanceof RateLimitedError) reply.header('retry-after', String(err.retryAfterSeconds));
    if (err instanceof CodedError) {
      return reply.status(err.status).send(body(err));
    }
    if (err.validation) {
      return reply.status(400).send(body(new CodedError('BAD_REQUEST', `Invalid request: ${err.message}.`)));
    }
    if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      // Fastify's own client errors (bad JSON body, too large, wrong content type).
      return reply.status(err.statusCode).send(body(new CodedError('BAD_REQUEST', err.message)));
    }
    request.log.error({ err }, 'request failed');
    return reply.status(500).send(body(new CodedError('INTERNAL')));
  });
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send(body(new CodedError('ROUTE_NOT_FOUND', `Nothing at ${request.method} ${request.url}.`)));
  });
}

function body(err: CodedError): ErrorBody {
  return { error: { code: err.code, message: err.message } };
}
