import { ErrorCode, HttpError } from '../errors';
import type { ClientIdentity } from '../http/client-identity';

/**
 * With keys configured, a /graphql request needs a key (x-api-key or Authorization: Bearer) whose
 * SHA-256 is listed, else 401 UNAUTHENTICATED before the body is read, whatever the method (GET
 * queries included). The comparison is a Set lookup of the key's hash: what a timing difference could
 * reveal is a hash prefix, which does not help guess a key. The key itself is never logged or echoed.
 */
export function apiKeyGuard(hashes: ReadonlySet<string>): (identity: ClientIdentity) => void {
  return ({ apiKeyHash }) => {
    if (apiKeyHash === undefined) {
      throw new HttpError(401, ErrorCode.UNAUTHENTICATED, 'An API key is required: send it as x-api-key or Authorization: Bearer');
    }
    if (!hashes.has(apiKeyHash)) throw new HttpError(401, ErrorCode.UNAUTHENTICATED, 'The API key is not valid');
  };
}
