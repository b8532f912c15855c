import type { FastifyPluginAsync, FastifyPluginOptions } from 'fastify';

/**
 * Lets a plugin add its routes and hooks to the instance that registers it, as fastify-plugin does (the
 * `skip-override` mark Fastify reads), without the dependency: the probes and the console live beside the
 * root's hooks, as they did before they were plugins.
 */
export function unencapsulated<T extends FastifyPluginOptions>(plugin: FastifyPluginAsync<T>): FastifyPluginAsync<T> {
  return Object.assign(plugin, { [Symbol.for('skip-override')]: true });
}
