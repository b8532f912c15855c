import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { ConfigError, type Config } from '../config';
import { ErrorCode } from '../errors';
import { HttpError } from '../http/body';
import { apiKeyOf, sha256Hex } from '../http/client-identity';

const SHA256_HEX = /^[0-9a-f]{64}$/;

/**
 * The accepted key hashes: API_KEYS plus the lines of API_KEYS_FILE (one SHA-256 hex digest per line;
 * blank lines and `#` comments ignored). The server only ever holds hashes, never keys.
 */
export function loadApiKeyHashes(config: Pick<Config, 'apiKeys'>): Set<string> {
  const hashes = new Set(config.apiKeys.hashes);
  const file = config.apiKeys.file;
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError('API_KEYS_FILE', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    text.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.replace(/#.*/, '').trim().toLowerCase();
      if (line === '') return;
      if (!SHA256_HEX.test(line)) {
        throw new ConfigError('API_KEYS_FILE', `line ${i + 1} is not a SHA-256 hex digest (store hashes of keys, never keys)`);
      }
      hashes.add(line);
    });
    if (hashes.size === 0) throw new ConfigError('API_KEYS_FILE', `${file} holds no key hashes`);
  }
  return hashes;
}

/**
 * A beforeGraphQL hook: with keys configured, a /graphql request needs a key (x-api-key or
 * Authorization: Bearer) whose SHA-256 is listed, else 401 UNAUTHENTICATED before GraphQL runs.
 * The comparison is a Set lookup of the key's hash: what a timing difference could reveal is a hash
 * prefix, which does not help guess a key. The key itself is never logged or echoed.
 */
export function apiKeyGuard(hashes: ReadonlySet<string>): (req: IncomingMessage) => void {
  return (req) => {
    const key = apiKeyOf(req);
    if (key === undefined) {
      throw new HttpError(401, ErrorCode.UNAUTHENTICATED, 'An API key is required: send it as x-api-key or Authorization: Bearer');
    }
    if (!hashes.has(sha256Hex(key))) throw new HttpError(401, ErrorCode.UNAUTHENTICATED, 'The API key is not valid');
  };
}
