import { Field, Float, ObjectType, registerEnumType } from 'type-graphql';

export enum ServiceStatus {
  LOADING = 'LOADING',
  READY = 'READY',
  DRAINING = 'DRAINING',
  FAILED = 'FAILED',
  CLOSING = 'CLOSING',
}
registerEnumType(ServiceStatus, {
  name: 'ServiceStatus',
  description: 'Lifecycle state of the inference service.',
  valuesConfig: {
    LOADING: { description: 'The model is being loaded; predictions get MODEL_NOT_READY.' },
    READY: { description: 'The model is loaded and serving.' },
    FAILED: { description: 'The model could not be loaded; the process is about to exit.' },
    DRAINING: {
      description: 'Shutdown has begun: readiness is false so no new traffic is routed here; requests already sent are still answered.',
    },
    CLOSING: { description: 'The drain is over and the model session is being released; the process is about to exit.' },
  },
});

@ObjectType({ description: 'Liveness and readiness of the server and its model.', simpleResolvers: true })
export class Health {
  @Field(() => ServiceStatus, { description: 'Lifecycle state of the inference service.' })
  status!: ServiceStatus;

  @Field(() => Boolean, { description: 'True when the model is loaded and predictions can be served.' })
  modelLoaded!: boolean;

  @Field(() => String, { nullable: true, description: 'Execution provider in use ("cpu" or "cuda"); null until loaded.' })
  device!: string | null;

  @Field(() => Float, { description: 'Seconds since the server process started (s).' })
  uptimeSeconds!: number;

  @Field(() => String, { description: 'Version of this server (package.json).' })
  serverVersion!: string;

  @Field(() => String, { nullable: true, description: 'Version of the loaded model; null until loaded.' })
  modelVersion!: string | null;
}
