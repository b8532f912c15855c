import 'reflect-metadata';
import type { GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';

export interface SchemaOptions {
  /** The resolver classes; the composition root (src/server.ts) names them. */
  resolvers: readonly Function[];
  globalMiddlewares?: Parameters<typeof buildSchema>[0]['globalMiddlewares'];
}

/**
 * The schema of the given resolvers. No global validation: each argument declares its own (`validateFn`
 * on its `@Arg`, see src/resolvers/prediction.resolver.ts), and an argument that declares none is not
 * validated beyond its GraphQL type.
 */
export function buildAppSchema(options: SchemaOptions): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: [...options.resolvers] as [Function, ...Function[]],
    globalMiddlewares: options.globalMiddlewares,
  });
}
