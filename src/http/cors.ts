/**
 * The CORS origin rule for /graphql: an origin is allowed when it equals one of CORS_ORIGINS exactly
 * (scheme, host and port: config.ts only accepts bare origins), or when the list holds `*`. No prefix or
 * suffix matching: `https://app.example.com.evil.net` is not `https://app.example.com`. A request without
 * an Origin header (not a browser's cross-origin request) gets no CORS headers unless `*` is listed.
 */
export function corsOriginRule(origins: readonly string[]): (origin: string | undefined) => boolean {
  const allowed = new Set(origins);
  const allowAll = allowed.has('*');
  return (origin) => allowAll || (origin !== undefined && allowed.has(origin));
}
