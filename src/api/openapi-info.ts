/**
 * The prose of the OpenAPI document (`/openapi.json`): what the docs page (`/docs`) shows above
 * the routes, and the start of docs/api.md, which `npm run docs:api` renders from the document.
 * Markdown; every sentence holds for every route (the routes' schemas say the rest).
 */
export const API_DESCRIPTION = `Behaviour events and user-generated content (likes, bookmarks, reviews) of the online cinema.

**Tokens.** Every \`/api/v1\` route needs a bearer JWT, sent as \`Authorization: Bearer <token>\`; the operations routes (\`/healthz\`, \`/readyz\`, \`/metrics\`) need none. Mint a token in the service's directory with \`npm run token -- --user user_123\` (add \`--admin\` for the routes marked admin only; a deployed stack's tokens are minted in its API container, see deploy/README.md, step 6). On the docs page (\`/docs\`), press **Authorize**, paste the token, then **Try it out** on a route, which comes with an example request filled in.

**Conventions.**
- JSON in and out, \`snake_case\` fields; times are RFC 3339, answered in UTC with milliseconds.
- Unknown fields are a 400 (never silently dropped), except inside an event's \`properties\`.
- Lists are cursor-paginated: \`?limit=\` (1..100, default 20) and \`?cursor=\` (the \`next_cursor\` of the previous page); answers are \`{"items": [...], "next_cursor": "..." | null}\`.
- Every answer carries \`X-Request-Id\`: the request's own when it sent a valid one, else a generated UUID.
- Film ids are canonical UUIDs (any case, answered lower-case); text is stored and returned exactly as sent, or refused when it is not well-formed Unicode.
- A known path asked with another method is a 405 with \`Allow\`.

**Errors** are RFC 9457 Problem Details (\`application/problem+json\`): \`type\`, \`title\`, \`status\`, \`detail\`, \`request_id\`, and for a bad request \`errors\`, one \`{path, message}\` per bad field, e.g. \`{"type": "https://ugc.example/problems/bad-request", "title": "Bad Request", "status": 400, "detail": "Invalid body.", "errors": [{"path": "/events/1/type", "message": "must match pattern \\"^[a-z][a-z0-9_]{0,63}$\\""}]}\`. A 5xx never carries a stack trace or a backend's message.`;

/** The route groups, in the order the docs page and docs/api.md list them. */
export const API_TAGS = [
  { name: 'events', description: 'Behaviour events: HTTP → event log → ETL → warehouse.' },
  { name: 'likes', description: 'Ratings of films, 0..10 (a like is 6 and above, a dislike 5 and below).' },
  { name: 'bookmarks', description: 'Films and URLs a user keeps for later.' },
  { name: 'reviews', description: 'Plain-text reviews of films, one per user and film, with votes.' },
  { name: 'topics', description: 'Admin access to the event log’s streams, which Kafka calls topics.' },
  { name: 'analytics', description: 'Admin questions answered from the warehouse: every event counted once.' },
  { name: 'operations', description: 'Liveness, readiness and metrics, for orchestrators and Prometheus; no token.' },
];
