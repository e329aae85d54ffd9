/**
 * EventBridge Scheduler expressions as a mailbox config gives them: `rate(15 minutes)` or a six-field
 * `cron(...)`. Parsed here rather than left to the Scheduler API, so a typo fails `cdk synth` with the
 * field named instead of a CloudFormation rollback minutes into a deploy, and so the missed-run alarm
 * knows how long the schedule may legitimately stay quiet.
 *
 * Syntax follows https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html.
 */

export interface ParsedSchedule {
  /** The expression exactly as Scheduler receives it. */
  expression: string;
  /** Shortest time between two runs, in minutes. */
  minGapMinutes: number;
  /**
   * Longest time covering `periods` consecutive gaps, in minutes: after a success, this long may pass
   * with `periods` scheduled runs and still no later success only if all of them failed.
   */
  spanMinutes(periods: number): number;
}

export class ScheduleError extends Error {
  override name = 'ScheduleError';
  constructor(
    readonly problem: string,
    readonly fix: string,
  ) {
    super(`${problem}; ${fix}`);
  }
}

const RATE = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;
const CRON = /^cron\((.*)\)$/;
const UNIT_MINUTES: Record<string, number> = { minute: 1, hour: 60, day: 1440 };

export function parseSchedule(expression: string): ParsedSchedule {
  const rate = RATE.exec(expression);
  if (rate) return parseRate(expression, Number(rate[1]), rate[2] as string);
  const cron = CRON.exec(expression);
  if (cron) return parseCron(expression, cron[1] as string);
  if (expression.startsWith('at(')) {
    throw new ScheduleError(
      `"${expression}" is a one-time schedule`,
      'archiving needs a recurring schedule: use e.g. "rate(15 minutes)" or "cron(0/15 * * * ? *)"',
    );
  }
  throw new ScheduleError(
    `"${expression}" is neither rate(...) nor cron(...)`,
    'use e.g. "rate(15 minutes)", "rate(1 hour)" or "cron(0 6 * * ? *)"',
  );
}

function parseRate(expression: string, value: number, unit: string): ParsedSchedule {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new ScheduleError(
      `"${expression}" has no positive interval`,
      'use e.g. "rate(15 minutes)"',
    );
  }
  const singular = unit.replace(/s$/, '');
  // Scheduler rejects "rate(1 minutes)" and "rate(5 minute)".
  const wanted = value === 1 ? singular : `${singular}s`;
  if (unit !== wanted) {
    throw new ScheduleError(
      `"${expression}" uses "${unit}" with ${value}`,
      `write "rate(${value} ${wanted})"`,
    );
  }
  const gap = value * (UNIT_MINUTES[singular] as number);
  return { expression, minGapMinutes: gap, spanMinutes: (periods) => periods * gap };
}

// --- cron ---------------------------------------------------------------------------------------

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const MINUTE: FieldSpec = { name: 'minutes', min: 0, max: 59 };
const HOUR: FieldSpec = { name: 'hours', min: 0, max: 23 };
const DAY_OF_MONTH: FieldSpec = { name: 'day-of-month', min: 1, max: 31 };
const MONTH: FieldSpec = { name: 'month', min: 1, max: 12, names: MONTHS };
const DAY_OF_WEEK: FieldSpec = { name: 'day-of-week', min: 1, max: 7, names: WEEKDAYS };
const YEAR: FieldSpec = { name: 'year', min: 1970, max: 2199 };

const CRON_EXAMPLE =
  'e.g. "cron(0/15 * * * ? *)" (minutes hours day-of-month month day-of-week year)';

/** A day-of-month or day-of-week rule that is not a plain set: L, LW, 15W, 5L, 6#3. */
type DayRule =
  | { kind: 'any' }
  | { kind: 'days'; values: ReadonlySet<number> }
  | { kind: 'weekdays'; values: ReadonlySet<number> }
  | { kind: 'last-day' }
  | { kind: 'last-weekday-of-month' }
  | { kind: 'nearest-weekday'; day: number }
  | { kind: 'last-weekday'; weekday: number }
  | { kind: 'nth-weekday'; weekday: number; nth: number };

