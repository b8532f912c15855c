import { Ctx, Mutation, Query, Resolver } from 'type-graphql';
import type { AppContext } from '../context';
import { forbidden, modelReloadFailed } from '../errors';
import { InferenceService } from '../inference/inference.service';
import { ModelReloadError } from '../inference/model-host';
import { Health, ServiceStatus } from '../schema/health.type';
import { ModelInfo } from '../schema/model-info.type';
import { SERVER_VERSION } from '../version';

@Resolver()
export class ModelResolver {
  @Query(() => Health, { description: 'Whether the server is up and the model loaded; costs no rate-limit budget.' })
  health(@Ctx() ctx: AppContext): Health {
    const service = ctx.models.peek();
    const status = ctx.models.state.status.toUpperCase() as ServiceStatus;
    return {
      status,
      modelLoaded: service !== undefined,
      device: service?.device ?? null,
      uptimeSeconds: process.uptime(),
      serverVersion: SERVER_VERSION,
      modelVersion: service?.manifest.version ?? null,
    };
  }

  @Query(() => ModelInfo, {
    description: 'The loaded model: version, inputs with units and training ranges, metrics, anomaly threshold, device and batching.',
  })
  modelInfo(@Ctx() ctx: AppContext): ModelInfo {
    return describeModel(ctx, ctx.models.service());
  }

  @Mutation(() => ModelInfo, {
    description:
      'Admin key only (ADMIN_API_KEYS): loads MODEL_DIR again, checks it (manifest, file hash, a first run, golden outputs) and switches to it without dropping requests; calls already queued finish on the old model. Answers the model now serving; MODEL_RELOAD_FAILED (old model kept) when a check fails, FORBIDDEN without an admin key.',
  })
  async reloadModel(@Ctx() ctx: AppContext): Promise<ModelInfo> {
    const admins = ctx.config.protection.adminApiKeys.hashes;
    if (admins.length === 0) throw forbidden('reloadModel is disabled: no admin keys are configured (ADMIN_API_KEYS)');
    if (ctx.apiKeyHash === undefined || !admins.includes(ctx.apiKeyHash)) throw forbidden('reloadModel needs an admin API key');
    try {
      return describeModel(ctx, await ctx.models.reload(ctx.log, ctx.spans ?? undefined));
    } catch (err) {
      if (err instanceof ModelReloadError) throw modelReloadFailed(err.reason);
      throw err;
    }
  }
}

function describeModel(ctx: AppContext, service: InferenceService): ModelInfo {
  const { manifest } = service;
  const stats = service.stats();
  const perClass = manifest.metrics.perClassF1 ?? {};
  const nearBoundary = manifest.metrics.nearBoundary;
  return {
    name: manifest.name,
    version: manifest.version,
    createdAt: manifest.createdAt,
    datasetSha256: manifest.dataset.sha256,
    dataLicence: [manifest.dataset.licence, manifest.dataset.attribution].filter(Boolean).join(': '),
    inputs: manifest.inputs.columns.map((c) => ({
      field: c.field,
      column: c.column,
      unit: c.unit,
      trainingMin: c.min ?? null,
      trainingMax: c.max ?? null,
    })),
    failureTypes: manifest.outputs.probabilities.labels.map((l) => ({
      failureType: l.enum,
      label: l.label,
      f1: perClass[l.enum] ?? null,
      nearBoundaryF1: nearBoundary?.perClassF1[l.enum] ?? null,
    })),
    anomalyThreshold: manifest.anomaly.threshold,
    anomalyThresholdMethod: manifest.anomaly.method,
    metrics: {
      protocol: manifest.metrics.protocol ?? 'not recorded',
      nearBoundaryProtocol: nearBoundary?.protocol ?? null,
      binaryF1: manifest.metrics.binaryF1 ?? null,
      macroF1: manifest.metrics.macroF1 ?? null,
      accuracy: manifest.metrics.accuracy ?? null,
    },
    device: service.device,
    availableProviders: InferenceService.availableProviders(),
    batching: {
      maxBatchSize: ctx.config.inference.maxBatchSize,
      maxBatchWaitMs: ctx.config.inference.maxBatchWaitMs,
      maxQueueRows: ctx.config.inference.maxQueueRows,
      maxBatchRows: ctx.config.limits.maxBatchRows,
      queuedRows: stats.queuedRows,
      runs: stats.runs,
      rows: stats.rows,
      meanRowsPerRun: stats.meanRowsPerRun,
    },
  };
}
