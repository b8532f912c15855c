import { Field, Int, ObjectType } from 'type-graphql';

@ObjectType({
  description:
    "The caller's rate-limit budgets in the current window (like GitHub's rateLimit). Operations and rows: only " +
    'predict and predictBatch spend them; health, modelInfo and rateLimit are free. Requests: every HTTP request to ' +
    '/graphql spends one (this one included), whatever it asks.',
  simpleResolvers: true,
})
export class RateLimit {
  @Field(() => Boolean, { description: 'False when the server runs without rate limits (RATE_LIMIT_ENABLED=false).' })
  enabled!: boolean;

  @Field(() => String, {
    description:
      'Where budgets are kept: "memory" (this process), "cluster" (the primary process, shared by its workers), "redis" (shared by every replica) or "none".',
  })
  store!: string;

  @Field(() => Boolean, {
    description: 'False while the shared store is unreachable; the figures below are then not known (shown as unspent).',
  })
  available!: boolean;

  @Field(() => String, { description: 'What the caller is counted as: "apiKey" when an API key was sent, else "ip".' })
  identifiedBy!: string;

  @Field(() => Int, { description: 'Operations (predict or predictBatch calls) allowed per window (RATE_LIMIT_MAX).' })
  limit!: number;

  @Field(() => Int, { description: 'Operations spent in the current window.' })
  used!: number;

  @Field(() => Int, { description: 'Operations left in the current window.' })
  remaining!: number;

  @Field(() => Int, {
    description:
      'Readings (rows) allowed per window across predict and predictBatch (RATE_LIMIT_ROWS_MAX). A reading whose `explanation` is selected counts 6 (itself and the five variants the model scores to explain it).',
  })
  rowsLimit!: number;

  @Field(() => Int, { description: 'Readings spent in the current window.' })
  rowsUsed!: number;

  @Field(() => Int, { description: 'Readings left in the current window.' })
  rowsRemaining!: number;

  @Field(() => Int, { description: 'Length of a window in seconds (s) (RATE_LIMIT_WINDOW). A window opens at the first counted call.' })
  windowSeconds!: number;

  @Field(() => String, {
    nullable: true,
    description:
      'When the current window ends and both budgets refill, as an ISO-8601 UTC time; null when no window is open (nothing spent).',
  })
  resetAt!: string | null;

  @Field(() => Int, { description: 'HTTP requests to /graphql allowed per request window, whatever they ask (REQUEST_LIMIT_MAX).' })
  requestsLimit!: number;

  @Field(() => Int, { description: 'HTTP requests spent in the current request window, this one included.' })
  requestsUsed!: number;

  @Field(() => Int, { description: 'HTTP requests left in the current request window.' })
  requestsRemaining!: number;

  @Field(() => Int, { description: 'Length of a request window in seconds (s) (REQUEST_LIMIT_WINDOW).' })
  requestsWindowSeconds!: number;

  @Field(() => String, {
    nullable: true,
    description: 'When the current request window ends, as an ISO-8601 UTC time; null when none is open.',
  })
  requestsResetAt!: string | null;
}
