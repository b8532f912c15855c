import type { ApolloServerPlugin } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import type { GraphQLFormattedError } from 'graphql';
import { coercionViolation, withoutSuggestions } from './coercion-errors';
import { ErrorCode } from './errors';

/**
 * The boundary where errors become what clients see: Apollo's formatError and the plugin that lets it
 * read the request's variables. Apart from the catalogue (errors.ts), which every layer imports and
 * which therefore imports nothing of ours but the Violation type.
 */

const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));

const requestVariables = new WeakMap<object, Record<string, unknown>>();

/**
 * Lets the error formatter see the variables of the request an error came from, so a coercion
 * violation carries the exact value sent (Apollo hands formatError only the error). Apollo calls
 * didEncounterErrors with the very error objects it then formats.
 */
export function inputErrorsPlugin<TContext extends object>(): ApolloServerPlugin<TContext> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors, request }) {
          if (!request.variables) return;
          for (const error of errors) requestVariables.set(error, request.variables);
        },
      };
    },
  };
}

/**
 * Every BAD_USER_INPUT leaves with `extensions.violations`: resolver-side ones already carry them;
 * variable coercion errors (raised by graphql-js before any resolver) get them read from their message.
 * In production graphql-js's "did you mean" suggestions go, as Apollo's hideSchemaDetailsFromClientErrors
 * does for validation errors.
 */
function withViolations(formatted: GraphQLFormattedError, error: unknown, production: boolean): GraphQLFormattedError {
  const message = production ? withoutSuggestions(formatted.message) : formatted.message;
  if (Array.isArray(formatted.extensions?.violations)) return { ...formatted, message };
  const variables = typeof error === 'object' && error !== null ? requestVariables.get(error) : undefined;
  const violation = coercionViolation(formatted.message, variables, !production);
  if (!violation) return { ...formatted, message };
  return {
    ...formatted,
    message,
    extensions: {
      ...formatted.extensions,
      violations: [violation],
      ...(violation.row === undefined ? {} : { invalidRows: [violation.row] }),
    },
  };
}

/**
 * The single boundary where errors become what clients see. Errors from the catalogue pass through
 * (minus stack traces in production); anything else is an internal error whose details go to the log only.
 */
export function createErrorFormatter(opts: { production: boolean; onInternal?: (err: unknown) => void }) {
  return (original: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    let formatted = original;
    const code = formatted.extensions?.code;
    if (code === ErrorCode.BAD_USER_INPUT) formatted = withViolations(formatted, error, opts.production);
    if (typeof code === 'string' && KNOWN_CODES.has(code) && code !== ErrorCode.INTERNAL_SERVER_ERROR) {
      if (!opts.production) return formatted;
      const { stacktrace: _dropped, ...extensions } = formatted.extensions ?? {};
      return { ...formatted, extensions };
    }
    opts.onInternal?.(unwrapResolverError(error));
    if (!opts.production) {
      return { ...formatted, extensions: { ...formatted.extensions, code: ErrorCode.INTERNAL_SERVER_ERROR } };
    }
    return {
      message: 'Internal server error',
      ...(formatted.locations ? { locations: formatted.locations } : {}),
      ...(formatted.path ? { path: formatted.path } : {}),
      extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
    };
  };
}