function cronError(expression: string, field: FieldSpec, problem: string): ScheduleError {
  return new ScheduleError(
    `"${expression}": the ${field.name} field ${problem}`,
    `fix that field (${field.name} takes ${field.min}-${field.max}${field.names ? ` or ${field.names[0]}-${field.names.at(-1)}` : ''}, "*", lists "a,b", ranges "a-b" and steps "a/n"); ${CRON_EXAMPLE}`,
  );
}

function parseValue(expression: string, field: FieldSpec, token: string): number {
  const named = field.names?.indexOf(token.toUpperCase()) ?? -1;
  // Month names count from 1 (JAN), weekday names from 1 (SUN).
  const value = named >= 0 ? named + 1 : /^\d+$/.test(token) ? Number(token) : Number.NaN;
  if (!Number.isInteger(value) || value < field.min || value > field.max) {
    throw cronError(expression, field, `has "${token}" out of range`);
  }
  return value;
}

function parseSet(expression: string, field: FieldSpec, text: string): Set<number> {
  const values = new Set<number>();
  for (const item of text.split(',')) {
    const [range, stepText, extra] = item.split('/');
    if (range === undefined || range === '' || extra !== undefined) {
      throw cronError(expression, field, `has an unreadable item "${item}"`);
    }
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) < 1) {
        throw cronError(expression, field, `has a bad step "/${stepText}"`);
      }
      step = Number(stepText);
    }
    let from: number;
    let to: number;
    if (range === '*') {
      from = field.min;
      to = field.max;
    } else if (range.includes('-')) {
      const [a, b, more] = range.split('-');
      if (a === undefined || b === undefined || more !== undefined) {
        throw cronError(expression, field, `has an unreadable range "${range}"`);
      }
      from = parseValue(expression, field, a);
      to = parseValue(expression, field, b);
      if (from > to) {
        throw cronError(expression, field, `has a backwards range "${range}"`);
      }
    } else {
      from = parseValue(expression, field, range);
      // "5/10" means from 5 every 10, to the end of the field.
      to = stepText === undefined ? from : field.max;
    }
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return values;
}

function parseDayOfMonth(expression: string, text: string): DayRule {
  if (text === '?') return { kind: 'any' };
  if (text === 'L') return { kind: 'last-day' };
  if (text === 'LW') return { kind: 'last-weekday-of-month' };
  const nearest = /^(\d{1,2})W$/.exec(text);
  if (nearest) {
    return { kind: 'nearest-weekday', day: parseValue(expression, DAY_OF_MONTH, nearest[1] ?? '') };
  }
  return { kind: 'days', values: parseSet(expression, DAY_OF_MONTH, text) };
}

