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
/** The query API's memory (infra/constructs/query-api.ts). */
const QUERY_GB = 1;
/**
 * Searches are not measured here but assumed, generously: 20 a day per mailbox, each as slow as a
 * cold query of a 10,000-message mailbox in BENCHMARKS.md section 9 (0.5-1 s, every segment fetched:
 * at most 8 live segments and the manifest).
 */
const SEARCHES_PER_MAILBOX_DAY = 20;
const COLD_SEARCH_MS = 1000;
const COLD_SEARCH_GETS = 9;

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

interface UnitUsage {
  /** Every scheduled run, mail or not. */
  perRun: Usage;
  /** Once more for a run that archives anything (the search flush), on top of its messages. */
  perRunWithMail: Usage;
  perMessage: Usage;
}

function minus(a: Usage, b: Usage, divisor = 1): Usage {
  return Object.fromEntries(
    Object.entries(a).map(([key, value]) => [
      key,
      Math.max(0, (value - b[key as keyof Usage]) / divisor),
    ]),
  ) as unknown as Usage;
}

/** Per idle run, per run with mail, and per message on top of both. */
export function unitUsage(m: CostMeasurement): UnitUsage {
  const idle = usageOf(m.idle);
  const single = usageOf(m.single);
  const perMessage = minus(usageOf(m.busy), single, m.batch - 1);
  return { perRun: idle, perRunWithMail: minus(minus(single, idle), perMessage), perMessage };
}

/**
 * Scheduled runs in a month that find at least one message, mail arriving at random (Poisson): at
 * 50 a day, 40 of the day's 96 runs; at 2,000 a day, all of them.
 */
function runsWithMail(runs: number, perDay: number): number {
  return runs * (1 - Math.exp(-perDay / RUNS_PER_DAY));
}

export function monthlyBill(
  m: CostMeasurement,
  alarms: AlarmCounts,
  scenario: { mailboxes: number; perDay: number },
): [string, number][] {
  const { perRun, perRunWithMail, perMessage } = unitUsage(m);
  const runs = scenario.mailboxes * RUNS_PER_DAY * DAYS_PER_MONTH;
  const busyRuns = runsWithMail(runs, scenario.perDay);
  const messages = scenario.mailboxes * scenario.perDay * DAYS_PER_MONTH;
  const total = (key: keyof Usage) =>
    runs * perRun[key] + busyRuns * perRunWithMail[key] + messages * perMessage[key];
  const searches = m.search ? scenario.mailboxes * SEARCHES_PER_MAILBOX_DAY * DAYS_PER_MONTH : 0;
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
      'S3 storage of search segments, month 12',
      ((storedMessages * m.segmentBytesPerMessage) / GIB) * PRICES.s3PerGbMonth,
    ],
    [
      `Searches (assumed: ${SEARCHES_PER_MAILBOX_DAY} a day per mailbox, each a cold query)`,
      searches *
        (PRICES.apiGatewayHttpPerMillion / 1e6 +
          PRICES.lambdaPerMillionRequests / 1e6 +
          (COLD_SEARCH_MS / 1000) * QUERY_GB * PRICES.lambdaPerGbSecond +
          (COLD_SEARCH_GETS / 1000) * PRICES.s3PerThousandGetClass),
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

function measuredRows(m: CostMeasurement): string[][] {
  const { perRun, perRunWithMail, perMessage } = unitUsage(m);
  const label = m.search ? 'search on' : 'search off';
  return [
    [`${label}: every scheduled run (one that finds no mail)`, perRun],
    [`${label}: once more for a run with mail`, perRunWithMail],
    [`${label}: per message archived, on top`, perMessage],
  ].map(([text, u]) => {
    const usage = u as Usage;
    return [
      text as string,
      figure(usage.s3Put),
      figure(usage.s3Get),
      figure(usage.writeUnits),
      figure(usage.readUnits),
      figure(usage.ms),
      figure(usage.logBytes),
    ];
  });
}

const sum = (bill: [string, number][]): number => bill.reduce((total, [, v]) => total + v, 0);

export function renderCost(
  withSearch: CostMeasurement,
  withoutSearch: CostMeasurement,
  alarms: AlarmCounts,
): string {
  const m = withSearch;
  const measured = table(
    ['measured', 'S3 PUT-class', 'S3 GET-class', 'DynamoDB WRU', 'DynamoDB RRU', 'ms', 'log bytes'],
    [...measuredRows(withSearch), ...measuredRows(withoutSearch)],
  );
  const bills = SCENARIOS.map((s) => monthlyBill(withSearch, alarms, s));
  const without = SCENARIOS.map((s) => monthlyBill(withoutSearch, alarms, s));
  const rows = (bills[0] ?? []).map(([label], i) => [
    label,
    ...bills.map((bill) => dollars(bill[i]?.[1] ?? 0)),
  ]);
  rows.push(['**total a month**', ...bills.map((bill) => `**${dollars(sum(bill))}**`)]);
  rows.push([
    'of which search (the same bill with search off, subtracted)',
    ...bills.map((bill, i) => dollars(sum(bill) - sum(without[i] ?? []))),
  ]);
  return [
    `Measured on a batch of ${m.batch} corpus messages (${Math.round(m.batchOctets / m.batch / 1024)} KiB each on average) and then one more; index ${Math.round(m.dynamoBytesPerMessage)} bytes per message in DynamoDB, search segments ${Math.round(m.segmentBytesPerMessage)} bytes per message in S3. Commands counted in the batch run with search on: S3 ${JSON.stringify(m.busy.s3)}, DynamoDB ${JSON.stringify(m.busy.dynamo)}.`,
    '',
    measured,
    '',
    table(['per month', ...SCENARIOS.map((s) => s.name)], rows),
    '',
    `Prices: ${PRICES_AS_OF} (bench/aws-prices.ts). A run every 15 minutes, the puller at 1 GB on arm64; durations measured against emulators on loopback, so real runs take longer. Runs with mail: the share of the 96 daily runs that find at least one message when mail arrives at random.`,
  ].join('\n');
}
