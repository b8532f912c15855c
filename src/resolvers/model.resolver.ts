import { Arg, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import type { AppContext } from '../context';
import { forbidden, modelReloadFailed, shadowDropped } from '../errors';
import type { DriftSnapshot } from '../inference/drift';
import { NUMERIC_FIELDS } from '../inference/explanation';
import { InferenceService } from '../inference/inference.service';
import { ModelReloadError, ShadowDroppedError } from '../inference/model-host';
import { FAILURE_TYPES } from '../inference/model-io';
import type { ShadowSummary } from '../inference/shadow-scorer';
import { clusterDriftSnapshot } from '../observability/drift-cluster';
import { Drift, DriftStatus } from '../schema/drift.type';
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
  async modelInfo(@Ctx() ctx: AppContext): Promise<ModelInfo> {
    const service = ctx.models.service();
    return describeModel(ctx, service, await describeDrift(ctx, service), await ctx.models.shadowSummary());
  }

  @Mutation(() => ModelInfo, {
    description:
      'Admin key only (ADMIN_API_KEYS): loads MODEL_DIR again, checks it (manifest, file hash, a first run, golden outputs) and switches to it without dropping requests; calls already queued finish on the old model. The shadow model (SHADOW_MODEL_DIR) is reloaded too; one failing its checks is dropped (MODEL_RELOAD_FAILED with model "shadow", the primary serving). With promoteShadow: the shadow becomes the primary at once and no shadow remains. Answers the model now serving; MODEL_RELOAD_FAILED (old model kept) when a check fails, FORBIDDEN without an admin key.',
  })
  async reloadModel(
    @Ctx() ctx: AppContext,
    @Arg('promoteShadow', () => Boolean, {
      defaultValue: false,
      description: 'Make the shadow model the primary (atomically, no failed requests) instead of reloading the model files.',
    })
    promoteShadow: boolean,
  ): Promise<ModelInfo> {
    const admins = ctx.config.protection.adminApiKeys.hashes;
    if (admins.length === 0) throw forbidden('reloadModel is disabled: no admin keys are configured (ADMIN_API_KEYS)');
    if (ctx.apiKeyHash === undefined || !admins.includes(ctx.apiKeyHash)) throw forbidden('reloadModel needs an admin API key');
    try {
      const service = await ctx.models.reload(ctx.log, { promoteShadow, trace: ctx.spans ?? undefined });
      return describeModel(ctx, service, await describeDrift(ctx, service), await ctx.models.shadowSummary());
    } catch (err) {
      if (err instanceof ShadowDroppedError) throw shadowDropped(err.reason, err.servingVersion);
      if (err instanceof ModelReloadError) throw modelReloadFailed(err.reason);
      throw err;
    }
  }
}

function describeModel(ctx: AppContext, service: InferenceService, drift: Drift, shadow: ShadowSummary | undefined): ModelInfo {
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
    drift,
    shadow: shadow ?? null,
  };
}

/**
 * The drift window: this process's, or in a cluster every worker's summed (from the aggregated metrics,
 * see drift-cluster.ts). A snapshot: the GraphQL objects never hold the monitor's arrays.
 */
async function describeDrift(ctx: AppContext, service: InferenceService): Promise<Drift> {
  const cluster = ctx.models.clusterDrift;
  const settings = ctx.config.observability.drift;
  let snapshot: DriftSnapshot | undefined;
  if (cluster && settings.enabled) {
    try {
      snapshot = clusterDriftSnapshot(await cluster(), settings, service.manifest.drift);
    } catch (err) {
      // The primary did not answer: this worker's own window is still a sample of the traffic.
      ctx.log.warn({ err }, "cluster drift unavailable; answering with this worker's window");
    }
  }
  snapshot ??= ctx.models.driftMonitor?.snapshot() ?? emptyDrift(service);
  const { windowRows, rowsSeen, fields, anomalyRate, trainingAnomalyRate, classMix } = snapshot;
  return {
    windowRows,
    windowSize: settings.windowRows,
    minRows: settings.minRows,
    psiModerate: settings.psiModerate,
    psiSignificant: settings.psiSignificant,
    rowsSeen,
    fields,
    anomalyRate,
    trainingAnomalyRate,
    classMix,
  };
}

/** No drift monitor: nothing counted, the training side from the model's reference where it has one. */
function emptyDrift(service: InferenceService): DriftSnapshot {
  const reference = service.manifest.drift;
  return {
    windowRows: 0,
    rowsSeen: 0,
    fields: NUMERIC_FIELDS.map((field) => ({ field, psi: 0, status: DriftStatus.INSUFFICIENT_DATA })),
    anomalyRate: 0,
    trainingAnomalyRate: reference?.anomalyRate ?? 0,
    classMix: FAILURE_TYPES.map((failureType) => ({ failureType, live: 0, training: reference?.classMix[failureType] ?? 0 })),
  };
}
