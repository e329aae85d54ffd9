/**
 * Turns the measured requests of bench/cost-model.ts into a monthly bill for the README's two
 * reference users, with the prices of bench/aws-prices.ts.
 */
import { PRICES, PRICES_AS_OF, S3_FREE, S3_PUT_CLASS } from './aws-prices.js';
import type { CostMeasurement, RunTally } from './cost-model.js';
import { table } from './lib.js';

/** The stack's default schedule, rate(15 minutes). */
const RUNS_PER_DAY = 96;
const DAYS_PER_MONTH = 30;
/** The puller's default memory (puller.memoryMiB 1024). */
const PULLER_GB = 1;
/** Lambda's own START, END and REPORT lines for each invocation. */
const PLATFORM_LOG_BYTES_PER_RUN = 350;
const GIB = 1024 ** 3;

export const SCENARIOS = [
  { name: '1 mailbox, 50 messages a day', mailboxes: 1, perDay: 50 },
  { name: '20 mailboxes, 2,000 messages a day each', mailboxes: 20, perDay: 2000 },
] as const;

/** The alarms the template defines: some for the stack, some per mailbox (measured by synth). */
export interface AlarmCounts {
  fixed: number;
  perMailbox: number;
}

interface Usage {
  s3Put: number;
  s3Get: number;
  writeUnits: number;
  readUnits: number;
  ms: number;
  logBytes: number;
}

function usageOf(tally: RunTally): Usage {
  let s3Put = 0;
  let s3Get = 0;
  for (const [command, count] of Object.entries(tally.s3)) {
    if (S3_PUT_CLASS.has(command)) s3Put += count;
    else if (!S3_FREE.has(command)) s3Get += count;
  }
  return {
    s3Put,
    s3Get,
    writeUnits: tally.writeUnits,
    readUnits: tally.readUnits,
    ms: tally.ms,
    logBytes: tally.logBytes + PLATFORM_LOG_BYTES_PER_RUN,
  };
}

/** Per idle run, and per message on top of it. */
export function unitUsage(m: CostMeasurement): { perRun: Usage; perMessage: Usage } {
  const idle = usageOf(m.idle);
  const busy = usageOf(m.busy);
  const perMessage = Object.fromEntries(
    Object.entries(busy).map(([key, value]) => [
      key,
      Math.max(0, (value - idle[key as keyof Usage]) / m.batch),
    ]),
  ) as unknown as Usage;
  return { perRun: idle, perMessage };
}

export function monthlyBill(
  m: CostMeasurement,
  alarms: AlarmCounts,
  scenario: { mailboxes: number; perDay: number },
): [string, number][] {
  const { perRun, perMessage } = unitUsage(m);
  const runs = scenario.mailboxes * RUNS_PER_DAY * DAYS_PER_MONTH;
  const messages = scenario.mailboxes * scenario.perDay * DAYS_PER_MONTH;
  const total = (key: keyof Usage) => runs * perRun[key] + messages * perMessage[key];
  const metricSeries = new Set([...m.idle.metrics, ...m.busy.metrics]).size * scenario.mailboxes;
  const storedMessages = messages * 12;
  return [
    [
      'Lambda (puller: requests and GB-seconds)',
      (runs / 1e6) * PRICES.lambdaPerMillionRequests +
        (total('ms') / 1000) * PULLER_GB * PRICES.lambdaPerGbSecond,
    ],
    [
      'S3 requests',
      (total('s3Put') / 1000) * PRICES.s3PerThousandPutClass +
        (total('s3Get') / 1000) * PRICES.s3PerThousandGetClass,
    ],
    [
      'S3 storage, month 12 (a year of mail)',
      ((storedMessages * m.s3BytesPerMessage) / GIB) * PRICES.s3PerGbMonth,
    ],
    [
      'DynamoDB reads and writes',
      (total('writeUnits') / 1e6) * PRICES.dynamoPerMillionWriteUnits +
        (total('readUnits') / 1e6) * PRICES.dynamoPerMillionReadUnits,
    ],
    [
      'DynamoDB storage, month 12',
      ((storedMessages * m.dynamoBytesPerMessage) / GIB) * PRICES.dynamoPerGbMonth,
    ],
    [
      'Secrets Manager (a secret per mailbox; a read per run at worst)',
      scenario.mailboxes * PRICES.secretsPerSecretMonth +
        (runs / 10_000) * PRICES.secretsPerTenThousandCalls,
    ],
    [
      `CloudWatch custom metrics (${metricSeries} series)`,
      metricSeries * PRICES.cloudwatchPerMetricMonth,
    ],
    [
      'CloudWatch alarms',
      (alarms.fixed + alarms.perMailbox * scenario.mailboxes) * PRICES.cloudwatchPerAlarmMonth,
    ],
    ['CloudWatch Logs ingestion', (total('logBytes') / GIB) * PRICES.cloudwatchLogsPerGbIngested],
    [
      'EventBridge Scheduler',
      (Math.max(0, runs - PRICES.schedulerFreeInvocations) / 1e6) * PRICES.schedulerPerMillion,
    ],
  ];
}

const dollars = (value: number): string =>
  value === 0 ? '$0' : value < 0.01 ? '< $0.01' : `$${value.toFixed(2)}`;
const figure = (value: number): string => (value < 10 ? value.toFixed(2) : value.toFixed(0));

export function renderCost(m: CostMeasurement, alarms: AlarmCounts): string {
  const { perRun, perMessage } = unitUsage(m);
  const measured = table(
    ['measured', 'S3 PUT-class', 'S3 GET-class', 'DynamoDB WRU', 'DynamoDB RRU', 'ms', 'log bytes'],
    [
      ['per scheduled run that finds no mail', perRun],
      ['per message archived, on top', perMessage],
    ].map(([label, u]) => {
      const usage = u as Usage;
      return [
        label as string,
        figure(usage.s3Put),
        figure(usage.s3Get),
        figure(usage.writeUnits),
        figure(usage.readUnits),
        figure(usage.ms),
        figure(usage.logBytes),
      ];
    }),
  );
  const bills = SCENARIOS.map((s) => monthlyBill(m, alarms, s));
  const rows = (bills[0] ?? []).map(([label], i) => [
    label,
    ...bills.map((bill) => dollars(bill[i]?.[1] ?? 0)),
  ]);
  rows.push([
    '**total a month**',
    ...bills.map((bill) => `**${dollars(bill.reduce((sum, [, v]) => sum + v, 0))}**`),
  ]);
  return [
    `Measured on a batch of ${m.batch} corpus messages (${Math.round(m.batchOctets / m.batch / 1024)} KiB each on average); index ${Math.round(m.dynamoBytesPerMessage)} bytes per message. Commands counted: S3 ${JSON.stringify(m.busy.s3)}, DynamoDB ${JSON.stringify(m.busy.dynamo)} in the busy run.`,
    '',
    measured,
    '',
    table(['per month', ...SCENARIOS.map((s) => s.name)], rows),
    '',
    `Prices: ${PRICES_AS_OF} (bench/aws-prices.ts). A run every 15 minutes, the puller at 1 GB on arm64; durations measured against emulators on loopback, so real runs take longer.`,
  ].join('\n');
}
