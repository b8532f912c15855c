import pino, { type Logger } from 'pino';
import type { ObservabilityConfig } from './config';

/**
 * Structured JSON logs on stdout. Key material never reaches a log line (see redact).
 * With `logPretty` (LOG_PRETTY, development only; `npm run dev` turns it on) lines go through pino-pretty
 * in a worker thread instead: readable in a terminal, too slow and unparseable for production.
 * `prettyTo` is where pretty lines go: stdout (file descriptor 1, pino-pretty's own default), or a file (tests).
 */
export function createLogger(
  config: Pick<ObservabilityConfig, 'logLevel'> & Partial<Pick<ObservabilityConfig, 'logPretty'>>,
  destination?: pino.DestinationStream,
  prettyTo: number | string = 1,
): Logger {
  const stream =
    destination ??
    (config.logPretty
      ? pino.transport({
          target: 'pino-pretty',
          options: { destination: prettyTo, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' },
        })
      : // Stryker disable next-line ObjectLiteral: equivalent, SonicBoom's own default is sync: false (explicit for the reader)
        pino.destination({ sync: false }));
  return pino(
    {
      level: config.logLevel,
      base: { service: 'predictive-maintenance-api' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['req.headers.authorization', 'req.headers["x-api-key"]', 'apiKey'], remove: true },
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
}