function parseDayOfWeek(expression: string, text: string): DayRule {
  if (text === '?') return { kind: 'any' };
  if (text === 'L') return { kind: 'weekdays', values: new Set([7]) };
  const last = /^(\w{1,3})L$/.exec(text);
  if (last) {
    return { kind: 'last-weekday', weekday: parseValue(expression, DAY_OF_WEEK, last[1] ?? '') };
  }
  const nth = /^(\w{1,3})#([1-5])$/.exec(text);
  if (nth) {
    return {
      kind: 'nth-weekday',
      weekday: parseValue(expression, DAY_OF_WEEK, nth[1] ?? ''),
      nth: Number(nth[2]),
    };
  }
  return { kind: 'weekdays', values: parseSet(expression, DAY_OF_WEEK, text) };
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function isWeekday(year: number, month: number, day: number): boolean {
  const dow = new Date(Date.UTC(year, month - 1, day)).getUTCDay();
  return dow >= 1 && dow <= 5;
}

/** Nearest Monday-Friday to `day` within the month, as cron's "W" defines it. */
function nearestWeekday(year: number, month: number, day: number): number {
  const last = daysInMonth(year, month);
  const target = Math.min(day, last);
  if (isWeekday(year, month, target)) return target;
  const dow = new Date(Date.UTC(year, month - 1, target)).getUTCDay();
  if (dow === 6) return target > 1 ? target - 1 : target + 2;
  return target < last ? target + 1 : target - 2;
}

function dayMatches(
  rule: DayRule,
  date: { year: number; month: number; day: number; dow: number },
): boolean {
  const { year, month, day, dow } = date;
  const last = daysInMonth(year, month);
  switch (rule.kind) {
    case 'any':
      return true;
    case 'days':
      return rule.values.has(day);
    case 'weekdays':
      return rule.values.has(dow);
    case 'last-day':
      return day === last;
    case 'last-weekday-of-month': {
      let d = last;
      while (!isWeekday(year, month, d)) d -= 1;
      return day === d;
    }
    case 'nearest-weekday':
      return day === nearestWeekday(year, month, rule.day);
    case 'last-weekday':
      return dow === rule.weekday && day + 7 > last;
    case 'nth-weekday':
      return dow === rule.weekday && Math.ceil(day / 7) === rule.nth;
  }
}

// Gaps are measured over a fixed stretch of days from a fixed start, so the result never depends on
// when synth runs; 400 days covers a whole year plus the wrap into the next.
const SIMULATED_DAYS = 400;
const SIMULATION_START = Date.UTC(2027, 0, 1);
const MINUTES_PER_DAY = 1440;

function parseCron(expression: string, body: string): ParsedSchedule {
  const fields = body.trim().split(/\s+/);
  if (fields.length !== 6) {
    throw new ScheduleError(
      `"${expression}" has ${fields.length} fields, Scheduler's cron has 6`,
      `write ${CRON_EXAMPLE}`,
    );
  }
  const [minText, hourText, domText, monthText, dowText, yearText] = fields as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  if ((domText === '?') === (dowText === '?')) {
    throw new ScheduleError(
      `"${expression}" needs "?" in exactly one of day-of-month and day-of-week`,
      'put "?" in the one you do not use, e.g. "cron(0 6 * * ? *)" or "cron(0 6 ? * MON-FRI *)"',
    );
  }
  const minutes = parseSet(expression, MINUTE, minText);
  const hours = parseSet(expression, HOUR, hourText);
  const dom = parseDayOfMonth(expression, domText);
  const months = parseSet(expression, MONTH, monthText);
  const dow = parseDayOfWeek(expression, dowText);
  // The year field only limits when the schedule is active; validated, then ignored for gaps.
  parseSet(expression, YEAR, yearText);

  const fires: number[] = [];
  const sortedHours = [...hours].sort((a, b) => a - b);
  const sortedMinutes = [...minutes].sort((a, b) => a - b);
  for (let d = 0; d < SIMULATED_DAYS; d++) {
    const date = new Date(SIMULATION_START + d * 86_400_000);
    const parts = {
      year: date.getUTCFullYear(),
      month: date.getUTCMonth() + 1,
      day: date.getUTCDate(),
      // Scheduler counts SUN as 1.
      dow: date.getUTCDay() + 1,
    };
    if (!months.has(parts.month)) continue;
    const domOk = dayMatches(dom, parts);
    const dowOk = dayMatches(dow, parts);
    if (!domOk || !dowOk) continue;
    for (const h of sortedHours) {
      for (const m of sortedMinutes) fires.push(d * MINUTES_PER_DAY + h * 60 + m);
    }
  }
  if (fires.length < 2) {
    throw new ScheduleError(
      `"${expression}" runs less than twice a year`,
      'archive on a recurring schedule, e.g. "cron(0 6 * * ? *)" for daily at 06:00',
    );
  }
  const gaps: number[] = [];
  for (let i = 1; i < fires.length; i++) gaps.push((fires[i] as number) - (fires[i - 1] as number));
  const minGap = Math.min(...gaps);
  return {
    expression,
    minGapMinutes: minGap,
    spanMinutes(periods) {
      let best = 0;
      let sum = 0;
      for (let i = 0; i < gaps.length; i++) {
        sum += gaps[i] as number;
        if (i >= periods) sum -= gaps[i - periods] as number;
        if (sum > best) best = sum;
      }
      return best;
    },
  };
}
